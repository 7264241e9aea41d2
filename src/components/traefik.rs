//! Traefik v3.7 (chart traefik 41.3.0) serving the Gateway API: the ingress controller when
//! `[ingress] controller = "traefik"` (see `components::ingress`, which switches).
//!
//! Ports 80/443 on a single node, without a cloud load balancer. Two ways exist
//! (`../shared/charts/INDEX.md`, "Traefik 41.3.0", checked against the chart's templates):
//! - `hostNetwork: true` needs Traefik itself to bind 80/443 (the chart requires hostPort =
//!   containerPort then, traefik-helm-chart v41.3.0 `traefik/templates/_podtemplate.tpl:113-119`).
//!   The process runs as uid 65532 with every capability dropped; `NET_BIND_SERVICE` in
//!   `capabilities.add` gives a non-root process nothing without ambient or file
//!   capabilities, and the official image sets no file capability. It would take a root
//!   `setcap` init container and `allowPrivilegeEscalation: true`.
//! - `hostPort` (chosen): the container keeps listening on 8000/8443 as uid 65532 with no
//!   capability; the CNI's port mapping sends the node's 80/443 there. The pods keep their own
//!   addresses, so NetworkPolicies apply to them (ingress-nginx on the host network escaped
//!   them). The cost is the namespace's Pod Security: any host port is refused by `baseline`.
//!
//! Rollout on one node: a host port can be held by one pod per node (the scheduler's
//! NodePorts filter, kubernetes/kubernetes `pkg/scheduler/framework/plugins/nodeports/`; the
//! stall below is recorded in `../shared/charts/INDEX.md`, "Traefik 41.3.0").
//! The chart's default DaemonSet strategy (`maxUnavailable: 0, maxSurge: 1`, values.yaml
//! `updateStrategy`) starts the new pod before the old one stops: on one node it never
//! schedules and the rollout stalls. [`UPDATE_STRATEGY`] stops the old pod first
//! (`maxUnavailable: 1, maxSurge: 0`): a few seconds without ingress per upgrade, the price of
//! one node. `tests/charts.rs` checks the rendered DaemonSet against a model of the rollout.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::helm::HelmComponent;
use super::namespaces::{Level, PlatformNamespace, PodSecurity};
use crate::Error;
use crate::crd::gateway::{
    Gateway, GatewaySpec, HTTPRoute, HttpBackendRef, HttpRequestRedirect, HttpRouteFilter,
    HttpRouteMatch, HttpRouteRule, HttpRouteSpec, Listener, ListenerTls, ParentReference,
    SecretObjectReference,
};
use crate::object::Object;
use crate::settings::ClusterIssuer;
use crate::workload::{AppLabels, Port};

/// The namespace and release name.
pub const NAMESPACE: &str = "traefik";
/// The GatewayClass the chart creates (`controllerName: traefik.io/gateway-controller`).
pub const GATEWAY_CLASS: &str = "traefik";
/// The `web` entryPoint inside the pod (the chart's default), the node's port 80 maps to it.
pub const WEB: Port = Port::tcp("web", 8000);
/// The `websecure` entryPoint (the node's port 443).
pub const WEBSECURE: Port = Port::tcp("websecure", 8443);
/// The `metrics` entryPoint (Prometheus format).
pub const METRICS: Port = Port::tcp("metrics", 9100);
/// The node's HTTP port.
pub const HOST_HTTP: u16 = 80;
/// The node's HTTPS port.
pub const HOST_HTTPS: u16 = 443;
/// Gateway listener of plain HTTP (the redirect and the HTTP-01 challenges).
pub const HTTP_LISTENER: &str = "http";
/// Gateway listener of HTTPS.
pub const HTTPS_LISTENER: &str = "https";

/// Labels of the Traefik pods (traefik 41.3.0 `templates/_helpers.tpl`, `traefik.labelselector`:
/// name `traefik`, instance `<release>-<namespace>` unless `instanceLabelOverride`, set here).
pub const POD_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", "traefik"),
    ("app.kubernetes.io/instance", NAMESPACE),
];

/// Gateway API CRDs: the standard channel of this release, the version Traefik v3.7 supports
/// (traefik/traefik v3.7.9 `go.mod`: `sigs.k8s.io/gateway-api v1.5.1`; details in
/// `../shared/charts/gateway-api-v1.5.1/README.md`). Applied by a Flux Kustomization of their
/// own from the upstream repository, before the controllers (Traefik's GatewayClass, and
/// cert-manager, which exits at start without them when its Gateway support is on).
pub const GATEWAY_API_VERSION: &str = "v1.5.1";
/// Where the Gateway API CRDs come from.
pub const GATEWAY_API_REPOSITORY: &str = "https://github.com/kubernetes-sigs/gateway-api";
/// Their folder in that repository.
pub const GATEWAY_API_PATH: &str = "config/crd/standard";

/// The Traefik image, pinned by tag and digest: the OCI index digest of `traefik:3.7.11` in
/// docker-library/repo-info@7c46c3cd980898cb00af2712c6b00c8e3f15423d
/// `repos/traefik/remote/3.7.11.md` (built 2026-08-19; the binary is the v3.7.11 release).
#[rustfmt::skip] // one image per line, so Renovate reads one line per bump
pub mod images {
    use crate::image::PinnedImage;
    use crate::pinned_image;

    /// Traefik Proxy.
    // renovate: datasource=docker depName=docker.io/library/traefik
    pub const TRAEFIK: PinnedImage = pinned_image!("docker.io", "library/traefik", "3.7.11", "sha256:5203c3f39ca70de6790d964624e042463ffbd57715bc82be155cf224c0dd5144");

    /// All of them.
    pub const ALL: [PinnedImage; 1] = [TRAEFIK];
}

/// The DaemonSet's update: the old pod goes before the new one comes (see the module doc).
pub const UPDATE_STRATEGY: (u32, u32) = (1, 0);

/// Traefik's namespace: `privileged`, because of the host ports.
pub fn namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: NAMESPACE,
        environment: "platform",
        pod_security: PodSecurity::relaxed(
            Level::Privileged,
            "Traefik takes the node's ports 80/443 as host ports (no cloud load balancer); baseline forbids any host port. The pod itself runs as uid 65532 with no capability",
        ),
        purpose: "Traefik (Gateway API ingress)",
        network_policy_reason: None,
    }
}

/// Traefik chart values we set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    deployment: Deployment,
    update_strategy: UpdateStrategy,
    image: Image,
    instance_label_override: &'static str,
    global: Global,
    ports: Ports,
    service: Flag,
    ingress_class: Flag,
    providers: Providers,
    gateway: Flag,
    gateway_class: GatewayClassValues,
    metrics: Metrics,
    resources: super::helm::ChartResources,
}

#[derive(Debug, Serialize)]
struct Flag {
    enabled: bool,
}

#[derive(Debug, Serialize)]
struct Deployment {
    kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateStrategy {
    #[serde(rename = "type")]
    type_: &'static str,
    rolling_update: RollingUpdate,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RollingUpdate {
    max_unavailable: u32,
    max_surge: u32,
}

/// The chart joins `registry/repository:tag`; a `tag@digest` tag is accepted and the version
/// check reads the part before `@` (traefik 41.3.0 `templates/_helpers.tpl`,
/// `traefik.image-name` and `traefik.proxyVersion`). `image.digest` would drop the tag, which
/// our `image-tag` rule needs.
#[derive(Debug, Serialize)]
struct Image {
    registry: &'static str,
    repository: &'static str,
    tag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Global {
    check_new_version: bool,
    send_anonymous_usage: bool,
}

#[derive(Debug, Serialize)]
struct Ports {
    web: PortValues,
    websecure: PortValues,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PortValues {
    port: u16,
    host_port: u16,
    transport: Transport,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Transport {
    responding_timeouts: RespondingTimeouts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RespondingTimeouts {
    read_timeout: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Providers {
    #[serde(rename = "kubernetesCRD")]
    kubernetes_crd: Flag,
    kubernetes_ingress: Flag,
    kubernetes_gateway: GatewayProvider,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayProvider {
    enabled: bool,
    status_address: StatusAddress,
}

#[derive(Debug, Serialize)]
struct StatusAddress {
    service: Flag,
}

#[derive(Debug, Serialize)]
struct GatewayClassValues {
    enabled: bool,
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct Metrics {
    prometheus: Prometheus,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Prometheus {
    entry_point: &'static str,
    add_routers_labels: bool,
    add_services_labels: bool,
    service: Flag,
}

/// How long Traefik reads one request, body included: Traefik's default is 60 s
/// (traefik/traefik v3.7.9 `pkg/config/static/static_config.go:50-51,208`), too short for a
/// large attachment over a slow link; 300 s as ingress-nginx's read timeout. Traefik sets no
/// limit on the body size, nor on the backend's answer (`responseHeaderTimeout` zero: "no
/// timeout exists", `pkg/config/dynamic/http_config.go:558`); XWiki's own upload limit applies.
pub const READ_TIMEOUT: &str = "300s";

/// The Traefik HelmRelease: a DaemonSet with host ports 80/443, the Gateway API provider only
/// (no Ingress or IngressRoute provider, no Service of type LoadBalancer), the chart's
/// GatewayClass but not its default Gateway (each environment has its own), Prometheus
/// metrics per router.
pub fn component() -> Result<HelmComponent, Error> {
    let image = images::TRAEFIK;
    let port = |p: Port, host_port| PortValues {
        port: p.number,
        host_port,
        transport: Transport {
            responding_timeouts: RespondingTimeouts {
                read_timeout: READ_TIMEOUT,
            },
        },
    };
    let values = Values {
        deployment: Deployment { kind: "DaemonSet" },
        update_strategy: UpdateStrategy {
            type_: "RollingUpdate",
            rolling_update: RollingUpdate {
                max_unavailable: UPDATE_STRATEGY.0,
                max_surge: UPDATE_STRATEGY.1,
            },
        },
        image: Image {
            registry: image.registry(),
            repository: image.repository(),
            tag: format!("{}@{}", image.tag(), image.digest()),
        },
        instance_label_override: NAMESPACE,
        // No call home from the cluster (the namespace allows no internet egress).
        global: Global {
            check_new_version: false,
            send_anonymous_usage: false,
        },
        ports: Ports {
            web: port(WEB, HOST_HTTP),
            websecure: port(WEBSECURE, HOST_HTTPS),
        },
        service: Flag { enabled: false },
        ingress_class: Flag { enabled: false },
        providers: Providers {
            kubernetes_crd: Flag { enabled: false },
            kubernetes_ingress: Flag { enabled: false },
            kubernetes_gateway: GatewayProvider {
                enabled: true,
                status_address: StatusAddress {
                    service: Flag { enabled: false },
                },
            },
        },
        gateway: Flag { enabled: false },
        gateway_class: GatewayClassValues {
            enabled: true,
            name: GATEWAY_CLASS,
        },
        // The chart's ServiceMonitor stays off (its CRD comes with kube-prometheus-stack, in
        // the same layer); its metrics Service is what infra-configs' monitor selects.
        metrics: Metrics {
            prometheus: Prometheus {
                entry_point: METRICS.name,
                add_routers_labels: true,
                add_services_labels: true,
                service: Flag { enabled: true },
            },
        },
        resources: super::helm::resources(100, 128, 1000, 512).into(),
    };
    HelmComponent::new(NAMESPACE, namespace(), crate::charts::TRAEFIK, &values)
}

/// Prometheus's scrape of Traefik: the chart's metrics Service (`<release>-metrics`, port
/// `metrics`, labels `traefik.metricslabelselector`: the pod selector plus
/// `app.kubernetes.io/component: metrics`, traefik 41.3.0 `templates/_service-metrics.tpl`).
pub fn service_monitor() -> crate::crd::monitoring::ServiceMonitor {
    let mut labels = POD_LABELS.to_vec();
    labels.push(("app.kubernetes.io/component", "metrics"));
    crate::crd::monitoring::service_monitor("traefik", NAMESPACE, &labels, METRICS.name)
}

/// The routes of one public host: a `Gateway` (`name`) with an HTTP and an HTTPS listener for
/// `host`, the issuer annotation (cert-manager's gateway-shim makes the Certificate of the
/// HTTPS listener's Secret), an `HTTPRoute` `name` from HTTPS to the Service port, and an
/// `HTTPRoute` `<name>-redirect` sending HTTP to HTTPS. The HTTP-01 challenges attach to the
/// HTTP listener too (`cert_manager::cluster_issuer`); their path wins over the redirect's
/// `/`: Traefik gives an `Exact` path priority 100000, any other prefix 10000 + 100 per
/// character, and `PathPrefix /` 1 (traefik/traefik v3.7.9
/// `pkg/provider/kubernetes/gateway/httproute.go:777-800`).
///
/// Listener ports are the entryPoints' ports in the pod, not the node's: Traefik gives a
/// listener the entryPoint whose address ends in `:<port>` (traefik/traefik v3.7.9
/// `pkg/provider/kubernetes/gateway/kubernetes.go:802-818`).
pub fn routes(
    labels: &AppLabels,
    name: &str,
    host: &str,
    issuer: ClusterIssuer,
    service: &str,
    port: Port,
) -> Result<Vec<Object>, Error> {
    let mut gateway_meta: ObjectMeta = labels.meta(name);
    gateway_meta.annotations = Some(
        [(
            "cert-manager.io/cluster-issuer".to_string(),
            issuer.name().to_string(),
        )]
        .into(),
    );
    let gateway = Gateway {
        metadata: gateway_meta,
        spec: GatewaySpec {
            gateway_class_name: GATEWAY_CLASS.into(),
            listeners: vec![
                Listener {
                    name: HTTP_LISTENER.into(),
                    hostname: host.into(),
                    port: WEB.number,
                    protocol: "HTTP".into(),
                    tls: None,
                },
                Listener {
                    name: HTTPS_LISTENER.into(),
                    hostname: host.into(),
                    port: WEBSECURE.number,
                    protocol: "HTTPS".into(),
                    tls: Some(ListenerTls {
                        mode: "Terminate".into(),
                        certificate_refs: vec![SecretObjectReference {
                            group: String::new(),
                            kind: "Secret".into(),
                            name: format!("{name}-tls"),
                        }],
                    }),
                },
            ],
        },
    };
    let route = |route_name: String, section: &str, rule: HttpRouteRule| HTTPRoute {
        metadata: labels.meta(&route_name),
        spec: HttpRouteSpec {
            parent_refs: vec![ParentReference::gateway(name, None, section)],
            hostnames: vec![host.into()],
            rules: vec![rule],
        },
    };
    let https = route(
        name.into(),
        HTTPS_LISTENER,
        HttpRouteRule {
            matches: vec![HttpRouteMatch::everything()],
            filters: vec![],
            backend_refs: vec![HttpBackendRef {
                name: service.into(),
                port: port.number,
            }],
        },
    );
    let redirect = route(
        format!("{name}-redirect"),
        HTTP_LISTENER,
        HttpRouteRule {
            matches: vec![HttpRouteMatch::everything()],
            filters: vec![HttpRouteFilter {
                type_: "RequestRedirect".into(),
                request_redirect: HttpRequestRedirect {
                    scheme: "https".into(),
                    port: HOST_HTTPS,
                    status_code: 301,
                },
            }],
            backend_refs: vec![],
        },
    );
    Ok(vec![
        Object::new(&gateway)?,
        Object::new(&https)?,
        Object::new(&redirect)?,
    ])
}

/// The router label of Traefik's metrics for the HTTPS route `route` of Gateway `route` in
/// `namespace`, as a regular expression: Traefik names the routers of an HTTPRoute rule
/// `httproute-<ns>-<route>-gw-<gateway ns>-<gateway>-ep-<entryPoint>-<rule index>-<hash>`,
/// normalised to letters, digits and `-` (traefik/traefik v3.7.9
/// `pkg/provider/kubernetes/gateway/httproute.go:140`, `kubernetes.go:1184-1192`,
/// `pkg/provider/configuration.go:126-132`), with the provider's `@kubernetesgateway` suffix.
pub fn https_router_pattern(namespace: &str, route: &str) -> String {
    format!("httproute-{namespace}-{route}-gw-{namespace}-{route}-ep-websecure-.*")
}
