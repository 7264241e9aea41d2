//! Hand-written manifests: `overlays/<env>/extra/*.yaml` (into that environment's overlay) and
//! `overlays/platform/extra/*.yaml` (cluster-wide, applied with the configs). They are read
//! here like any input, checked for what cannot be right whatever the rules say, and then go
//! through the same audit and policies as the generated objects (`components::extra`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diagnostic::SettingsError;

/// The folder of hand-written manifests inside a scope's folder.
pub const EXTRA_DIR: &str = "extra";

/// Kinds that are cluster-scoped: an environment's extra files may not hold them (an
/// environment owns its namespace, not the cluster). Core and the CRDs the platform installs.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterIssuer",
    "ClusterPolicy",
    "ValidatingPolicy",
    "MutatingPolicy",
    "ClusterCleanupPolicy",
];

/// One checked file of hand-written manifests.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraFile {
    /// An environment, or `platform`.
    pub scope: String,
    /// File name inside `extra/`.
    pub file_name: String,
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Its objects, one per YAML document, as read.
    pub objects: Vec<Value>,
}

/// `kind/name` of an object, the way kustomize identifies it within a namespace.
pub fn object_key(object: &Value) -> (String, String) {
    (
        object["kind"].as_str().unwrap_or_default().to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Checks one file of `overlays/<scope>/extra/`. `environment` is false for the platform
/// scope.
pub fn check(
    scope: &str,
    environment: bool,
    rel: &Path,
    text: &str,
) -> Result<ExtraFile, SettingsError> {
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name_ok = file_name
        .strip_suffix(".yaml")
        .or_else(|| file_name.strip_suffix(".yml"))
        .is_some_and(|stem| {
            !stem.is_empty()
                && stem.as_bytes()[0].is_ascii_alphanumeric()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        });
    if !name_ok {
        return Err(SettingsError::unreadable(
            rel,
            "extra files are named like `motd.yaml` (a-z, 0-9, '-', '_', '.'), so that a kustomization can list them",
        ));
    }
    let located = crate::yaml_read::read_located(text, true).map_err(|e| {
        let shown = format!(
            "error: {}:{}:{}: {}\n",
            rel.display(),
            e.line,
            e.column,
            e.message
        );
        SettingsError::positioned(rel, e.line, e.column, None, e.message, shown)
    })?;
    let (objects, positions): (Vec<_>, Vec<_>) =
        located.into_iter().map(|d| (d.value, d.positions)).unzip();
    let at = |doc: usize, key: &str, message: String| {
        let (line, column) = positions
            .get(doc)
            .and_then(|p| crate::yaml_read::position_of(p, key))
            .unwrap_or((0, 0));
        let shown = if line == 0 {
            format!(
                "error: {}: document {}: `{key}` {message}\n",
                rel.display(),
                doc + 1
            )
        } else {
            format!(
                "error: {}:{line}:{column}: `{key}` {message}\n",
                rel.display()
            )
        };
        SettingsError::positioned(rel, line, column, Some(key), message, shown)
    };
    if objects.is_empty() {
        return Err(SettingsError::unreadable(rel, "holds no object"));
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        for key in ["apiVersion", "kind"] {
            if o[key].as_str().is_none_or(str::is_empty) {
                return Err(at(
                    i,
                    key,
                    "is missing: every document is one object".into(),
                ));
            }
        }
        if o["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            return Err(at(
                i,
                "metadata.name",
                "is missing (generateName is not supported: Flux applies by name)".into(),
            ));
        }
        let kind = o["kind"].as_str().unwrap_or_default();
        if kind == "Secret" {
            return Err(at(
                i,
                "kind",
                format!(
                    "is Secret: Secrets go SOPS-encrypted into overlays/{scope}/secrets/ (out/docs/secrets.md)"
                ),
            ));
        }
        if kind.ends_with("List") {
            return Err(at(
                i,
                "kind",
                format!("is {kind}: write one object per document"),
            ));
        }
        if environment {
            if CLUSTER_SCOPED_KINDS.contains(&kind) {
                return Err(at(
                    i,
                    "kind",
                    format!(
                        "is cluster-scoped ({kind}): an environment's extra files hold objects of its namespace; cluster-wide ones go in overlays/platform/extra/"
                    ),
                ));
            }
            if let Some(ns) = o["metadata"]["namespace"].as_str()
                && ns != scope
            {
                return Err(at(
                    i,
                    "metadata.namespace",
                    format!(
                        "is `{}`: objects of overlays/{scope}/extra/ live in namespace `{scope}` (leave it out)",
                        ns.escape_default()
                    ),
                ));
            }
        }
        let key = object_key(o);
        let ns = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = (format!("{}/{ns}", key.0), key.1);
        if seen.contains(&id) {
            return Err(at(
                i,
                "metadata.name",
                format!("`{}` is defined twice in this file", id.1),
            ));
        }
        seen.push(id);
    }
    Ok(ExtraFile {
        scope: scope.to_string(),
        file_name,
        path: rel.to_path_buf(),
        objects,
    })
}
