//! `procMount_baseline`: k8s.io/pod-security-admission v0.36.2 `policy/check_procMount_baseline.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "procMount",
    level: Level::Baseline,
    since: 0,
    description: "procMount must be unset or Default",
    eval: proc_mount,
};

/// Baseline procMount: `policy/check_procMount_baseline.go` (v0.36.2): 1.0 unconditional,
/// 1.35 relaxed for user-namespace pods.
pub(super) fn proc_mount(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    proc_mount_unmasked(pod, "procMount")
}

pub(super) fn proc_mount_unmasked(pod: &PodView<'_>, id: &str) -> Vec<Finding> {
    pod.containers()
        .filter(|c| {
            c.value["securityContext"]["procMount"]
                .as_str()
                .is_some_and(|m| m != "Default")
        })
        .map(|c| {
            on_container(
                id,
                pod,
                &c,
                "securityContext.procMount",
                "procMount must be Default",
            )
        })
        .collect()
}
