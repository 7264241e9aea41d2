//! Grafana dashboards from a small typed model, shipped as ConfigMaps labelled
//! `grafana_dashboard: "1"` in `observability` (kube-prometheus-stack's Grafana sidecar loads
//! them). Every panel has a title and a unit; every query names only metrics some exporter of
//! the platform exposes ([`KNOWN_METRICS`]), which `tests/dashboards.rs` checks, and parses as
//! PromQL in `promtool`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

/// The Prometheus datasource kube-prometheus-stack provisions (values.yaml
/// `grafana.sidecar.datasources.uid: prometheus`).
pub const DATASOURCE_UID: &str = "prometheus";

/// Metrics the platform's exporters expose, by exporter: what dashboards and alerts may use.
pub const KNOWN_METRICS: &[(&str, &[&str])] = &[
    (
        "mysqld-exporter",
        &[
            "mysql_up",
            "mysql_global_status_threads_connected",
            "mysql_global_variables_max_connections",
            "mysql_global_status_queries",
            "mysql_global_status_slow_queries",
            "mysql_global_status_innodb_buffer_pool_bytes_data",
            "mysql_global_variables_innodb_buffer_pool_size",
        ],
    ),
    (
        "ingress-nginx",
        &[
            "nginx_ingress_controller_requests",
            "nginx_ingress_controller_request_duration_seconds_bucket",
        ],
    ),
    // traefik/traefik v3.7.9 `pkg/observability/metrics/prometheus.go:43,45` (router metrics,
    // on with `metrics.prometheus.addRoutersLabels`).
    (
        "traefik",
        &[
            "traefik_router_requests_total",
            "traefik_router_request_duration_seconds_bucket",
        ],
    ),
    // kubernetes/kube-state-metrics v2.20.0 `internal/store/cronjob.go` (lines 46, 120, 181)
    // and `internal/store/job.go` (lines 40, 205, 314, 339).
    (
        "kube-state-metrics",
        &[
            "kube_deployment_status_replicas_available",
            "kube_cronjob_status_last_successful_time",
            "kube_cronjob_created",
            "kube_cronjob_labels",
            "kube_job_status_failed",
            "kube_job_failed",
            "kube_job_status_start_time",
            "kube_job_labels",
        ],
    ),
    (
        "kubelet",
        &[
            "kubelet_volume_stats_used_bytes",
            "kubelet_volume_stats_capacity_bytes",
            "container_memory_working_set_bytes",
            "container_cpu_usage_seconds_total",
        ],
    ),
    (
        "longhorn",
        &[
            "longhorn_volume_robustness",
            "longhorn_volume_actual_size_bytes",
            "longhorn_volume_capacity_bytes",
            "longhorn_node_storage_usage_bytes",
            "longhorn_node_storage_capacity_bytes",
            // longhorn-manager v1.12.1 `metrics_collector/volume_collector.go:90` and
            // `backup_collector.go:44`.
            "longhorn_volume_last_backup_at",
            "longhorn_backup_state",
        ],
    ),
    // actions/actions-runner-controller@2ee6b3b8e8 `cmd/ghalistener/metrics/metrics.go:37-44`.
    (
        "gha-runner-scale-set listener",
        &[
            "gha_assigned_jobs",
            "gha_running_jobs",
            "gha_idle_runners",
            "gha_busy_runners",
            "gha_registered_runners",
        ],
    ),
    // kube-state-metrics' custom resource state for Flux (`monitoring::flux_resource_state`).
    ("kube-state-metrics (Flux objects)", &["gotk_resource_info"]),
    (
        "cert-manager",
        &[
            "certmanager_certificate_expiration_timestamp_seconds",
            "certmanager_certificate_ready_status",
        ],
    ),
];

/// A panel's unit (Grafana unit ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (IEC).
    Bytes,
    /// A 0–1 ratio shown as a percentage.
    Ratio,
    /// Seconds.
    Seconds,
    /// Requests per second.
    RequestsPerSecond,
    /// Operations per second.
    OpsPerSecond,
    /// A plain count.
    Count,
    /// A Unix timestamp in seconds, shown as a date.
    DateTime,
}

impl Unit {
    /// Grafana's id for the unit.
    pub const fn id(self) -> &'static str {
        match self {
            Self::Bytes => "bytes",
            Self::Ratio => "percentunit",
            Self::Seconds => "s",
            Self::RequestsPerSecond => "reqps",
            Self::OpsPerSecond => "ops",
            Self::Count => "short",
            Self::DateTime => "dateTimeAsIso",
        }
    }
}

/// A time-series panel with one or more queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// Title.
    pub title: &'static str,
    /// Unit of every query.
    pub unit: Unit,
    /// (PromQL, legend).
    pub queries: Vec<(String, &'static str)>,
}

/// A dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// Stable uid (also the ConfigMap key).
    pub uid: &'static str,
    /// Title.
    pub title: &'static str,
    /// Panels, laid out two per row.
    pub panels: Vec<Panel>,
}

fn panel(title: &'static str, unit: Unit, queries: &[(&str, &'static str)]) -> Panel {
    Panel {
        title,
        unit,
        queries: queries.iter().map(|(q, l)| (q.to_string(), *l)).collect(),
    }
}

/// Every dashboard of the platform.
pub fn all(settings: &crate::settings::Settings) -> Vec<Dashboard> {
    use super::backup::{BACKUP_COMPONENT, RESTORE_COMPONENT};
    use Unit::*;
    let traffic = super::ingress::traffic(settings);
    vec![
        Dashboard {
            uid: "o4g-mysql",
            title: MYSQL,
            panels: vec![
                panel(MYSQL_UP, Count, &[("mysql_up", "{{namespace}}")]),
                panel(
                    "Connections in use",
                    Ratio,
                    &[(
                        "mysql_global_status_threads_connected / mysql_global_variables_max_connections",
                        "{{namespace}}",
                    )],
                ),
                panel(
                    "Queries",
                    OpsPerSecond,
                    &[("rate(mysql_global_status_queries[5m])", "{{namespace}}")],
                ),
                panel(
                    "Slow queries",
                    OpsPerSecond,
                    &[(
                        "rate(mysql_global_status_slow_queries[5m])",
                        "{{namespace}}",
                    )],
                ),
                panel(
                    "InnoDB buffer pool in use",
                    Bytes,
                    &[
                        (
                            "mysql_global_status_innodb_buffer_pool_bytes_data",
                            "{{namespace}}",
                        ),
                        (
                            "mysql_global_variables_innodb_buffer_pool_size",
                            "{{namespace}} size",
                        ),
                    ],
                ),
                panel(
                    "MySQL memory",
                    Bytes,
                    &[(
                        "sum by (namespace) (container_memory_working_set_bytes{container=\"mysql\"})",
                        "{{namespace}}",
                    )],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-xwiki",
            title: XWIKI,
            panels: vec![
                panel(
                    REQUESTS,
                    RequestsPerSecond,
                    &[(&traffic.requests, "{{host}}")],
                ),
                panel(
                    ERRORS,
                    Ratio,
                    &[(
                        // A host without a 5xx shows 0, not a gap.
                        &format!(
                            "({e} or {r} * 0) / {r}",
                            e = traffic.errors,
                            r = traffic.requests
                        ),
                        "{{host}}",
                    )],
                ),
                panel(
                    "5xx per host",
                    RequestsPerSecond,
                    &[(&traffic.errors, "{{host}}")],
                ),
                panel(
                    "Latency p95 per host",
                    Seconds,
                    &[(&traffic.latency_p95, "{{host}}")],
                ),
                panel(
                    XWIKI_READY,
                    Count,
                    &[(
                        "kube_deployment_status_replicas_available{deployment=\"xwiki\"}",
                        "{{namespace}}",
                    )],
                ),
                panel(
                    "XWiki memory",
                    Bytes,
                    &[(
                        "sum by (namespace) (container_memory_working_set_bytes{container=\"xwiki\"})",
                        "{{namespace}}",
                    )],
                ),
                panel(
                    "XWiki CPU",
                    Count,
                    &[(
                        "sum by (namespace) (rate(container_cpu_usage_seconds_total{container=\"xwiki\"}[5m]))",
                        "{{namespace}}",
                    )],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-longhorn",
            title: LONGHORN,
            panels: vec![
                panel(
                    "Volumes not healthy",
                    Count,
                    &[(
                        "sum by (volume, pvc_namespace, pvc, state) (longhorn_volume_robustness{state!=\"healthy\"})",
                        "{{pvc_namespace}}/{{pvc}} {{state}}",
                    )],
                ),
                panel(
                    "Volume space used on disk",
                    Bytes,
                    &[
                        (
                            "longhorn_volume_actual_size_bytes",
                            "{{pvc_namespace}}/{{pvc}}",
                        ),
                        (
                            "longhorn_volume_capacity_bytes",
                            "{{pvc_namespace}}/{{pvc}} size",
                        ),
                    ],
                ),
                panel(
                    "Filesystem usage per claim",
                    Ratio,
                    &[(
                        "kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes",
                        "{{namespace}}/{{persistentvolumeclaim}}",
                    )],
                ),
                panel(
                    "Node storage",
                    Bytes,
                    &[
                        ("longhorn_node_storage_usage_bytes", "{{node}} used"),
                        ("longhorn_node_storage_capacity_bytes", "{{node}} capacity"),
                    ],
                ),
                panel(
                    VOLUME_BACKUP_AGE,
                    Seconds,
                    &[(
                        "time() - longhorn_volume_last_backup_at",
                        "{{pvc_namespace}}/{{pvc}}",
                    )],
                ),
                panel(
                    "Failed volume backups",
                    Count,
                    &[("longhorn_backup_state == 4", "{{volume}} {{backup}}")],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-backups",
            title: BACKUPS,
            panels: vec![
                panel(
                    BACKUP_AGE,
                    Seconds,
                    &[(
                        &format!(
                            "time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time) and on (namespace, cronjob) {}",
                            component(BACKUP_COMPONENT)
                        ),
                        "{{namespace}}/{{cronjob}}",
                    )],
                ),
                panel(
                    "Last successful backup",
                    DateTime,
                    &[(
                        &format!(
                            "max by (namespace, cronjob) (kube_cronjob_status_last_successful_time) and on (namespace, cronjob) {}",
                            component(BACKUP_COMPONENT)
                        ),
                        "{{namespace}}/{{cronjob}}",
                    )],
                ),
                panel(
                    "Failed backup and restore-test jobs",
                    Count,
                    &[(
                        &format!(
                            "kube_job_failed{{condition=\"true\"}} == 1 and on (namespace, job_name) kube_job_labels{{label_app_kubernetes_io_component=~\"{BACKUP_COMPONENT}|{RESTORE_COMPONENT}\"}}"
                        ),
                        "{{namespace}}/{{job_name}}",
                    )],
                ),
                panel(
                    RESTORE_TEST,
                    DateTime,
                    &[(
                        &format!(
                            "max by (namespace, cronjob) (kube_cronjob_status_last_successful_time) and on (namespace, cronjob) {}",
                            component(RESTORE_COMPONENT)
                        ),
                        "{{namespace}}/{{cronjob}}",
                    )],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-certificates",
            title: CERTIFICATES,
            panels: vec![
                panel(
                    CERT_EXPIRY,
                    Seconds,
                    &[(
                        "certmanager_certificate_expiration_timestamp_seconds - time()",
                        "{{exported_namespace}}/{{name}}",
                    )],
                ),
                panel(
                    "Certificates not Ready",
                    Count,
                    &[(
                        "certmanager_certificate_ready_status{condition=\"True\"} == 0",
                        "{{exported_namespace}}/{{name}}",
                    )],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-flux",
            title: FLUX,
            panels: vec![
                panel(
                    FLUX_NOT_READY,
                    Count,
                    &[(
                        "gotk_resource_info{ready!=\"True\"}",
                        "{{customresource_kind}} {{exported_namespace}}/{{name}}",
                    )],
                ),
                panel(
                    "Suspended Flux objects",
                    Count,
                    &[(
                        "gotk_resource_info{suspended=\"true\"}",
                        "{{customresource_kind}} {{exported_namespace}}/{{name}}",
                    )],
                ),
                panel(
                    FLUX_REVISIONS,
                    Count,
                    &[(
                        "gotk_resource_info{customresource_kind=\"Kustomization\"}",
                        "{{name}} {{revision}}",
                    )],
                ),
            ],
        },
        Dashboard {
            uid: "o4g-runners",
            title: "Open4Goods / CI runners",
            panels: vec![panel(
                "Runner jobs waiting, idle runners",
                Count,
                &[
                    ("gha_assigned_jobs - gha_running_jobs", "{{name}} waiting"),
                    ("gha_idle_runners", "{{name}} idle"),
                ],
            )],
        },
    ]
}

/// `kube_cronjob_labels` of the CronJobs whose `app.kubernetes.io/component` is `c`.
fn component(c: &str) -> String {
    format!("kube_cronjob_labels{{label_app_kubernetes_io_component=\"{c}\"}}")
}

/// The dashboards' titles and the panels the cutover runbook names.
const XWIKI: &str = "Open4Goods / XWiki and ingress";
const MYSQL: &str = "Open4Goods / MySQL";
const LONGHORN: &str = "Open4Goods / Volumes and Longhorn backups";
const BACKUPS: &str = "Open4Goods / Backups and restore tests";
const CERTIFICATES: &str = "Open4Goods / Certificates";
const FLUX: &str = "Open4Goods / Flux reconciliation";
const REQUESTS: &str = "Requests per host";
const ERRORS: &str = "5xx ratio per host";
const XWIKI_READY: &str = "XWiki available replicas";
const MYSQL_UP: &str = "MySQL up";
const BACKUP_AGE: &str = "Age of the newest backup";
const RESTORE_TEST: &str = "Last passed restore test";
const VOLUME_BACKUP_AGE: &str = "Age of the newest volume backup";
const CERT_EXPIRY: &str = "Time to certificate expiry";
const FLUX_NOT_READY: &str = "Flux objects not Ready";
const FLUX_REVISIONS: &str = "Applied revision per Kustomization";

/// A panel the cutover checklist names: dashboard, panel, what it must show then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutoverPanel {
    /// Dashboard title.
    pub dashboard: &'static str,
    /// Panel title.
    pub panel: &'static str,
    /// What it must show during and after the cutover.
    pub expect: &'static str,
}

/// The panels the cutover runbook lists (`tests/dashboards.rs` checks each exists).
pub fn cutover_panels() -> Vec<CutoverPanel> {
    let p = |dashboard, panel, expect| CutoverPanel {
        dashboard,
        panel,
        expect,
    };
    vec![
        p(
            FLUX,
            FLUX_NOT_READY,
            "empty: every layer reconciled, the apps Kustomization resumed after the import",
        ),
        p(
            FLUX,
            FLUX_REVISIONS,
            "the deployed revision (the one given to `o4g verify --revision`) on every Kustomization",
        ),
        p(
            XWIKI,
            XWIKI_READY,
            "0 while scaled down for the import, then 1 again (the import's check: the xwiki pod is Ready)",
        ),
        p(
            MYSQL,
            MYSQL_UP,
            "1 throughout, also while XWiki is scaled to 0 for the import",
        ),
        p(
            XWIKI,
            REQUESTS,
            "the environment's host appears after the DNS switch and carries the traffic the legacy host had",
        ),
        p(
            XWIKI,
            ERRORS,
            "under 5 % after the switch (the rollback threshold, IngressHigh5xxRate)",
        ),
        p(
            CERTIFICATES,
            CERT_EXPIRY,
            "about 90 days for the host's certificate, issued after the switch",
        ),
        p(
            BACKUPS,
            BACKUP_AGE,
            "under 24 h once the first nightly run (or `backup-now`) has committed",
        ),
        p(
            LONGHORN,
            VOLUME_BACKUP_AGE,
            "under LonghornBackupTooOld's threshold (the RecurringJob's longest gap plus its grace) once the first volume backup ran; a volume never backed up shows the age of the Unix epoch",
        ),
        p(
            BACKUPS,
            RESTORE_TEST,
            "the next monthly run passes (T+24 h: scheduled)",
        ),
    ]
}

/// The Grafana JSON model of a dashboard (schema version 39).
pub fn to_json(d: &Dashboard) -> Value {
    let panels: Vec<Value> = d
        .panels
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": p.title,
                "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "fieldConfig": {"defaults": {"unit": p.unit.id()}, "overrides": []},
                "targets": p.queries.iter().enumerate().map(|(j, (q, legend))| json!({
                    "refId": char::from(b'A' + j as u8).to_string(),
                    "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                    "expr": q,
                    "legendFormat": legend,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "uid": d.uid,
        "title": d.title,
        "tags": ["open4goods"],
        "schemaVersion": 39,
        "editable": false,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "panels": panels,
    })
}

/// The dashboards' ConfigMaps in `observability`.
pub fn config_maps(settings: &crate::settings::Settings) -> Vec<ConfigMap> {
    let (k, v) = super::monitoring::DASHBOARD_LABEL;
    all(settings)
        .iter()
        .map(|d| ConfigMap {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("dashboard-{}", d.uid)),
                namespace: Some(super::monitoring::NAMESPACE.into()),
                labels: Some(BTreeMap::from([
                    (k.to_string(), v.to_string()),
                    (
                        "app.kubernetes.io/part-of".to_string(),
                        crate::PART_OF.to_string(),
                    ),
                ])),
                // Legends hold `{{ }}`; nothing here is for Flux's variable substitution.
                annotations: Some(BTreeMap::from([(
                    "kustomize.toolkit.fluxcd.io/substitute".to_string(),
                    "disabled".to_string(),
                )])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                format!("{}.json", d.uid),
                serde_json::to_string_pretty(&to_json(d)).unwrap_or_default(),
            )])),
            ..Default::default()
        })
        .collect()
}

/// The Grafana dashboards, as ConfigMaps the sidecar loads.
pub struct Dashboards;

impl super::contribution::Component for Dashboards {
    fn name(&self) -> &'static str {
        "dashboards"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, crate::Error> {
        let maps = config_maps(plan.settings)
            .iter()
            .map(crate::object::Object::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(super::contribution::Contribution {
            configs: vec![("monitoring", "dashboards.yaml".into(), maps)],
            ..Default::default()
        })
    }
}
