//! The `kustomization.yaml` file that every generated folder carries.
//!
//! Uses the current kustomize fields only (`labels`, `patches`); the deprecated
//! `commonLabels` and `patchesStrategicMerge` are not offered.

use std::collections::BTreeMap;

use serde::Serialize;

/// A `kustomize.config.k8s.io/v1beta1` Kustomization file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationFile {
    /// Always `kustomize.config.k8s.io/v1beta1`.
    api_version: &'static str,
    /// Always `Kustomization`.
    kind: &'static str,
    /// Namespace set on every namespaced object of the build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels added to every object (selectors untouched unless asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Labels>,
    /// Files and folders, in order.
    pub resources: Vec<String>,
    /// Patches applied to the resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
}

impl KustomizationFile {
    /// An empty Kustomization listing no resources.
    pub fn new() -> Self {
        Self {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            ..Default::default()
        }
    }
}

/// One entry of `labels:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Labels {
    /// The labels.
    pub pairs: BTreeMap<String, String>,
    /// Also add them to selectors. Default: false, because selectors are immutable on
    /// Deployments and StatefulSets and a label change would block the next apply.
    pub include_selectors: bool,
    /// Also add them to pod templates (and, kustomize v5.5.0 measured, to a StatefulSet's
    /// `volumeClaimTemplates`, which are immutable).
    pub include_templates: bool,
}

/// One entry of `patches:`: a patch file (strategic-merge here) applied to one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patch {
    /// The patch file, relative to the kustomization.
    pub path: String,
    /// What the patch applies to.
    pub target: PatchTarget,
}

/// Selects the object a patch applies to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PatchTarget {
    /// API group (empty for the core group).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}
