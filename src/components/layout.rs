//! The folder contract of `out/`, after Flux's multi-environment example.

use crate::settings::Environment;

/// Flux entry point: the folder `flux bootstrap --path` points at. It has no
/// `kustomization.yaml` of ours, because bootstrap adds `flux-system/` beside our files.
pub const CLUSTER: &str = "out/clusters/open4goods";
/// Namespaces and Helm controllers.
pub const CONTROLLERS: &str = "out/infrastructure/controllers";
/// Objects that need the controllers' CRDs (StorageClass, ClusterIssuers, policies, monitors).
pub const CONFIGS: &str = "out/infrastructure/configs";
/// The folders of the configs layer, in the order its kustomization lists them.
pub const CONFIG_FOLDERS: &[&str] = &["backups", "monitoring", "issuers", "policies", "network"];
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

/// Where a file of the tree comes from: the settings or inputs that feed it and the module
/// that writes it, for `render --check` ("generated from …; edits in out/ are reverted").
pub fn source_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let controllers = |name: &str| match name {
        "namespaces.yaml" => {
            "src/components/namespaces.rs and the environments (overlays/<env>/)".to_string()
        }
        "platform-secrets" => format!(
            "overlays/platform/secrets/{} (copied unchanged)",
            parts.get(4).unwrap_or(&"")
        ),
        "kustomization.yaml" => "src/components/mod.rs".to_string(),
        "o4g-runners" | "gha-runner-scale-set-controller" => {
            "src/components/runner.rs and src/charts.rs".to_string()
        }
        "kube-prometheus-stack" => {
            "src/components/monitoring.rs, src/charts.rs and overlays/cluster.toml [monitoring]"
                .to_string()
        }
        "cert-manager" => "src/components/cert_manager.rs and src/charts.rs".to_string(),
        "ingress-nginx" => "src/components/ingress.rs and src/charts.rs".to_string(),
        "traefik" => "src/components/traefik.rs, src/charts.rs and overlays/cluster.toml [ingress]"
            .to_string(),
        "kyverno" => "src/components/policy_engine.rs and src/charts.rs".to_string(),
        "longhorn" => {
            "src/components/longhorn.rs, src/charts.rs and overlays/cluster.toml [s3]".to_string()
        }
        other => format!("src/components/ (folder `{other}`)"),
    };
    let configs = |name: &str| match name {
        "backups" => {
            "src/components/longhorn.rs and overlays/cluster.toml [s3.volume_backups]".to_string()
        }
        "issuers" => "src/components/cert_manager.rs and overlays/cluster.toml [acme]".to_string(),
        "monitoring" => "src/components/{alerts,dashboards,monitoring}.rs".to_string(),
        "network" => {
            "src/components/network.rs (the declared flows) and overlays/cluster.toml [network]"
                .to_string()
        }
        "policies" => {
            "src/policy/ through src/components/policies.rs and overlays/cluster.toml [registries]"
                .to_string()
        }
        "extra" => format!("overlays/platform/extra/{}", parts.get(4).unwrap_or(&"")),
        _ => "src/components/mod.rs".to_string(),
    };
    let source = match parts.as_slice() {
        [.., "platform-secrets", "kustomization.yaml"] => {
            "src/components/secrets.rs (the list of overlays/platform/secrets/)".to_string()
        }
        ["out", "infrastructure", "configs", "extra", "kustomization.yaml"] => {
            "src/components/extra.rs (the list of overlays/platform/extra/)".to_string()
        }
        [".sops.yaml"] => "overlays/cluster.toml [sops.age_recipients] (src/secrets.rs)".to_string(),
        ["out", "generated.sha256"] => "the list of files render wrote (src/render.rs)".to_string(),
        ["out", "README.md"] => "templates/out-README.md and the settings".to_string(),
        ["out", "clusters", ..] => "src/components/flux.rs and overlays/cluster.toml [flux], [git]".to_string(),
        ["out", "infrastructure", "controllers", name, ..] => controllers(name),
        ["out", "infrastructure", "configs", name, ..] => configs(name),
        ["out", "apps", "base", part, ..] => format!(
            "src/components/{}.rs (the environment-agnostic base)",
            if *part == "kustomization.yaml" { "apps" } else { part }
        ),
        ["out", "apps", "overlays", env, "secrets", file] => {
            format!("overlays/{env}/secrets/{file} (copied unchanged)")
        }
        ["out", "apps", "overlays", env, "extra", file] => format!("overlays/{env}/extra/{file}"),
        ["out", "apps", "overlays", env, ..] => format!(
            "overlays/{env}/env.toml, as its difference from the base (src/components/apps.rs)"
        ),
        ["out", "docs", "runbooks", file] if file.starts_with("cutover-") => {
            "templates/cutover.md, overlays/cluster.toml [cutover] and the environment's env.toml (src/components/cutover.rs)".to_string()
        }
        ["out", "docs", "runbooks", "alerts.md"] => "src/components/alerts.rs".to_string(),
        ["out", "docs", "runbooks", "ingress.md"] => {
            "templates/ingress.md and overlays/cluster.toml [ingress] (src/components/docs.rs)"
                .to_string()
        }
        ["out", "docs", "runbooks", _] => "src/components/backup.rs and templates/restore.md".to_string(),
        ["out", "docs", "scripts", _] => "templates/scripts/ (src/components/backup.rs, cutover.rs)".to_string(),
        ["out", "docs", file] => format!(
            "templates/{file} and the settings (src/components/docs.rs)"
        ),
        _ => "src/components/".to_string(),
    };
    format!("generated from {source}; edits in out/ are reverted by `cargo run -- render`")
}
