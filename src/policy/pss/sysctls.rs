//! `sysctls`: k8s.io/pod-security-admission `policy/check_sysctls.go`, as of Kubernetes 1.37
//! (kubernetes/kubernetes@release-1.37 `staging/src/k8s.io/pod-security-admission/policy/check_sysctls.go`:
//! `sysctlsAllowedV1Dot37` is `sysctlsAllowedV1Dot32` plus `net.ipv4.tcp_slow_start_after_idle`
//! and `net.ipv4.tcp_notsent_lowat`, added by PR #138389, commit ad86dd50f).

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "sysctls",
    level: Level::Baseline,
    since: 0,
    description: "only the safe sysctls",
    eval: sysctls,
};

/// Safe sysctls and the version each became allowed.
pub(super) const SAFE_SYSCTLS: &[(&str, u32)] = &[
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
    ("net.ipv4.tcp_slow_start_after_idle", 37),
    ("net.ipv4.tcp_notsent_lowat", 37),
];

pub(super) fn sysctls(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    pod.spec["securityContext"]["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, s)| {
            let name = s["name"].as_str().unwrap_or("");
            !SAFE_SYSCTLS
                .iter()
                .any(|(n, since)| *n == name && *since <= minor)
        })
        .map(|(i, s)| {
            finding(
                "sysctls",
                pod.path(&format!("securityContext.sysctls[{i}].name")),
                None,
                format!("forbidden sysctl {}", s["name"]),
            )
        })
        .collect()
}
