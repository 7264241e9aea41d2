//! `[cutover]` of `cluster.toml`.

use serde::Deserialize;

use super::values::{self, DnsName};

/// `[cutover]` of `cluster.toml`: the legacy XWiki host and the DNS switch to the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutoverSettings {
    /// SSH login of the legacy host (XWiki and MySQL on one machine).
    pub legacy_ssh_host: DnsName,
    /// Its SSH user.
    pub legacy_ssh_user: String,
    /// Its public address: where the XWiki record points until the switch.
    pub legacy_address: std::net::Ipv4Addr,
    /// The legacy wiki's base URL with its context path (`https://host/xwiki` when the wiki is
    /// not at `/`): the smoke test and the legacy XAR export reach it there.
    pub legacy_url: values::WikiUrl,
    /// The MySQL schema of the legacy XWiki: must be the cluster's ([`super::mysql::DATABASE`]),
    /// since the dump restores it under its own name.
    pub legacy_database: toml::Spanned<String>,
    /// Public addresses of the ingress nodes: the record's new A values.
    pub ingress_addresses: Vec<std::net::Ipv4Addr>,
    /// The DNS zone at Hostinger.
    pub dns_zone: DnsName,
    /// Its authoritative name servers (checked with `dig @server`).
    pub authoritative_servers: Vec<DnsName>,
    /// The record's TTL before the cutover, in seconds (how long to wait after lowering it).
    pub current_ttl_seconds: u32,
    /// A page whose content the smoke test checks (`Space.Page`).
    pub known_page: String,
    /// Text that page must contain.
    pub known_text: String,
    /// An attachment the smoke test downloads (`Space.Page/file.ext`).
    pub known_attachment: String,
}
