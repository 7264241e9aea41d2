//! `appArmorProfile`: k8s.io/pod-security-admission v0.36.2 `policy/check_appArmorProfile.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "appArmorProfile",
    level: Level::Baseline,
    since: 0,
    description: "AppArmor only RuntimeDefault or Localhost",
    eval: app_armor,
};

pub(super) fn app_armor(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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
