//! Kyverno `policies.kyverno.io/v1` `ValidatingPolicy` (CEL), which replaces the deprecated
//! `kyverno.io/v1` `ClusterPolicy` (deprecated in Kyverno 1.17, removal planned for 1.20).

use std::collections::BTreeMap;

use serde::Serialize;

use super::custom_resource;

custom_resource! {
    /// A cluster-wide CEL validation policy.
    ValidatingPolicy, spec = ValidatingPolicySpec, group = "policies.kyverno.io",
    version = "v1", plural = "validatingpolicies", scope = k8s_openapi::ClusterResourceScope
}

/// What happens on a failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValidationAction {
    /// Refuse the request.
    Deny,
    /// Record the failure in policy reports.
    Audit,
    /// Warn the client.
    Warn,
}

/// `spec` of a [`ValidatingPolicy`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatingPolicySpec {
    /// Actions on failure.
    pub validation_actions: Vec<ValidationAction>,
    /// What the policy applies to.
    pub match_constraints: MatchConstraints,
    /// CEL conditions that must all hold for the policy to apply (exclusions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_conditions: Vec<MatchCondition>,
    /// Rules for pod controllers generated from the pod rule.
    pub autogen: Autogen,
    /// Admission and background evaluation.
    pub evaluation: Evaluation,
    /// Named CEL expressions, evaluated in order.
    pub variables: Vec<Variable>,
    /// The checks.
    pub validations: Vec<Validation>,
}

/// `spec.matchConstraints`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchConstraints {
    /// Resources matched.
    pub resource_rules: Vec<ResourceRule>,
    /// Namespaces matched.
    pub namespace_selector: LabelSelector,
}

/// A group/version/resource/operation rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    /// API groups (`""` is core).
    pub api_groups: Vec<String>,
    /// API versions.
    pub api_versions: Vec<String>,
    /// Operations.
    pub operations: Vec<String>,
    /// Resources.
    pub resources: Vec<String>,
}

/// A label selector with expressions only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// The expressions, all of which must hold.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// `key operator values`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In` or `NotIn`.
    pub operator: String,
    /// Values.
    pub values: Vec<String>,
}

/// A named CEL condition; the policy applies only where it is true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchCondition {
    /// Name (also the reason, in short).
    pub name: String,
    /// CEL.
    pub expression: String,
}

/// `spec.autogen`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Autogen {
    /// Pod controllers to generate rules for.
    pub pod_controllers: PodControllers,
}

/// `spec.autogen.podControllers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodControllers {
    /// Controller resources, e.g. `deployments`.
    pub controllers: Vec<String>,
}

/// `spec.evaluation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Admission-time evaluation.
    pub admission: Enabled,
    /// Background scans of existing objects.
    pub background: Enabled,
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enabled {
    /// On or off.
    pub enabled: bool,
}

/// A named CEL expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    /// Name, read as `variables.<name>`.
    pub name: String,
    /// CEL.
    pub expression: String,
}

/// One CEL check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// True when the object passes.
    pub expression: String,
    /// Message on failure.
    pub message: String,
}

/// Annotations of a policy (title, description, reasons).
pub type Annotations = BTreeMap<String, String>;
