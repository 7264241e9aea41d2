//! `allowPrivilegeEscalation`: k8s.io/pod-security-admission v0.36.2 `policy/check_allowPrivilegeEscalation.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "allowPrivilegeEscalation",
    level: Level::Restricted,
    since: 8,
    description: "allowPrivilegeEscalation must be false",
    eval: allow_privilege_escalation,
};

pub(super) fn allow_privilege_escalation(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 25 && pod.is_windows() {
        return Vec::new();
    }
    pod.containers()
        .filter(|c| c.value["securityContext"]["allowPrivilegeEscalation"].as_bool() != Some(false))
        .map(|c| {
            on_container(
                "allowPrivilegeEscalation",
                pod,
                &c,
                "securityContext.allowPrivilegeEscalation",
                "allowPrivilegeEscalation must be false",
            )
        })
        .collect()
}
