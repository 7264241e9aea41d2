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
use crate::quantity::Duration;
use crate::settings::Settings;

/// Secret (in `observability`, platform scope) with the dead man's switch URL (`url`): the
/// external heartbeat service Alertmanager pings while `Watchdog` fires.
pub const ALERTMANAGER_HEARTBEAT_SECRET: &str = "alertmanager-heartbeat";

/// Why a heartbeat URL cannot be the real check's: not an `https` URL (Alertmanager may leave
/// the cluster on 443 only), or its host a name reserved for documentation and tests, which a
/// placeholder uses: `example`, `invalid`, `test`, `localhost` and `example.com/.net/.org` and
/// their subdomains (RFC 2606 §2-3, RFC 6761 §6), or no host name at all (an IP literal).
/// `secrets check --decrypt` and `render` apply it to the Secret's `url`.
pub fn heartbeat_url_problem(value: &str) -> Option<&'static str> {
    const RESERVED: [&str; 7] = [
        "example",
        "invalid",
        "test",
        "localhost",
        "example.com",
        "example.net",
        "example.org",
    ];
    let Ok(url) = url::Url::parse(value.trim()) else {
        return Some("is not a URL: set the heartbeat check's https URL");
    };
    if url.scheme() != "https" {
        return Some("is not an https URL: Alertmanager reaches the heartbeat service on 443");
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Some("has no host name: set the heartbeat check's https URL");
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    RESERVED
        .iter()
        .any(|r| host == *r || host.ends_with(&format!(".{r}")))
        .then_some("names a reserved example host, so it is still a placeholder: set the heartbeat check's URL")
}

/// The heartbeat route's `repeat_interval`: the least time between two pings while `Watchdog`
/// fires (`group_wait` is 0, so the first ping leaves at once).
pub const HEARTBEAT_PERIOD: &str = "5m";

/// The heartbeat route's `group_interval`: how often Alertmanager checks whether
/// [`HEARTBEAT_PERIOD`] has passed since the last ping.
pub const HEARTBEAT_GROUP_INTERVAL: &str = "1m";

/// The real spacing of the pings: [`HEARTBEAT_PERIOD`] plus one [`HEARTBEAT_GROUP_INTERVAL`].
/// At each flush Alertmanager repeats only when the last notification's log entry is strictly
/// older than `now - repeat_interval` (alertmanager v0.34.0 `notify/dedup_stage.go:89-93`), and
/// that entry is written after the send (`notify/notify.go:209-211`: dedup, retry, then
/// set-notifies; `nflog/nflog.go:466`, `time.Now()`), so the flush exactly one period later
/// does not repeat and the next one, a group interval after, does.
pub fn heartbeat_spacing() -> Duration {
    let d = |s: &str| Duration::parse(s).map_or(0, Duration::as_secs);
    Duration::seconds(d(HEARTBEAT_PERIOD) + d(HEARTBEAT_GROUP_INTERVAL))
}

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
    pub hold: String,
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
    hold: &str,
    severity: Severity,
    summary: &str,
    description: &str,
) -> Alert {
    Alert {
        name: name.into(),
        expr: expr.into(),
        hold: hold.to_string(),
        severity,
        summary: summary.into(),
        description: description.into(),
        family: family_of(name),
    }
}

/// The warning/critical pairs of one threshold, by inhibition family: within a family (and the
/// same object) the critical alert mutes the warning. Alertmanager's inhibit rule matches only
/// these families ([`INHIBITING_FAMILIES`]), so a chart's critical alert, which carries no
/// `family`, never mutes anything.
const FAMILIES: [(&str, [&str; 2]); 3] = [
    (
        "certificate-expiry",
        ["CertificateExpiresIn21Days", "CertificateExpiresIn7Days"],
    ),
    (
        "longhorn-volume",
        ["LonghornVolumeDegraded", "LonghornVolumeFaulted"],
    ),
    (
        "pv-usage",
        [
            "PersistentVolumeUsageOver80Percent",
            "PersistentVolumeUsageOver90Percent",
        ],
    ),
];

/// The families whose critical alert inhibits the warning of the same object.
pub const INHIBITING_FAMILIES: [&str; 3] = [FAMILIES[0].0, FAMILIES[1].0, FAMILIES[2].0];

/// The inhibition family of an alert: its pair's, else none (the alert's own name is used).
fn family_of(name: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|(_, pair)| pair.contains(&name))
        .map_or("", |(f, _)| f)
}

/// Time a volume backup may take beyond its schedule's longest gap before its absence alerts:
/// the run itself, and Longhorn's backupstore poll (`backupstore-poll-interval`, 300 s by
/// default), after which a volume's last backup time is updated.
pub const LONGHORN_BACKUP_GRACE: Duration = Duration::hours(3);

/// The longest time between two runs of `schedule` (its runs over two years from a fixed
/// date, so the result does not depend on the clock), or `None` if it never runs.
pub fn longest_gap(schedule: &crate::settings::values::CronSchedule) -> Option<Duration> {
    // Walking two years of runs costs as much as the rest of the alerts, and a render asks
    // twice (the rules, the runbook): the answer depends on the schedule alone, so it is
    // kept for the process.
    static KNOWN: std::sync::Mutex<Vec<(String, Option<Duration>)>> =
        std::sync::Mutex::new(Vec::new());
    let known = |k: &[(String, Option<Duration>)]| {
        k.iter()
            .find(|(s, _)| s == schedule.as_str())
            .map(|(_, gap)| *gap)
    };
    if let Some(gap) = KNOWN.lock().ok().and_then(|k| known(&k)) {
        return gap;
    }
    let gap = walk_longest_gap(schedule);
    if let Ok(mut k) = KNOWN.lock() {
        k.push((schedule.as_str().to_string(), gap));
    }
    gap
}

/// [`longest_gap`], computed.
fn walk_longest_gap(schedule: &crate::settings::values::CronSchedule) -> Option<Duration> {
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(schedule.as_str())
        .ok()?;
    let start = chrono::NaiveDate::from_ymd_opt(2027, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let end = start + chrono::Duration::days(2 * 366);
    let mut longest = 0i64;
    let mut previous: Option<chrono::NaiveDateTime> = None;
    // A schedule running every minute has ~1M runs in two years; its gap is found long before.
    for t in cron.iter_after(start).take(200_000) {
        if t > end {
            break;
        }
        if let Some(p) = previous {
            longest = longest.max((t - p).num_seconds());
        }
        previous = Some(t);
    }
    (longest > 0).then(|| Duration::seconds(longest as u64))
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
    let traffic = super::ingress::traffic(settings);
    let (requests, errors) = (&traffic.requests, &traffic.errors);
    // Longhorn's volume backups: the longest gap of their RecurringJob's schedule, plus a grace.
    // (The schedule was validated when the settings were read; a schedule that never runs
    // would leave the check off, so it counts as a day.)
    let volume_schedule = &settings.cluster.s3.volume_backups.schedule;
    let gap = longest_gap(volume_schedule).unwrap_or(Duration::hours(24));
    let allowance = Duration::seconds(gap.as_secs() + LONGHORN_BACKUP_GRACE.as_secs());
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
                alert(
                    "LonghornBackupTooOld",
                    format!(
                        "(time() - longhorn_volume_last_backup_at > {allow}) \
and on (volume) (longhorn_volume_last_backup_at offset {allow_d})",
                        allow = allowance.as_secs(),
                        allow_d = allowance,
                    ),
                    "0m",
                    Critical,
                    "The newest backup of Longhorn volume {{ $labels.volume }} ({{ $labels.pvc_namespace }}/{{ $labels.pvc }}) is older than its schedule allows",
                    &format!(
                        "The recurring job `{job}` (`{schedule}`, at most {gap} between runs) should have backed the volume up within {allowance} (that gap plus {grace} for the run and the backupstore poll). It is the only copy of what the volume holds outside the database dumps (XWiki's `extension/` among them). Look at the RecurringJob's last Jobs in longhorn-system, the volume's backups in the Longhorn UI, and the backup target's credentials. Volumes younger than {allowance} are not checked.",
                        job = super::longhorn::RECURRING_BACKUP,
                        schedule = settings.cluster.s3.volume_backups.schedule,
                        grace = LONGHORN_BACKUP_GRACE,
                    ),
                ),
                // State 4 is Error (longhorn-manager v1.12.1 `metrics_collector/backup_collector.go:108-126`);
                // a failed Backup is deleted after `failed-backup-ttl`, 1440 minutes by default
                // (`types/setting.go:138,512-521`).
                alert(
                    "LonghornBackupFailed",
                    "longhorn_backup_state == 4",
                    "0m",
                    Warning,
                    "Longhorn backup {{ $labels.backup }} of volume {{ $labels.volume }} failed",
                    "The backup is in state Error. Longhorn keeps a failed backup for its `failed-backup-ttl` (24 h by default), so the alert clears by itself; LonghornBackupTooOld fires if no later backup succeeds. The backup's status message in the Longhorn UI (or `kubectl -n longhorn-system get backups.longhorn.io -o yaml`) says why: the backup target unreachable, its credentials, a full bucket.",
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
                &format!(
                    "Over 5 minutes, with at least 6 requests a minute so an idle host does not flap. Check the backend pods and {}.",
                    super::ingress::logs_hint(settings.cluster.ingress.controller)
                ),
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
        Group {
            name: "runners",
            alerts: vec![alert(
                "RunnerJobsWaitWithoutIdleRunner",
                // actions/actions-runner-controller@2ee6b3b8e8 `cmd/ghalistener/metrics/metrics.go`:
                // the listener's gauges (lines 37-44, set from the scale set's statistics at
                // 479-485) carry `name` and `namespace` of the scale set (17-18, 185-256); the
                // scrape keeps the pod's `namespace` and renames the exporter's to
                // `exported_namespace`. Assigned jobs include the running ones.
                "(gha_assigned_jobs - gha_running_jobs > 0) \
and on (name, exported_namespace) (gha_idle_runners == 0)",
                "15m",
                Warning,
                "Jobs of runner scale set {{ $labels.exported_namespace }}/{{ $labels.name }} have waited 15 minutes with no idle runner",
                "GitHub has assigned jobs that no runner has started, and no runner is idle: the scale set is at maxRunners, or its runner pods cannot start (image pull, Pod Security, node resources, the GitHub App Secret). `kubectl -n arc-runners get ephemeralrunners,pods` and the controller's and listener's logs in arc-systems.",
            )],
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
            // The Job's own failure (its `Failed` condition: backoffLimit exhausted or deadline
            // passed), not `kube_job_status_failed`, which counts failed pods and stays > 0 for
            // a Job that retried and then succeeded. kube-state-metrics v2.20.0
            // `internal/store/job.go:314-335` writes one series per condition status,
            // lower-cased (`internal/store/utils.go:68-79`): `condition="true"` is 1 while the
            // Job has failed.
            format!(
                "kube_job_failed{{condition=\"true\"}} == 1 \
and on (namespace, job_name) (time() - kube_job_status_start_time < 86400) \
and on (namespace, job_name) kube_job_labels{{label_app_kubernetes_io_component=\"{BACKUP_COMPONENT}\"}}"
            ),
            "0m",
            Warning,
            "Backup job {{ $labels.namespace }}/{{ $labels.job_name }} failed",
            "A backup Job gave up in the last 24 hours: every attempt its backoffLimit allows failed, or it ran past its deadline (a Job that failed once and then succeeded does not count). The scripts exit non-zero on any error and remove partial uploads. Read its pods' logs; the next run may succeed, BackupTooOld fires if none does.",
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

/// A Flux object as kube-state-metrics reports it in `gotk_resource_info`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FluxObject {
    /// `kind` (`customresource_kind`).
    pub kind: String,
    /// `metadata.namespace` (`exported_namespace`).
    pub namespace: String,
    /// `metadata.name` (`name`).
    pub name: String,
}

/// One layer of the GitOps loop: a Flux Kustomization, its `timeout`, and the Flux objects it
/// applies (itself included).
#[derive(Debug, Clone)]
pub struct FluxLayer {
    /// The Kustomization's name.
    pub name: String,
    /// Its `spec.timeout`.
    pub timeout: crate::quantity::Duration,
    /// The Flux objects of the layer, the Kustomization first.
    pub objects: Vec<FluxObject>,
}

/// How long an object may stay suspended before someone is reminded.
pub const SUSPENDED_HOLD: &str = "24h";

/// The `gotk_resource_info` selector of some objects of one kind and namespace.
fn gotk_selector(kind: &str, namespace: &str, names: &[&str], extra: &str) -> String {
    format!(
        "gotk_resource_info{{customresource_kind=\"{kind}\",exported_namespace=\"{namespace}\",name=~\"{}\"{extra}}}",
        names.join("|")
    )
}

/// `objects` as a union of selectors, one per (kind, namespace).
fn gotk_union(objects: &[&FluxObject], extra: &str) -> String {
    let mut by: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for o in objects {
        by.entry((&o.kind, &o.namespace)).or_default().push(&o.name);
    }
    by.iter()
        .map(|((k, ns), names)| gotk_selector(k, ns, names, extra))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The alert of a layer's objects that stay not Ready.
pub fn flux_layer_alert_name(layer: &str) -> String {
    format!(
        "FluxNotReady{}",
        layer.split('-').map(capitalize).collect::<String>()
    )
}

/// The GitOps loop's alerts, read from `gotk_resource_info` (kube-state-metrics' custom
/// resource state, configured in `monitoring::flux_resource_state`): each layer's
/// objects not Ready for longer than the layer's `timeout` (a Kustomization with `wait: true`
/// gives up after it, and a HelmRelease or a source of that layer has had that long too), any
/// other Flux object (the bootstrap's `flux-system`, the HelmCharts helm-controller makes) not
/// Ready for longer than the longest layer timeout, and any object suspended for a day.
pub fn flux_group(layers: &[FluxLayer]) -> Group {
    use Severity::*;
    let ready = ",ready!=\"True\"";
    let mut alerts: Vec<Alert> = layers
        .iter()
        .map(|l| {
            let objects: Vec<&FluxObject> = l.objects.iter().collect();
            let mut a = alert(
                &flux_layer_alert_name(&l.name),
                gotk_union(&objects, ready),
                "",
                Critical,
                &format!(
                    "Flux {{{{ $labels.customresource_kind }}}} {{{{ $labels.exported_namespace }}}}/{{{{ $labels.name }}}} (layer {}) has not been Ready for {}",
                    l.name, l.timeout
                ),
                &format!(
                    "The layer `{}` gives up after its timeout ({}): the cluster no longer converges to Git, so neither changes nor fixes land. `flux get all -A --status-selector ready=false`, then `flux events` and the controller's logs name the error (a failing chart install, a manifest the API server refuses, a source that cannot fetch).",
                    l.name, l.timeout
                ),
            );
            a.hold = l.timeout.to_string();
            a
        })
        .collect();
    let longest = layers
        .iter()
        .map(|l| l.timeout)
        .max()
        .unwrap_or(crate::quantity::Duration::minutes(5));
    let covered: Vec<&FluxObject> = layers.iter().flat_map(|l| &l.objects).collect();
    let mut other = alert(
        "FluxNotReady",
        format!(
            "gotk_resource_info{{ready!=\"True\"}} unless on (customresource_kind, exported_namespace, name) ({})",
            gotk_union(&covered, "")
        ),
        "",
        Critical,
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has not been Ready for a layer's timeout",
        &format!(
            "A Flux object that none of the generated layers applies (the bootstrap's `flux-system` GitRepository and Kustomization, the HelmCharts helm-controller creates) has not been Ready for {longest}, the longest layer timeout. `flux get all -A --status-selector ready=false` names it; for `flux-system`, the deploy key or the repository URL are the usual causes."
        ),
    );
    other.hold = longest.to_string();
    alerts.push(other);
    let mut suspended = alert(
        "FluxSuspended",
        "gotk_resource_info{suspended=\"true\"}",
        "",
        Warning,
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has been suspended for a day",
        "Someone suspended it (`flux suspend`) and it has stayed so for 24 hours: Git changes to what it manages are not applied. Resume it (`flux resume`) or say in the team's channel why it stays suspended.",
    );
    suspended.hold = SUSPENDED_HOLD.to_string();
    alerts.push(suspended);
    Group {
        name: "flux",
        alerts,
    }
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

/// The configs folder of the rules.
pub const FOLDER: &str = "monitoring";

/// The `PrometheusRule` of the platform, in `observability`.
pub fn prometheus_rule(settings: &Settings) -> PrometheusRule {
    rule_object(settings, "open4goods-alerts", groups(settings))
}

/// The `PrometheusRule` of the GitOps loop ([`flux_group`]) and its groups (for the runbook).
pub fn flux_rule(settings: &Settings, layers: &[FluxLayer]) -> (PrometheusRule, Vec<Group>) {
    let groups = vec![flux_group(layers)];
    (
        rule_object(settings, "open4goods-flux-alerts", groups.clone()),
        groups,
    )
}

fn rule_object(settings: &Settings, name: &str, groups: Vec<Group>) -> PrometheusRule {
    let groups = groups
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
                    for_: a.hold,
                })
                .collect(),
        })
        .collect();
    PrometheusRule {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(super::namespaces::observability().name.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                crate::PART_OF.to_string(),
            )])),
            ..Default::default()
        },
        spec: PrometheusRuleSpec { groups },
    }
}

/// `out/docs/runbooks/alerts.md`: one section per alert, the platform's groups then `more`.
pub fn runbook(settings: &Settings, more: &[Group]) -> String {
    let mut out = String::from(
        "# Alert runbooks\n\nGenerated by `cargo run -- render` from `src/components/alerts.rs`. Each alert's\n`runbook_url` points at its section here.\n",
    );
    let spacing = heartbeat_spacing();
    out.push_str(&format!(
        "
## The dead man's switch: what pages when monitoring itself breaks

kube-prometheus-stack's `Watchdog` alert always fires. Alertmanager sends it to the `heartbeat`
receiver, a webhook to an external heartbeat service (a \"cron job monitor\" such as
Healthchecks.io or Dead Man's Snitch), every {spacing} (the route's `repeat_interval` of
{HEARTBEAT_PERIOD}, checked at each {HEARTBEAT_GROUP_INTERVAL} `group_interval`, is only due at the
check after it ran out). The URL of the check is the SOPS
Secret `overlays/platform/secrets/{ALERTMANAGER_HEARTBEAT_SECRET}.sops.yaml` (key `url`), mounted
into Alertmanager and read at each send, never written in the values. Until someone sets it
(`sops edit` on that file), it holds the placeholder `secrets template` prints; `o4g secrets
check --decrypt --scope platform` (and `render` with the platform key) refuses that, and any
value that is not an `https` URL of a real host (`example.com`, `.invalid`, `.test`, …).

Set the check up at the service with a period of {spacing} and a grace of at least 10
minutes, and let the *service* notify the on-call person (e-mail to a mailbox outside this
cluster's SMTP relay, SMS or phone). The service pages when the pings stop, that is when:

- Prometheus is down, stuck, or no longer evaluates its rules (no `Watchdog`);
- Alertmanager is down, or cannot reach the internet on 443 (its NetworkPolicy, DNS, the
  uplink), or the node or the cluster is down;
- e-mail fails: kube-prometheus-stack's `AlertmanagerFailedToSendAlerts` for
  `integration=\"email\"` inhibits `Watchdog`, so a broken SMTP relay or password stops the pings
  instead of failing in silence.

While the Secret still holds the placeholder (or a wrong URL), every ping fails and Alertmanager
e-mails `AlertmanagerFailedToSendAlerts` for `integration=\"webhook\"`. The service does not
page then: a check that never received a ping stays \"new\" (Healthchecks.io documentation,
https://healthchecks.io/docs, \"Concepts\": \"A newly created check that has not received any
pings yet\"), not down. So after setting the URL, see the check turn \"up\" at the service
(the next ping, at most {spacing} after the kubelet has updated the mounted Secret); only from
then on does a stop page.

What to do when it pages: `kubectl -n observability get pods`, then the Prometheus and
Alertmanager logs. The Alertmanager image ships `amtool` (alertmanager v0.34.0 `Dockerfile:9`):
`kubectl -n observability exec alertmanager-kube-prometheus-stack-alertmanager-0 -c alertmanager
-- amtool --alertmanager.url=http://localhost:9093 alert query --active --inhibited alertname=Watchdog`
shows whether `Watchdog` arrives and whether it is inhibited (column `State`: `active`, or
`suppressed` when inhibited; `cli/format/format_simple.go:60-68`); if it is, read the e-mail
errors in the Alertmanager log.
"
    ));
    for g in groups(settings).iter().chain(more) {
        out.push_str(&format!("\n## Group `{}`\n", g.name));
        for a in &g.alerts {
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
        // The runbook and the GitOps loop's rule need the Flux layers: `components::build`
        // writes them.
        Ok(super::contribution::Contribution {
            configs: vec![(
                FOLDER,
                "alerts.yaml".into(),
                vec![crate::object::Object::new(&prometheus_rule(plan.settings))?],
            )],
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_url_must_be_https_to_a_real_host() {
        for ok in [
            "https://hc-ping.com/0b9c7e5e-6c2f-4c1e-9d0b-2f4c7a1e3b5d",
            "https://nosnch.in/c2354d53d2",
            "https://examples.com/ping",
        ] {
            assert_eq!(heartbeat_url_problem(ok), None, "{ok}");
        }
        for bad in [
            "REPLACE-WITH-URL",
            "https://example.com/ping",
            "https://hc-ping.example/uuid",
            "https://x.EXAMPLE.org./ping",
            "https://a.invalid",
            "https://a.test/",
            "https://localhost:8443/",
            "https://192.0.2.1/ping",
            "http://hc-ping.com/uuid",
            "",
        ] {
            assert!(heartbeat_url_problem(bad).is_some(), "{bad}");
        }
    }

    fn gap(s: &str) -> u64 {
        longest_gap(&s.parse().unwrap()).unwrap().as_secs() / 3600
    }

    #[test]
    fn the_longest_gap_of_a_schedule_is_its_widest_interval() {
        assert_eq!(gap("0 4 * * *"), 24);
        assert_eq!(gap("0 */6 * * *"), 6);
        assert_eq!(gap("0 4 * * 1"), 7 * 24);
        // Weekdays only: Friday to Monday.
        assert_eq!(gap("0 4 * * 1-5"), 3 * 24);
        // The 1st of each month: 31 days at most.
        assert_eq!(gap("0 4 1 * *"), 31 * 24);
        assert_eq!(gap("@daily"), 24);
    }
}
