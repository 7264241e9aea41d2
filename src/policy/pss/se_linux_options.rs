//! `seLinuxOptions`: k8s.io/pod-security-admission v0.36.2 `policy/check_seLinuxOptions.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "seLinuxOptions",
    level: Level::Baseline,
    since: 0,
    description: "SELinux type from the container types only, no user or role",
    eval: selinux,
};

pub(super) fn selinux(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    let mut types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
    if minor >= 31 {
        types.push("container_engine_t");
    }
    let check = |opts: &Value| -> Vec<String> {
        let mut bad = Vec::new();
        if let Some(t) = opts["type"].as_str().filter(|t| !types.contains(t)) {
            bad.push(format!("type {t:?}"));
        }
        for f in ["user", "role"] {
            if opts[f].as_str().is_some_and(|v| !v.is_empty()) {
                bad.push(format!("{f} {:?}", opts[f].as_str().unwrap_or("")));
            }
        }
        bad
    };
    let mut out = Vec::new();
    for b in check(&pod.spec["securityContext"]["seLinuxOptions"]) {
        out.push(finding(
            "seLinuxOptions",
            pod.path("securityContext.seLinuxOptions"),
            None,
            format!("forbidden SELinux {b}"),
        ));
    }
    for c in pod.containers() {
        for b in check(&c.value["securityContext"]["seLinuxOptions"]) {
            out.push(on_container(
                "seLinuxOptions",
                pod,
                &c,
                "securityContext.seLinuxOptions",
                format!("forbidden SELinux {b}"),
            ));
        }
    }
    out
}
