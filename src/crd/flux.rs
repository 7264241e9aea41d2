//! Flux custom resources (`kustomize.toolkit.fluxcd.io/v1`).
//!
//! Only the fields the platform sets are modelled; names and shapes follow
//! `kustomize.toolkit.fluxcd.io/kustomization_v1.json`.

use serde::Serialize;

use super::custom_resource;
use crate::quantity::Duration;

custom_resource! {
    /// A Flux `Kustomization`: builds one folder of the Git source and applies it.
    Kustomization, spec = KustomizationSpec, group = "kustomize.toolkit.fluxcd.io",
    version = "v1", plural = "kustomizations", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a Flux [`Kustomization`], fields in the order Flux documents them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Kustomizations that must be Ready before this one is applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Reconciliation (drift correction) period.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
    /// Retry period after a failed reconciliation.
    #[serde(serialize_with = "as_string")]
    pub retry_interval: Duration,
    /// Timeout for build, apply and health checks.
    #[serde(serialize_with = "as_string")]
    pub timeout: Duration,
    /// Path of the folder in the source, relative to its root, starting with `./`.
    pub path: String,
    /// Delete objects that disappeared from the folder.
    pub prune: bool,
    /// Wait for every applied object to become Ready.
    pub wait: bool,
    /// The Git source.
    pub source_ref: SourceReference,
    /// SOPS decryption of Secrets, for folders that hold encrypted files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
}

fn as_string<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// A reference to another Flux Kustomization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyReference {
    /// Name of the Kustomization.
    pub name: String,
}

/// The kind of source a Kustomization reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SourceKind {
    /// A Git repository (`source.toolkit.fluxcd.io/v1` GitRepository).
    GitRepository,
    /// An OCI artifact (`source.toolkit.fluxcd.io/v1` OCIRepository).
    #[serde(rename = "OCIRepository")]
    OciRepository,
}

/// `spec.sourceRef`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReference {
    /// Kind of the source.
    pub kind: SourceKind,
    /// Name of the source object.
    pub name: String,
}

/// The one decryption provider Flux supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecryptionProvider {
    /// Mozilla SOPS (age keys here).
    Sops,
}

/// `spec.decryption`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// Always `sops`.
    pub provider: DecryptionProvider,
    /// Secret in the Kustomization's namespace holding the `*.agekey` private keys.
    pub secret_ref: LocalObjectReference,
}

/// A reference by name to an object in the same namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalObjectReference {
    /// Name of the object.
    pub name: String,
}
