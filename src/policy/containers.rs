//! Workload rules: `runAsNonRoot` and CPU/memory requests and limits.

use serde_json::Value;

use super::rule::Finding;
use super::view::PodView;

/// `run-as-non-root`: the pod sets `runAsNonRoot: true` and no container sets it false, or
/// every container (init and ephemeral included) sets it true.
pub fn runs_as_non_root(pod: &PodView<'_>) -> bool {
    let value = |c: &Value| c["securityContext"]["runAsNonRoot"].as_bool();
    let pod_true = pod.spec["securityContext"]["runAsNonRoot"].as_bool() == Some(true);
    if pod_true {
        pod.containers().all(|c| value(c.value) != Some(false))
    } else {
        pod.containers().all(|c| value(c.value) == Some(true))
    }
}

/// The resource keys every container must set: CPU and memory requests and limits (stricter
/// than the Kyverno library policy, which does not require a CPU limit).
pub const REQUIRED_RESOURCES: [(&str, &str); 4] = [
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "cpu"),
    ("limits", "memory"),
];

/// The required resources a container lacks.
pub fn missing_resources(container: &Value) -> Vec<String> {
    REQUIRED_RESOURCES
        .iter()
        .filter(|(kind, res)| {
            let v = &container["resources"][*kind][*res];
            v.is_null() || v.as_str() == Some("")
        })
        .map(|(kind, res)| format!("{kind}.{res}"))
        .collect()
}

/// Both rules on a pod. Ephemeral containers cannot declare resources, so the resources rule
/// covers containers and init containers.
pub fn check(pod: &PodView<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if !runs_as_non_root(pod) {
        out.push(Finding {
            rule: "run-as-non-root".into(),
            path: pod.path("securityContext.runAsNonRoot"),
            container: None,
            message: "set runAsNonRoot: true on the pod (and never false on a container), or true on every container".into(),
        });
    }
    for c in pod.containers().filter(|c| c.list != "ephemeralContainers") {
        let missing = missing_resources(c.value);
        if !missing.is_empty() {
            out.push(Finding {
                rule: "requests-limits".into(),
                path: c.path(pod.prefix, "resources"),
                container: Some(c.name()),
                message: format!("missing {}", missing.join(", ")),
            });
        }
    }
    out
}
