//! `hostPathVolumes`: k8s.io/pod-security-admission v0.36.2 `policy/check_hostPathVolumes.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "hostPathVolumes",
    level: Level::Baseline,
    since: 0,
    description: "no hostPath volumes",
    eval: host_path_volumes,
};

pub(super) fn host_path_volumes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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
