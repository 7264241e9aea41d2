//! `restrictedVolumes`: k8s.io/pod-security-admission v0.36.2 `policy/check_restrictedVolumes.go`.

use super::check::*;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "restrictedVolumes",
    level: Level::Restricted,
    since: 0,
    description: "only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes",
    eval: restricted_volumes,
};

/// Volume sources restricted allows. A volume with no source is defaulted to emptyDir by the
/// API server, so it is allowed too.
pub(super) const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

pub(super) fn restricted_volumes(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
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
