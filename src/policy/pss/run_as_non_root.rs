//! `runAsNonRoot`: k8s.io/pod-security-admission v0.36.2 `policy/check_runAsNonRoot.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "runAsNonRoot",
    level: Level::Restricted,
    since: 0,
    description: "runAsNonRoot must be true",
    eval: run_as_non_root,
};

/// `policy/check_runAsNonRoot.go` (v0.36.2): from 1.35 a user-namespace pod may run as root.
pub(super) fn run_as_non_root(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let pod_level = pod.spec["securityContext"]["runAsNonRoot"].as_bool();
    if pod_level == Some(false) {
        out.push(finding(
            "runAsNonRoot",
            pod.path("securityContext.runAsNonRoot"),
            None,
            "pod must not set runAsNonRoot=false",
        ));
    }
    for c in pod.containers() {
        match c.value["securityContext"]["runAsNonRoot"].as_bool() {
            Some(false) => out.push(on_container(
                "runAsNonRoot",
                pod,
                &c,
                "securityContext.runAsNonRoot",
                "container must not set runAsNonRoot=false",
            )),
            None if pod_level != Some(true) => out.push(on_container(
                "runAsNonRoot",
                pod,
                &c,
                "securityContext.runAsNonRoot",
                "runAsNonRoot must be true on the pod or the container",
            )),
            _ => {}
        }
    }
    out
}
