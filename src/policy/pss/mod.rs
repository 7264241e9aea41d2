//! Pod Security Standards: every check of the `baseline` and `restricted` profiles, with the
//! policy version each behaviour starts at, as the Kubernetes pod-security admission evaluates
//! them (checked against the upstream fixtures in `../shared/fixtures/pss/`).
//!
//! Laid out as k8s.io/pod-security-admission keeps it (v0.36.2, `policy/check_*.go` and
//! `policy/registry.go`): one file per check holding its `CHECK` (id, level, first version)
//! and its versioned evaluation; [`CHECKS`] is the registry and `OVERRIDES` upstream's
//! `OverrideCheckIDs`. A new Kubernetes release is a version branch in the files of the checks
//! it changes, a row in the boundary test below, and `LATEST_MINOR`.

use check::{Check, Finding, Level, PodView, PssVersion};

mod check;

// One file per check, as upstream keeps `policy/check_*.go`; `CHECKS` below is the registry.
mod allow_privilege_escalation;
mod app_armor_profile;
mod capabilities_baseline;
mod capabilities_restricted;
mod host_namespaces;
mod host_path_volumes;
mod host_ports;
mod host_probes_and_host_lifecycle;
mod privileged;
mod proc_mount;
mod proc_mount_restricted;
mod restricted_volumes;
mod run_as_non_root;
mod run_as_user;
mod se_linux_options;
mod seccomp_profile_baseline;
mod seccomp_profile_restricted;
mod sysctls;
mod windows_host_process;

/// Every check, baseline first.
pub const CHECKS: &[Check] = &[
    host_namespaces::CHECK,
    privileged::CHECK,
    capabilities_baseline::CHECK,
    host_path_volumes::CHECK,
    host_ports::CHECK,
    app_armor_profile::CHECK,
    se_linux_options::CHECK,
    proc_mount::CHECK,
    seccomp_profile_baseline::CHECK,
    sysctls::CHECK,
    windows_host_process::CHECK,
    host_probes_and_host_lifecycle::CHECK,
    restricted_volumes::CHECK,
    allow_privilege_escalation::CHECK,
    run_as_non_root::CHECK,
    run_as_user::CHECK,
    seccomp_profile_restricted::CHECK,
    capabilities_restricted::CHECK,
    proc_mount_restricted::CHECK,
];

/// Checks a restricted-level check replaces (upstream `OverrideCheckIDs`), with the version
/// from which it does. Upstream also lets `seccompProfile_restricted` replace
/// `seccompProfile_baseline` from 1.19; both deny the same pods there, and keeping the baseline
/// one lets each upstream fixture be reported by its own check (tests/policy_fixtures.rs).
const OVERRIDES: &[(&str, &str, u32)] = &[
    ("restrictedVolumes", "hostPathVolumes", 0),
    ("capabilities_restricted", "capabilities_baseline", 22),
    ("procMount_restricted", "procMount", 35),
];

/// Runs every check of `level` at `version` on a pod.
pub fn check(pod: &PodView<'_>, level: Level, version: PssVersion) -> Vec<Finding> {
    let minor = version.minor();
    let active = |c: &Check| c.level <= level && c.since <= minor;
    let overridden = |c: &Check| {
        OVERRIDES.iter().any(|(by, id, since)| {
            *id == c.id && minor >= *since && CHECKS.iter().any(|o| o.id == *by && active(o))
        })
    };
    CHECKS
        .iter()
        .filter(|c| active(c) && !overridden(c))
        .flat_map(|c| (c.eval)(pod, minor))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(pod: &serde_json::Value, level: Level, version: &str) -> Vec<String> {
        let v: PssVersion = version.parse().unwrap();
        let view = PodView::of(pod).unwrap();
        check(&view, level, v).into_iter().map(|f| f.rule).collect()
    }

    fn restricted_pod(container: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"name": "c", "image": "x",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}});
        if let (Some(base), Some(extra)) = (c.as_object_mut(), container.as_object()) {
            for (k, v) in extra {
                if k == "securityContext" {
                    for (sk, sv) in v.as_object().unwrap() {
                        base["securityContext"][sk] = sv.clone();
                    }
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [c]}})
    }

    /// `pod` with `value` at the pod-spec field `key` (e.g. `hostUsers`, `os`).
    fn with_spec(
        mut pod: serde_json::Value,
        key: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        pod["spec"][key] = value;
        pod
    }

    fn windows(pod: serde_json::Value) -> serde_json::Value {
        with_spec(pod, "os", json!({"name": "windows"}))
    }

    fn sysctl(name: &str) -> serde_json::Value {
        let mut pod = restricted_pod(json!({}));
        pod["spec"]["securityContext"]["sysctls"] = json!([{"name": name, "value": "1"}]);
        pod
    }

    /// Every version boundary of every check that changed from v1.25 on, in both directions:
    /// a pod the boundary concerns (its verdict flips at v1.N) and one it does not (same
    /// verdict on both sides). Boundaries from k8s.io/pod-security-admission v0.36.2
    /// (`policy/check_*.go`, `MinimumVersion` of each `VersionedCheck`), and v1.37's sysctls.
    #[test]
    fn every_version_boundary_since_1_25_in_both_directions() {
        use Level::{Baseline, Restricted};
        let no_ape = || {
            let mut p = restricted_pod(json!({}));
            p["spec"]["containers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("allowPrivilegeEscalation");
            p
        };
        let no_caps = || {
            let mut p = restricted_pod(json!({}));
            p["spec"]["containers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("capabilities");
            p
        };
        let no_seccomp = || {
            let mut p = restricted_pod(json!({}));
            p["spec"]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("seccompProfile");
            p
        };
        let unmasked = || restricted_pod(json!({"securityContext": {"procMount": "Unmasked"}}));
        let root = || {
            let mut p = restricted_pod(json!({}));
            p["spec"]["securityContext"]["runAsNonRoot"] = json!(false);
            p
        };
        let uid0 = || {
            let mut p = restricted_pod(json!({}));
            p["spec"]["securityContext"]["runAsUser"] = json!(0);
            p
        };
        let userns = |p: serde_json::Value| with_spec(p, "hostUsers", json!(false));
        let probe_host = restricted_pod(
            json!({"readinessProbe": {"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}}}),
        );
        let probe =
            restricted_pod(json!({"readinessProbe": {"httpGet": {"path": "/", "port": 80}}}));
        // (what, pod, level, boundary minor, rule, denied before, denied from the boundary on)
        let cases: Vec<(&str, serde_json::Value, Level, u32, &str, bool, bool)> = vec![
            (
                "windows pod without allowPrivilegeEscalation",
                windows(no_ape()),
                Restricted,
                25,
                "pss:allowPrivilegeEscalation",
                true,
                false,
            ),
            (
                "linux pod without allowPrivilegeEscalation",
                no_ape(),
                Restricted,
                25,
                "pss:allowPrivilegeEscalation",
                true,
                true,
            ),
            (
                "windows pod without drop ALL",
                windows(no_caps()),
                Restricted,
                25,
                "pss:capabilities_restricted",
                true,
                false,
            ),
            (
                "linux pod without drop ALL",
                no_caps(),
                Restricted,
                25,
                "pss:capabilities_restricted",
                true,
                true,
            ),
            (
                "windows pod without seccomp",
                windows(no_seccomp()),
                Restricted,
                25,
                "pss:seccompProfile_restricted",
                true,
                false,
            ),
            (
                "linux pod without seccomp",
                no_seccomp(),
                Restricted,
                25,
                "pss:seccompProfile_restricted",
                true,
                true,
            ),
            (
                "net.ipv4.ip_local_reserved_ports",
                sysctl("net.ipv4.ip_local_reserved_ports"),
                Baseline,
                27,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "kernel.msgmax (never safe)",
                sysctl("kernel.msgmax"),
                Baseline,
                27,
                "pss:sysctls",
                true,
                true,
            ),
            (
                "net.ipv4.tcp_keepalive_time",
                sysctl("net.ipv4.tcp_keepalive_time"),
                Baseline,
                29,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "kernel.shm_rmid_forced (always safe)",
                sysctl("kernel.shm_rmid_forced"),
                Baseline,
                29,
                "pss:sysctls",
                false,
                false,
            ),
            (
                "net.ipv4.tcp_rmem",
                sysctl("net.ipv4.tcp_rmem"),
                Baseline,
                32,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "net.ipv4.tcp_wmem",
                sysctl("net.ipv4.tcp_wmem"),
                Baseline,
                32,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "net.ipv4.tcp_slow_start_after_idle",
                sysctl("net.ipv4.tcp_slow_start_after_idle"),
                Baseline,
                37,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "net.ipv4.tcp_notsent_lowat",
                sysctl("net.ipv4.tcp_notsent_lowat"),
                Restricted,
                37,
                "pss:sysctls",
                true,
                false,
            ),
            (
                "SELinux type container_engine_t",
                restricted_pod(
                    json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
                ),
                Baseline,
                31,
                "pss:seLinuxOptions",
                true,
                false,
            ),
            (
                "SELinux type spc_t",
                restricted_pod(json!({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})),
                Baseline,
                31,
                "pss:seLinuxOptions",
                true,
                true,
            ),
            (
                "probe naming a host",
                probe_host,
                Baseline,
                34,
                "pss:hostProbesAndHostLifecycle",
                false,
                true,
            ),
            (
                "probe without host",
                probe,
                Baseline,
                34,
                "pss:hostProbesAndHostLifecycle",
                false,
                false,
            ),
            (
                "Unmasked procMount in a user namespace, baseline",
                userns(unmasked()),
                Baseline,
                35,
                "pss:procMount",
                true,
                false,
            ),
            (
                "Unmasked procMount on the host's users, baseline",
                unmasked(),
                Baseline,
                35,
                "pss:procMount",
                true,
                true,
            ),
            (
                "Unmasked procMount in a user namespace, restricted",
                userns(unmasked()),
                Restricted,
                35,
                "pss:procMount",
                true,
                false,
            ),
            (
                "Unmasked procMount in a user namespace, restricted's own check",
                userns(unmasked()),
                Restricted,
                35,
                "pss:procMount_restricted",
                false,
                true,
            ),
            (
                "runAsNonRoot=false in a user namespace",
                userns(root()),
                Restricted,
                35,
                "pss:runAsNonRoot",
                true,
                false,
            ),
            (
                "runAsNonRoot=false on the host's users",
                root(),
                Restricted,
                35,
                "pss:runAsNonRoot",
                true,
                true,
            ),
            (
                "runAsUser=0 in a user namespace",
                userns(uid0()),
                Restricted,
                35,
                "pss:runAsUser",
                true,
                false,
            ),
            (
                "runAsUser=0 on the host's users",
                uid0(),
                Restricted,
                35,
                "pss:runAsUser",
                true,
                true,
            ),
        ];
        for (what, pod, level, n, rule, before, after) in cases {
            let at =
                |minor: u32| rules(&pod, level, &format!("v1.{minor}")).contains(&rule.to_string());
            assert_eq!(at(n - 1), before, "{what}: {rule} at v1.{}", n - 1);
            assert_eq!(at(n), after, "{what}: {rule} at v1.{n}");
        }
        // The restricted procMount check replaces the relaxed baseline one: one finding, not two.
        let both = rules(&unmasked(), Restricted, "v1.35");
        assert_eq!(
            both.iter()
                .filter(|r| r.starts_with("pss:procMount"))
                .count(),
            1,
            "{both:?}"
        );
        // `latest` is v1.37, and newer versions behave as the newest the checks know.
        assert_eq!(super::super::LATEST_MINOR, 37);
        for pod in [
            userns(root()),
            unmasked(),
            sysctl("net.ipv4.tcp_rmem"),
            sysctl("net.ipv4.tcp_notsent_lowat"),
        ] {
            for level in [Baseline, Restricted] {
                assert_eq!(rules(&pod, level, "v1.40"), rules(&pod, level, "latest"));
                assert_eq!(rules(&pod, level, "v1.37"), rules(&pod, level, "latest"));
            }
        }
    }

    #[test]
    fn windows_pods_are_exempt_from_linux_only_restricted_checks_since_v1_25() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "w"}, "spec": {
            "os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": "x"}]}});
        assert!(rules(&pod, Level::Restricted, "v1.25").is_empty());
        let old = rules(&pod, Level::Restricted, "v1.24");
        assert!(
            old.contains(&"pss:allowPrivilegeEscalation".to_string())
                && old.contains(&"pss:seccompProfile_restricted".to_string()),
            "{old:?}"
        );
    }
}
