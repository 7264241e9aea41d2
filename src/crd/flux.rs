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

custom_resource! {
    /// A Flux `GitRepository`: here, an upstream repository at a tag (the Gateway API CRDs).
    GitRepository, spec = GitRepositorySpec, group = "source.toolkit.fluxcd.io",
    version = "v1", plural = "gitrepositories", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`GitRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// How often the reference is checked.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
    /// Repository URL (`https://`).
    pub url: String,
    /// The tag.
    #[serde(rename = "ref")]
    pub reference: GitReference,
    /// The folders fetched (the rest of the repository is not needed).
    pub sparse_checkout: Vec<String>,
}

/// `spec.ref` of a [`GitRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitReference {
    /// Tag.
    pub tag: String,
}

custom_resource! {
    /// A Flux `HelmRepository`: a classic Helm chart repository.
    HelmRepository, spec = HelmRepositorySpec, group = "source.toolkit.fluxcd.io",
    version = "v1", plural = "helmrepositories", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`HelmRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelmRepositorySpec {
    /// How often the index is fetched.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
    /// Repository URL (`https://`).
    pub url: String,
}

custom_resource! {
    /// A Flux `OCIRepository`: here, a Helm chart in an OCI registry.
    OCIRepository, spec = OciRepositorySpec, group = "source.toolkit.fluxcd.io",
    version = "v1", plural = "ocirepositories", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of an [`OCIRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepositorySpec {
    /// How often the tag is checked.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
    /// `oci://` URL of the chart.
    pub url: String,
    /// The exact tag.
    #[serde(rename = "ref")]
    pub reference: OciReference,
    /// Which layer holds the chart.
    pub layer_selector: LayerSelector,
}

/// `spec.ref` of an [`OCIRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OciReference {
    /// Tag.
    pub tag: String,
}

/// `spec.layerSelector` of an [`OCIRepository`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerSelector {
    /// Helm chart layer media type.
    pub media_type: String,
    /// `copy`: keep the chart tarball as is.
    pub operation: String,
}

custom_resource! {
    /// A Flux `HelmRelease` (`helm.toolkit.fluxcd.io/v2`).
    HelmRelease, spec = HelmReleaseSpec, group = "helm.toolkit.fluxcd.io",
    version = "v2", plural = "helmreleases", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`HelmRelease`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// Reconciliation period.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
    /// Timeout of install/upgrade (including waiting for readiness).
    #[serde(serialize_with = "as_string")]
    pub timeout: Duration,
    /// Chart from a HelmRepository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// Chart from an OCIRepository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<ChartRef>,
    /// Install behaviour.
    pub install: Install,
    /// Upgrade behaviour.
    pub upgrade: Upgrade,
    /// Correct in-cluster changes to what Helm rendered.
    pub drift_detection: DriftDetection,
    /// Releases that must be Ready first (helm-controller checks them before every
    /// reconcile).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<NamespacedObjectReference>,
    /// Chart values (serialized from a typed struct per chart).
    pub values: serde_json::Value,
}

/// `spec.dependsOn[]` of a [`HelmRelease`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespacedObjectReference {
    /// Name of the HelmRelease.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

/// `spec.chart` of a [`HelmRelease`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelmChartTemplate {
    /// The chart spec.
    pub spec: HelmChartSpec,
}

/// `spec.chart.spec`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartSpec {
    /// Chart name.
    pub chart: String,
    /// Exact version.
    pub version: String,
    /// The HelmRepository.
    pub source_ref: NamespacedSourceReference,
    /// How often the chart is checked.
    #[serde(serialize_with = "as_string")]
    pub interval: Duration,
}

/// A source in a given namespace (written out so Renovate can link release and repository).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamespacedSourceReference {
    /// `HelmRepository`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// `spec.chartRef`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartRef {
    /// `OCIRepository`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// How CRDs in the chart are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CrdPolicy {
    /// Do not touch CRDs (charts without CRDs).
    Skip,
    /// Create new CRDs and replace existing ones, so upgrades bring CRD changes.
    CreateReplace,
}

/// What to do after a failed install or upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StrategyName {
    /// Roll back (upgrade) or uninstall (install), then retry.
    RemediateOnFailure,
    /// Retry in place, never roll back or uninstall: for stateful components.
    RetryOnFailure,
}

/// `install`/`upgrade` `.strategy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    /// Strategy.
    pub name: StrategyName,
    /// Wait between retries (RetryOnFailure only).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_string")]
    pub retry_interval: Option<Duration>,
}

fn opt_string<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// `install`/`upgrade` `.remediation` (RemediateOnFailure only).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Remediation {
    /// Attempts before giving up; negative means unlimited (helm-controller API v2,
    /// `InstallRemediation.Retries`: "a negative integer equals to unlimited retries").
    pub retries: i32,
    /// Remediate the last failure too.
    pub remediate_last_failure: bool,
}

/// `spec.install`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// CRD policy.
    pub crds: CrdPolicy,
    /// Failure strategy.
    pub strategy: Strategy,
    /// Remediation (only with RemediateOnFailure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
}

/// `spec.upgrade`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// CRD policy (Flux's default is Skip: CRDs would never be upgraded).
    pub crds: CrdPolicy,
    /// Failure strategy.
    pub strategy: Strategy,
    /// Remediation (only with RemediateOnFailure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    /// Delete new resources of a failed upgrade.
    pub cleanup_on_fail: bool,
}

/// `spec.driftDetection`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftDetection {
    /// `enabled`, `warn` or `disabled`.
    pub mode: String,
}
