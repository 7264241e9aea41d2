//! Backups: `[s3]` of `cluster.toml` and `[backup]` of `env.toml`.

use serde::Deserialize;
use toml::Spanned;

use super::values::{BucketName, Cidr, CronSchedule, S3Endpoint};

/// `[s3]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Addresses of the S3 endpoint (NetworkPolicies cannot name hosts).
    pub cidr: Cidr,
    /// Its port.
    pub port: std::num::NonZeroU16,
    /// The endpoint URL the backup jobs and Longhorn use.
    pub endpoint: S3Endpoint,
    /// The bucket: each environment writes under `<env>/`, Longhorn under `longhorn/`.
    pub bucket: BucketName,
    /// The region name the store expects in signatures (`us-east-1` for most S3-compatible
    /// stores that have none).
    #[serde(default = "default_region")]
    pub region: String,
    /// Longhorn volume backups (every Longhorn volume of the cluster).
    pub volume_backups: VolumeBackupSettings,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// `[s3.volume_backups]` of `cluster.toml`: Longhorn's recurring backup of its volumes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeBackupSettings {
    /// When Longhorn backs every volume up (cron, UTC).
    pub schedule: CronSchedule,
    /// How many backups of each volume Longhorn keeps (1-100).
    pub retain: Spanned<u32>,
}

/// `[backup]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// When the nightly export and dump run (cron, cluster time zone); the XAR export runs
    /// on the same schedule.
    pub schedule: CronSchedule,
    /// Dumps and exports older than this many days are pruned by the backup job (1-3650).
    #[serde(default = "default_retention_days")]
    pub retention_days: Spanned<u32>,
    /// The newest this many dumps and exports are kept whatever their age (1-1000), so a
    /// backup job that stopped running for weeks never prunes the last good copies.
    #[serde(default = "default_keep_copies")]
    pub keep_copies: Spanned<u32>,
    /// The monthly restore test: restore another environment's latest dump into a
    /// throwaway MySQL in this environment.
    pub restore_test: Option<RestoreTestSettings>,
}

fn default_retention_days() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}

fn default_keep_copies() -> Spanned<u32> {
    Spanned::new(0..0, 7)
}

/// `[backup.restore_test]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreTestSettings {
    /// The environment whose dumps are restored (`prod`).
    pub source: Spanned<String>,
    /// When it runs (cron; monthly, e.g. `0 5 1 * *`).
    pub schedule: CronSchedule,
}
