//! Every Helm chart the platform installs, with its exact version, in one place.
//!
//! One chart per `pub const`, with a Renovate comment on the line above it. [`chart!`]
//! refuses (at compile time) a version that is not an exact semantic version: no ranges, no
//! wildcards, so what is tested is what the cluster runs.

/// Where a chart is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartSource {
    /// A classic Helm repository (`index.yaml` over HTTPS): Flux `HelmRepository`.
    Https(&'static str),
    /// An OCI registry (`oci://…/<chart>`): Flux `OCIRepository` + `chartRef`.
    Oci(&'static str),
}

/// A chart at an exact version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chart {
    /// Chart name in its repository.
    pub name: &'static str,
    /// Exact version (`1.12.1`, or `v1.21.1` where the publisher tags with a `v`).
    pub version: &'static str,
    /// Where it is published.
    pub source: ChartSource,
}

/// True for an exact version: optional `v`, three dot-separated numbers, optional
/// pre-release made of `[0-9A-Za-z.-]`.
pub const fn is_exact_version(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = if !b.is_empty() && b[0] == b'v' { 1 } else { 0 };
    let mut parts = 0;
    let mut digits = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            digits += 1;
        } else if c == b'.' && parts < 2 {
            if digits == 0 {
                return false;
            }
            parts += 1;
            digits = 0;
        } else if c == b'-' && parts == 2 && digits > 0 {
            // Pre-release: the rest must be identifier characters.
            let mut j = i + 1;
            if j == b.len() {
                return false;
            }
            while j < b.len() {
                let d = b[j];
                if !(d.is_ascii_alphanumeric() || d == b'.' || d == b'-') {
                    return false;
                }
                j += 1;
            }
            return true;
        } else {
            return false;
        }
        i += 1;
    }
    parts == 2 && digits > 0
}

/// Builds a [`Chart`] whose version is checked at compile time.
#[macro_export]
macro_rules! chart {
    ($name:expr, $version:expr, $source:expr $(,)?) => {{
        const CHART: $crate::charts::Chart = {
            assert!(
                $crate::charts::is_exact_version($version),
                "chart versions are exact: no ranges or wildcards"
            );
            $crate::charts::Chart { name: $name, version: $version, source: $source }
        };
        CHART
    }};
}

use ChartSource::{Https, Oci};

/// Longhorn, block storage (one replica on this single node).
// renovate: datasource=helm depName=longhorn registryUrl=https://charts.longhorn.io
pub const LONGHORN: Chart = chart!("longhorn", "1.12.1", Https("https://charts.longhorn.io"));

/// ingress-nginx: final release of the retired project (see `components::ingress`).
// renovate: datasource=helm depName=ingress-nginx registryUrl=https://kubernetes.github.io/ingress-nginx
pub const INGRESS_NGINX: Chart = chart!("ingress-nginx", "4.15.1", Https("https://kubernetes.github.io/ingress-nginx"));

/// Traefik (chart 41.3.0 = Traefik v3.7.11): the ingress controller when `[ingress]
/// controller = "traefik"` (see `components::traefik`).
// renovate: datasource=helm depName=traefik registryUrl=https://traefik.github.io/charts
pub const TRAEFIK: Chart = chart!("traefik", "41.3.0", Https("https://traefik.github.io/charts"));

/// cert-manager, from its OCI registry.
// renovate: datasource=docker depName=quay.io/jetstack/charts/cert-manager
pub const CERT_MANAGER: Chart = chart!("cert-manager", "v1.21.1", Oci("oci://quay.io/jetstack/charts/cert-manager"));

/// Kyverno (chart 3.9.0 = Kyverno 1.19.0): the controllers only.
// renovate: datasource=helm depName=kyverno registryUrl=https://kyverno.github.io/kyverno/
pub const KYVERNO: Chart = chart!("kyverno", "3.9.0", Https("https://kyverno.github.io/kyverno/"));

/// kube-prometheus-stack (prometheus-operator v0.93.1).
// renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
pub const KUBE_PROMETHEUS_STACK: Chart = chart!("kube-prometheus-stack", "88.5.3", Https("https://prometheus-community.github.io/helm-charts"));

/// actions-runner-controller, runner scale set mode: the controller (CRDs included).
// renovate: datasource=docker depName=ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller
pub const ARC_CONTROLLER: Chart = chart!("gha-runner-scale-set-controller", "0.14.2", Oci("oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller"));

/// actions-runner-controller: one runner scale set; always the controller's version.
// renovate: datasource=docker depName=ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set
pub const ARC_RUNNER_SET: Chart = chart!("gha-runner-scale-set", "0.14.2", Oci("oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set"));

/// Every chart above.
pub const ALL: &[Chart] = &[
    LONGHORN,
    INGRESS_NGINX,
    TRAEFIK,
    CERT_MANAGER,
    KYVERNO,
    KUBE_PROMETHEUS_STACK,
    ARC_CONTROLLER,
    ARC_RUNNER_SET,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_set_has_the_controller_version() {
        assert_eq!(ARC_CONTROLLER.version, ARC_RUNNER_SET.version);
    }

    #[test]
    fn only_exact_versions_pass() {
        for ok in ["1.12.1", "v1.21.1", "88.5.3", "1.0.0-rc.1"] {
            assert!(is_exact_version(ok), "{ok}");
        }
        for bad in ["", "1", "1.2", "^1.2.3", "~1.2.3", ">=1.2.3", "1.2.x", "1.2.*", "1.2.3 || 2.0.0", "1.2.3-", "v", "1..2"] {
            assert!(!is_exact_version(bad), "{bad}");
        }
    }
}
