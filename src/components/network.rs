//! The declared flows of the platform and the NetworkPolicies derived from them.
//!
//! Every namespace the platform owns gets a default deny; each flow below opens exactly one
//! path. Ports and labels come from the workloads' own values, so a port change moves its
//! policy with it. ingress-nginx runs on the host network: its traffic carries no pod labels,
//! so it is modelled as the nodes' address range (see `out/docs/network.md` for the CNI
//! behaviours this assumes). Traefik (`[ingress] controller = "traefik"`) takes the node's
//! ports as host ports and keeps its pod address: the applications admit its pods by label,
//! and its own namespace gets a default deny and its flows like the other chart namespaces.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use super::{mysql, xwiki};
use crate::netpol::{Flow, Peer, Workload, udp};
use crate::settings::{IngressController, Settings};
use crate::workload::Port;

pub use super::params::NetworkParams;

/// Private, shared, link-local and loopback ranges: never "the internet".
const NOT_INTERNET: [&str; 6] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
];

fn net(s: &str) -> Ipv4Net {
    s.parse()
        .unwrap_or_else(|_| unreachable!("constant CIDR {s}"))
}

/// The nodes' addresses.
pub fn nodes(p: &NetworkParams) -> Peer {
    Peer::External {
        name: "nodes",
        cidr: p.node_cidr,
        except: vec![],
    }
}
/// Public addresses.
pub fn internet() -> Peer {
    Peer::External {
        name: "internet",
        cidr: net("0.0.0.0/0"),
        except: NOT_INTERNET.iter().map(|c| net(c)).collect(),
    }
}
/// The S3 endpoint.
pub fn s3(p: &NetworkParams) -> Peer {
    Peer::External {
        name: "s3",
        cidr: p.s3_cidr,
        except: vec![],
    }
}

/// DNS ports of kube-dns.
pub const DNS_UDP: Port = udp("dns", 53);
/// DNS over TCP.
pub const DNS_TCP: Port = Port::tcp("dns-tcp", 53);

/// CoreDNS (`k8s-app: kube-dns` in `kube-system`).
pub fn kube_dns() -> Workload {
    Workload::new(
        "kube-system",
        "kube-dns",
        &[("k8s-app", "kube-dns")],
        &[DNS_UDP, DNS_TCP, COREDNS_METRICS],
        false,
    )
}

/// CoreDNS's metrics port (kube-prometheus-stack's `kube-prometheus-stack-coredns` Service
/// scrapes it by default).
pub const COREDNS_METRICS: Port = Port::tcp("metrics", 9153);
/// The prometheus-operator's config-reloader sidecar, in the Prometheus and Alertmanager pods
/// (`reloader-web`, scraped by the chart's self-monitoring ServiceMonitors).
pub const RELOADER: Port = Port::tcp("reloader-web", 8080);
/// Grafana's port (grafana chart 12.11.1 `grafana` 3000, scraped by the chart's monitor).
pub const GRAFANA_PORT: Port = Port::tcp("grafana", 3000);

/// The namespace of the monitoring stack.
pub const OBSERVABILITY: &str = super::monitoring::NAMESPACE;

/// Prometheus pods (created by the operator).
pub fn prometheus() -> Workload {
    Workload::new(
        OBSERVABILITY,
        "prometheus",
        &[("app.kubernetes.io/name", "prometheus")],
        &[super::monitoring::PROMETHEUS_WEB, RELOADER],
        false,
    )
}
fn alertmanager() -> Workload {
    Workload::new(
        OBSERVABILITY,
        "alertmanager",
        &[("app.kubernetes.io/name", "alertmanager")],
        &[super::monitoring::ALERTMANAGER_WEB, RELOADER],
        false,
    )
}
fn grafana() -> Workload {
    Workload::new(
        OBSERVABILITY,
        "grafana",
        &[("app.kubernetes.io/name", "grafana")],
        &[GRAFANA_PORT],
        false,
    )
}
fn kube_state_metrics() -> Workload {
    Workload::new(
        OBSERVABILITY,
        "kube-state-metrics",
        &[("app.kubernetes.io/name", "kube-state-metrics")],
        &[Port::tcp("http", 8080)],
        false,
    )
}
fn operator() -> Workload {
    Workload::new(
        OBSERVABILITY,
        "prometheus-operator",
        &[("app", "kube-prometheus-stack-operator")],
        &[Port::tcp("https", 10250)],
        false,
    )
}
/// cert-manager's controller pods.
pub fn cert_manager_controller() -> Workload {
    Workload::new(
        "cert-manager",
        "cert-manager",
        &[
            ("app.kubernetes.io/name", "cert-manager"),
            ("app.kubernetes.io/component", "controller"),
        ],
        &[Port::tcp("http-metrics", 9402)],
        false,
    )
}
/// Longhorn's manager pods (chart `app: longhorn-manager`, container port `manager` 9500).
pub fn longhorn_manager() -> Workload {
    Workload::new(
        "longhorn-system",
        "longhorn-manager",
        &[("app", "longhorn-manager")],
        &[Port::tcp("manager", 9500)],
        false,
    )
}

/// The runner controller's pods (a chart pod in `arc-systems`).
pub fn arc_controller() -> Workload {
    use super::runner::{CONTROLLER_METRICS, CONTROLLER_NAMESPACE, CONTROLLER_POD_LABELS};
    Workload::new(
        CONTROLLER_NAMESPACE,
        "arc-controller",
        &CONTROLLER_POD_LABELS,
        &[CONTROLLER_METRICS],
        false,
    )
}
/// The scale set's listener pod, which the controller creates in `arc-systems`.
pub fn arc_listener() -> Workload {
    use super::runner::{CONTROLLER_NAMESPACE, LISTENER_METRICS, LISTENER_POD_LABELS};
    Workload::new(
        CONTROLLER_NAMESPACE,
        "arc-listener",
        &LISTENER_POD_LABELS,
        &[LISTENER_METRICS],
        false,
    )
}

/// The pods of backup job `name` (`super::backup::MYSQL_JOB`, …) in a namespace.
pub fn backup_job(ns: &str, name: &'static str) -> Workload {
    Workload::new(
        ns,
        name,
        &selector(&super::backup::selector(name)),
        &[],
        true,
    )
}
/// Traefik's pods (the chart's DaemonSet, `components::traefik::POD_LABELS`).
pub fn traefik() -> Workload {
    use super::traefik::{METRICS, NAMESPACE, POD_LABELS, WEB, WEBSECURE};
    Workload::new(
        NAMESPACE,
        "traefik",
        &POD_LABELS,
        &[WEB, WEBSECURE, METRICS],
        false,
    )
}

/// cert-manager's HTTP-01 solver pods, created in the Certificate's namespace.
pub fn acme_solver(ns: &str) -> Workload {
    let (k, v) = super::cert_manager::SOLVER_LABEL;
    Workload::new(
        ns,
        "acme-solver",
        &[(k, v)],
        &[Port::tcp("http", super::cert_manager::SOLVER_PORT)],
        false,
    )
}

fn flow(from: Peer, to: Peer, port: Port, reason: &'static str) -> Flow {
    Flow {
        from,
        to,
        port,
        reason,
    }
}

fn dns(ns: &str) -> Vec<Flow> {
    [DNS_UDP, DNS_TCP]
        .into_iter()
        .map(|port| {
            flow(
                Peer::Namespace(ns.into()),
                Peer::Workload(kube_dns()),
                port,
                "name resolution (CoreDNS)",
            )
        })
        .collect()
}

/// The flows of one application namespace.
pub fn app_flows(ns: &str, net: &NetworkParams, p: &super::params::AppParams) -> Vec<Flow> {
    let w = |x: Workload| Peer::Workload(x);
    let xw = w(Workload::new(
        ns,
        "xwiki",
        &selector(&xwiki::labels(p).selector()),
        &[xwiki::HTTP],
        true,
    ));
    let db = w(Workload::new(
        ns,
        "mysql",
        &selector(&mysql::labels(p).selector()),
        &[mysql::MYSQL, mysql::METRICS],
        true,
    ));
    let (front, serves, forwards) = match p.ingress {
        IngressController::IngressNginx => (
            nodes(net),
            "ingress-nginx (host network) serves the wiki",
            "ingress-nginx forwards Let's Encrypt HTTP-01 challenges to cert-manager's solver",
        ),
        IngressController::Traefik => (
            w(traefik()),
            "Traefik serves the wiki",
            "Traefik forwards Let's Encrypt HTTP-01 challenges to cert-manager's solver",
        ),
    };
    let mut flows = vec![
        flow(front.clone(), xw.clone(), xwiki::HTTP, serves),
        flow(
            front,
            w(acme_solver(ns)),
            Port::tcp("http", super::cert_manager::SOLVER_PORT),
            forwards,
        ),
        flow(xw.clone(), db.clone(), mysql::MYSQL, "XWiki's database"),
        flow(
            w(prometheus()),
            db.clone(),
            mysql::METRICS,
            "Prometheus scrapes mysqld-exporter",
        ),
        flow(
            w(backup_job(ns, super::backup::MYSQL_JOB)),
            db,
            mysql::MYSQL,
            "nightly mysqldump",
        ),
        flow(
            w(backup_job(ns, super::backup::MYSQL_JOB)),
            s3(net),
            Port::tcp("s3", net.s3_port),
            "the dump is uploaded to S3 (and old ones pruned)",
        ),
        flow(
            w(backup_job(ns, super::backup::XWIKI_JOB)),
            xw.clone(),
            xwiki::HTTP,
            "nightly XAR export through XWiki's export action",
        ),
        flow(
            w(backup_job(ns, super::backup::XWIKI_JOB)),
            s3(net),
            Port::tcp("s3", net.s3_port),
            "the XAR is uploaded to S3 (and old ones pruned)",
        ),
    ];
    if p.backup.restore_test.is_some() {
        flows.push(flow(
            w(backup_job(ns, super::backup::RESTORE_JOB)),
            s3(net),
            Port::tcp("s3", net.s3_port),
            "the monthly restore test reads the source environment's latest dump",
        ));
    }
    if p.internet_egress {
        flows.push(flow(
            xw,
            internet(),
            Port::tcp("https", 443),
            "the Standard flavor and extensions come from extensions.xwiki.org",
        ));
    }
    flows.extend(dns(ns));
    flows
}

fn selector(m: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The flows of `observability`; `smtp_port` is the port of the Alertmanager's SMTP server.
pub fn observability_flows(
    net: &NetworkParams,
    smtp_port: u16,
    ingress: IngressController,
) -> Vec<Flow> {
    let w = Peer::Workload;
    let api = Port::tcp("api", net.api_server_port);
    let mut flows = vec![
        flow(
            Peer::Namespace(OBSERVABILITY.into()),
            nodes(net),
            api,
            "the operator, kube-state-metrics, Grafana's sidecar, Prometheus discovery and the chart's jobs use the API server",
        ),
        flow(
            nodes(net),
            w(operator()),
            Port::tcp("https", 10250),
            "the API server calls the operator's admission webhook",
        ),
        flow(
            w(prometheus()),
            w(alertmanager()),
            super::monitoring::ALERTMANAGER_WEB,
            "Prometheus sends alerts",
        ),
        flow(
            w(grafana()),
            w(prometheus()),
            super::monitoring::PROMETHEUS_WEB,
            "dashboards query Prometheus",
        ),
        flow(
            w(grafana()),
            w(alertmanager()),
            super::monitoring::ALERTMANAGER_WEB,
            "Grafana shows alerts",
        ),
        flow(
            w(prometheus()),
            w(prometheus()),
            super::monitoring::PROMETHEUS_WEB,
            "Prometheus scrapes itself (the chart's self-monitoring)",
        ),
        flow(
            w(prometheus()),
            w(prometheus()),
            RELOADER,
            "Prometheus scrapes its config-reloader sidecar",
        ),
        flow(
            w(prometheus()),
            w(alertmanager()),
            RELOADER,
            "Prometheus scrapes Alertmanager's config-reloader sidecar",
        ),
        flow(
            w(prometheus()),
            w(grafana()),
            GRAFANA_PORT,
            "Prometheus scrapes Grafana",
        ),
        flow(
            w(prometheus()),
            w(kube_dns()),
            COREDNS_METRICS,
            "Prometheus scrapes CoreDNS",
        ),
        flow(
            w(prometheus()),
            w(kube_state_metrics()),
            Port::tcp("http", 8080),
            "Prometheus scrapes kube-state-metrics",
        ),
        flow(
            w(prometheus()),
            w(operator()),
            Port::tcp("https", 10250),
            "Prometheus scrapes the operator",
        ),
        flow(
            w(prometheus()),
            nodes(net),
            Port::tcp("node-exporter", 9100),
            "Prometheus scrapes node-exporter (host network)",
        ),
        flow(
            w(prometheus()),
            nodes(net),
            Port::tcp("kubelet", 10250),
            "Prometheus scrapes the kubelet and cAdvisor",
        ),
        match ingress {
            IngressController::IngressNginx => flow(
                w(prometheus()),
                nodes(net),
                Port::tcp("ingress-metrics", 10254),
                "Prometheus scrapes ingress-nginx (host network)",
            ),
            IngressController::Traefik => flow(
                w(prometheus()),
                w(traefik()),
                super::traefik::METRICS,
                "Prometheus scrapes Traefik",
            ),
        },
        flow(
            w(prometheus()),
            w(cert_manager_controller()),
            Port::tcp("http-metrics", 9402),
            "Prometheus scrapes cert-manager (certificate expiry)",
        ),
        flow(
            w(prometheus()),
            w(longhorn_manager()),
            Port::tcp("manager", 9500),
            "Prometheus scrapes Longhorn (volume health)",
        ),
        flow(
            w(prometheus()),
            w(arc_controller()),
            super::runner::CONTROLLER_METRICS,
            "Prometheus scrapes the runner controller",
        ),
        flow(
            w(prometheus()),
            w(arc_listener()),
            super::runner::LISTENER_METRICS,
            "Prometheus scrapes the scale set's listener (jobs and runners)",
        ),
        flow(
            w(alertmanager()),
            internet(),
            Port::tcp("https", 443),
            "Alertmanager sends notifications",
        ),
        flow(
            w(alertmanager()),
            internet(),
            Port::tcp("smtp", smtp_port),
            "Alertmanager sends e-mail through the SMTP server",
        ),
    ];
    flows.extend(dns(OBSERVABILITY));
    flows
}

/// The NetworkPolicies of `observability`, given every environment's flows (Prometheus's egress
/// to the exporters is declared with the applications).
pub fn observability_policies(
    plan: &super::params::Plan<'_>,
) -> Vec<k8s_openapi::api::networking::v1::NetworkPolicy> {
    // [`flows_of`] lists each environment's flows in listing order, then observability's.
    let sections = flows_of(plan);
    let envs = plan.environments().count();
    debug_assert_eq!(sections[envs].0, OBSERVABILITY);
    let flows: Vec<Flow> = sections[envs]
        .1
        .iter()
        .chain(sections[..envs].iter().flat_map(|(_, f)| f))
        .cloned()
        .collect();
    crate::netpol::policies(OBSERVABILITY, &flows, &policy_labels())
}

/// A pod set of a chart, selected by `app.kubernetes.io/instance` and `…/component`, as
/// the chart's pod templates label it (checked against the rendered charts in
/// `tests/charts.rs`).
fn chart_component(
    ns: &str,
    name: &'static str,
    instance: &str,
    component: &str,
    ports: &[Port],
) -> Workload {
    Workload::new(
        ns,
        name,
        &[
            ("app.kubernetes.io/instance", instance),
            ("app.kubernetes.io/component", component),
        ],
        ports,
        false,
    )
}

/// Kyverno's namespace.
pub const KYVERNO: &str = "kyverno";
/// cert-manager's namespace.
pub const CERT_MANAGER: &str = "cert-manager";

/// The flows of `kyverno`: the API server calls the admission and cleanup webhooks (9443 on
/// the pods, kyverno 3.9.0 `admissionController.webhookServer.port` and the cleanup
/// controller's `server.port`); every controller and hook Job talks to the API server.
/// Kyverno fetches nothing from registries: no image-verification policy is used.
pub fn kyverno_flows(net: &NetworkParams) -> Vec<Flow> {
    let https = Port::tcp("https", 9443);
    let api = Port::tcp("api", net.api_server_port);
    let mut flows = vec![
        flow(
            nodes(net),
            Peer::Workload(chart_component(
                KYVERNO,
                "admission-controller",
                "kyverno",
                "admission-controller",
                &[https],
            )),
            https,
            "the API server calls Kyverno's admission webhooks",
        ),
        flow(
            nodes(net),
            Peer::Workload(chart_component(
                KYVERNO,
                "cleanup-controller",
                "kyverno",
                "cleanup-controller",
                &[https],
            )),
            https,
            "the API server calls the cleanup controller's webhook",
        ),
        flow(
            Peer::Namespace(KYVERNO.into()),
            nodes(net),
            api,
            "Kyverno's controllers and hook Jobs use the API server",
        ),
    ];
    flows.extend(dns(KYVERNO));
    flows
}

/// The flows of `cert-manager`: the API server calls the webhook (`webhook.securePort`
/// 10250, cert-manager v1.21.1 values.yaml), the controller talks to Let's Encrypt (443) and
/// runs the HTTP-01 self-check against the public host (80, which resolves to the ingress
/// nodes or to a public address); every pod and the startupapicheck Job uses the API server.
pub fn cert_manager_flows(net: &NetworkParams, ingress: IngressController) -> Vec<Flow> {
    let https = Port::tcp("https", 10250);
    let api = Port::tcp("api", net.api_server_port);
    let controller = || Peer::Workload(cert_manager_controller());
    let mut flows = vec![
        flow(
            nodes(net),
            Peer::Workload(chart_component(
                CERT_MANAGER,
                "webhook",
                "cert-manager",
                "webhook",
                &[https],
            )),
            https,
            "the API server calls cert-manager's webhook",
        ),
        flow(
            Peer::Namespace(CERT_MANAGER.into()),
            nodes(net),
            api,
            "cert-manager's controller, cainjector, webhook and startupapicheck use the API server",
        ),
        flow(
            controller(),
            internet(),
            Port::tcp("https", 443),
            "ACME orders at Let's Encrypt",
        ),
        flow(
            controller(),
            internet(),
            Port::tcp("http", 80),
            "HTTP-01 self-check of the public host",
        ),
        flow(
            controller(),
            nodes(net),
            Port::tcp("http", 80),
            "HTTP-01 self-check when the host resolves to the ingress nodes",
        ),
    ];
    if ingress == IngressController::Traefik {
        // A pod's connection to a node's host port is DNATed to the Traefik pod: the CNI may
        // apply the policies to the translated destination.
        flows.push(flow(
            controller(),
            Peer::Workload(traefik()),
            super::traefik::WEB,
            "HTTP-01 self-check through the node's host port 80 (after its DNAT to Traefik)",
        ));
    }
    flows.extend(dns(CERT_MANAGER));
    flows
}

/// The flows of `traefik`: the internet reaches the entryPoints through the node's host ports
/// (80 → `web`, 443 → `websecure`; the port mapping keeps the client's address), and so do the
/// nodes (a client on the node or hairpin traffic comes from a node address); Traefik watches
/// the Gateway API objects, Services and EndpointSlices through the API server. It resolves no
/// name (backends are EndpointSlice addresses; version checks are off).
pub fn traefik_flows(net: &NetworkParams) -> Vec<Flow> {
    use super::traefik::{NAMESPACE, WEB, WEBSECURE};
    let mut flows = Vec::new();
    for port in [WEB, WEBSECURE] {
        flows.push(flow(
            internet(),
            Peer::Workload(traefik()),
            port,
            "visitors reach Traefik through the node's host ports 80/443",
        ));
        flows.push(flow(
            nodes(net),
            Peer::Workload(traefik()),
            port,
            "clients on the nodes (and hairpin traffic) reach Traefik's host ports",
        ));
    }
    flows.push(flow(
        Peer::Namespace(NAMESPACE.into()),
        nodes(net),
        Port::tcp("api", net.api_server_port),
        "Traefik watches Gateways, routes, Services and EndpointSlices",
    ));
    flows
}

/// The flows of the runner namespaces: runners reach any public address on 443 (GitHub among
/// them: its addresses are not fixed and a NetworkPolicy cannot name hosts) and DNS, nothing
/// else (no service account token, no API server); the controller and the scale set's listener use the API server and GitHub.
pub fn runner_flows(net: &NetworkParams) -> Vec<Flow> {
    use super::runner::{CONTROLLER_NAMESPACE, RUNNER_NAMESPACE};
    let https = Port::tcp("https", 443);
    let mut flows = vec![
        flow(
            Peer::Namespace(RUNNER_NAMESPACE.into()),
            internet(),
            https,
            "runners reach any public address on 443 (GitHub: jobs, logs, artifacts, actions)",
        ),
        flow(
            Peer::Namespace(CONTROLLER_NAMESPACE.into()),
            nodes(net),
            Port::tcp("api", net.api_server_port),
            "the controller and the listener use the API server",
        ),
        flow(
            Peer::Namespace(CONTROLLER_NAMESPACE.into()),
            internet(),
            https,
            "the controller and the listener talk to GitHub",
        ),
    ];
    flows.extend(dns(RUNNER_NAMESPACE));
    flows.extend(dns(CONTROLLER_NAMESPACE));
    flows
}

/// NetworkPolicies of the chart namespaces we isolate (`kyverno`, `cert-manager`): a default
/// deny plus their own flows and every other flow that ends there (Prometheus's scrape).
pub fn chart_namespace_policies(
    settings: &Settings,
) -> Vec<(
    &'static str,
    Vec<k8s_openapi::api::networking::v1::NetworkPolicy>,
)> {
    chart_namespace_policies_of(&super::params::Plan::new(settings))
}

/// [`chart_namespace_policies`] within a build, from its plan.
fn chart_namespace_policies_of(
    plan: &super::params::Plan<'_>,
) -> Vec<(
    &'static str,
    Vec<k8s_openapi::api::networking::v1::NetworkPolicy>,
)> {
    let everything: Vec<&Flow> = flows_of(plan).iter().flat_map(|(_, f)| f).collect();
    let mut isolated = vec![
        KYVERNO,
        CERT_MANAGER,
        super::runner::CONTROLLER_NAMESPACE,
        super::runner::RUNNER_NAMESPACE,
    ];
    if plan.settings.cluster.ingress.controller == IngressController::Traefik {
        isolated.push(super::traefik::NAMESPACE);
    }
    isolated
        .into_iter()
        .map(|ns| {
            let touching: Vec<Flow> = everything
                .iter()
                .filter(|f| f.from.namespace() == Some(ns) || f.to.namespace() == Some(ns))
                .map(|f| (*f).clone())
                .collect();
            (ns, crate::netpol::policies(ns, &touching, &policy_labels()))
        })
        .collect()
}

/// Prometheus's scrape of the Longhorn manager, as a NetworkPolicy of `longhorn-system`.
///
/// Longhorn's chart renders `networkPolicies.restrictInternalTraffic` (default true) policies,
/// among them `longhorn-manager`, which admits only Longhorn's own pods
/// (longhorn/longhorn v1.12.1 `chart/templates/network-policies/manager-network-policy.yaml`).
/// Policies add up, so this one opens exactly the scrape; it selects only pods that the
/// chart's policy already isolates (a test checks that), so it never isolates a Longhorn pod
/// the chart left open.
pub fn longhorn_policies() -> Vec<k8s_openapi::api::networking::v1::NetworkPolicy> {
    use k8s_openapi::api::networking::v1 as net;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let manager = longhorn_manager();
    let prom = prometheus();
    let port = manager.ports[0];
    vec![net::NetworkPolicy {
        metadata: ObjectMeta {
            name: Some("allow-prometheus-scrape".into()),
            namespace: Some(manager.namespace.clone()),
            labels: Some(policy_labels()),
            ..Default::default()
        },
        spec: Some(net::NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(manager.labels.clone()),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![net::NetworkPolicyIngressRule {
                from: Some(vec![net::NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            "kubernetes.io/metadata.name".to_string(),
                            prom.namespace.clone(),
                        )])),
                        match_expressions: None,
                    }),
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(prom.labels.clone()),
                        match_expressions: None,
                    }),
                    ip_block: None,
                }]),
                ports: Some(vec![net::NetworkPolicyPort {
                    port: Some(IntOrString::String(port.name.to_string())),
                    protocol: Some(port.protocol.as_str().to_string()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    }]
}

/// Labels on every generated NetworkPolicy.
pub fn policy_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/part-of".to_string(),
        crate::PART_OF.to_string(),
    )])
}

/// Every owned namespace with its declared flows, applications first.
pub fn all_flows(settings: &Settings) -> Vec<(String, Vec<Flow>)> {
    flows_of(&super::params::Plan::new(settings)).to_vec()
}

/// [`all_flows`] within a build, from its plan: each environment's, in listing order, then
/// the platform namespaces'. Computed once per plan.
pub fn flows_of<'p>(plan: &'p super::params::Plan<'_>) -> &'p [(String, Vec<Flow>)] {
    plan.flows.get_or_init(|| {
        let settings = plan.settings;
        let net = plan.network;
        let mut out: Vec<(String, Vec<Flow>)> = plan
            .environments()
            .map(|(env, p)| (env.name().to_string(), app_flows(env.name(), &net, p)))
            .collect();
        let ingress = settings.cluster.ingress.controller;
        out.push((
            OBSERVABILITY.to_string(),
            observability_flows(
                &net,
                settings.cluster.monitoring.alerting.smtp_smarthost.port(),
                ingress,
            ),
        ));
        out.push((KYVERNO.to_string(), kyverno_flows(&net)));
        out.push((CERT_MANAGER.to_string(), cert_manager_flows(&net, ingress)));
        if ingress == IngressController::Traefik {
            out.push((super::traefik::NAMESPACE.to_string(), traefik_flows(&net)));
        }
        out.push(("arc".to_string(), runner_flows(&net)));
        out
    })
}

/// The NetworkPolicies of the platform namespaces (the environments' are in their overlays).
/// The flows of every namespace are declared in this module, the one place a reviewer reads
/// who may talk to whom.
pub struct Network;

impl super::contribution::Component for Network {
    fn name(&self) -> &'static str {
        "network"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, crate::Error> {
        let objects = |policies: &[k8s_openapi::api::networking::v1::NetworkPolicy]| {
            policies
                .iter()
                .map(crate::object::Object::new)
                .collect::<Result<Vec<_>, _>>()
        };
        let mut configs = vec![
            (
                "network",
                "observability.yaml".to_string(),
                objects(&observability_policies(plan))?,
            ),
            (
                "network",
                "longhorn.yaml".to_string(),
                objects(&longhorn_policies())?,
            ),
        ];
        for (ns, policies) in chart_namespace_policies_of(plan) {
            configs.push(("network", format!("{ns}.yaml"), objects(&policies)?));
        }
        Ok(super::contribution::Contribution {
            configs,
            ..Default::default()
        })
    }
}
