//! The rules as Kyverno `ValidatingPolicy` CEL, written next to the Rust rules they mirror.
//! A test evaluates these expressions with a CEL interpreter over the Kyverno and PSS fixtures
//! and gets the verdicts of the Rust rules.

/// A rule the cluster enforces through Kyverno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelRule {
    /// Policy name (also the Rust rule id).
    pub name: &'static str,
    /// What it demands, for the policy annotations and messages.
    pub description: &'static str,
    /// CEL variables (`name`, expression), evaluated in order.
    pub variables: &'static [(&'static str, &'static str)],
    /// CEL expression that is true when the pod passes.
    pub expression: &'static str,
    /// Message when it fails.
    pub message: &'static str,
    /// Pods the rule does not apply to: (name, CEL true when the rule applies, reason).
    pub exclusions: &'static [(&'static str, &'static str, &'static str)],
}

/// All containers of the pod in `object` (written with `has()`, which every CEL runtime has).
const ALL_CONTAINERS: (&str, &str) = (
    "allContainers",
    "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []) + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : [])",
);

/// Every Kyverno rule; `{registries}` in a variable is replaced by the allow-list.
pub const RULES: &[CelRule] = &[
    CelRule {
        name: "image-digest",
        description: "Every image is pinned by a sha256 digest.",
        variables: &[ALL_CONTAINERS],
        expression: "variables.allContainers.all(c, c.image.matches('@sha256:[0-9a-fA-F]{64}$'))",
        message: "images must be pinned by digest (image@sha256:...)",
        exclusions: &[],
    },
    CelRule {
        name: "image-tag",
        description: "Every image has an explicit tag, and not latest.",
        variables: &[ALL_CONTAINERS],
        expression: "variables.allContainers.all(c, c.image.matches('^([^@/]*/)*[^@/:]+:[^@/:]+(@.*)?$') && !c.image.matches('^([^@/]*/)*[^@/:]+:latest(@.*)?$'))",
        message: "images need an explicit tag other than latest",
        // No exclusion: cert-manager's images (its HTTP-01 solver's included) are set with
        // tag and digest, so the chart renders `repo:tag@digest`.
        exclusions: &[],
    },
    CelRule {
        name: "image-registry",
        description: "Every image is fully qualified and comes from an allowed registry.",
        variables: &[ALL_CONTAINERS, ("allowed", "{registries}")],
        expression: "variables.allContainers.all(c, variables.allowed.exists(r, c.image.startsWith(r + '/')))",
        message: "images must come from an allowed registry, written fully qualified",
        exclusions: &[],
    },
    CelRule {
        name: "run-as-non-root",
        description: "runAsNonRoot is true on the pod (and never false on a container), or true on every container.",
        variables: &[ALL_CONTAINERS],
        expression: "(has(object.spec.securityContext) && has(object.spec.securityContext.runAsNonRoot) && object.spec.securityContext.runAsNonRoot == true && variables.allContainers.all(c, !has(c.securityContext) || !has(c.securityContext.runAsNonRoot) || c.securityContext.runAsNonRoot == true)) || variables.allContainers.all(c, has(c.securityContext) && has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot == true)",
        message: "runAsNonRoot must be true on the pod or on every container",
        exclusions: &[],
    },
    CelRule {
        name: "requests-limits",
        description: "Every container and init container sets CPU and memory requests and limits.",
        variables: &[(
            "withResources",
            "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])",
        )],
        expression: "variables.withResources.all(c, has(c.resources) && has(c.resources.requests) && has(c.resources.requests.cpu) && has(c.resources.requests.memory) && has(c.resources.limits) && has(c.resources.limits.cpu) && has(c.resources.limits.memory))",
        message: "every container needs CPU and memory requests and limits",
        exclusions: &[],
    },
];

/// The CEL list literal of the allowed registries.
pub fn registries_literal(allowed: &[String]) -> String {
    let items: Vec<String> = allowed.iter().map(|r| format!("'{r}'")).collect();
    format!("[{}]", items.join(", "))
}
