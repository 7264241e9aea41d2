//! `[ingress]` of `cluster.toml`: which controller faces the internet.

use serde::Deserialize;

/// `[ingress]` of `cluster.toml`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSettings {
    /// The controller. Default: `ingress-nginx`.
    #[serde(default)]
    pub controller: IngressController,
}

/// The ingress controller, and with it how routes are written.
///
/// ingress-nginx was retired by Kubernetes SIG Network (best-effort maintenance ended in March
/// 2026: no more releases or security fixes); it stays the default because the platform was
/// built on it. `traefik` moves every part at once: Traefik v3.7 with the Gateway API (a
/// `Gateway` and `HTTPRoute`s per environment, cert-manager's Gateway support), see
/// `components::ingress` and `out/docs/runbooks/ingress.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum IngressController {
    /// ingress-nginx 4.15.1 on the host network, Ingress objects (retired upstream).
    #[default]
    #[serde(rename = "ingress-nginx")]
    IngressNginx,
    /// Traefik v3.7 with host ports 80/443, Gateway API routes.
    #[serde(rename = "traefik")]
    Traefik,
}

impl IngressController {
    /// Its name, as `cluster.toml` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IngressNginx => "ingress-nginx",
            Self::Traefik => "traefik",
        }
    }
}
