//! The folder contract of `out/`, after Flux's multi-environment example.

use crate::settings::Environment;

/// Flux entry point: the folder `flux bootstrap --path` points at. It has no
/// `kustomization.yaml` of ours, because bootstrap adds `flux-system/` beside our files.
pub const CLUSTER: &str = "out/clusters/open4goods";
/// Namespaces and Helm controllers.
pub const CONTROLLERS: &str = "out/infrastructure/controllers";
/// Objects that need the controllers' CRDs (StorageClass, ClusterIssuers, policies, monitors).
pub const CONFIGS: &str = "out/infrastructure/configs";
/// Environment-agnostic application base.
pub const APPS_BASE: &str = "out/apps/base";

/// The overlay folder of one environment.
pub fn app_overlay(env: Environment) -> String {
    format!("out/apps/overlays/{}", env.name())
}

/// A tree path as Flux sees it (relative to the Git source root, starting with `./`).
pub fn flux_path(path: &str) -> String {
    format!("./{path}")
}
