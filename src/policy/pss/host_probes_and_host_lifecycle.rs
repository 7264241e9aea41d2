//! `hostProbesAndhostLifecycle`: k8s.io/pod-security-admission v0.36.2 `policy/check_hostProbesAndhostLifecycle.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "hostProbesAndHostLifecycle",
    level: Level::Baseline,
    since: 34,
    description: "no host field in probes and lifecycle handlers",
    eval: host_probes,
};

pub(super) fn host_probes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in pod.containers() {
        let handlers = [
            ("livenessProbe", &c.value["livenessProbe"]),
            ("readinessProbe", &c.value["readinessProbe"]),
            ("startupProbe", &c.value["startupProbe"]),
            ("lifecycle.postStart", &c.value["lifecycle"]["postStart"]),
            ("lifecycle.preStop", &c.value["lifecycle"]["preStop"]),
        ];
        for (name, h) in handlers {
            for action in ["httpGet", "tcpSocket"] {
                if let Some(host) = h[action]["host"].as_str().filter(|s| !s.is_empty()) {
                    out.push(on_container(
                        "hostProbesAndHostLifecycle",
                        pod,
                        &c,
                        &format!("{name}.{action}.host"),
                        format!("probe or lifecycle host {host:?}"),
                    ));
                }
            }
        }
    }
    out
}
