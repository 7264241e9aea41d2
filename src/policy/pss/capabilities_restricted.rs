//! `capabilities_restricted`: k8s.io/pod-security-admission v0.36.2 `policy/check_capabilities_restricted.go`.

use super::capabilities_baseline::added_capabilities;
use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "capabilities_restricted",
    level: Level::Restricted,
    since: 22,
    description: "drop ALL; add only NET_BIND_SERVICE",
    eval: capabilities_restricted,
};

pub(super) fn capabilities_restricted(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 25 && pod.is_windows() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in pod.containers() {
        let drops_all = c.value["securityContext"]["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            out.push(on_container(
                "capabilities_restricted",
                pod,
                &c,
                "securityContext.capabilities.drop",
                "must drop ALL capabilities",
            ));
        }
        for cap in added_capabilities(&c).filter(|cap| *cap != "NET_BIND_SERVICE") {
            out.push(on_container(
                "capabilities_restricted",
                pod,
                &c,
                "securityContext.capabilities.add",
                format!("must not add {cap}"),
            ));
        }
    }
    out
}
