//! Pod Security Standards: every check of the `baseline` and `restricted` profiles, with the
//! policy version each behaviour starts at, as the Kubernetes pod-security admission evaluates
//! them (checked against the upstream fixtures in `../shared/fixtures/pss/`).

use serde_json::Value;

use super::view::ContainerRef;
use super::{Finding, Level, PodView, PssVersion};

/// One Pod Security check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Upstream check id (`privileged`, `runAsNonRoot`, …).
    pub id: &'static str,
    /// The lowest level that includes it.
    pub level: Level,
    /// First policy minor version (`1.N`) that has it.
    pub since: u32,
    /// What it forbids.
    pub description: &'static str,
    eval: fn(&PodView<'_>, u32) -> Vec<Finding>,
}

/// Every check, baseline first.
pub const CHECKS: &[Check] = &[
    Check {
        id: "hostNamespaces",
        level: Level::Baseline,
        since: 0,
        description: "hostNetwork, hostPID and hostIPC must be unset or false",
        eval: host_namespaces,
    },
    Check {
        id: "privileged",
        level: Level::Baseline,
        since: 0,
        description: "containers must not be privileged",
        eval: privileged,
    },
    Check {
        id: "capabilities_baseline",
        level: Level::Baseline,
        since: 0,
        description: "capabilities.add only from the default set",
        eval: capabilities_baseline,
    },
    Check {
        id: "hostPathVolumes",
        level: Level::Baseline,
        since: 0,
        description: "no hostPath volumes",
        eval: host_path_volumes,
    },
    Check {
        id: "hostPorts",
        level: Level::Baseline,
        since: 0,
        description: "hostPort must be unset or 0",
        eval: host_ports,
    },
    Check {
        id: "appArmorProfile",
        level: Level::Baseline,
        since: 0,
        description: "AppArmor only RuntimeDefault or Localhost",
        eval: app_armor,
    },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        since: 0,
        description: "SELinux type from the container types only, no user or role",
        eval: selinux,
    },
    Check {
        id: "procMount",
        level: Level::Baseline,
        since: 0,
        description: "procMount must be unset or Default",
        eval: proc_mount,
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        since: 0,
        description: "seccomp must not be Unconfined",
        eval: seccomp_baseline,
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        since: 0,
        description: "only the safe sysctls",
        eval: sysctls,
    },
    Check {
        id: "windowsHostProcess",
        level: Level::Baseline,
        since: 0,
        description: "no Windows HostProcess containers",
        eval: windows_host_process,
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        since: 34,
        description: "no host field in probes and lifecycle handlers",
        eval: host_probes,
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        since: 0,
        description: "only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes",
        eval: restricted_volumes,
    },
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        since: 8,
        description: "allowPrivilegeEscalation must be false",
        eval: allow_privilege_escalation,
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        since: 0,
        description: "runAsNonRoot must be true",
        eval: run_as_non_root,
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        since: 23,
        description: "runAsUser must not be 0",
        eval: run_as_user,
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        since: 19,
        description: "seccomp RuntimeDefault or Localhost, on the pod or every container",
        eval: seccomp_restricted,
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        since: 22,
        description: "drop ALL; add only NET_BIND_SERVICE",
        eval: capabilities_restricted,
    },
    Check {
        id: "procMount_restricted",
        level: Level::Restricted,
        since: 35,
        description: "procMount unset or Default, even in a user namespace",
        eval: proc_mount_restricted,
    },
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

fn finding(
    id: &str,
    path: String,
    container: Option<String>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        rule: format!("pss:{id}"),
        path,
        container,
        message: message.into(),
    }
}

fn on_container(
    id: &str,
    pod: &PodView<'_>,
    c: &ContainerRef<'_>,
    field: &str,
    message: impl Into<String>,
) -> Finding {
    finding(id, c.path(pod.prefix, field), Some(c.name()), message)
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

fn host_namespaces(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| is_true(&pod.spec[*f]))
        .map(|f| finding("hostNamespaces", pod.path(f), None, format!("{f}=true")))
        .collect()
}

fn privileged(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.containers()
        .filter(|c| is_true(&c.value["securityContext"]["privileged"]))
        .map(|c| {
            on_container(
                "privileged",
                pod,
                &c,
                "securityContext.privileged",
                "privileged=true",
            )
        })
        .collect()
}

/// Capabilities a container may add under baseline (the container runtime's default set).
const DEFAULT_CAPABILITIES: &[&str] = &[
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

fn added_capabilities<'a>(c: &ContainerRef<'a>) -> impl Iterator<Item = &'a str> {
    c.value["securityContext"]["capabilities"]["add"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or(""))
}

fn capabilities_baseline(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

fn host_path_volumes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, v)| !v["hostPath"].is_null())
        .map(|(i, v)| {
            finding(
                "hostPathVolumes",
                pod.path(&format!("volumes[{i}].hostPath")),
                None,
                format!("volume {} is a hostPath", v["name"].as_str().unwrap_or("?")),
            )
        })
        .collect()
}

fn host_ports(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

fn app_armor(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    let prefix = "container.apparmor.security.beta.kubernetes.io/";
    for (k, v) in pod.annotations() {
        if k.starts_with(prefix) && v != "runtime/default" && !v.starts_with("localhost/") {
            out.push(finding(
                "appArmorProfile",
                format!("metadata.annotations[{k}]"),
                Some(k[prefix.len()..].to_string()),
                format!("AppArmor profile {v:?}"),
            ));
        }
    }
    let bad = |t: &Value| {
        t.as_str()
            .is_some_and(|t| t != "RuntimeDefault" && t != "Localhost")
    };
    let pod_type = &pod.spec["securityContext"]["appArmorProfile"]["type"];
    if bad(pod_type) {
        out.push(finding(
            "appArmorProfile",
            pod.path("securityContext.appArmorProfile.type"),
            None,
            format!("AppArmor profile {pod_type}"),
        ));
    }
    for c in pod.containers() {
        let t = &c.value["securityContext"]["appArmorProfile"]["type"];
        if bad(t) {
            out.push(on_container(
                "appArmorProfile",
                pod,
                &c,
                "securityContext.appArmorProfile.type",
                format!("AppArmor profile {t}"),
            ));
        }
    }
    out
}

fn selinux(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
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

/// A pod in a user namespace (`hostUsers: false`): from v1.35 the baseline procMount and the
/// restricted runAsNonRoot and runAsUser checks allow it (upstream `relaxPolicyForUserNamespacePod`,
/// k8s.io/pod-security-admission v0.36.2 `policy/helpers.go:41-43`).
fn in_user_namespace(pod: &PodView<'_>) -> bool {
    pod.spec["hostUsers"].as_bool() == Some(false)
}

/// Baseline procMount: `policy/check_procMount_baseline.go` (v0.36.2): 1.0 unconditional,
/// 1.35 relaxed for user-namespace pods.
fn proc_mount(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    proc_mount_unmasked(pod, "procMount")
}

/// Restricted procMount from 1.35 (`policy/check_procMount_restricted.go`): the 1.0 rule,
/// unconditionally, overriding the relaxed baseline one.
fn proc_mount_restricted(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    proc_mount_unmasked(pod, "procMount_restricted")
}

fn proc_mount_unmasked(pod: &PodView<'_>, id: &str) -> Vec<Finding> {
    pod.containers()
        .filter(|c| {
            c.value["securityContext"]["procMount"]
                .as_str()
                .is_some_and(|m| m != "Default")
        })
        .map(|c| {
            on_container(
                id,
                pod,
                &c,
                "securityContext.procMount",
                "procMount must be Default",
            )
        })
        .collect()
}

fn seccomp_baseline(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
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

/// Safe sysctls and the version each became allowed.
const SAFE_SYSCTLS: &[(&str, u32)] = &[
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
];

fn sysctls(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
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

fn windows_host_process(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

fn host_probes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

/// Volume sources restricted allows. A volume with no source is defaulted to emptyDir by the
/// API server, so it is allowed too.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn restricted_volumes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, v) in pod.spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let sources: Vec<&String> = v
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| *k != "name")
            .collect();
        // Any restricted source counts, even beside an allowed one (the API server refuses a
        // volume with two sources anyway; upstream would let the allowed one win).
        let Some(kind) = sources
            .into_iter()
            .find(|s| !ALLOWED_VOLUMES.contains(&s.as_str()))
        else {
            continue;
        };
        out.push(finding(
            "restrictedVolumes",
            pod.path(&format!("volumes[{i}].{kind}")),
            None,
            format!(
                "volume {} uses restricted volume type {kind}",
                v["name"].as_str().unwrap_or("?")
            ),
        ));
    }
    out
}

fn allow_privilege_escalation(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 25 && pod.is_windows() {
        return Vec::new();
    }
    pod.containers()
        .filter(|c| c.value["securityContext"]["allowPrivilegeEscalation"].as_bool() != Some(false))
        .map(|c| {
            on_container(
                "allowPrivilegeEscalation",
                pod,
                &c,
                "securityContext.allowPrivilegeEscalation",
                "allowPrivilegeEscalation must be false",
            )
        })
        .collect()
}

/// `policy/check_runAsNonRoot.go` (v0.36.2): from 1.35 a user-namespace pod may run as root.
fn run_as_non_root(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let pod_level = pod.spec["securityContext"]["runAsNonRoot"].as_bool();
    if pod_level == Some(false) {
        out.push(finding(
            "runAsNonRoot",
            pod.path("securityContext.runAsNonRoot"),
            None,
            "pod must not set runAsNonRoot=false",
        ));
    }
    for c in pod.containers() {
        match c.value["securityContext"]["runAsNonRoot"].as_bool() {
            Some(false) => out.push(on_container(
                "runAsNonRoot",
                pod,
                &c,
                "securityContext.runAsNonRoot",
                "container must not set runAsNonRoot=false",
            )),
            None if pod_level != Some(true) => out.push(on_container(
                "runAsNonRoot",
                pod,
                &c,
                "securityContext.runAsNonRoot",
                "runAsNonRoot must be true on the pod or the container",
            )),
            _ => {}
        }
    }
    out
}

/// `policy/check_runAsUser.go` (v0.36.2): from 1.35 a user-namespace pod may use uid 0.
fn run_as_user(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 35 && in_user_namespace(pod) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if pod.spec["securityContext"]["runAsUser"].as_i64() == Some(0) {
        out.push(finding(
            "runAsUser",
            pod.path("securityContext.runAsUser"),
            None,
            "runAsUser=0",
        ));
    }
    for c in pod.containers() {
        if c.value["securityContext"]["runAsUser"].as_i64() == Some(0) {
            out.push(on_container(
                "runAsUser",
                pod,
                &c,
                "securityContext.runAsUser",
                "runAsUser=0",
            ));
        }
    }
    out
}

fn seccomp_restricted(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
    if minor >= 25 && pod.is_windows() {
        return Vec::new();
    }
    let valid = |t: &Value| matches!(t.as_str(), Some("RuntimeDefault" | "Localhost"));
    let mut out = Vec::new();
    let pod_type = &pod.spec["securityContext"]["seccompProfile"]["type"];
    let pod_ok = valid(pod_type);
    if !pod_type.is_null() && !pod_ok {
        out.push(finding(
            "seccompProfile_restricted",
            pod.path("securityContext.seccompProfile.type"),
            None,
            format!("seccompProfile.type {pod_type}"),
        ));
    }
    for c in pod.containers() {
        let t = &c.value["securityContext"]["seccompProfile"]["type"];
        let bad_explicit = !t.is_null() && !valid(t);
        let missing = t.is_null() && !pod_ok;
        if bad_explicit || missing {
            out.push(on_container("seccompProfile_restricted", pod, &c, "securityContext.seccompProfile.type", "seccompProfile.type must be RuntimeDefault or Localhost (on the pod or this container)"));
        }
    }
    out
}

fn capabilities_restricted(pod: &PodView<'_>, minor: u32) -> Vec<Finding> {
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
    /// verdict on both sides). Boundaries from k8s.io/pod-security-admission v0.36.2, the newest
    /// release: `policy/check_*.go`, `MinimumVersion` of each `VersionedCheck`.
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
        // `latest` is v1.36, and newer versions behave as the newest the checks know.
        assert_eq!(super::super::LATEST_MINOR, 36);
        for pod in [userns(root()), unmasked(), sysctl("net.ipv4.tcp_rmem")] {
            for level in [Baseline, Restricted] {
                assert_eq!(rules(&pod, level, "v1.40"), rules(&pod, level, "latest"));
                assert_eq!(rules(&pod, level, "v1.36"), rules(&pod, level, "latest"));
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
