//! A Helm-installed controller: its Namespace, its Flux source and its HelmRelease, in one
//! folder `out/infrastructure/controllers/<name>/`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::namespaces::{PlatformNamespace, namespace};
use crate::Error;
use crate::charts::{Chart, ChartSource};
use crate::crd::flux::*;
use crate::object::Object;
use crate::quantity::Duration;
use crate::tree::Folder;

/// How often sources are fetched. Default: 12 h; Renovate, not polling, brings new versions.
const SOURCE_INTERVAL: Duration = Duration::hours(12);
/// How often releases are reconciled (drift correction). Default: 30 min.
const RELEASE_INTERVAL: Duration = Duration::minutes(30);

/// An image in the `{registry, repository, tag}` shape of the charts whose templates print
/// `registry/repository:tag` and have no digest field (Longhorn, Kyverno): the tag carries
/// `@sha256:…` once the image is pinned, so the rendered reference is exactly the declared one
/// (`tests/charts.rs` compares them).
#[derive(Debug, Clone, Serialize)]
pub struct RegistryRepositoryTag {
    registry: &'static str,
    repository: &'static str,
    tag: String,
}

impl From<crate::image::ChartImage> for RegistryRepositoryTag {
    fn from(i: crate::image::ChartImage) -> Self {
        Self {
            registry: i.registry(),
            repository: i.repository(),
            tag: i.tag_with_digest(),
        }
    }
}

/// Requests and limits in the shape every chart uses (`{requests: {cpu, memory}, limits: …}`).
#[derive(Debug, Clone, Serialize)]
pub struct ChartResources {
    requests: ChartCompute,
    limits: ChartCompute,
}

#[derive(Debug, Clone, Serialize)]
struct ChartCompute {
    cpu: String,
    memory: String,
}

impl From<crate::workload::Resources> for ChartResources {
    fn from(r: crate::workload::Resources) -> Self {
        let c = |x: crate::workload::Compute| ChartCompute {
            cpu: x.cpu.to_string(),
            memory: x.memory.to_string(),
        };
        Self {
            requests: c(r.requests),
            limits: c(r.limits),
        }
    }
}

/// Chart resources from millicores and MiB, checked like the workload builders' value.
pub const fn resources(
    req_cpu: u32,
    req_mib: u64,
    lim_cpu: u32,
    lim_mib: u64,
) -> crate::workload::Resources {
    use crate::quantity::{Bytes, Cpu};
    use crate::workload::{Compute, Resources};
    Resources::new(
        Compute::new(Cpu::millis(req_cpu), Bytes::mebi(req_mib)),
        Compute::new(Cpu::millis(lim_cpu), Bytes::mebi(lim_mib)),
    )
}

/// What a failed install or upgrade should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remediate {
    /// Stateless controllers: roll back a failed upgrade, uninstall a failed install, and
    /// retry without limit: with a bounded count helm-controller marks the release Stalled
    /// once the retries are spent and never tries again by itself
    /// (fluxcd/helm-controller `internal/reconcile/atomic_release.go`), which on a fresh
    /// cluster turns a transient failure into a permanent one.
    RollBack,
    /// Stateful components (storage, Prometheus): never roll back or uninstall, retry every 5
    /// minutes, because a rollback of a data-holding release can lose data.
    RetryInPlace,
}

/// A Helm-installed component.
#[derive(Debug, Clone)]
pub struct HelmComponent {
    /// Folder and release name.
    pub name: &'static str,
    /// Its namespace (Pod Security level and reason included).
    pub namespace: PlatformNamespace,
    /// The chart.
    pub chart: Chart,
    /// Whether the chart ships CRDs (then install and upgrade `CreateReplace` them).
    pub crds: bool,
    /// Failure handling.
    pub remediate: Remediate,
    /// Install/upgrade timeout.
    pub timeout: Duration,
    /// Typed chart values, serialized.
    pub values: serde_json::Value,
    /// Releases (name, namespace) that must be Ready before this one installs.
    pub depends_on: Vec<(&'static str, &'static str)>,
    /// More objects of the component's folder (file name, objects).
    pub extra_files: Vec<(String, Vec<Object>)>,
}

impl HelmComponent {
    /// A component with typed `values`.
    pub fn new<V: Serialize>(
        name: &'static str,
        namespace: PlatformNamespace,
        chart: Chart,
        values: &V,
    ) -> Result<Self, Error> {
        Ok(Self {
            name,
            namespace,
            chart,
            crds: true,
            remediate: Remediate::RollBack,
            timeout: Duration::minutes(10),
            values: serde_json::to_value(values)
                .map_err(|e| Error::Build(format!("{name} values: {e}")))?,
            depends_on: Vec::new(),
            extra_files: Vec::new(),
        })
    }

    /// The row of this release in the generated docs.
    pub fn doc_row(&self) -> super::docs::ComponentRow {
        let source = match self.chart.source {
            ChartSource::Https(u) | ChartSource::Oci(u) => u,
        };
        super::docs::ComponentRow {
            name: self.name,
            chart: self.chart.name,
            version: self.chart.version,
            source,
            namespace: self.namespace.name,
            remediation: match self.remediate {
                Remediate::RollBack => "roll back / uninstall, unlimited retries",
                Remediate::RetryInPlace => {
                    "retry in place every 5 min (never rolled back: holds data)"
                }
            },
        }
    }

    fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.namespace.name.to_string()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        }
    }

    fn release(&self) -> HelmRelease {
        let ns = self.namespace.name.to_string();
        let (chart, chart_ref) = match self.chart.source {
            ChartSource::Https(_) => (
                Some(HelmChartTemplate {
                    spec: HelmChartSpec {
                        chart: self.chart.name.to_string(),
                        version: self.chart.version.to_string(),
                        source_ref: NamespacedSourceReference {
                            kind: "HelmRepository".into(),
                            name: self.name.to_string(),
                            namespace: ns.clone(),
                        },
                        interval: SOURCE_INTERVAL,
                    },
                }),
                None,
            ),
            ChartSource::Oci(_) => (
                None,
                Some(ChartRef {
                    kind: "OCIRepository".into(),
                    name: self.name.to_string(),
                    namespace: ns,
                }),
            ),
        };
        let crds = if self.crds {
            CrdPolicy::CreateReplace
        } else {
            CrdPolicy::Skip
        };
        let (strategy, remediation) = match self.remediate {
            Remediate::RollBack => (
                Strategy {
                    name: StrategyName::RemediateOnFailure,
                    retry_interval: None,
                },
                Some(Remediation {
                    retries: -1,
                    remediate_last_failure: true,
                }),
            ),
            Remediate::RetryInPlace => (
                Strategy {
                    name: StrategyName::RetryOnFailure,
                    retry_interval: Some(Duration::minutes(5)),
                },
                None,
            ),
        };
        HelmRelease {
            metadata: self.meta(self.name),
            spec: HelmReleaseSpec {
                interval: RELEASE_INTERVAL,
                timeout: self.timeout,
                chart,
                chart_ref,
                install: Install {
                    crds,
                    strategy: strategy.clone(),
                    remediation: remediation.clone(),
                },
                upgrade: Upgrade {
                    crds,
                    strategy,
                    remediation,
                    cleanup_on_fail: true,
                },
                drift_detection: DriftDetection {
                    mode: "enabled".into(),
                },
                depends_on: self
                    .depends_on
                    .iter()
                    .map(|(name, namespace)| NamespacedObjectReference {
                        name: name.to_string(),
                        namespace: namespace.to_string(),
                    })
                    .collect(),
                values: self.values.clone(),
            },
        }
    }

    fn source(&self) -> Result<Object, Error> {
        match self.chart.source {
            ChartSource::Https(url) => Object::new(&HelmRepository {
                metadata: self.meta(self.name),
                spec: HelmRepositorySpec {
                    interval: SOURCE_INTERVAL,
                    url: url.to_string(),
                },
            }),
            ChartSource::Oci(url) => Object::new(&OCIRepository {
                metadata: self.meta(self.name),
                spec: OciRepositorySpec {
                    interval: SOURCE_INTERVAL,
                    url: url.to_string(),
                    reference: OciReference {
                        tag: self.chart.version.to_string(),
                    },
                    layer_selector: LayerSelector {
                        media_type: "application/vnd.cncf.helm.chart.content.v1.tar+gzip".into(),
                        operation: "copy".into(),
                    },
                },
            }),
        }
    }

    /// The component's folder; `extra` adds more files (e.g. another namespace).
    pub fn folder(&self, parent: &str, extra: Vec<(String, Vec<Object>)>) -> Result<Folder, Error> {
        let mut folder = Folder::new(format!("{parent}/{}", self.name)).file(
            "namespace.yaml",
            vec![Object::new(&namespace(&self.namespace))?],
        );
        for (file, objects) in extra.into_iter().chain(self.extra_files.clone()) {
            folder = folder.file(file, objects);
        }
        Ok(folder
            .file("source.yaml", vec![self.source()?])
            .file("release.yaml", vec![Object::new(&self.release())?]))
    }
}
