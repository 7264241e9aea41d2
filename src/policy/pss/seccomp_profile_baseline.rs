//! `seccompProfile_baseline`: k8s.io/pod-security-admission v0.36.2 `policy/check_seccompProfile_baseline.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "seccompProfile_baseline",
    level: Level::Baseline,
    since: 0,
    description: "seccomp must not be Unconfined",
    eval: seccomp_baseline,
};

pub(super) fn seccomp_baseline(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    if minor < 19 {
        for (k, v) in pod.annotations() {
            let pod_level = k == "seccomp.security.alpha.kubernetes.io/pod";
            let container = k.strip_prefix("container.seccomp.security.alpha.kubernetes.io/");
            if (pod_level || container.is_some()) && v == "unconfined" {
                out.push(finding(
                    "seccompProfile_baseline",
                    format!("metadata.annotations[{k}]"),
                    container.map(str::to_string),
                    "seccomp unconfined",
                ));
            }
        }
        return out;
    }
    if pod.spec["securityContext"]["seccompProfile"]["type"] == "Unconfined" {
        out.push(finding(
            "seccompProfile_baseline",
            pod.path("securityContext.seccompProfile.type"),
            None,
            "seccompProfile Unconfined",
        ));
    }
    for c in pod.containers() {
        if c.value["securityContext"]["seccompProfile"]["type"] == "Unconfined" {
            out.push(on_container(
                "seccompProfile_baseline",
                pod,
                &c,
                "securityContext.seccompProfile.type",
                "seccompProfile Unconfined",
            ));
        }
    }
    out
}
