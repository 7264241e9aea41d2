//! Longhorn: block storage with one replica (single node), and the `longhorn-db` StorageClass.

use std::collections::BTreeMap;

use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::helm::{HelmComponent, RegistryRepositoryTag, Remediate};
use super::namespaces::{Level, PlatformNamespace, PodSecurity};
use crate::Error;
use crate::object::Object;
use crate::quantity::Duration;
use crate::settings::Settings;

/// The StorageClass of the databases.
pub const STORAGE_CLASS: &str = super::params::DB_STORAGE_CLASS;
/// Replicas per volume. Default: 1, because the cluster has one node: more replicas could
/// never be scheduled and every volume would stay Degraded.
pub const REPLICAS: u32 = 1;

/// Longhorn's namespace.
pub fn namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: "longhorn-system",
        environment: "platform",
        pod_security: PodSecurity::relaxed(
            Level::Privileged,
            "the Longhorn manager, CSI plugin and instance managers run privileged with host mounts (iSCSI, /dev, /var/lib/longhorn) to attach block devices",
        ),
        purpose: "Longhorn storage",
        network_policy_reason: Some(
            "Longhorn's own policies (chart value networkPolicies.restrictInternalTraffic) isolate its manager, UI, webhooks and recovery backend; a default deny would have to model every engine and replica port, which is the chart's to know. Our policy adds only the Prometheus scrape",
        ),
    }
}

/// The images Longhorn runs, declared beside its chart: the tag, and the digest once Renovate
/// has pinned it (`renovate.json`, the chart-image manager; grouped with the chart). Passed to
/// the chart through `image.*` (below), so what runs is exactly what is declared.
/// Not verified here: that the manager accepts a `tag@digest` reference for the images it
/// deploys itself (engine, instance and share managers, CSI sidecars, passed as arguments);
/// the `longhorn` group's pin PR is not automerged, so it is tried on the cluster first.
#[rustfmt::skip] // Renovate reads the comment and the line below it
pub mod images {
    use crate::chart_image;
    use crate::image::ChartImage;

    /// The manager (also the driver deployer, the upgrade and uninstall jobs).
    pub const MANAGER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/longhorn-manager
        chart_image!("docker.io/longhornio/longhorn-manager", "v1.12.1");
    /// The engine.
    pub const ENGINE: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/longhorn-engine
        chart_image!("docker.io/longhornio/longhorn-engine", "v1.12.1");
    /// The UI.
    pub const UI: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/longhorn-ui
        chart_image!("docker.io/longhornio/longhorn-ui", "v1.12.1");
    /// The instance manager.
    pub const INSTANCE_MANAGER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/longhorn-instance-manager
        chart_image!("docker.io/longhornio/longhorn-instance-manager", "v1.12.1");
    /// The share manager (RWX volumes).
    pub const SHARE_MANAGER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/longhorn-share-manager
        chart_image!("docker.io/longhornio/longhorn-share-manager", "v1.12.1");
    /// The backing image manager.
    pub const BACKING_IMAGE_MANAGER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/backing-image-manager
        chart_image!("docker.io/longhornio/backing-image-manager", "v1.12.1");
    /// The support bundle kit.
    pub const SUPPORT_BUNDLE_KIT: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/support-bundle-kit
        chart_image!("docker.io/longhornio/support-bundle-kit", "v0.0.92");
    /// CSI attacher.
    pub const CSI_ATTACHER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/csi-attacher
        chart_image!("docker.io/longhornio/csi-attacher", "v4.12.0");
    /// CSI provisioner.
    pub const CSI_PROVISIONER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/csi-provisioner
        chart_image!("docker.io/longhornio/csi-provisioner", "v5.3.0");
    /// CSI node driver registrar.
    pub const CSI_NODE_DRIVER_REGISTRAR: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/csi-node-driver-registrar
        chart_image!("docker.io/longhornio/csi-node-driver-registrar", "v2.17.0");
    /// CSI resizer.
    pub const CSI_RESIZER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/csi-resizer
        chart_image!("docker.io/longhornio/csi-resizer", "v2.2.1");
    /// CSI snapshotter.
    pub const CSI_SNAPSHOTTER: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/csi-snapshotter
        chart_image!("docker.io/longhornio/csi-snapshotter", "v8.6.0");
    /// CSI liveness probe.
    pub const CSI_LIVENESS_PROBE: ChartImage =
        // renovate: datasource=docker depName=docker.io/longhornio/livenessprobe
        chart_image!("docker.io/longhornio/livenessprobe", "v2.19.0");

    /// Every one.
    pub const ALL: [ChartImage; 13] = [
        MANAGER, ENGINE, UI, INSTANCE_MANAGER, SHARE_MANAGER, BACKING_IMAGE_MANAGER,
        SUPPORT_BUNDLE_KIT, CSI_ATTACHER, CSI_PROVISIONER, CSI_NODE_DRIVER_REGISTRAR, CSI_RESIZER,
        CSI_SNAPSHOTTER, CSI_LIVENESS_PROBE,
    ];
}

/// The chart values we set (everything else is the chart's default).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    image: ImageValues,
    persistence: Persistence,
    default_settings: DefaultSettings,
    default_backup_store: DefaultBackupStore,
    metrics: Metrics,
}

/// The chart writes these into its `longhorn-default-resource` ConfigMap as `backup-target`
/// and `backup-target-credential-secret` (longhorn v1.12.1 `chart/templates/default-resource.yaml`
/// lines 9-13), from which the manager sets up the `default` BackupTarget.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultBackupStore {
    /// `s3://<bucket>@<region>/<path>`.
    backup_target: String,
    /// Secret in longhorn-system with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_ENDPOINTS` (Longhorn's S3 backupstore credentials).
    backup_target_credential_secret: &'static str,
}

/// The Secret of Longhorn's S3 credentials (platform scope).
pub const BACKUP_SECRET: &str = "longhorn-backup-s3";
/// Its keys.
pub const BACKUP_SECRET_KEYS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_ENDPOINTS",
    "AWS_SECRET_ACCESS_KEY",
];
/// The prefix of the volume backups in the bucket.
pub const BACKUP_PREFIX: &str = "longhorn";
/// The StorageClass the chart itself creates (longhorn chart 1.12.1
/// `templates/storageclass.yaml:13,19`: `longhorn`, provisioner `driver.longhorn.io`).
pub const CHART_STORAGE_CLASS: &str = "longhorn";
/// The recurring backup of every volume.
pub const RECURRING_BACKUP: &str = "daily-backup";

/// The backup target URL for the bucket.
pub fn backup_target(settings: &Settings) -> String {
    let s3 = &settings.cluster.s3;
    format!("s3://{}@{}/{BACKUP_PREFIX}/", s3.bucket.as_str(), s3.region)
}

/// Backs every Longhorn volume up on the schedule of `[s3.volume_backups]`: the `default`
/// group holds every volume without a recurring-job label of its own (longhorn/longhorn
/// `enhancements/20210624-label-driven-recurring-job.md`, "Default" group), so a new volume
/// is covered without a label to forget.
pub fn recurring_backup(settings: &Settings) -> crate::crd::longhorn::RecurringJob {
    let v = &settings.cluster.s3.volume_backups;
    crate::crd::longhorn::RecurringJob {
        metadata: ObjectMeta {
            name: Some(RECURRING_BACKUP.into()),
            namespace: Some(namespace().name.into()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: crate::crd::longhorn::RecurringJobSpec {
            name: RECURRING_BACKUP.into(),
            task: "backup".into(),
            cron: v.schedule.as_str().into(),
            retain: *v.retain.get_ref(),
            concurrency: 1,
            groups: vec!["default".into()],
            labels: BTreeMap::from([("o4g.dev/backup".to_string(), RECURRING_BACKUP.to_string())]),
        },
    }
}

/// `image.longhorn.*` and `image.csi.*`: each printed `registry/repository:tag` (longhorn
/// v1.12.1 `chart/templates/daemonset-sa.yaml:23,35-45`, `deployment-driver.yaml:19-79`,
/// `deployment-ui.yaml:87`), so a pinned image passes `tag@digest`.
#[derive(Debug, Serialize)]
struct ImageValues {
    longhorn: BTreeMap<&'static str, RegistryRepositoryTag>,
    csi: BTreeMap<&'static str, RegistryRepositoryTag>,
}

fn image_values(pin: crate::image::Pin<'_>) -> ImageValues {
    use images::*;
    let map = |pairs: &[(&'static str, crate::image::ChartImage)]| {
        pairs.iter().map(|(k, i)| (*k, pin(*i).into())).collect()
    };
    ImageValues {
        longhorn: map(&[
            ("engine", ENGINE),
            ("manager", MANAGER),
            ("ui", UI),
            ("instanceManager", INSTANCE_MANAGER),
            ("shareManager", SHARE_MANAGER),
            ("backingImageManager", BACKING_IMAGE_MANAGER),
            ("supportBundleKit", SUPPORT_BUNDLE_KIT),
        ]),
        csi: map(&[
            ("attacher", CSI_ATTACHER),
            ("provisioner", CSI_PROVISIONER),
            ("nodeDriverRegistrar", CSI_NODE_DRIVER_REGISTRAR),
            ("resizer", CSI_RESIZER),
            ("snapshotter", CSI_SNAPSHOTTER),
            ("livenessProbe", CSI_LIVENESS_PROBE),
        ]),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Persistence {
    /// The chart's own `longhorn` class is not the default: claims name their class.
    default_class: bool,
    default_class_replica_count: u32,
    reclaim_policy: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DefaultSettings {
    /// Data-engine specific JSON, the form Longhorn ≥ 1.10 expects.
    default_replica_count: String,
    /// Keep the last 15% of the disk free for the node itself.
    storage_minimal_available_percentage: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    service_monitor: Enabled,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

/// The HelmRelease of Longhorn.
pub fn component(settings: &Settings) -> Result<HelmComponent, Error> {
    component_with(settings, &|i| i)
}

/// The HelmRelease of Longhorn with its images passed through `pin`.
pub fn component_with(
    settings: &Settings,
    pin: crate::image::Pin<'_>,
) -> Result<HelmComponent, Error> {
    let values = Values {
        image: image_values(pin),
        default_backup_store: DefaultBackupStore {
            backup_target: backup_target(settings),
            backup_target_credential_secret: BACKUP_SECRET,
        },
        persistence: Persistence {
            default_class: false,
            default_class_replica_count: REPLICAS,
            reclaim_policy: "Retain",
        },
        default_settings: DefaultSettings {
            default_replica_count: format!("{{\"v1\":\"{REPLICAS}\",\"v2\":\"{REPLICAS}\"}}"),
            storage_minimal_available_percentage: 15,
        },
        // Off: the ServiceMonitor CRD comes with kube-prometheus-stack, which itself waits for
        // Longhorn (its volumes), so a chart monitor here could never install on a fresh
        // cluster. The scrape is declared by the observability work in infra-configs.
        metrics: Metrics {
            service_monitor: Enabled { enabled: false },
        },
    };
    let mut c = HelmComponent::new("longhorn", namespace(), crate::charts::LONGHORN, &values)?;
    // `longhorn-db` is a core StorageClass: applied with the controllers, it exists before
    // kube-prometheus-stack (which depends on this release) claims its volumes on it.
    c.extra_files = vec![("storageclass.yaml".into(), config_objects()?)];
    c.remediate = Remediate::RetryInPlace;
    c.timeout = Duration::minutes(15);
    Ok(c)
}

/// `longhorn-db`: one replica, xfs, kept on claim deletion, expandable.
pub fn storage_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(STORAGE_CLASS.into()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        provisioner: "driver.longhorn.io".into(),
        allow_volume_expansion: Some(true),
        reclaim_policy: Some("Retain".into()),
        volume_binding_mode: Some("Immediate".into()),
        parameters: Some(BTreeMap::from([
            ("numberOfReplicas".to_string(), REPLICAS.to_string()),
            // Minutes before a failed replica is cleaned up (the chart's own value).
            ("staleReplicaTimeout".to_string(), "30".to_string()),
            ("fsType".to_string(), "xfs".to_string()),
            ("dataLocality".to_string(), "best-effort".to_string()),
            ("dataEngine".to_string(), "v1".to_string()),
        ])),
        ..Default::default()
    }
}

/// The objects of `out/infrastructure/configs/storage/`.
pub fn config_objects() -> Result<Vec<Object>, Error> {
    Ok(vec![Object::new(&storage_class())?])
}

/// Prometheus's scrape of the Longhorn managers (volume and node metrics): the chart's
/// `longhorn-backend` Service, port `manager` (9500), as the chart's own (disabled) monitor
/// selects it (longhorn v1.12.1 `chart/templates/servicemonitor.yaml`).
pub fn service_monitor() -> crate::crd::monitoring::ServiceMonitor {
    crate::crd::monitoring::service_monitor(
        "longhorn-manager",
        namespace().name,
        &[("app", "longhorn-manager")],
        "manager",
    )
}

/// Longhorn: its release (with the StorageClass), the volume backups' RecurringJob and their
/// S3 Secret.
pub struct Longhorn;

impl super::contribution::Component for Longhorn {
    fn name(&self) -> &'static str {
        "longhorn"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        let mut keys: Vec<String> = BACKUP_SECRET_KEYS.map(String::from).to_vec();
        keys.sort();
        Ok(super::contribution::Contribution {
            releases: vec![(component(plan.settings)?, vec![])],
            chart_namespaces: vec![super::contribution::ChartNamespace {
                namespace: namespace().name,
                images: images::ALL.to_vec(),
                held_by: vec![
                    (
                        "run-as-non-root",
                        "the manager, the driver deployer, the UI and the upgrade and uninstall jobs run as root (the manager is privileged to attach block devices)",
                    ),
                    (
                        "requests-limits",
                        "the chart sets no requests or limits on its pods",
                    ),
                ],
            }],
            configs: vec![(
                "backups",
                "recurringjobs.yaml".into(),
                vec![Object::new(&recurring_backup(plan.settings))?],
            )],
            secrets: vec![crate::secrets::RequiredSecret {
                scope: crate::settings::PLATFORM_SCOPE.into(),
                namespace: namespace().name.into(),
                name: BACKUP_SECRET.into(),
                keys,
            }],
            ..Default::default()
        })
    }
}
