//! `hostNamespaces`: k8s.io/pod-security-admission v0.36.2 `policy/check_hostNamespaces.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "hostNamespaces",
    level: Level::Baseline,
    since: 0,
    description: "hostNetwork, hostPID and hostIPC must be unset or false",
    eval: host_namespaces,
};

pub(super) fn host_namespaces(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| is_true(&pod.spec[*f]))
        .map(|f| finding("hostNamespaces", pod.path(f), None, format!("{f}=true")))
        .collect()
}
