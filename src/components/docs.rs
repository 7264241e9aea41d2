//! Documents rendered from `templates/` with askama.
//!
//! This module renders what it is handed: each document takes rows (the types below) that
//! the components produce and `components::build` passes on. It imports no component, so a
//! component's internals never leak into the docs and a new component adds rows, not imports
//! (tests/modules.rs checks it).

use askama::Template;

use crate::Error;
use crate::settings::{IngressController, Settings};

/// One namespace, as the docs list it.
pub struct NamespaceRow {
    /// Name.
    pub name: &'static str,
    /// Its environment label (`platform` for the platform's).
    pub environment: &'static str,
    /// Pod Security level enforced.
    pub level: &'static str,
    /// Why it is below `restricted`, if it is.
    pub pod_security_reason: Option<&'static str>,
    /// Why it has no default deny of ours, if it has none.
    pub network_policy_reason: Option<&'static str>,
    /// What runs there.
    pub purpose: &'static str,
}

/// One Flux Kustomization, as `out/README.md` lists it.
pub struct FluxRow {
    /// Name.
    pub name: String,
    /// Path in the repository.
    pub path: String,
    /// The Kustomizations it waits for.
    pub depends_on: Vec<String>,
    /// Whether it decrypts SOPS Secrets.
    pub decrypts: bool,
}

/// One Secret key a workload reads, for `out/docs/apps.md`.
pub struct SecretRow {
    /// Secret name.
    pub secret: &'static str,
    /// Key.
    pub key: &'static str,
    /// Container that reads it.
    pub consumer: &'static str,
    /// How it is used.
    pub usage: &'static str,
}

/// `out/README.md`: what is deployed where.
#[derive(Template)]
#[template(path = "out-README.md", escape = "none")]
struct OutReadme<'a> {
    settings: &'a Settings,
    namespaces: &'a [NamespaceRow],
    flux: &'a [FluxRow],
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
    namespaces: &[NamespaceRow],
    flux: &[FluxRow],
    enforce_version: &str,
    controller_images: Vec<String>,
) -> Result<String, Error> {
    OutReadme {
        settings,
        namespaces,
        flux,
        enforce_version,
        images: {
            let mut all: Vec<String> = crate::images::ALL.iter().map(ToString::to_string).collect();
            all.extend(controller_images);
            let pins = settings
                .envs()
                .flat_map(|(_, e)| [e.xwiki_image().to_string(), e.mysql_image().to_string()]);
            for pin in pins {
                if !all.contains(&pin) {
                    all.push(pin);
                }
            }
            all
        },
        age_keys: age_key_files(settings),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/README.md: {e}")))
}

/// One environment's row in `out/docs/apps.md`.
pub struct EnvRow {
    /// Environment.
    pub name: &'static str,
    /// Public host.
    pub host: String,
    /// Certificate issuer.
    pub issuer: &'static str,
    /// MySQL image tag.
    pub mysql_image: String,
    /// MySQL volume size.
    pub mysql_storage: String,
    /// InnoDB buffer pool, MiB.
    pub buffer_pool: u64,
    /// XWiki volume size.
    pub xwiki_storage: String,
    /// XWiki volume StorageClass.
    pub xwiki_class: String,
    /// XWiki JVM heap, MiB.
    pub heap: u64,
}

/// `out/docs/apps.md`: per-environment values, the Secrets the workloads read, and the
/// reasons behind the restricted setup of XWiki and MySQL.
#[derive(Template)]
#[template(path = "apps.md", escape = "none")]
struct AppsDoc {
    envs: Vec<EnvRow>,
    secrets: Vec<SecretRow>,
}

/// Renders `out/docs/apps.md`.
pub fn apps(envs: Vec<EnvRow>, secrets: Vec<SecretRow>) -> Result<String, Error> {
    AppsDoc { envs, secrets }
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

/// What `out/docs/infrastructure.md` shows besides the settings.
pub struct Infrastructure<'a> {
    /// The Helm releases.
    pub components: Vec<ComponentRow>,
    /// Every namespace.
    pub namespaces: &'a [NamespaceRow],
    /// The Pod Security version the namespaces pin.
    pub enforce_version: &'a str,
    /// The namespaces Kyverno enforces in.
    pub enforced: Vec<&'a str>,
    /// The chart namespaces Kyverno audits, with what holds each there.
    pub held: Vec<HeldRow>,
    /// The namespaces Kyverno leaves alone, with why.
    pub excluded: Vec<(&'a str, &'a str)>,
    /// The staging and the production ClusterIssuer.
    pub issuers: (&'a str, &'a str),
    /// The Gateway API version (its CRDs come with Traefik).
    pub gateway_api: &'a str,
    /// kube-prometheus-stack's containers: (which, requests, limits).
    pub monitoring_sizes: Vec<(&'static str, String, String)>,
}

/// A namespace of chart pods Kyverno audits rather than denies, and why.
pub struct HeldRow {
    /// The namespace.
    pub namespace: &'static str,
    /// Its chart images still awaiting their digest.
    pub awaiting: Vec<String>,
    /// The other rules its chart pods break (rule, why).
    pub rules: Vec<(&'static str, &'static str)>,
}

/// `out/docs/infrastructure.md`.
#[derive(Template)]
#[template(path = "infrastructure.md", escape = "none")]
struct InfrastructureDoc<'a> {
    components: Vec<ComponentRow>,
    namespaces: &'a [NamespaceRow],
    enforce_version: &'a str,
    enforced: Vec<&'a str>,
    held: Vec<HeldRow>,
    excluded: Vec<(&'a str, &'a str)>,
    staging: &'a str,
    prod: &'a str,
    email: &'a str,
    retention: String,
    prometheus_storage: String,
    alertmanager_storage: String,
    /// kube-prometheus-stack's containers: (which, requests, limits).
    monitoring_sizes: Vec<(&'static str, String, String)>,
    controller: &'static str,
    traefik: bool,
    traefik_chart: &'static str,
    gateway_api: &'a str,
}

/// Renders `out/docs/infrastructure.md`.
pub fn infrastructure(settings: &Settings, input: Infrastructure<'_>) -> Result<String, Error> {
    let m = &settings.cluster.monitoring;
    InfrastructureDoc {
        components: input.components,
        namespaces: input.namespaces,
        enforce_version: input.enforce_version,
        enforced: input.enforced,
        held: input.held,
        excluded: input.excluded,
        staging: input.issuers.0,
        prod: input.issuers.1,
        email: settings.cluster.acme.email.as_str(),
        retention: m.retention.to_string(),
        prometheus_storage: m.prometheus_storage.to_string(),
        alertmanager_storage: m.alertmanager_storage.to_string(),
        monitoring_sizes: input.monitoring_sizes,
        controller: settings.cluster.ingress.controller.name(),
        traefik: settings.cluster.ingress.controller == IngressController::Traefik,
        traefik_chart: crate::charts::TRAEFIK.version,
        gateway_api: input.gateway_api,
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/infrastructure.md: {e}")))
}

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
    traefik: bool,
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
    sections: &[(String, Vec<crate::netpol::Flow>)],
) -> Result<String, Error> {
    let net = &settings.cluster;
    let sections = sections
        .iter()
        .map(|(namespace, flows)| FlowSection {
            namespace: namespace.clone(),
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
        traefik: net.ingress.controller == IngressController::Traefik,
        node_cidr: net.network.node_cidr.to_string(),
        api_port: net.network.api_server_port.get(),
        s3_cidr: net.s3.cidr.to_string(),
        sections,
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/network.md: {e}")))
}

/// `out/docs/runbooks/ingress.md`.
#[derive(Template)]
#[template(path = "ingress.md", escape = "none")]
struct IngressRunbook<'a> {
    controller: &'static str,
    traefik_app: &'a str,
    traefik_chart: &'a str,
    gateway_api: &'a str,
    addresses: Vec<String>,
    hosts: Vec<(String, String, &'static str)>,
    first_host: String,
    first_address: String,
}

/// Renders `out/docs/runbooks/ingress.md`: why and how to switch the ingress controller on a
/// running cluster, with this site's hosts and node addresses.
pub fn ingress_runbook(
    settings: &Settings,
    traefik_app: &str,
    gateway_api: &str,
) -> Result<String, Error> {
    let hosts: Vec<(String, String, &'static str)> = settings
        .envs()
        .map(|(env, e)| {
            (
                env.name().to_string(),
                e.xwiki.host.get_ref().to_string(),
                e.xwiki.cluster_issuer.name(),
            )
        })
        .collect();
    let addresses: Vec<String> = settings
        .cluster
        .cutover
        .ingress_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    IngressRunbook {
        controller: settings.cluster.ingress.controller.name(),
        traefik_app,
        traefik_chart: crate::charts::TRAEFIK.version,
        gateway_api,
        first_host: hosts.first().map(|h| h.1.clone()).unwrap_or_default(),
        first_address: addresses.first().cloned().unwrap_or_default(),
        addresses,
        hosts,
    }
    .render()
    .map_err(|e| Error::Build(format!("out/docs/runbooks/ingress.md: {e}")))
}

/// One scope in `out/docs/secrets.md`.
pub struct ScopeRow {
    /// The scope.
    pub scope: String,
    /// Its age recipients.
    pub recipients: Vec<String>,
    /// Where its Secrets land in `out/`.
    pub target: String,
    /// The Flux Kustomization that decrypts them.
    pub kustomization: String,
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
pub fn secrets(
    settings: &Settings,
    scopes: Vec<ScopeRow>,
    required: Vec<crate::secrets::RequiredSecret>,
) -> Result<String, Error> {
    SecretsDoc {
        scopes,
        required,
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
    /// The chart images declared without a digest yet.
    awaiting: Vec<String>,
}

/// Renders `out/docs/ci.md`: the workflows, Trivy, Renovate and the render App.
pub fn ci(settings: &Settings, awaiting: Vec<String>) -> Result<String, Error> {
    CiDoc {
        git_url: settings.cluster.git.url.as_str(),
        branch: settings.cluster.git.branch.as_str(),
        awaiting,
    }
    .render()
    .map_err(|e| Error::Build(format!("docs/ci.md: {e}")))
}
