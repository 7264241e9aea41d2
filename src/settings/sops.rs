//! `[sops]` of `cluster.toml`, the Secret scopes and the Secret files.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::values::AgeRecipient;

/// `[sops]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SopsSettings {
    /// age public keys per scope: one creation rule each in `.sops.yaml`, so a scope's
    /// Secrets cannot be read with another scope's key.
    pub age_recipients: AgeRecipients,
}

/// `[sops.age_recipients]`: age public keys per scope, one key per environment plus
/// [`PLATFORM_SCOPE`] (cluster-wide Secrets, e.g. Grafana's admin).
pub type AgeRecipients = Spanned<BTreeMap<String, Vec<AgeRecipient>>>;

/// The scope of cluster-wide Secrets.
pub const PLATFORM_SCOPE: &str = "platform";

/// An encrypted Secret file of `overlays/<scope>/secrets/`, checked, with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// An environment, or `platform`.
    pub scope: String,
    /// File name.
    pub file_name: String,
    /// What the check found.
    pub secret: crate::secrets::EncryptedSecret,
    /// The Secret as read (the file's one document).
    pub object: serde_json::Value,
    /// The file, copied unchanged into `out/`.
    pub bytes: Vec<u8>,
}
