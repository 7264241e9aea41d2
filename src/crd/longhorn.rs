//! Longhorn `RecurringJob` (`longhorn.io/v1beta2`), as in `../shared/schemas/longhorn.io/`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::custom_resource;

custom_resource! {
    /// A scheduled snapshot or backup of the volumes of its groups.
    RecurringJob, spec = RecurringJobSpec, group = "longhorn.io",
    version = "v1beta2", plural = "recurringjobs", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`RecurringJob`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecurringJobSpec {
    /// The job's name (Longhorn wants it equal to `metadata.name`).
    pub name: String,
    /// `snapshot`, `backup`, … (the CRD's enum).
    pub task: String,
    /// Cron schedule.
    pub cron: String,
    /// Backups kept per volume.
    pub retain: u32,
    /// Volumes handled at once.
    pub concurrency: u32,
    /// Groups whose volumes it applies to; `default` means every volume that has no
    /// recurring-job label of its own.
    pub groups: Vec<String>,
    /// Labels put on each backup.
    pub labels: BTreeMap<String, String>,
}
