//! A NetworkPolicy evaluator with Kubernetes semantics: "may A reach B on port P?".
//!
//! - A pod is isolated for ingress (egress) when some policy in its namespace selects it and
//!   lists `Ingress` (`Egress`) in `policyTypes` (absent `policyTypes` means `Ingress`, plus
//!   `Egress` when the policy has an `egress` section).
//! - A connection needs both: the source's egress allows it (or the source is not isolated
//!   for egress, or is outside the cluster) and the destination's ingress allows it.
//! - A rule with no peers (`from`/`to` absent or empty) matches every peer; with no ports,
//!   every port. A peer with `namespaceSelector` and `podSelector` in one element matches pods
//!   satisfying both; in two elements, either. An empty selector (`{}`) matches everything;
//!   a peer element with no field at all is invalid (the API server refuses it) and is
//!   reported as an error. `ipBlock` matches addresses outside the pod network (pods here have
//!   no address), minus its `except` ranges.
//! - A named port resolves against the destination pod's container ports; it never matches an
//!   address outside the cluster.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A pod as the evaluator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name (for messages).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Container ports: (name, number, protocol).
    pub ports: Vec<(String, u16, String)>,
}

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// A pod of the cluster.
    Pod(&'a Pod),
    /// An address outside the pod network (a node, the internet, an S3 endpoint).
    Ip(Ipv4Addr),
}

/// The cluster: namespaces with their labels, and the policies.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Namespace name → labels (`kubernetes.io/metadata.name` is added automatically).
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Every NetworkPolicy.
    pub policies: Vec<NetworkPolicy>,
}

/// The peers and ports of one rule, whichever its direction.
type Rule<'a> = (
    Option<&'a Vec<NetworkPolicyPeer>>,
    Option<&'a Vec<NetworkPolicyPort>>,
);

/// A policy the evaluator cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NetworkPolicy {policy}: {message}")]
pub struct PolicyError {
    /// `namespace/name`.
    pub policy: String,
    /// What is wrong.
    pub message: String,
}

pub(crate) fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

fn policy_id(p: &NetworkPolicy) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or("?"),
        p.metadata.name.as_deref().unwrap_or("?")
    )
}

impl Cluster {
    fn namespace_labels(&self, ns: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(ns).cloned().unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".into(), ns.into());
        labels
    }

    /// Checks every policy for peers the API server would refuse.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for p in &self.policies {
            let spec = p.spec.as_ref();
            let peers = spec
                .into_iter()
                .flat_map(|s| {
                    s.ingress
                        .iter()
                        .flatten()
                        .flat_map(|r| r.from.iter().flatten())
                })
                .chain(spec.into_iter().flat_map(|s| {
                    s.egress
                        .iter()
                        .flatten()
                        .flat_map(|r| r.to.iter().flatten())
                }));
            for peer in peers {
                if peer.pod_selector.is_none()
                    && peer.namespace_selector.is_none()
                    && peer.ip_block.is_none()
                {
                    return Err(PolicyError {
                        policy: policy_id(p),
                        message: "a peer must set podSelector, namespaceSelector or ipBlock".into(),
                    });
                }
                if peer.ip_block.is_some()
                    && (peer.pod_selector.is_some() || peer.namespace_selector.is_some())
                {
                    return Err(PolicyError {
                        policy: policy_id(p),
                        message: "ipBlock cannot be combined with selectors".into(),
                    });
                }
                if let Some(b) = &peer.ip_block {
                    for c in std::iter::once(&b.cidr).chain(b.except.iter().flatten()) {
                        c.parse::<Ipv4Net>().map_err(|e| PolicyError {
                            policy: policy_id(p),
                            message: format!("bad CIDR {c}: {e}"),
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Policies of `pod`'s namespace selecting it for `direction` (`Ingress`/`Egress`).
    fn isolating<'p>(&'p self, pod: &Pod, direction: &str) -> Vec<&'p NetworkPolicy> {
        self.policies
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(pod.namespace.as_str()))
            .filter(|p| {
                let Some(spec) = &p.spec else { return false };
                let types: Vec<String> = spec.policy_types.clone().unwrap_or_else(|| {
                    let mut t = vec!["Ingress".to_string()];
                    if spec.egress.is_some() {
                        t.push("Egress".into());
                    }
                    t
                });
                types.iter().any(|t| t == direction)
                    && selector_matches(&spec.pod_selector.clone().unwrap_or_default(), &pod.labels)
            })
            .collect()
    }

    fn peer_matches(&self, peer: &NetworkPolicyPeer, policy_ns: &str, other: Endpoint<'_>) -> bool {
        match other {
            Endpoint::Ip(ip) => peer.ip_block.as_ref().is_some_and(|b| {
                let inside = |c: &str| c.parse::<Ipv4Net>().is_ok_and(|n| n.contains(&ip));
                inside(&b.cidr) && !b.except.iter().flatten().any(|e| inside(e))
            }),
            Endpoint::Pod(pod) => {
                if peer.ip_block.is_some() {
                    return false;
                }
                let ns_ok = match &peer.namespace_selector {
                    Some(sel) => selector_matches(sel, &self.namespace_labels(&pod.namespace)),
                    None => pod.namespace == policy_ns,
                };
                let pod_ok = peer
                    .pod_selector
                    .as_ref()
                    .is_none_or(|sel| selector_matches(sel, &pod.labels));
                ns_ok
                    && pod_ok
                    && (peer.namespace_selector.is_some() || peer.pod_selector.is_some())
            }
        }
    }

    fn port_matches(
        ports: Option<&Vec<NetworkPolicyPort>>,
        dst: Endpoint<'_>,
        port: u16,
        protocol: &str,
    ) -> bool {
        let Some(ports) = ports.filter(|p| !p.is_empty()) else {
            return true;
        };
        ports.iter().any(|p| {
            if p.protocol.as_deref().unwrap_or("TCP") != protocol {
                return false;
            }
            match &p.port {
                None => true,
                Some(IntOrString::Int(n)) => {
                    let end = p.end_port.unwrap_or(*n);
                    i32::from(port) >= *n && i32::from(port) <= end
                }
                Some(IntOrString::String(name)) => match dst {
                    Endpoint::Pod(pod) => pod
                        .ports
                        .iter()
                        .any(|(n, num, proto)| n == name && *num == port && proto == protocol),
                    Endpoint::Ip(_) => false,
                },
            }
        })
    }

    /// True when `pod`'s policies for `direction` let it talk to `other` (the far side, which
    /// is the destination for egress and the source for ingress) on `port` of `dst`.
    fn side_allows(
        &self,
        pod: &Pod,
        direction: &str,
        other: Endpoint<'_>,
        dst: Endpoint<'_>,
        port: u16,
        protocol: &str,
    ) -> bool {
        let policies = self.isolating(pod, direction);
        policies.is_empty()
            || policies.iter().any(|p| {
                let ns = p.metadata.namespace.as_deref().unwrap_or_default();
                let Some(spec) = &p.spec else { return false };
                // (peers, ports) of each rule of this direction.
                let rules: Vec<Rule<'_>> = if direction == "Egress" {
                    spec.egress
                        .iter()
                        .flatten()
                        .map(|r| (r.to.as_ref(), r.ports.as_ref()))
                        .collect()
                } else {
                    spec.ingress
                        .iter()
                        .flatten()
                        .map(|r| (r.from.as_ref(), r.ports.as_ref()))
                        .collect()
                };
                rules.into_iter().any(|(peers, ports)| {
                    let peers_ok = peers.filter(|p| !p.is_empty()).is_none_or(|peers| {
                        peers.iter().any(|peer| self.peer_matches(peer, ns, other))
                    });
                    peers_ok && Self::port_matches(ports, dst, port, protocol)
                })
            })
    }

    /// True when `src` may open a connection to `dst` on `port`/`protocol`.
    pub fn allowed(&self, src: Endpoint<'_>, dst: Endpoint<'_>, port: u16, protocol: &str) -> bool {
        let egress_ok = match src {
            Endpoint::Ip(_) => true,
            Endpoint::Pod(pod) => self.side_allows(pod, "Egress", dst, dst, port, protocol),
        };
        let ingress_ok = match dst {
            Endpoint::Ip(_) => true,
            Endpoint::Pod(pod) => self.side_allows(pod, "Ingress", src, dst, port, protocol),
        };
        egress_ok && ingress_ok
    }

    /// True when some policy of `pod`'s namespace selects it.
    pub fn is_selected(&self, pod: &Pod) -> bool {
        !self.isolating(pod, "Ingress").is_empty() || !self.isolating(pod, "Egress").is_empty()
    }
}
