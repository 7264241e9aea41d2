//! `runAsUser`: k8s.io/pod-security-admission v0.36.2 `policy/check_runAsUser.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "runAsUser",
    level: Level::Restricted,
    since: 23,
    description: "runAsUser must not be 0",
    eval: run_as_user,
};

/// `policy/check_runAsUser.go` (v0.36.2): from 1.35 a user-namespace pod may use uid 0.
pub(super) fn run_as_user(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if pod.spec["securityContext"]["runAsUser"].as_i64() == Some(0) {
        out.push(finding(
            "runAsUser",
            pod.path("securityContext.runAsUser"),
            None,
            "runAsUser=0",
        ));
    }
    for c in pod.containers() {
        if c.value["securityContext"]["runAsUser"].as_i64() == Some(0) {
            out.push(on_container(
                "runAsUser",
                pod,
                &c,
                "securityContext.runAsUser",
                "runAsUser=0",
            ));
        }
    }
    out
}
