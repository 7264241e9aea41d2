//! NetworkPolicies from declared flows, and an evaluator that proves what they allow.
//!
//! Flows are typed data ([`Flow`]): from, to, port, reason. [`policies`] derives, per owned
//! namespace, a default deny plus one policy per workload with exactly the ingress and egress
//! its flows need. [`eval`] answers "may A reach B on port P" with Kubernetes semantics, so a
//! test can compare the reachability of the rendered policies with the declared flows.

pub mod eval;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::workload::{Port, Protocol};

/// A set of pods: labels in a namespace. `rendered: false` marks pods another controller
/// creates (Helm charts, cert-manager's solvers, later components), described by their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Namespace.
    pub namespace: String,
    /// Short name, used for the policy name and the docs.
    pub name: &'static str,
    /// Labels that select its pods.
    pub labels: BTreeMap<String, String>,
    /// Its named ports.
    pub ports: Vec<Port>,
    /// Whether its pods are in the generated tree.
    pub rendered: bool,
}

impl Workload {
    /// A workload selected by `labels`.
    pub fn new(
        namespace: &str,
        name: &'static str,
        labels: &[(&str, &str)],
        ports: &[Port],
        rendered: bool,
    ) -> Self {
        Self {
            namespace: namespace.to_string(),
            name,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ports: ports.to_vec(),
            rendered,
        }
    }
}

/// One end of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Pods of a workload.
    Workload(Workload),
    /// Every pod of a namespace.
    Namespace(String),
    /// Addresses outside the pod network.
    External {
        /// Name in the docs (`nodes`, `internet`, `s3`).
        name: &'static str,
        /// The range.
        cidr: Ipv4Net,
        /// Ranges cut out of it.
        except: Vec<Ipv4Net>,
    },
}

impl Peer {
    /// Name in tables and diagrams.
    pub fn label(&self) -> String {
        match self {
            Peer::Workload(w) => format!("{}/{}", w.namespace, w.name),
            Peer::Namespace(ns) => format!("{ns}/*"),
            Peer::External { name, cidr, .. } => format!("{name} ({cidr})"),
        }
    }
    /// The namespace of a pod-side peer (`None` for addresses outside the cluster).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Peer::Workload(w) => Some(&w.namespace),
            Peer::Namespace(ns) => Some(ns),
            Peer::External { .. } => None,
        }
    }
}

/// An allowed connection: from, to, port, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Who connects.
    pub from: Peer,
    /// To whom.
    pub to: Peer,
    /// On which port (named when the destination declares it).
    pub port: Port,
    /// One line: why this flow exists.
    pub reason: &'static str,
}

/// The selector of a peer in a policy of namespace `ns`.
fn peer(p: &Peer, ns: &str) -> net::NetworkPolicyPeer {
    let ns_selector = |other: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            other.to_string(),
        )])),
        match_expressions: None,
    };
    match p {
        Peer::Workload(w) => net::NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(w.labels.clone()),
                match_expressions: None,
            }),
            namespace_selector: (w.namespace != ns).then(|| ns_selector(&w.namespace)),
            ip_block: None,
        },
        Peer::Namespace(other) if other == ns => net::NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..Default::default()
        },
        Peer::Namespace(other) => net::NetworkPolicyPeer {
            namespace_selector: Some(ns_selector(other)),
            ..Default::default()
        },
        Peer::External { cidr, except, .. } => net::NetworkPolicyPeer {
            ip_block: Some(net::IPBlock {
                cidr: cidr.to_string(),
                except: (!except.is_empty())
                    .then(|| except.iter().map(ToString::to_string).collect()),
            }),
            ..Default::default()
        },
    }
}

/// The port of a flow. Ingress rules name the port when the destination workload declares it
/// (it resolves against the policy's own pods, so a renumbered port moves with its name);
/// egress rules use the number, which every CNI resolves the same way.
fn port(f: &Flow, egress: bool) -> net::NetworkPolicyPort {
    let named = !egress && matches!(&f.to, Peer::Workload(w) if w.ports.contains(&f.port));
    net::NetworkPolicyPort {
        port: Some(if named {
            IntOrString::String(f.port.name.to_string())
        } else {
            IntOrString::Int(i32::from(f.port.number))
        }),
        protocol: Some(f.port.protocol.as_str().to_string()),
        end_port: None,
    }
}

fn policy(
    ns: &str,
    name: &str,
    selector: LabelSelector,
    ingress: Vec<net::NetworkPolicyIngressRule>,
    egress: Vec<net::NetworkPolicyEgressRule>,
    labels: &BTreeMap<String, String>,
) -> net::NetworkPolicy {
    let mut types = Vec::new();
    if !ingress.is_empty() {
        types.push("Ingress".to_string());
    }
    if !egress.is_empty() {
        types.push("Egress".to_string());
    }
    net::NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(net::NetworkPolicySpec {
            pod_selector: Some(selector),
            policy_types: Some(types),
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: (!egress.is_empty()).then_some(egress),
        }),
    }
}

/// The NetworkPolicies of namespace `ns` for `flows`: `default-deny` (ingress and egress, every
/// pod), then one policy per local workload (or `all-pods`) with exactly the ingress and egress
/// its flows need, one rule per flow, in the order the flows are declared.
pub fn policies(
    ns: &str,
    flows: &[Flow],
    labels: &BTreeMap<String, String>,
) -> Vec<net::NetworkPolicy> {
    let mut out = vec![policy(
        ns,
        "default-deny",
        LabelSelector::default(),
        vec![],
        vec![],
        labels,
    )];
    if let Some(spec) = out[0].spec.as_mut() {
        spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
    }
    // Local sides, in first-seen order.
    let mut sides: Vec<Peer> = Vec::new();
    for f in flows {
        for side in [&f.from, &f.to] {
            let local = side.namespace() == Some(ns);
            if local && !sides.contains(side) {
                sides.push(side.clone());
            }
        }
    }
    for side in sides {
        let (name, selector) = match &side {
            Peer::Workload(w) => (
                w.name.to_string(),
                LabelSelector {
                    match_labels: Some(w.labels.clone()),
                    match_expressions: None,
                },
            ),
            _ => ("all-pods".to_string(), LabelSelector::default()),
        };
        let ingress = flows
            .iter()
            .filter(|f| f.to == side)
            .map(|f| net::NetworkPolicyIngressRule {
                from: Some(vec![peer(&f.from, ns)]),
                ports: Some(vec![port(f, false)]),
            })
            .collect();
        let egress = flows
            .iter()
            .filter(|f| f.from == side)
            .map(|f| net::NetworkPolicyEgressRule {
                to: Some(vec![peer(&f.to, ns)]),
                ports: Some(vec![port(f, true)]),
            })
            .collect();
        out.push(policy(
            ns,
            &format!("allow-{name}"),
            selector,
            ingress,
            egress,
            labels,
        ));
    }
    out
}

/// True when `flow` declares `src → dst` on `port`/`protocol`.
pub fn declares(
    flow: &Flow,
    src: eval::Endpoint<'_>,
    dst: eval::Endpoint<'_>,
    port: u16,
    protocol: &str,
) -> bool {
    let matches = |p: &Peer, e: eval::Endpoint<'_>| match (p, e) {
        (Peer::Workload(w), eval::Endpoint::Pod(pod)) => {
            pod.namespace == w.namespace
                && w.labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        }
        (Peer::Namespace(ns), eval::Endpoint::Pod(pod)) => &pod.namespace == ns,
        (Peer::External { cidr, except, .. }, eval::Endpoint::Ip(ip)) => {
            cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip))
        }
        _ => false,
    };
    flow.port.number == port
        && flow.port.protocol.as_str() == protocol
        && matches(&flow.from, src)
        && matches(&flow.to, dst)
}

/// A UDP port value (the workload builders only make TCP ones).
pub const fn udp(name: &'static str, number: u16) -> Port {
    Port {
        name,
        number,
        protocol: Protocol::Udp,
    }
}
