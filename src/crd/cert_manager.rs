//! cert-manager `ClusterIssuer` (`cert-manager.io/v1`), ACME with HTTP-01 only (through an
//! Ingress, or an HTTPRoute on a Gateway).

use serde::Serialize;

use super::custom_resource;

custom_resource! {
    /// An issuer usable from every namespace.
    ClusterIssuer, spec = ClusterIssuerSpec, group = "cert-manager.io",
    version = "v1", plural = "clusterissuers", scope = k8s_openapi::ClusterResourceScope
}

/// `spec` of a [`ClusterIssuer`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterIssuerSpec {
    /// ACME account and solvers.
    pub acme: Acme,
}

/// `spec.acme`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Acme {
    /// Directory URL.
    pub server: String,
    /// Account contact.
    pub email: String,
    /// Secret (in cert-manager's namespace) holding the account key.
    pub private_key_secret_ref: SecretKeySelector,
    /// How challenges are solved.
    pub solvers: Vec<Solver>,
}

/// A Secret by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretKeySelector {
    /// Name.
    pub name: String,
}

/// One solver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Solver {
    /// The certificates it solves for (absent: every one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<SolverSelector>,
    /// HTTP-01.
    pub http01: Http01,
}

/// `selector` of a solver.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SolverSelector {
    /// The DNS names it solves for.
    pub dns_names: Vec<String>,
}

/// `http01`: through an Ingress or through an HTTPRoute (exactly one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Http01 {
    /// The Ingress cert-manager creates for the challenge.
    #[serde(rename = "ingress")]
    Ingress(Http01Ingress),
    /// The HTTPRoute cert-manager creates for the challenge.
    #[serde(rename = "gatewayHTTPRoute")]
    GatewayHttpRoute(Http01GatewayHttpRoute),
}

/// `http01.gatewayHTTPRoute`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Http01GatewayHttpRoute {
    /// The Gateway listeners the challenge route attaches to.
    pub parent_refs: Vec<super::gateway::ParentReference>,
    /// The solver pod's template.
    pub pod_template: SolverPodTemplate,
}

/// `http01.ingress`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Http01Ingress {
    /// IngressClass of the challenge Ingress.
    pub ingress_class_name: String,
    /// The solver pod's template.
    pub pod_template: SolverPodTemplate,
}

/// `podTemplate` of the solver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolverPodTemplate {
    /// Labels and annotations.
    pub metadata: SolverMetadata,
    /// Pod fields cert-manager lets us set.
    pub spec: SolverPodSpec,
}

/// `podTemplate.metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolverMetadata {
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// `podTemplate.spec` (container resources come from the controller's
/// `--acme-http01-solver-resource-*` flags; pod-level resources need a feature gate).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SolverPodSpec {
    /// Pod security context.
    pub security_context: k8s_openapi::api::core::v1::PodSecurityContext,
}
