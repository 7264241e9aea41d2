//! Alerts as typed Rust: one `PrometheusRule` group per concern, each alert with a severity,
//! a summary, a description and a runbook section in `out/docs/runbooks/alerts.md`.
//!
//! Expressions are written against the series as Prometheus stores them after a
//! kube-prometheus-stack scrape, not as the exporters print them: target labels (`namespace`,
//! `service`, `pod`, `job`) are added, and an exporter label that collides with one while
//! `honorLabels` is false is renamed `exported_<name>`. So cert-manager's Certificate
//! namespace is `exported_namespace` (its metrics carry `namespace`, and our ServiceMonitor
//! keeps `honorLabels` false); ingress-nginx's Ingress namespace likewise. kubelet volume stats
//! keep `namespace` (kube-prometheus-stack 88.5.3 `templates/exporters/kubelet/servicemonitor.yaml:49`
//! takes `honorLabels` from `kubelet.serviceMonitor.honorLabels`, `true` at `values.yaml:1803`). `tests/alerts.rs` runs every rule in
//! `promtool test rules` with those stored label sets.

use std::collections::BTreeMap;

use crate::crd::monitoring::{AlertingRule, PrometheusRule, PrometheusRuleSpec, RuleGroup};
use crate::settings::Settings;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Needs attention within a working day.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Name (also the runbook anchor, lower-cased).
    pub name: String,
    /// PromQL.
    pub expr: String,
    /// Hold time, e.g. `10m`.
    pub hold: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line, may use `{{ $labels.x }}`.
    pub summary: String,
    /// What it means and what to look at first.
    pub description: String,
    /// Alerts of one family and object inhibit each other by severity (Alertmanager's
    /// `family` label): the warning and the critical of the same threshold pair.
    pub family: &'static str,
}

/// A group of alerts for one concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name.
    pub name: &'static str,
    /// Its alerts.
    pub alerts: Vec<Alert>,
}

fn alert(
    name: &str,
    expr: impl Into<String>,
    hold: &'static str,
    severity: Severity,
    summary: &str,
    description: &str,
) -> Alert {
    Alert {
        name: name.into(),
        expr: expr.into(),
        hold,
        severity,
        summary: summary.into(),
        description: description.into(),
        family: family_of(name),
    }
}

/// The inhibition family of an alert: the warning/critical pairs of one threshold.
fn family_of(name: &str) -> &'static str {
    match name {
        "CertificateExpiresIn21Days" | "CertificateExpiresIn7Days" => "certificate-expiry",
        "LonghornVolumeDegraded" | "LonghornVolumeFaulted" => "longhorn-volume",
        "PersistentVolumeUsageOver80Percent" | "PersistentVolumeUsageOver90Percent" => "pv-usage",
        _ => "",
    }
}

/// Days, in seconds, for PromQL.
fn days(n: u64) -> u64 {
    n * 86_400
}

/// Every alert group of the platform.
pub fn groups(settings: &Settings) -> Vec<Group> {
    use Severity::*;
    let expiry = |d| {
        format!(
            "certmanager_certificate_expiration_timestamp_seconds - time() < {}",
            days(d)
        )
    };
    let cert_summary =
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} expires in less than";
    let ratio = "kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes";
    let requests = "sum by (host) (rate(nginx_ingress_controller_requests[5m]))";
    let errors = "sum by (host) (rate(nginx_ingress_controller_requests{status=~\"5..\"}[5m]))";
    let mut apps = Vec::new();
    for (env, _) in settings.envs() {
        let ns = env.name();
        apps.push(alert(
            &format!("MySQLDown{}", capitalize(ns)),
            format!("mysql_up{{namespace=\"{ns}\"}} == 0 or absent(mysql_up{{namespace=\"{ns}\"}})"),
            "5m",
            Critical,
            &format!("MySQL of {ns} is down or not scraped"),
            "mysqld-exporter reports mysql_up 0, or no series arrives at all (pod gone, exporter broken, scrape blocked). XWiki cannot work without its database.",
        ));
    }
    apps.push(alert(
        "XWikiUnavailable",
        "kube_deployment_status_replicas_available{deployment=\"xwiki\"} < 1",
        "5m",
        Critical,
        "XWiki in {{ $labels.namespace }} has no available replica",
        "The xwiki Deployment has had no Ready pod for 5 minutes: look at the pod's events and its startup/readiness probes.",
    ));
    vec![
        Group {
            name: "certificates",
            alerts: vec![
                alert(
                    "CertificateExpiresIn21Days",
                    expiry(21),
                    "1h",
                    Warning,
                    &format!("{cert_summary} 21 days"),
                    "cert-manager renews 30 days before expiry: a certificate this close to expiry is not renewing. Check the Certificate's events and the ACME order.",
                ),
                alert(
                    "CertificateExpiresIn7Days",
                    expiry(7),
                    "10m",
                    Critical,
                    &format!("{cert_summary} 7 days"),
                    "Renewal has failed for more than three weeks; browsers will refuse the site when it expires.",
                ),
                alert(
                    "CertificateNotReady",
                    "certmanager_certificate_ready_status{condition=\"True\"} == 0",
                    "10m",
                    Warning,
                    "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} is not Ready",
                    "The Certificate has not been Ready for 10 minutes: issuance or renewal is failing (HTTP-01 challenge blocked, rate limit, DNS).",
                ),
            ],
        },
        Group {
            name: "longhorn",
            alerts: vec![
                alert(
                    "LonghornVolumeDegraded",
                    "longhorn_volume_robustness{state=\"degraded\"} == 1",
                    "10m",
                    Warning,
                    "Longhorn volume {{ $labels.volume }} ({{ $labels.pvc_namespace }}/{{ $labels.pvc }}) is degraded",
                    "A replica is missing or rebuilding. With one replica per volume a degraded volume is one failure from data loss.",
                ),
                alert(
                    "LonghornVolumeFaulted",
                    "longhorn_volume_robustness{state=\"faulted\"} == 1",
                    "2m",
                    Critical,
                    "Longhorn volume {{ $labels.volume }} ({{ $labels.pvc_namespace }}/{{ $labels.pvc }}) is faulted",
                    "No healthy replica: the workload using it is down. Restore from the last backup if the replica cannot be salvaged.",
                ),
            ],
        },
        Group {
            name: "volumes",
            alerts: vec![
                alert(
                    "PersistentVolumeUsageOver80Percent",
                    format!("{ratio} > 0.80"),
                    "15m",
                    Warning,
                    "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 80% full",
                    "Grow the claim (docs/apps.md) before it fills up.",
                ),
                alert(
                    "PersistentVolumeUsageOver90Percent",
                    format!("{ratio} > 0.90"),
                    "5m",
                    Critical,
                    "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 90% full",
                    "Writes will fail soon: MySQL stops, XWiki cannot store attachments. Grow the claim now.",
                ),
            ],
        },
        Group {
            name: "ingress",
            alerts: vec![alert(
                "IngressHigh5xxRate",
                format!("({errors} / {requests}) > 0.05 and {requests} > 0.1"),
                "5m",
                Critical,
                "More than 5% of requests to {{ $labels.host }} fail with 5xx",
                "Over 5 minutes, with at least 6 requests a minute so an idle host does not flap. Check the backend pods and the ingress-nginx logs.",
            )],
        },
        Group {
            name: "applications",
            alerts: apps,
        },
        Group {
            name: "backups",
            alerts: backup_alerts(),
        },
    ]
}

/// The CronJobs whose `app.kubernetes.io/component` is `component`, as kube-state-metrics
/// exports them (`kube_cronjob_labels`, allow-listed in the monitoring values), whose last
/// success is older than `max_age` seconds, or which never succeeded and exist for longer.
fn last_success_older_than(component: &str, max_age: u64) -> String {
    format!(
        "(time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time) > {max_age} \
or (time() - max by (namespace, cronjob) (kube_cronjob_created) > {max_age} \
unless on (namespace, cronjob) kube_cronjob_status_last_successful_time)) \
and on (namespace, cronjob) kube_cronjob_labels{{label_app_kubernetes_io_component=\"{component}\"}}"
    )
}

fn backup_alerts() -> Vec<Alert> {
    use super::backup::{BACKUP_COMPONENT, RESTORE_COMPONENT};
    use Severity::*;
    vec![
        alert(
            "BackupTooOld",
            last_success_older_than(BACKUP_COMPONENT, 26 * 3600),
            "0m",
            Critical,
            "Backup {{ $labels.namespace }}/{{ $labels.cronjob }} has not succeeded for 26 hours",
            "The RPO is 24 h: the last good copy is now older than that. Look at the CronJob's last Jobs (`kubectl -n NS get jobs`), their logs, and S3.",
        ),
        alert(
            "BackupJobFailed",
            format!(
                "kube_job_status_failed > 0 \
and on (namespace, job_name) (time() - kube_job_status_start_time < 86400) \
and on (namespace, job_name) kube_job_labels{{label_app_kubernetes_io_component=\"{BACKUP_COMPONENT}\"}}"
            ),
            "0m",
            Warning,
            "Backup job {{ $labels.namespace }}/{{ $labels.job_name }} failed",
            "A backup run failed in the last 24 hours (the scripts exit non-zero on any error, and remove partial uploads). Read its log; the next run may succeed, BackupTooOld fires if none does.",
        ),
        alert(
            "RestoreTestNotSuccessful",
            last_success_older_than(RESTORE_COMPONENT, days(35)),
            "0m",
            Critical,
            "The monthly restore test {{ $labels.namespace }}/{{ $labels.cronjob }} has not passed for 35 days",
            "Nothing proves the backups restore. Run the test by hand (docs/runbooks/restore.md) and read its log.",
        ),
    ]
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Where an alert's runbook section is: the repository's web address when Flux reads it from
/// GitHub, else the path in the repository.
pub fn runbook_url(settings: &Settings, alert: &str) -> String {
    let anchor = alert.to_lowercase();
    let url = settings.cluster.git.url.as_str();
    let branch = settings.cluster.git.branch.as_str();
    let web = url
        .strip_prefix("ssh://git@github.com/")
        .or_else(|| url.strip_prefix("https://github.com/"))
        .map(|p| p.trim_end_matches(".git"));
    match web {
        Some(repo) => {
            format!("https://github.com/{repo}/blob/{branch}/out/docs/runbooks/alerts.md#{anchor}")
        }
        None => format!("out/docs/runbooks/alerts.md#{anchor}"),
    }
}

/// The `PrometheusRule` of the platform, in `observability`.
pub fn prometheus_rule(settings: &Settings) -> PrometheusRule {
    let groups = groups(settings)
        .into_iter()
        .map(|g| RuleGroup {
            name: g.name.to_string(),
            rules: g
                .alerts
                .into_iter()
                .map(|a| AlertingRule {
                    annotations: BTreeMap::from([
                        ("summary".to_string(), a.summary),
                        ("description".to_string(), a.description),
                        ("runbook_url".to_string(), runbook_url(settings, &a.name)),
                    ]),
                    labels: BTreeMap::from([
                        ("severity".to_string(), a.severity.as_str().to_string()),
                        (
                            "family".to_string(),
                            if a.family.is_empty() {
                                a.name.clone()
                            } else {
                                a.family.to_string()
                            },
                        ),
                    ]),
                    alert: a.name,
                    expr: a.expr,
                    for_: a.hold.to_string(),
                })
                .collect(),
        })
        .collect();
    PrometheusRule {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("open4goods-alerts".into()),
            namespace: Some(super::monitoring::NAMESPACE.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                crate::PART_OF.to_string(),
            )])),
            ..Default::default()
        },
        spec: PrometheusRuleSpec { groups },
    }
}

/// `out/docs/runbooks/alerts.md`: one section per alert.
pub fn runbook(settings: &Settings) -> String {
    let mut out = String::from(
        "# Alert runbooks\n\nGenerated by `cargo run -- render` from `src/components/alerts.rs`. Each alert's\n`runbook_url` points at its section here.\n",
    );
    for g in groups(settings) {
        out.push_str(&format!("\n## Group `{}`\n", g.name));
        for a in g.alerts {
            out.push_str(&format!(
                "\n### {}\n\n- severity: {}\n- fires when `{}` holds for {}\n- {}\n\n{}\n",
                a.name,
                a.severity.as_str(),
                a.expr,
                a.hold,
                a.summary,
                a.description
            ));
        }
    }
    out
}

/// The alerts: the PrometheusRule and their runbook.
pub struct Alerts;

impl super::contribution::Component for Alerts {
    fn name(&self) -> &'static str {
        "alerts"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, crate::Error> {
        let mut tree = crate::tree::Tree::new();
        tree.insert(
            "out/docs/runbooks/alerts.md",
            runbook(plan.settings).into_bytes(),
        )?;
        Ok(super::contribution::Contribution {
            configs: vec![(
                "monitoring",
                "alerts.yaml".into(),
                vec![crate::object::Object::new(&prometheus_rule(plan.settings))?],
            )],
            tree,
            ..Default::default()
        })
    }
}
