//! `[network]` of `cluster.toml`.

use serde::Deserialize;

use super::values::Cidr;

/// `[network]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// The nodes' addresses: ingress-nginx runs on the host network, so its traffic comes from
    /// here, and so does the API server's.
    pub node_cidr: Cidr,
    /// Port of the Kubernetes API server on the nodes (6443 for kubeadm and k3s).
    pub api_server_port: std::num::NonZeroU16,
}
