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
        id: "ulimits",
        level: Level::Baseline,
        since: 37,
        description: "securityContext.ulimits must be unset",
        eval: ulimits,
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
        id: "cgroupOptions",
        level: Level::Restricted,
        since: 0,
        description: "cgroupOptions.mountMode unset or ReadOnly",
        eval: cgroup_options,
    },
];

/// Checks a restricted-level check replaces (upstream `OverrideCheckIDs`), with the version
/// from which it does.
const OVERRIDES: &[(&str, &str, u32)] = &[
    ("restrictedVolumes", "hostPathVolumes", 0),
    ("capabilities_restricted", "capabilities_baseline", 22),
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

fn proc_mount(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.containers()
        .filter(|c| {
            c.value["securityContext"]["procMount"]
                .as_str()
                .is_some_and(|m| m != "Default")
        })
        .map(|c| {
            on_container(
                "procMount",
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

fn ulimits(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.containers()
        .filter(|c| !c.value["securityContext"]["ulimits"].is_null())
        .map(|c| {
            on_container(
                "ulimits",
                pod,
                &c,
                "securityContext.ulimits",
                "ulimits must not be set",
            )
        })
        .collect()
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

fn run_as_non_root(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

fn run_as_user(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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

fn cgroup_options(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    pod.containers()
        .filter(|c| {
            c.value["securityContext"]["cgroupOptions"]["mountMode"]
                .as_str()
                .is_some_and(|m| m != "ReadOnly")
        })
        .map(|c| {
            on_container(
                "cgroupOptions",
                pod,
                &c,
                "securityContext.cgroupOptions.mountMode",
                "cgroupOptions.mountMode must be ReadOnly",
            )
        })
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

    #[test]
    fn checks_newer_than_the_fixtures_start_at_their_version() {
        // v1.34: a probe or lifecycle handler may not name a host.
        let probe =
            restricted_pod(json!({"livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}));
        assert!(
            rules(&probe, Level::Baseline, "v1.34")
                .contains(&"pss:hostProbesAndHostLifecycle".to_string())
        );
        assert!(rules(&probe, Level::Baseline, "v1.33").is_empty());
        let lifecycle = restricted_pod(
            json!({"lifecycle": {"preStop": {"tcpSocket": {"host": "evil", "port": 1}}}}),
        );
        assert!(
            rules(&lifecycle, Level::Baseline, "latest")
                .contains(&"pss:hostProbesAndHostLifecycle".to_string())
        );
        // v1.37: ulimits are for privileged only.
        let ulimits = restricted_pod(
            json!({"securityContext": {"ulimits": [{"name": "nofile", "soft": 1, "hard": 2}]}}),
        );
        assert!(rules(&ulimits, Level::Baseline, "v1.37").contains(&"pss:ulimits".to_string()));
        assert!(rules(&ulimits, Level::Baseline, "v1.36").is_empty());
        // cgroupOptions: restricted only, any version (the field is new).
        let cgroup = restricted_pod(
            json!({"securityContext": {"cgroupOptions": {"mountMode": "ReadWrite"}}}),
        );
        assert!(
            rules(&cgroup, Level::Restricted, "latest").contains(&"pss:cgroupOptions".to_string())
        );
        assert!(rules(&cgroup, Level::Baseline, "latest").is_empty());
        let readonly = restricted_pod(
            json!({"securityContext": {"cgroupOptions": {"mountMode": "ReadOnly"}}}),
        );
        assert!(rules(&readonly, Level::Restricted, "latest").is_empty());
        // container_engine_t is allowed from v1.31.
        let engine = restricted_pod(
            json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
        );
        assert!(rules(&engine, Level::Baseline, "v1.31").is_empty());
        assert!(
            rules(&engine, Level::Baseline, "v1.30").contains(&"pss:seLinuxOptions".to_string())
        );
        // Versions newer than the checks behave as the newest.
        assert_eq!(
            rules(&ulimits, Level::Baseline, "v1.40"),
            rules(&ulimits, Level::Baseline, "latest")
        );
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
