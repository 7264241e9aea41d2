//! `capabilities_baseline`: k8s.io/pod-security-admission v0.36.2 `policy/check_capabilities_baseline.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "capabilities_baseline",
    level: Level::Baseline,
    since: 0,
    description: "capabilities.add only from the default set",
    eval: capabilities_baseline,
};

/// Capabilities a container may add under baseline (the container runtime's default set).
pub(super) const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

pub(super) fn added_capabilities<'a>(c: &ContainerRef<'a>) -> impl Iterator<Item = &'a str> {
    c.value["securityContext"]["capabilities"]["add"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or(""))
}

pub(super) fn capabilities_baseline(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in pod.containers() {
        for cap in added_capabilities(&c).filter(|cap| !DEFAULT_CAPABILITIES.contains(cap)) {
            out.push(on_container(
                "capabilities_baseline",
                pod,
                &c,
                "securityContext.capabilities.add",
                format!("adds non-default capability {cap}"),
            ));
        }
    }
    out
}
