//! Workload objects around the restricted pod templates: Deployment, StatefulSet, Service,
//! PersistentVolumeClaim, all labelled the same way and selecting by the same labels.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::container::Port;
use crate::quantity::Bytes;

/// The `app.kubernetes.io/*` labels of one application part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLabels {
    /// `app.kubernetes.io/name`, e.g. `mysql`.
    pub name: &'static str,
    /// `app.kubernetes.io/instance`. Default: the name, because each namespace runs one.
    pub instance: &'static str,
    /// `app.kubernetes.io/component`, e.g. `database`.
    pub component: &'static str,
    /// `app.kubernetes.io/version`, e.g. `8.0.46` (not part of selectors).
    pub version: String,
    /// Extra labels on every object and pod (e.g. the environment), never in selectors.
    pub extra: BTreeMap<String, String>,
}

impl AppLabels {
    /// Every label.
    pub fn all(&self) -> BTreeMap<String, String> {
        let mut m = self.selector();
        m.insert("app.kubernetes.io/component".into(), self.component.into());
        m.insert("app.kubernetes.io/part-of".into(), crate::PART_OF.into());
        m.insert("app.kubernetes.io/version".into(), self.version.clone());
        m.extend(self.extra.clone());
        m
    }
    /// The labels selectors use: name and instance only, so that version and environment
    /// changes never touch an immutable selector.
    pub fn selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), self.name.to_string()),
            (
                "app.kubernetes.io/instance".to_string(),
                self.instance.to_string(),
            ),
        ])
    }
    /// The labels that never change over the object's life (selector, component, part-of),
    /// for immutable places such as StatefulSet claim templates.
    pub fn stable(&self) -> BTreeMap<String, String> {
        let mut m = self.selector();
        m.insert("app.kubernetes.io/component".into(), self.component.into());
        m.insert("app.kubernetes.io/part-of".into(), crate::PART_OF.into());
        m
    }
    /// Metadata with a name and every label.
    pub fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(self.all()),
            ..Default::default()
        }
    }
}

fn selector(labels: &AppLabels) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.selector()),
        match_expressions: None,
    }
}

/// A one-replica Deployment. `recreate`: stop the old pod before starting the new one, for
/// pods that hold a ReadWriteOnce volume.
pub fn deployment(
    labels: &AppLabels,
    name: &str,
    template: core::PodTemplateSpec,
    recreate: bool,
) -> apps::Deployment {
    apps::Deployment {
        metadata: labels.meta(name),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            selector: selector(labels),
            strategy: recreate.then(|| apps::DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template,
            ..Default::default()
        }),
        status: None,
    }
}

/// A one-replica StatefulSet with its claim templates, governed by `service`. The claim
/// templates keep only [`AppLabels::stable`] labels: Kubernetes refuses any later change to
/// them, so a version or environment label there would block every upgrade.
pub fn stateful_set(
    labels: &AppLabels,
    name: &str,
    service: &str,
    template: core::PodTemplateSpec,
    claims: Vec<core::PersistentVolumeClaim>,
) -> apps::StatefulSet {
    apps::StatefulSet {
        metadata: labels.meta(name),
        spec: Some(apps::StatefulSetSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            service_name: Some(service.to_string()),
            selector: selector(labels),
            template,
            volume_claim_templates: Some(
                claims
                    .into_iter()
                    .map(|mut c| {
                        c.metadata.labels = Some(labels.stable());
                        c
                    })
                    .collect(),
            ),
            // Keep the data when the StatefulSet is deleted or scaled down.
            persistent_volume_claim_retention_policy: Some(
                apps::StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            ..Default::default()
        }),
        status: None,
    }
}

/// A CronJob running `template` on `schedule`: no overlapping runs, a bounded number of
/// retries, each run stopped after `deadline` (all retries included), and finished Jobs
/// kept for inspection.
pub fn cron_job(
    labels: &AppLabels,
    name: &str,
    schedule: &crate::settings::values::CronSchedule,
    template: core::PodTemplateSpec,
    deadline: crate::quantity::Duration,
) -> k8s_openapi::api::batch::v1::CronJob {
    use k8s_openapi::api::batch::v1 as batch;
    batch::CronJob {
        metadata: labels.meta(name),
        spec: Some(batch::CronJobSpec {
            schedule: schedule.as_str().to_string(),
            // A run still going when the next is due is a problem to see, not to double.
            concurrency_policy: Some("Forbid".into()),
            // Missed by more than an hour (node down): skip, the next run comes.
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: batch::JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.all()),
                    ..Default::default()
                }),
                spec: Some(batch::JobSpec {
                    backoff_limit: Some(2),
                    active_deadline_seconds: Some(deadline.as_secs() as i64),
                    template,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// A Service selecting `labels`' pods, each port targeting the container port by name.
/// `headless`: no cluster IP (the StatefulSet's governing Service).
pub fn service(labels: &AppLabels, name: &str, ports: &[Port], headless: bool) -> core::Service {
    core::Service {
        metadata: labels.meta(name),
        spec: Some(core::ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".into()),
            selector: Some(labels.selector()),
            ports: Some(
                ports
                    .iter()
                    .map(|p| core::ServicePort {
                        name: Some(p.name.to_string()),
                        port: i32::from(p.number),
                        target_port: Some(IntOrString::String(p.name.to_string())),
                        protocol: Some(p.protocol.as_str().to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

/// A ReadWriteOnce claim of `size` on `storage_class`.
pub fn claim(
    labels: &AppLabels,
    name: &str,
    size: Bytes,
    storage_class: &str,
) -> core::PersistentVolumeClaim {
    core::PersistentVolumeClaim {
        metadata: labels.meta(name),
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some(storage_class.to_string()),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(size.to_string()),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}
