//! Documents rendered from `templates/` with askama.

use askama::Template;

use super::flux::Entry;
use super::namespaces::{ENFORCE_VERSION, PlatformNamespace};
use crate::Error;
use crate::settings::Settings;

/// `out/README.md`: what is deployed where.
#[derive(Template)]
#[template(path = "out-README.md", escape = "none")]
struct OutReadme<'a> {
    settings: &'a Settings,
    namespaces: &'a [PlatformNamespace],
    flux: &'a [Entry],
    enforce_version: &'a str,
    images: Vec<String>,
    age_keys: String,
}

/// The private key files of every scope, as the docs name them (`prod.agekey ...`).
fn age_key_files(settings: &Settings) -> String {
    settings
        .scopes()
        .iter()
        .map(|s| format!("{s}.agekey"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders `out/README.md`.
pub fn out_readme(
    settings: &Settings,
    namespaces: &[PlatformNamespace],
    flux: &[Entry],
) -> Result<String, Error> {
    OutReadme {
        settings,
        namespaces,
        flux,
        enforce_version: ENFORCE_VERSION,
        images: crate::images::ALL.iter().map(ToString::to_string).collect(),
        age_keys: age_key_files(settings),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/README.md: {e}")))
}

/// One environment's row in `out/docs/apps.md`.
struct EnvRow {
    name: &'static str,
    host: String,
    issuer: &'static str,
    mysql_image: String,
    mysql_storage: String,
    buffer_pool: u64,
    xwiki_storage: String,
    xwiki_class: String,
    heap: u64,
}

/// `out/docs/apps.md`: per-environment values, the Secrets the workloads read, and the
/// reasons behind the restricted setup of XWiki and MySQL.
#[derive(Template)]
#[template(path = "apps.md", escape = "none")]
struct AppsDoc {
    envs: Vec<EnvRow>,
    secrets: Vec<super::apps::SecretRef>,
}

/// Renders `out/docs/apps.md`.
pub fn apps(settings: &Settings) -> Result<String, Error> {
    use super::apps::AppParams;
    let envs = settings
        .envs()
        .map(|(env, _)| {
            let p = AppParams::for_env(settings, env);
            EnvRow {
                name: env.name(),
                host: p.host.clone(),
                issuer: p.issuer.name(),
                mysql_image: p.mysql_version.image().tag().to_string(),
                mysql_storage: p.mysql_storage.to_string(),
                buffer_pool: super::mysql::buffer_pool_mib(&p),
                xwiki_storage: p.xwiki_storage.to_string(),
                xwiki_class: p.xwiki_storage_class.clone(),
                heap: super::xwiki::heap_mib(&p),
            }
        })
        .collect();
    AppsDoc {
        envs,
        secrets: super::apps::secret_refs()
            .into_iter()
            .chain(super::backup::restore_source_refs())
            .collect(),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/apps.md: {e}")))
}

/// One Helm release in `out/docs/infrastructure.md`.
pub struct ComponentRow {
    /// Release name.
    pub name: &'static str,
    /// Chart name.
    pub chart: &'static str,
    /// Chart version.
    pub version: &'static str,
    /// Repository URL.
    pub source: &'static str,
    /// Namespace.
    pub namespace: &'static str,
    /// Failure handling, in words.
    pub remediation: &'static str,
}

/// `out/docs/infrastructure.md`.
#[derive(Template)]
#[template(path = "infrastructure.md", escape = "none")]
struct InfrastructureDoc<'a> {
    components: Vec<ComponentRow>,
    namespaces: &'a [PlatformNamespace],
    enforce_version: &'a str,
    enforced: Vec<&'a str>,
    excluded: Vec<(&'a str, &'a str)>,
    staging: &'a str,
    prod: &'a str,
    email: &'a str,
    retention: String,
    prometheus_storage: String,
    alertmanager_storage: String,
}

/// Renders `out/docs/infrastructure.md`.
pub fn infrastructure(
    settings: &Settings,
    components: Vec<ComponentRow>,
    namespaces: &[PlatformNamespace],
    enforced: Vec<&str>,
) -> Result<String, Error> {
    let m = &settings.cluster.monitoring;
    InfrastructureDoc {
        components,
        namespaces,
        enforce_version: ENFORCE_VERSION,
        enforced,
        excluded: super::policies::EXCLUDED_NAMESPACES.to_vec(),
        staging: super::cert_manager::LETSENCRYPT_STAGING,
        prod: super::cert_manager::LETSENCRYPT_PROD,
        email: settings.cluster.acme.email.as_str(),
        retention: m.retention.to_string(),
        prometheus_storage: m.prometheus_storage.to_string(),
        alertmanager_storage: m.alertmanager_storage.to_string(),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/infrastructure.md: {e}")))
}

/// One flow in `out/docs/network.md`.
struct FlowRow {
    from: String,
    to: String,
    from_id: String,
    to_id: String,
    port: String,
    reason: &'static str,
}

/// One namespace's flows.
struct FlowSection {
    namespace: String,
    flows: Vec<FlowRow>,
}

/// `out/docs/network.md`.
#[derive(Template)]
#[template(path = "network.md", escape = "none")]
struct NetworkDoc {
    node_cidr: String,
    api_port: u16,
    s3_cidr: String,
    sections: Vec<FlowSection>,
}

fn mermaid_id(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Renders `out/docs/network.md` from the flows of each namespace.
pub fn network(
    settings: &Settings,
    sections: Vec<(String, Vec<crate::netpol::Flow>)>,
) -> Result<String, Error> {
    let net = super::network::NetworkParams::from_settings(settings);
    let sections = sections
        .into_iter()
        .map(|(namespace, flows)| FlowSection {
            namespace,
            flows: flows
                .iter()
                .map(|f| {
                    let (from, to) = (f.from.label(), f.to.label());
                    FlowRow {
                        from_id: mermaid_id(&from),
                        to_id: mermaid_id(&to),
                        from,
                        to,
                        port: format!("{}/{}", f.port.number, f.port.protocol.as_str()),
                        reason: f.reason,
                    }
                })
                .collect(),
        })
        .collect();
    NetworkDoc {
        node_cidr: net.node_cidr.to_string(),
        api_port: net.api_server_port,
        s3_cidr: net.s3_cidr.to_string(),
        sections,
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/network.md: {e}")))
}

/// One scope in `out/docs/secrets.md`.
struct ScopeRow {
    scope: String,
    recipients: Vec<String>,
    target: String,
    kustomization: String,
}

/// `out/docs/secrets.md`.
#[derive(Template)]
#[template(path = "secrets.md", escape = "none")]
struct SecretsDoc {
    scopes: Vec<ScopeRow>,
    required: Vec<crate::secrets::RequiredSecret>,
    age_keys: String,
}

/// Renders `out/docs/secrets.md`.
pub fn secrets(settings: &Settings) -> Result<String, Error> {
    let scopes = settings
        .recipients()
        .into_iter()
        .map(|(scope, recipients)| {
            let (target, kustomization) = if scope == crate::settings::PLATFORM_SCOPE {
                (
                    format!(
                        "{}/{}/",
                        super::layout::CONTROLLERS,
                        super::secrets::PLATFORM_SECRETS
                    ),
                    super::flux::INFRA_CONTROLLERS.to_string(),
                )
            } else {
                (
                    format!("out/apps/overlays/{scope}/secrets/"),
                    format!("apps-{scope}"),
                )
            };
            ScopeRow {
                scope,
                recipients,
                target,
                kustomization,
            }
        })
        .collect();
    SecretsDoc {
        scopes,
        required: super::secrets::required(settings),
        age_keys: age_key_files(settings),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/secrets.md: {e}")))
}

#[derive(Template)]
#[template(path = "ci.md", escape = "none")]
struct CiDoc<'a> {
    git_url: &'a str,
    branch: &'a str,
}

/// Renders `out/docs/ci.md`: the workflows, Trivy, Renovate and the render App.
pub fn ci(settings: &Settings) -> Result<String, Error> {
    CiDoc {
        git_url: settings.cluster.git.url.as_str(),
        branch: settings.cluster.git.branch.as_str(),
    }
    .render()
    .map_err(|e| Error::Build(format!("docs/ci.md: {e}")))
}
