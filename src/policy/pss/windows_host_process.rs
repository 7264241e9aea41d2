//! `windowsHostProcess`: k8s.io/pod-security-admission v0.36.2 `policy/check_windowsHostProcess.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "windowsHostProcess",
    level: Level::Baseline,
    since: 0,
    description: "no Windows HostProcess containers",
    eval: windows_host_process,
};

pub(super) fn windows_host_process(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    if is_true(&pod.spec["securityContext"]["windowsOptions"]["hostProcess"]) {
        out.push(finding(
            "windowsHostProcess",
            pod.path("securityContext.windowsOptions.hostProcess"),
            None,
            "hostProcess=true",
        ));
    }
    for c in pod.containers() {
        if is_true(&c.value["securityContext"]["windowsOptions"]["hostProcess"]) {
            out.push(on_container(
                "windowsHostProcess",
                pod,
                &c,
                "securityContext.windowsOptions.hostProcess",
                "hostProcess=true",
            ));
        }
    }
    out
}
