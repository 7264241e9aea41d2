//! The Flux entry point: `Kustomization` objects in `out/clusters/open4goods/`.
//!
//! Chain: `infra-controllers` → `infra-configs` → `apps-<env>` (one per environment), all
//! with `prune: true` and `wait: true`, reading the `flux-system` GitRepository that
//! `flux bootstrap` creates. App Kustomizations decrypt SOPS secrets with the `sops-age` Secret.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::layout;
use crate::Error;
use crate::crd::flux::{
    Decryption, DecryptionProvider, DependencyReference, GitReference, GitRepository,
    GitRepositorySpec, Kustomization, KustomizationSpec, LocalObjectReference, SourceKind,
    SourceReference,
};
use crate::object::Object;
use crate::quantity::Duration;
use crate::settings::{Environment, FluxSettings};

/// Namespace of the Flux controllers and of our Kustomizations.
pub const FLUX_NAMESPACE: &str = "flux-system";
/// The GitRepository created by `flux bootstrap`.
pub const GIT_SOURCE: &str = "flux-system";
/// Secret (created out of band in `flux-system`) holding the age private keys.
pub const SOPS_SECRET: &str = "sops-age";
/// Name of the controllers Kustomization.
pub const INFRA_CONTROLLERS: &str = "infra-controllers";
/// Name of the configs Kustomization.
pub const INFRA_CONFIGS: &str = "infra-configs";
/// Name of the Gateway API CRDs' Kustomization and of its GitRepository.
pub const GATEWAY_API: &str = "gateway-api";

/// The Kustomization that applies one environment's apps.
pub fn apps_name(env: Environment) -> String {
    format!("apps-{}", env.name())
}

/// A Flux Kustomization and the file of `out/clusters/open4goods/` it goes to.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File name in the cluster folder.
    pub file: &'static str,
    /// The object.
    pub kustomization: Kustomization,
    /// The source it reads, when it is not the cluster's own repository (written before it).
    pub source: Option<GitRepository>,
}

/// Extra time a Kustomization gets beyond what it waits for.
const TIMEOUT_MARGIN: Duration = Duration::minutes(5);
/// What `apps-<env>` waits for at most: XWiki's first start (its startup probe allows 21
/// minutes) before the Deployment is healthy.
const APPS_WAIT: Duration = Duration::minutes(25);

fn at_least(a: Duration, b: Duration) -> Duration {
    if a.as_secs() >= b.as_secs() { a } else { b }
}

fn kustomization(
    flux: &FluxSettings,
    name: &str,
    path: &str,
    depends_on: &[&str],
    decryption: bool,
    timeout: Duration,
) -> Kustomization {
    Kustomization {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(FLUX_NAMESPACE.to_string()),
            ..Default::default()
        },
        spec: KustomizationSpec {
            depends_on: depends_on
                .iter()
                .map(|d| DependencyReference {
                    name: d.to_string(),
                })
                .collect(),
            interval: flux.interval,
            retry_interval: flux.retry_interval,
            timeout,
            path: layout::flux_path(path),
            prune: true,
            wait: true,
            source_ref: SourceReference {
                kind: SourceKind::GitRepository,
                name: GIT_SOURCE.to_string(),
            },
            decryption: decryption.then(|| Decryption {
                provider: DecryptionProvider::Sops,
                secret_ref: LocalObjectReference {
                    name: SOPS_SECRET.to_string(),
                },
            }),
        },
    }
}

/// The Gateway API CRDs (standard channel) from their upstream repository at the pinned tag,
/// in a Kustomization of their own that the controllers wait for: Traefik's chart renders a
/// GatewayClass and cert-manager with Gateway support exits while they are missing. `prune`
/// is off: removing the Kustomization (switching back to ingress-nginx) must not delete the
/// CRDs, and with them every Gateway and route of the cluster, by surprise.
fn gateway_api(flux: &FluxSettings) -> Entry {
    use super::traefik::{GATEWAY_API_PATH, GATEWAY_API_REPOSITORY, GATEWAY_API_VERSION};
    let mut k = kustomization(
        flux,
        GATEWAY_API,
        GATEWAY_API_PATH,
        &[],
        false,
        flux.timeout,
    );
    k.spec.prune = false;
    k.spec.source_ref.name = GATEWAY_API.to_string();
    Entry {
        file: "gateway-api.yaml",
        kustomization: k,
        source: Some(GitRepository {
            metadata: ObjectMeta {
                name: Some(GATEWAY_API.to_string()),
                namespace: Some(FLUX_NAMESPACE.to_string()),
                ..Default::default()
            },
            spec: GitRepositorySpec {
                interval: Duration::hours(12),
                url: GATEWAY_API_REPOSITORY.to_string(),
                reference: GitReference {
                    tag: GATEWAY_API_VERSION.to_string(),
                },
                sparse_checkout: vec![GATEWAY_API_PATH.to_string()],
            },
        }),
    }
}

/// Every Flux Kustomization of the cluster, in dependency order. `longest_release` is the
/// largest HelmRelease timeout: with `wait: true` the controllers' Kustomization must outlast
/// it (plus a margin), or it reports failure while a release is still installing. Settings
/// can raise every timeout, never lower these floors. With `gateway_api`, the Gateway API
/// CRDs come first.
pub fn kustomizations(
    flux: &FluxSettings,
    envs: impl IntoIterator<Item = Environment>,
    longest_release: Duration,
    gateway_api_crds: bool,
) -> Vec<Entry> {
    let controllers_timeout = at_least(
        flux.timeout,
        Duration::seconds(longest_release.as_secs() + TIMEOUT_MARGIN.as_secs()),
    );
    let first: Vec<Entry> = gateway_api_crds
        .then(|| gateway_api(flux))
        .into_iter()
        .collect();
    let controllers_deps: Vec<&str> = if gateway_api_crds {
        vec![GATEWAY_API]
    } else {
        vec![]
    };
    let mut all = first;
    all.extend([
        Entry {
            file: "infrastructure.yaml",
            // Decrypts the cluster-wide Secrets (Grafana's admin) applied with the controllers.
            kustomization: kustomization(
                flux,
                INFRA_CONTROLLERS,
                layout::CONTROLLERS,
                &controllers_deps,
                true,
                controllers_timeout,
            ),
            source: None,
        },
        Entry {
            file: "infrastructure.yaml",
            kustomization: kustomization(
                flux,
                INFRA_CONFIGS,
                layout::CONFIGS,
                &[INFRA_CONTROLLERS],
                false,
                flux.timeout,
            ),
            source: None,
        },
    ]);
    for env in envs {
        all.push(Entry {
            file: "apps.yaml",
            kustomization: kustomization(
                flux,
                &apps_name(env),
                &layout::app_overlay(env),
                &[INFRA_CONFIGS],
                true,
                at_least(flux.timeout, APPS_WAIT),
            ),
            source: None,
        });
    }
    all
}

/// Groups the entries by file, keeping their order.
pub fn files(entries: &[Entry]) -> Result<Vec<(&'static str, Vec<Object>)>, Error> {
    let mut files: Vec<(&'static str, Vec<Object>)> = Vec::new();
    for e in entries {
        let mut objects = Vec::new();
        if let Some(source) = &e.source {
            objects.push(Object::new(source)?);
        }
        objects.push(Object::new(&e.kustomization)?);
        match files.iter_mut().find(|(f, _)| *f == e.file) {
            Some((_, objs)) => objs.extend(objects),
            None => files.push((e.file, objects)),
        }
    }
    Ok(files)
}

/// The Kustomizations as `out/README.md` lists them.
pub fn doc_rows(entries: &[Entry]) -> Vec<super::docs::FluxRow> {
    entries
        .iter()
        .map(|e| {
            let k = &e.kustomization;
            super::docs::FluxRow {
                name: k.metadata.name.clone().unwrap_or_default(),
                path: k.spec.path.clone(),
                depends_on: k.spec.depends_on.iter().map(|d| d.name.clone()).collect(),
                decrypts: k.spec.decryption.is_some(),
            }
        })
        .collect()
}
