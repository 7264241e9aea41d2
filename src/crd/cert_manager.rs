//! cert-manager `ClusterIssuer` (`cert-manager.io/v1`), ACME with HTTP-01 only.

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
    /// HTTP-01 through an Ingress.
    pub http01: Http01,
}

/// `http01`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Http01 {
    /// The Ingress cert-manager creates for the challenge.
    pub ingress: Http01Ingress,
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
