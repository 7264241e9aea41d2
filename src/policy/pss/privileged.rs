//! `privileged`: k8s.io/pod-security-admission v0.36.2 `policy/check_privileged.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "privileged",
    level: Level::Baseline,
    since: 0,
    description: "containers must not be privileged",
    eval: privileged,
};

pub(super) fn privileged(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.containers()
        .filter(|c| is_true(&c.value["securityContext"]["privileged"]))
        .map(|c| {
            on_container(
                "privileged",
                pod,
                &c,
                "securityContext.privileged",
                "privileged=true",
            )
        })
        .collect()
}
