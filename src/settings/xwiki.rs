//! `[xwiki]` of `env.toml` and its certificate issuer.

use serde::Deserialize;
use toml::Spanned;

use super::resources::ResourceSettings;
use super::values::{DnsName, StorageClassName};
use crate::quantity::Bytes;

/// Which Let's Encrypt ClusterIssuer signs an environment's certificate.
///
/// Default: `letsencrypt-prod` for every environment, because each host is public and testers
/// of integration and recette need a certificate their browser trusts; staging stays
/// available for trials (`cluster_issuer = "letsencrypt-staging"`). Let's Encrypt's production
/// limits (50 certificates per registered domain per week) are far above three hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClusterIssuer {
    /// Trusted certificates, strict rate limits (ample for a few hosts).
    #[default]
    #[serde(rename = "letsencrypt-prod")]
    LetsEncryptProd,
    /// Untrusted test certificates, generous rate limits: for trials only.
    #[serde(rename = "letsencrypt-staging")]
    LetsEncryptStaging,
}

impl ClusterIssuer {
    /// Name of the ClusterIssuer object.
    pub const fn name(self) -> &'static str {
        match self {
            Self::LetsEncryptProd => "letsencrypt-prod",
            Self::LetsEncryptStaging => "letsencrypt-staging",
        }
    }
}

/// `[xwiki]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XwikiSettings {
    /// Public host name of the wiki (Ingress host and TLS certificate).
    pub host: Spanned<DnsName>,
    /// ClusterIssuer of the certificate. Default: `letsencrypt-prod` (see [`ClusterIssuer`]).
    #[serde(default)]
    pub cluster_issuer: ClusterIssuer,
    /// Size of the `xwiki-data` volume (permanent directory: attachments, extensions, index).
    pub storage_size: Bytes,
    /// StorageClass of the `xwiki-data` volume.
    pub storage_class: StorageClassName,
    /// Requests and limits of the XWiki container (the JVM heap is sized from the limit).
    pub resources: Spanned<ResourceSettings>,
    /// Allow XWiki to reach the internet on 443: the first start installs the Standard flavor
    /// and extensions from extensions.xwiki.org.
    pub internet_egress: bool,
}
