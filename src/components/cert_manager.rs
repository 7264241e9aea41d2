//! cert-manager and the Let's Encrypt ClusterIssuers (staging and prod, HTTP-01 through the
//! ingress layer).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSecurityContext, SeccompProfile};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::helm::HelmComponent;
use super::namespaces::{PlatformNamespace, PodSecurity};
use crate::Error;
use crate::crd::cert_manager::*;
use crate::object::Object;
use crate::settings::{ClusterIssuer as Issuer, IngressController, Settings};

/// Let's Encrypt production directory.
pub const LETSENCRYPT_PROD: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt staging directory.
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// Label cert-manager puts on HTTP-01 solver pods (NetworkPolicies select it).
pub const SOLVER_LABEL: (&str, &str) = ("acme.cert-manager.io/http01-solver", "true");
/// Port of the solver pods.
pub const SOLVER_PORT: u16 = 8089;

/// cert-manager's namespace: its pods meet `restricted` (chart defaults: non-root, RuntimeDefault
/// seccomp, no privilege escalation, all capabilities dropped).
pub fn namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: "cert-manager",
        environment: "platform",
        pod_security: PodSecurity::RESTRICTED,
        purpose: "cert-manager (certificates from Let's Encrypt)",
        network_policy_reason: None,
    }
}

/// The cert-manager images, pinned by tag and digest (digests seen pinned in public
/// repositories). Renovate's images manager (renovate.json, the regex of `src/images.rs`)
/// bumps each line's tag and digest, grouped with the chart in one PR (group `cert-manager`);
/// `tests/ci.rs` fails while a tag differs from the chart version.
#[rustfmt::skip] // one image per line, so Renovate reads one line per bump
pub mod images {
    use crate::image::PinnedImage;
    use crate::pinned_image;

    /// The controller.
    // renovate: datasource=docker depName=quay.io/jetstack/cert-manager-controller
    pub const CONTROLLER: PinnedImage = pinned_image!("quay.io", "jetstack/cert-manager-controller", "v1.21.1", "sha256:416a2d76870d996460e62bd7f521bf14fa017be9e3e904aab92163a331fcb61a");
    /// The webhook.
    // renovate: datasource=docker depName=quay.io/jetstack/cert-manager-webhook
    pub const WEBHOOK: PinnedImage = pinned_image!("quay.io", "jetstack/cert-manager-webhook", "v1.21.1", "sha256:d8b3961b51c8c7320633f8208dc46bf88aa13804d0f7cbe48a096b2c523cee42");
    /// The CA injector.
    // renovate: datasource=docker depName=quay.io/jetstack/cert-manager-cainjector
    pub const CAINJECTOR: PinnedImage = pinned_image!("quay.io", "jetstack/cert-manager-cainjector", "v1.21.1", "sha256:ccf6b919ec0500745a47a910118f834f9636d0aac1ff221245cd2557ed8c7c98");
    /// The HTTP-01 solver.
    // renovate: datasource=docker depName=quay.io/jetstack/cert-manager-acmesolver
    pub const ACMESOLVER: PinnedImage = pinned_image!("quay.io", "jetstack/cert-manager-acmesolver", "v1.21.1", "sha256:dbc7cc1354f603918e7c5af7f55a0a620537394452c93a565bde75c6f48e8837");
    /// The install check.
    // renovate: datasource=docker depName=quay.io/jetstack/cert-manager-startupapicheck
    pub const STARTUPAPICHECK: PinnedImage = pinned_image!("quay.io", "jetstack/cert-manager-startupapicheck", "v1.21.1", "sha256:d8ab6416e6e7303a86fa0a8daa82c94a8001f21c9d78eb2e7db20534e5d07ae8");

    /// All five.
    pub const ALL: [PinnedImage; 5] = [CONTROLLER, WEBHOOK, CAINJECTOR, ACMESOLVER, STARTUPAPICHECK];
}

/// The cert-manager images as the chart renders them (`quay.io/jetstack/<name>:<tag>@<digest>`).
pub fn pinned_images() -> Vec<String> {
    images::ALL.iter().map(ToString::to_string).collect()
}

/// cert-manager chart values we set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    crds: Crds,
    prometheus: Prometheus,
    image: Image,
    resources: super::helm::ChartResources,
    webhook: Sub,
    cainjector: Sub,
    acmesolver: Sub,
    startupapicheck: Sub,
    extra_args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<ControllerConfiguration>,
}

/// The controller's configuration file (the chart writes `config` into a ConfigMap and
/// passes `--config`, cert-manager v1.21.1 `templates/controller-config.yaml`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ControllerConfiguration {
    api_version: &'static str,
    kind: &'static str,
    #[serde(rename = "gatewayAPI")]
    gateway_api: Flag,
}

#[derive(Debug, Serialize)]
struct Crds {
    enabled: bool,
    keep: bool,
}

#[derive(Debug, Serialize)]
struct Prometheus {
    enabled: bool,
    servicemonitor: Flag,
}

#[derive(Debug, Serialize)]
struct Flag {
    enabled: bool,
}

/// An image of the chart: the chart renders `repo:tag@digest` when both are set
/// (cert-manager v1.21.1 `templates/_helpers.tpl`, `cert-manager.image`), which our
/// `image-tag` rule needs as much as the digest.
#[derive(Debug, Serialize)]
struct Image {
    tag: &'static str,
    digest: &'static str,
}

impl From<crate::image::PinnedImage> for Image {
    fn from(i: crate::image::PinnedImage) -> Self {
        Image {
            tag: i.tag(),
            digest: i.digest(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Sub {
    image: Image,
    /// Its pod's requests and limits (none for `acmesolver`: the solver's come from
    /// `extra_args`).
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<super::helm::ChartResources>,
}

/// Requests and limits of the chart's pods, which it leaves unset (so Kyverno's
/// `requests-limits` rule holds in `cert-manager`). The requests are the chart's examples,
/// 10m/32Mi for each (cert-manager v1.21.1 `values.yaml:411-419`, webhook `:930-938`,
/// cainjector `:1343-1351`, startupapicheck `:1602-1609`), raised to 64Mi for the controller
/// and the cainjector, which cache the cluster's Certificates, Secrets and webhook
/// configurations; the limits leave room above them.
pub mod sizes {
    use super::super::helm::resources;
    use crate::workload::Resources;

    /// The controller.
    pub const CONTROLLER: Resources = resources(10, 64, 200, 256);
    /// The webhook.
    pub const WEBHOOK: Resources = resources(10, 32, 100, 128);
    /// The cainjector.
    pub const CAINJECTOR: Resources = resources(10, 64, 100, 256);
    /// The post-install `startupapicheck` Job.
    pub const STARTUPAPICHECK: Resources = resources(10, 32, 100, 64);
}

/// The cert-manager HelmRelease. With Traefik, Gateway API support is on
/// (`config.gatewayAPI.enabled`, `pkg/apis/config/controller/v1alpha1/types.go` of v1.21.1;
/// the older `enableGatewayAPI` is deprecated there): the HTTP-01 solver can attach its route
/// to a Gateway and the gateway-shim makes the Certificates of annotated Gateways. The
/// controller then exits at start while `gateway.networking.k8s.io/v1` is not served
/// (`pkg/controller/context.go`), so the Gateway API CRDs are applied before the controllers
/// (`components::flux`).
pub fn component(ingress: IngressController) -> Result<HelmComponent, Error> {
    let sub = |image: crate::image::PinnedImage, r: Option<crate::workload::Resources>| Sub {
        image: image.into(),
        resources: r.map(Into::into),
    };
    let values = Values {
        crds: Crds {
            enabled: true,
            keep: true,
        },
        // Metrics on, chart ServiceMonitor off: its CRD comes with kube-prometheus-stack
        // (installed in the same layer, in no fixed order); the scrape is declared in
        // infra-configs.
        prometheus: Prometheus {
            enabled: true,
            servicemonitor: Flag { enabled: false },
        },
        image: images::CONTROLLER.into(),
        resources: sizes::CONTROLLER.into(),
        webhook: sub(images::WEBHOOK, Some(sizes::WEBHOOK)),
        cainjector: sub(images::CAINJECTOR, Some(sizes::CAINJECTOR)),
        acmesolver: sub(images::ACMESOLVER, None),
        startupapicheck: sub(images::STARTUPAPICHECK, Some(sizes::STARTUPAPICHECK)),
        // Solver pods run in the app namespaces, where requests and limits are required.
        extra_args: vec![
            "--acme-http01-solver-resource-request-cpu=10m".into(),
            "--acme-http01-solver-resource-request-memory=64Mi".into(),
            "--acme-http01-solver-resource-limits-cpu=100m".into(),
            "--acme-http01-solver-resource-limits-memory=64Mi".into(),
        ],
        config: (ingress == IngressController::Traefik).then_some(ControllerConfiguration {
            api_version: "controller.config.cert-manager.io/v1alpha1",
            kind: "ControllerConfiguration",
            gateway_api: Flag { enabled: true },
        }),
    };
    HelmComponent::new(
        "cert-manager",
        namespace(),
        crate::charts::CERT_MANAGER,
        &values,
    )
}

/// The ACME directory of an issuer.
pub const fn server(issuer: Issuer) -> &'static str {
    match issuer {
        Issuer::LetsEncryptProd => LETSENCRYPT_PROD,
        Issuer::LetsEncryptStaging => LETSENCRYPT_STAGING,
    }
}

/// The HTTP-01 solver pod: labelled, and passing `restricted`.
fn solver_pod() -> SolverPodTemplate {
    SolverPodTemplate {
        metadata: SolverMetadata {
            labels: BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                crate::PART_OF.to_string(),
            )]),
        },
        spec: SolverPodSpec {
            security_context: PodSecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..Default::default()
            },
        },
    }
}

/// The HTTP-01 solvers: through the ingress class (ingress-nginx), or, with Traefik, one per
/// environment's host, whose challenge route attaches to the HTTP listener of that host's
/// Gateway (`http01.gatewayHTTPRoute.parentRefs`; the selector keeps each host's challenges
/// on its own Gateway).
fn solvers(settings: &Settings) -> Vec<Solver> {
    match settings.cluster.ingress.controller {
        IngressController::IngressNginx => vec![Solver {
            selector: None,
            http01: Http01::Ingress(Http01Ingress {
                ingress_class_name: super::ingress::INGRESS_CLASS.into(),
                pod_template: solver_pod(),
            }),
        }],
        IngressController::Traefik => settings
            .envs()
            .map(|(env, e)| Solver {
                selector: Some(SolverSelector {
                    dns_names: vec![e.xwiki.host.get_ref().to_string()],
                }),
                http01: Http01::GatewayHttpRoute(Http01GatewayHttpRoute {
                    parent_refs: vec![crate::crd::gateway::ParentReference::gateway(
                        super::ingress::WIKI_ROUTE,
                        Some(env.name()),
                        super::traefik::HTTP_LISTENER,
                    )],
                    pod_template: solver_pod(),
                }),
            })
            .collect(),
    }
}

/// One ClusterIssuer: ACME account from settings, its own account key Secret, HTTP-01 through
/// the ingress layer, with a solver pod that passes `restricted`.
pub fn cluster_issuer(issuer: Issuer, settings: &Settings) -> ClusterIssuer {
    ClusterIssuer {
        metadata: ObjectMeta {
            name: Some(issuer.name().into()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: ClusterIssuerSpec {
            acme: Acme {
                server: server(issuer).into(),
                email: settings.cluster.acme.email.as_str().into(),
                private_key_secret_ref: SecretKeySelector {
                    name: format!("{}-account-key", issuer.name()),
                },
                solvers: solvers(settings),
            },
        },
    }
}

/// The objects of `out/infrastructure/configs/issuers/`.
pub fn config_objects(settings: &Settings) -> Result<Vec<Object>, Error> {
    [Issuer::LetsEncryptStaging, Issuer::LetsEncryptProd]
        .into_iter()
        .map(|i| Object::new(&cluster_issuer(i, settings)))
        .collect()
}

/// Prometheus's scrape of the controller (certificate expiry metrics): the chart's
/// `cert-manager` Service, port `http-metrics` (9402).
pub fn service_monitor() -> crate::crd::monitoring::ServiceMonitor {
    crate::crd::monitoring::service_monitor(
        "cert-manager",
        namespace().name,
        &[
            ("app.kubernetes.io/name", "cert-manager"),
            ("app.kubernetes.io/instance", "cert-manager"),
            ("app.kubernetes.io/component", "controller"),
        ],
        "http-metrics",
    )
}

/// cert-manager: its release and the ClusterIssuers.
pub struct CertManager;

impl super::contribution::Component for CertManager {
    fn name(&self) -> &'static str {
        "cert-manager"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        Ok(super::contribution::Contribution {
            releases: vec![(component(plan.settings.cluster.ingress.controller)?, vec![])],
            configs: vec![(
                "issuers",
                "clusterissuers.yaml".into(),
                config_objects(plan.settings)?,
            )],
            // Every image pinned and every pod with requests and limits: Deny.
            chart_namespaces: vec![super::contribution::ChartNamespace {
                namespace: namespace().name,
                images: images::ALL
                    .map(crate::image::ChartImage::from_pinned)
                    .to_vec(),
                held_by: vec![],
            }],
            ..Default::default()
        })
    }
}
