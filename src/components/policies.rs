//! The policy rules as Kyverno `ValidatingPolicy` objects in
//! `out/infrastructure/configs/policies/`.
//!
//! For each rule of [`crate::policy::kyverno::RULES`] two policies: `<rule>` with `Deny` in the
//! platform's own namespaces (all `restricted`), and `<rule>-audit` with `Audit` everywhere
//! else except the system namespaces below. Pod Security itself is enforced by the built-in
//! admission through the namespace labels; these add what PSS does not cover.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Error;
use crate::crd::kyverno::*;
use crate::object::Object;
use crate::policy::kyverno::{CelRule, RULES, registries_literal};

/// Namespaces no policy looks at, each with its reason.
pub const EXCLUDED_NAMESPACES: &[(&str, &str)] = &[
    (
        "kube-system",
        "Kubernetes' own components (CNI, CoreDNS, kube-proxy) come from the distribution, by tag",
    ),
    (
        "kube-public",
        "holds no workloads; excluded like kube-system",
    ),
    (
        "kube-node-lease",
        "holds no workloads; excluded like kube-system",
    ),
    (
        "flux-system",
        "Flux controllers are installed by `flux bootstrap` with tagged images; a denial here would stop GitOps itself",
    ),
    (
        "kyverno",
        "the policy engine must never block its own pods, or a bad policy could not be fixed",
    ),
];

/// Pod controllers Kyverno generates the pod rules for.
const POD_CONTROLLERS: [&str; 7] = [
    "cronjobs",
    "daemonsets",
    "deployments",
    "jobs",
    "replicasets",
    "replicationcontrollers",
    "statefulsets",
];

fn policy(
    rule: &CelRule,
    name: String,
    action: ValidationAction,
    selector: LabelSelectorRequirement,
    registries: &[String],
) -> ValidatingPolicy {
    let mut annotations = BTreeMap::from([
        (
            "policies.kyverno.io/title".to_string(),
            rule.name.to_string(),
        ),
        (
            "policies.kyverno.io/description".to_string(),
            rule.description.to_string(),
        ),
        (
            "open4goods.org/excluded-namespaces".to_string(),
            EXCLUDED_NAMESPACES
                .iter()
                .map(|(ns, why)| format!("{ns}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    ]);
    for (name, _, why) in rule.exclusions {
        annotations.insert(format!("open4goods.org/exclusion-{name}"), why.to_string());
    }
    ValidatingPolicy {
        metadata: ObjectMeta {
            name: Some(name),
            annotations: Some(annotations),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                crate::PART_OF.to_string(),
            )])),
            ..Default::default()
        },
        spec: ValidatingPolicySpec {
            validation_actions: vec![action],
            match_constraints: MatchConstraints {
                resource_rules: vec![ResourceRule {
                    api_groups: vec![String::new()],
                    api_versions: vec!["v1".into()],
                    operations: vec!["CREATE".into(), "UPDATE".into()],
                    resources: vec!["pods".into()],
                }],
                namespace_selector: LabelSelector {
                    match_expressions: vec![selector],
                },
            },
            match_conditions: rule
                .exclusions
                .iter()
                .map(|(name, expression, _)| MatchCondition {
                    name: name.to_string(),
                    expression: expression.to_string(),
                })
                .collect(),
            autogen: Autogen {
                pod_controllers: PodControllers {
                    controllers: POD_CONTROLLERS.iter().map(|c| c.to_string()).collect(),
                },
            },
            evaluation: Evaluation {
                admission: Enabled { enabled: true },
                background: Enabled { enabled: true },
            },
            variables: rule
                .variables
                .iter()
                .map(|(n, e)| Variable {
                    name: n.to_string(),
                    expression: e.replace("{registries}", &registries_literal(registries)),
                })
                .collect(),
            validations: vec![Validation {
                expression: rule.expression.to_string(),
                message: rule.message.to_string(),
            }],
        },
    }
}

/// Two policies per rule: `Deny` in `enforced` namespaces, `Audit` in the others.
pub fn objects(
    enforced: &[&str],
    registries: &[String],
) -> Result<Vec<(String, Vec<Object>)>, Error> {
    let key = "kubernetes.io/metadata.name".to_string();
    let mut not_audited: Vec<String> = enforced.iter().map(|s| s.to_string()).collect();
    not_audited.extend(EXCLUDED_NAMESPACES.iter().map(|(ns, _)| ns.to_string()));
    RULES
        .iter()
        .map(|rule| {
            let deny = policy(
                rule,
                rule.name.to_string(),
                ValidationAction::Deny,
                LabelSelectorRequirement {
                    key: key.clone(),
                    operator: "In".into(),
                    values: enforced.iter().map(|s| s.to_string()).collect(),
                },
                registries,
            );
            let audit = policy(
                rule,
                format!("{}-audit", rule.name),
                ValidationAction::Audit,
                LabelSelectorRequirement {
                    key: key.clone(),
                    operator: "NotIn".into(),
                    values: not_audited.clone(),
                },
                registries,
            );
            Ok((
                format!("{}.yaml", rule.name),
                vec![Object::new(&deny)?, Object::new(&audit)?],
            ))
        })
        .collect()
}
