//! `seccompProfile_restricted`: k8s.io/pod-security-admission v0.36.2 `policy/check_seccompProfile_restricted.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "seccompProfile_restricted",
    level: Level::Restricted,
    since: 19,
    description: "seccomp RuntimeDefault or Localhost, on the pod or every container",
    eval: seccomp_restricted,
};

pub(super) fn seccomp_restricted(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 25 && pod.is_windows() {
        return Vec::new();
    }
    let valid = |t: &Value| matches!(t.as_str(), Some("RuntimeDefault" | "Localhost"));
    let mut out = Vec::new();
    let pod_type = &pod.spec["securityContext"]["seccompProfile"]["type"];
    let pod_ok = valid(pod_type);
    if !pod_type.is_null() && !pod_ok {
        out.push(finding(
            "seccompProfile_restricted",
            pod.path("securityContext.seccompProfile.type"),
            None,
            format!("seccompProfile.type {pod_type}"),
        ));
    }
    for c in pod.containers() {
        let t = &c.value["securityContext"]["seccompProfile"]["type"];
        let bad_explicit = !t.is_null() && !valid(t);
        let missing = t.is_null() && !pod_ok;
        if bad_explicit || missing {
            out.push(on_container("seccompProfile_restricted", pod, &c, "securityContext.seccompProfile.type", "seccompProfile.type must be RuntimeDefault or Localhost (on the pod or this container)"));
        }
    }
    out
}
