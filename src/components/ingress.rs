//! The ingress layer, switched by `[ingress] controller` of `cluster.toml`: ingress-nginx is
//! retired (final release 4.15.1 / v1.15.1, March 2026, no more security fixes) and stays the
//! default; `traefik` replaces it with Traefik and Gateway API routes (`components::traefik`).
//! Every part that depends on the controller asks this module.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1 as net;

use crate::object::Object;
use crate::settings::{ClusterIssuer, IngressController};
use crate::workload::{AppLabels, Port};

/// The routes of one public host, with the name of their file: an Ingress (ingress-nginx), or
/// a Gateway and its HTTPRoutes (Traefik).
#[allow(clippy::too_many_arguments)]
pub fn routes(
    controller: IngressController,
    labels: &AppLabels,
    name: &str,
    host: &str,
    issuer: ClusterIssuer,
    service: &str,
    port: Port,
) -> Result<(&'static str, Vec<Object>), crate::Error> {
    Ok(match controller {
        IngressController::IngressNginx => (
            "ingress.yaml",
            vec![Object::new(&https_route(
                labels, name, host, issuer, service, port,
            ))?],
        ),
        IngressController::Traefik => (
            "gateway.yaml",
            super::traefik::routes(labels, name, host, issuer, service, port)?,
        ),
    })
}

/// The ingress traffic per host of this site's controller (see [`TrafficQueries`]).
pub fn traffic(settings: &crate::settings::Settings) -> TrafficQueries {
    match settings.cluster.ingress.controller {
        IngressController::IngressNginx => nginx_traffic(),
        IngressController::Traefik => traefik_traffic(settings),
    }
}

/// Traefik v3.7 labels its requests with the router, not the host; the router names the
/// environment's HTTPRoute (`traefik::https_router_pattern`), so each environment's routers are
/// given its host. `traefik_router_requests_total` (counter) and
/// `traefik_router_request_duration_seconds` (histogram) carry `code`, `method`, `protocol`,
/// `router` and `service` (traefik/traefik v3.7.9
/// `pkg/observability/metrics/prometheus.go:42-45,183-196`, on with `addRoutersLabels`).
fn traefik_traffic(settings: &crate::settings::Settings) -> TrafficQueries {
    const REQUESTS: &str = "traefik_router_requests_total";
    const DURATION: &str = "traefik_router_request_duration_seconds_bucket";
    let requests = |code: &str| {
        format!(
            "sum by (host) ({})",
            traefik_by_host(settings, |router| format!(
                "rate({REQUESTS}{{router=~\"{router}\"{code}}}[5m])"
            ))
        )
    };
    TrafficQueries {
        requests: requests(""),
        errors: requests(",code=~\"5..\""),
        latency_p95: format!(
            "histogram_quantile(0.95, sum by (le, host) ({}))",
            traefik_by_host(settings, |router| format!(
                "rate({DURATION}{{router=~\"{router}\"}}[5m])"
            ))
        ),
        metrics: &[REQUESTS, DURATION],
    }
}

/// `series(router pattern)` of each environment with a `host` label set to its host, joined
/// with `or`.
fn traefik_by_host(
    settings: &crate::settings::Settings,
    series: impl Fn(&str) -> String,
) -> String {
    settings
        .envs()
        .map(|(env, e)| {
            let router = super::traefik::https_router_pattern(env.name(), WIKI_ROUTE);
            format!(
                "label_replace({}, \"host\", \"{}\", \"router\", \".*\")",
                series(&router),
                e.xwiki.host.get_ref()
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What to look at when the ingress answers 5xx.
pub fn logs_hint(controller: IngressController) -> &'static str {
    match controller {
        IngressController::IngressNginx => "the ingress-nginx logs",
        IngressController::Traefik => {
            "the Traefik logs (namespace traefik) and the HTTPRoute's status"
        }
    }
}

/// The controller's namespace.
pub fn namespace_of(controller: IngressController) -> super::namespaces::PlatformNamespace {
    match controller {
        IngressController::IngressNginx => namespace(),
        IngressController::Traefik => super::traefik::namespace(),
    }
}

/// Prometheus's scrape of the controller.
pub fn service_monitor_of(controller: IngressController) -> crate::crd::monitoring::ServiceMonitor {
    match controller {
        IngressController::IngressNginx => service_monitor(),
        IngressController::Traefik => super::traefik::service_monitor(),
    }
}

/// Name of the wiki's Ingress, or of its Gateway and HTTPS route (`xwiki::ROUTE`).
pub const WIKI_ROUTE: &str = "xwiki";

/// IngressClass served by the controller.
pub const INGRESS_CLASS: &str = "nginx";

/// Largest request body the wiki accepts (attachment uploads). Default: 256 MiB, because
/// XWiki stores attachments on the filesystem and office documents and media are often large.
pub const MAX_BODY: &str = "256m";

/// An HTTPS route from `host` to a Service port, with a certificate from `issuer`.
pub fn https_route(
    labels: &AppLabels,
    name: &str,
    host: &str,
    issuer: ClusterIssuer,
    service: &str,
    port: Port,
) -> net::Ingress {
    let mut meta = labels.meta(name);
    meta.annotations = Some(BTreeMap::from([
        (
            "cert-manager.io/cluster-issuer".to_string(),
            issuer.name().to_string(),
        ),
        (
            "nginx.ingress.kubernetes.io/proxy-body-size".to_string(),
            MAX_BODY.to_string(),
        ),
        // XWiki answers slowly on heavy pages and large exports.
        (
            "nginx.ingress.kubernetes.io/proxy-read-timeout".to_string(),
            "300".to_string(),
        ),
    ]));
    net::Ingress {
        metadata: meta,
        spec: Some(net::IngressSpec {
            ingress_class_name: Some(INGRESS_CLASS.into()),
            tls: Some(vec![net::IngressTLS {
                hosts: Some(vec![host.to_string()]),
                secret_name: Some(format!("{name}-tls")),
            }]),
            rules: Some(vec![net::IngressRule {
                host: Some(host.to_string()),
                http: Some(net::HTTPIngressRuleValue {
                    paths: vec![net::HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: net::IngressBackend {
                            service: Some(net::IngressServiceBackend {
                                name: service.to_string(),
                                port: Some(net::ServiceBackendPort {
                                    name: Some(port.name.to_string()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    }
}

/// ingress-nginx's namespace.
pub fn namespace() -> super::namespaces::PlatformNamespace {
    use super::namespaces::{Level, PodSecurity};
    super::namespaces::PlatformNamespace {
        name: "ingress-nginx",
        environment: "platform",
        pod_security: PodSecurity::relaxed(
            Level::Privileged,
            "the controller runs with hostNetwork to bind ports 80/443 on the node (no cloud load balancer); baseline already forbids hostNetwork",
        ),
        purpose: "ingress-nginx controller (retired project, final release)",
        network_policy_reason: Some(
            "the controller runs on the host network, where NetworkPolicies do not apply; the app namespaces admit it from the nodes' address range",
        ),
    }
}

/// ingress-nginx chart values we set.
#[derive(Debug, serde::Serialize)]
pub struct ControllerValues {
    controller: Controller,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Controller {
    kind: &'static str,
    host_network: bool,
    dns_policy: &'static str,
    host_port: EnabledFlag,
    container_port: ContainerPorts,
    service: EnabledFlag,
    publish_service: EnabledFlag,
    report_node_internal_ip: bool,
    ingress_class: &'static str,
    ingress_class_resource: IngressClassResource,
    allow_snippet_annotations: bool,
    image: ControllerImage,
    metrics: ControllerMetrics,
    resources: super::helm::ChartResources,
    admission_webhooks: AdmissionWebhooks,
}

/// The admission webhook's certificate Jobs (kube-webhook-certgen), which the chart leaves
/// without requests or limits: the chart's example, 10m/20Mi requested (ingress-nginx 4.15.1
/// `values.yaml:804-810`, the same for `patchWebhookJob`, `:837`), with a 64Mi limit of margin.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionWebhooks {
    create_secret_job: JobResources,
    patch_webhook_job: JobResources,
}

#[derive(Debug, serde::Serialize)]
struct JobResources {
    resources: super::helm::ChartResources,
}

/// [`AdmissionWebhooks`]' Jobs.
pub const CERTGEN_RESOURCES: crate::workload::Resources = super::helm::resources(10, 20, 100, 64);

#[derive(Debug, serde::Serialize)]
struct EnabledFlag {
    enabled: bool,
}

#[derive(Debug, serde::Serialize)]
struct ContainerPorts {
    http: u16,
    https: u16,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressClassResource {
    name: &'static str,
    enabled: bool,
    default: bool,
    controller_value: &'static str,
}

#[derive(Debug, serde::Serialize)]
struct ControllerImage {
    registry: &'static str,
    image: &'static str,
    tag: &'static str,
    digest: &'static str,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ControllerMetrics {
    enabled: bool,
    service_monitor: EnabledFlag,
}

/// The ingress-nginx HelmRelease: a DaemonSet on the host network (ports 80/443 of the
/// node), no Service of type LoadBalancer, snippet annotations off.
pub fn component() -> Result<super::helm::HelmComponent, crate::Error> {
    let image = crate::images::INGRESS_NGINX_CONTROLLER;
    let values = ControllerValues {
        controller: Controller {
            kind: "DaemonSet",
            host_network: true,
            dns_policy: "ClusterFirstWithHostNet",
            host_port: EnabledFlag { enabled: false },
            container_port: ContainerPorts {
                http: 80,
                https: 443,
            },
            service: EnabledFlag { enabled: false },
            publish_service: EnabledFlag { enabled: false },
            report_node_internal_ip: true,
            ingress_class: INGRESS_CLASS,
            ingress_class_resource: IngressClassResource {
                name: INGRESS_CLASS,
                enabled: true,
                default: true,
                controller_value: "k8s.io/ingress-nginx",
            },
            allow_snippet_annotations: false,
            image: ControllerImage {
                registry: image.registry(),
                image: image.repository(),
                tag: image.tag(),
                digest: image.digest(),
            },
            // Metrics on, chart ServiceMonitor off: its CRD comes with kube-prometheus-stack,
            // so on a fresh cluster the install would fail ("no matches for kind
            // ServiceMonitor"); the scrape is declared in infra-configs.
            metrics: ControllerMetrics {
                enabled: true,
                service_monitor: EnabledFlag { enabled: false },
            },
            resources: super::helm::resources(100, 128, 1000, 512).into(),
            admission_webhooks: AdmissionWebhooks {
                create_secret_job: JobResources {
                    resources: CERTGEN_RESOURCES.into(),
                },
                patch_webhook_job: JobResources {
                    resources: CERTGEN_RESOURCES.into(),
                },
            },
        },
    };
    let mut c = super::helm::HelmComponent::new(
        "ingress-nginx",
        namespace(),
        crate::charts::INGRESS_NGINX,
        &values,
    )?;
    c.crds = false;
    Ok(c)
}

/// Prometheus's scrape of the controller: the chart's `<release>-controller-metrics` Service
/// (port `metrics`, 10254), whose endpoints are the nodes' addresses (host network).
pub fn service_monitor() -> crate::crd::monitoring::ServiceMonitor {
    crate::crd::monitoring::service_monitor(
        "ingress-nginx-controller",
        namespace().name,
        &[
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app.kubernetes.io/instance", "ingress-nginx"),
            ("app.kubernetes.io/component", "controller"),
        ],
        "metrics",
    )
}

/// The ingress traffic per host as PromQL: the one place the dashboards and the alerts read
/// the controller's metrics from, so another controller replaces only this (each expression
/// keeps a `host` label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficQueries {
    /// Requests per second per host.
    pub requests: String,
    /// 5xx responses per second per host.
    pub errors: String,
    /// 95th percentile of the request duration per host, in seconds.
    pub latency_p95: String,
    /// The metrics the expressions read.
    pub metrics: &'static [&'static str],
}

/// ingress-nginx controller v1.15.1: `nginx_ingress_controller_requests` (counter) and
/// `nginx_ingress_controller_request_duration_seconds` (histogram, seconds) carry `status`,
/// `method`, `path`, `namespace`, `ingress`, `service`, `canary` and, with
/// `--metrics-per-host` (default true), `host`
/// (kubernetes/ingress-nginx@controller-v1.15.1 `internal/ingress/metric/collectors/socket.go:89-99,131-134,196-250`,
/// `pkg/flags/flags.go:179`); `status` is the code, not its class, unless
/// `--report-status-classes` (default false, flags.go:183).
fn nginx_traffic() -> TrafficQueries {
    const REQUESTS: &str = "nginx_ingress_controller_requests";
    const DURATION: &str = "nginx_ingress_controller_request_duration_seconds_bucket";
    TrafficQueries {
        requests: format!("sum by (host) (rate({REQUESTS}[5m]))"),
        errors: format!("sum by (host) (rate({REQUESTS}{{status=~\"5..\"}}[5m]))"),
        latency_p95: format!("histogram_quantile(0.95, sum by (le, host) (rate({DURATION}[5m])))"),
        metrics: &[REQUESTS, DURATION],
    }
}

/// The ingress controller: its release (ingress-nginx's or Traefik's).
pub struct Ingress;

impl super::contribution::Component for Ingress {
    fn name(&self) -> &'static str {
        "ingress"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, crate::Error> {
        let controller = plan.settings.cluster.ingress.controller;
        let (release, images) = match controller {
            IngressController::IngressNginx => (
                component()?,
                vec![crate::image::ChartImage::from_pinned(
                    crate::images::INGRESS_NGINX_CONTROLLER,
                )],
            ),
            IngressController::Traefik => (
                super::traefik::component()?,
                super::traefik::images::ALL
                    .map(crate::image::ChartImage::from_pinned)
                    .to_vec(),
            ),
        };
        Ok(super::contribution::Contribution {
            releases: vec![(release, vec![])],
            // Every image pinned (the admission Jobs' certgen by the chart itself) and every
            // pod with requests and limits: Deny.
            chart_namespaces: vec![super::contribution::ChartNamespace {
                namespace: namespace_of(controller).name,
                images,
                held_by: vec![],
            }],
            ..Default::default()
        })
    }
}
