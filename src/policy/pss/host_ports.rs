//! `hostPorts`: k8s.io/pod-security-admission v0.36.2 `policy/check_hostPorts.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "hostPorts",
    level: Level::Baseline,
    since: 0,
    description: "hostPort must be unset or 0",
    eval: host_ports,
};

pub(super) fn host_ports(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in pod.containers() {
        for (j, p) in c.value["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if p["hostPort"].as_i64().is_some_and(|h| h != 0) {
                out.push(on_container(
                    "hostPorts",
                    pod,
                    &c,
                    &format!("ports[{j}].hostPort"),
                    format!("hostPort {}", p["hostPort"]),
                ));
            }
        }
    }
    out
}
