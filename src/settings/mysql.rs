//! `[mysql]` of `env.toml`.

use serde::Deserialize;
use toml::Spanned;

use super::resources::ResourceSettings;
use crate::quantity::Bytes;

/// The schema the cluster's XWiki uses (the cutover's legacy schema must have this name).
pub const DATABASE: &str = "xwiki";

/// MySQL major line; the image of each is in `src/images.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MysqlVersion {
    /// 8.0.46, the final 8.0 release (EOL April 2026).
    #[serde(rename = "8.0")]
    V8_0,
    /// 8.4 LTS, the upgrade path.
    #[serde(rename = "8.4")]
    V8_4,
}

impl MysqlVersion {
    /// The pinned image of this line.
    pub const fn image(self) -> crate::image::PinnedImage {
        match self {
            Self::V8_0 => crate::images::MYSQL_8_0,
            Self::V8_4 => crate::images::MYSQL_8_4,
        }
    }
}

/// `[mysql]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSettings {
    /// MySQL line (`8.0` or `8.4`): switching to 8.4 LTS is this one line.
    pub version: MysqlVersion,
    /// Size of the data volume on `longhorn-db`.
    pub storage_size: Bytes,
    /// Requests and limits of the MySQL container (the InnoDB buffer pool is sized from the limit).
    pub resources: Spanned<ResourceSettings>,
}
