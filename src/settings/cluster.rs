//! `overlays/cluster.toml` and its small tables: `[git]`, `[flux]`, `[acme]`, `[registries]`.

use serde::Deserialize;
use toml::Spanned;

use super::backup::S3Settings;
use super::cutover::CutoverSettings;
use super::environment::EnvironmentsSettings;
use super::ingress::IngressSettings;
use super::monitoring::MonitoringSettings;
use super::network::NetworkSettings;
use super::sops::SopsSettings;
use super::values::{Email, GitBranch, GitUrl, RegistryHost};
use crate::quantity::Duration;

/// `overlays/cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Order and roles of the environments (optional).
    #[serde(default)]
    pub environments: EnvironmentsSettings,
    /// Where Flux reads this repository from.
    pub git: GitSettings,
    /// Reconciliation timings of the Flux Kustomizations.
    pub flux: FluxSettings,
    /// Let's Encrypt account.
    pub acme: AcmeSettings,
    /// Registries images may come from.
    pub registries: RegistrySettings,
    /// Prometheus and Alertmanager.
    pub monitoring: MonitoringSettings,
    /// The ingress controller (optional; default ingress-nginx).
    #[serde(default)]
    pub ingress: IngressSettings,
    /// Addresses NetworkPolicies need.
    pub network: NetworkSettings,
    /// The S3-compatible store backups go to.
    pub s3: S3Settings,
    /// Who can decrypt each scope's Secrets.
    pub sops: SopsSettings,
    /// The migration from the legacy host (out/docs/runbooks/cutover.md).
    pub cutover: CutoverSettings,
}

/// `[git]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSettings {
    /// Repository URL given to `flux bootstrap git --url`.
    pub url: GitUrl,
    /// Branch Flux follows.
    pub branch: GitBranch,
}

/// `[flux]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSettings {
    /// Drift-correction period. Default in the committed file: `1h`, as in Flux's examples.
    pub interval: Duration,
    /// Retry period after a failure. Default in the committed file: `2m`.
    pub retry_interval: Duration,
    /// Timeout for apply and health checks. Default in the committed file: `5m`.
    pub timeout: Duration,
}

/// `[acme]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSettings {
    /// Contact address of the Let's Encrypt account (expiry warnings go there).
    pub email: Email,
}

/// `[registries]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Registry hosts allowed by the audit and by Kyverno; must include every registry of
    /// [`crate::images`].
    pub allowed: Spanned<Vec<RegistryHost>>,
}
