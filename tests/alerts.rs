//! The platform's alerts in the real `promtool` (Debian `prometheus`): `check rules` on the
//! rendered rule file, and `test rules` with a firing and a non-firing case for every alert.
//!
//! Input series carry the label sets Prometheus stores after a kube-prometheus-stack scrape:
//! target labels added (`job`, `namespace`, `service`, `pod`, `endpoint`), exporter labels that
//! collide renamed `exported_*` (`honorLabels: false` on our ServiceMonitors): cert-manager's
//! `namespace` (internal/collectors/certificate_collector.go) and ingress-nginx's
//! `namespace`/`service` (the label list in `../shared/reference/platform.md` §7). kubelet volume
//! stats keep `namespace` (kube-prometheus-stack 88.5.3 `values.yaml:1803`
//! `kubelet.serviceMonitor.honorLabels: true`, used at
//! `templates/exporters/kubelet/servicemonitor.yaml:49`). Longhorn 1.12 writes
//! robustness as one 0/1 series per `state` (longhorn/website `docs/1.11.0/monitoring/metrics.md`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use o4g_gitops::settings::Settings;
use serde_json::{Value, json};

/// Every rule group of the PrometheusRules (the platform's and the GitOps loop's) generated for
/// fixture site A (`live`, `qa-7`): the cases below use its namespaces and host. (The live rule
/// file: `the_live_rule_file_passes_promtool_check_rules`.)
fn rule_groups() -> Value {
    let settings: Settings = common::fixture_settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut groups = Vec::new();
    for file in ["alerts.yaml", "flux-alerts.yaml"] {
        let path = format!("out/infrastructure/configs/monitoring/{file}");
        let rule = o4g_gitops::lint::parse_documents(
            std::path::Path::new(&path),
            &String::from_utf8_lossy(tree.get(&path).expect("alerts are rendered")),
        )
        .unwrap()
        .remove(0);
        assert_eq!(rule["kind"], "PrometheusRule");
        groups.extend(rule["spec"]["groups"].as_array().unwrap().iter().cloned());
    }
    json!({ "groups": groups })
}

fn has_promtool() -> bool {
    common::has_tool("promtool", "--version")
}

/// The rule of `alert`.
fn rule<'a>(groups: &'a Value, alert: &str) -> &'a Value {
    groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .find(|r| r["alert"] == alert)
        .unwrap_or_else(|| panic!("no alert {alert}"))
}

/// The annotations promtool should render: `{{ $labels.x }}` replaced by the alert's labels.
fn rendered(annotations: &Value, labels: &BTreeMap<String, String>) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in annotations.as_object().unwrap() {
        let mut s = v.as_str().unwrap().to_string();
        for (lk, lv) in labels {
            s = s.replace(&format!("{{{{ $labels.{lk} }}}}"), lv);
        }
        assert!(
            !s.contains("{{"),
            "{k}: a template names a label the series lack: {s}"
        );
        out.insert(k.clone(), Value::String(s));
    }
    Value::Object(out)
}

/// One test: series (selector, values) and, at `eval`, the alert firing with `labels` (the
/// series' labels plus severity) or not at all.
struct Case {
    alert: &'static str,
    series: Vec<(String, String)>,
    eval: &'static str,
    fires_with: Option<Vec<(&'static str, &'static str)>>,
}

fn cert(extra: &str) -> String {
    format!(
        "{{job=\"cert-manager\",namespace=\"cert-manager\",service=\"cert-manager\",pod=\"cert-manager-5d7f\",endpoint=\"http-metrics\",name=\"xwiki-tls\",exported_namespace=\"live\",issuer_name=\"letsencrypt-prod\",issuer_kind=\"ClusterIssuer\",issuer_group=\"cert-manager.io\"{extra}}}"
    )
}
const CERT_LABELS: [(&str, &str); 10] = [
    ("job", "cert-manager"),
    ("namespace", "cert-manager"),
    ("service", "cert-manager"),
    ("pod", "cert-manager-5d7f"),
    ("endpoint", "http-metrics"),
    ("name", "xwiki-tls"),
    ("exported_namespace", "live"),
    ("issuer_name", "letsencrypt-prod"),
    ("issuer_kind", "ClusterIssuer"),
    ("issuer_group", "cert-manager.io"),
];

fn lh(state: &str) -> String {
    format!(
        "longhorn_volume_robustness{{job=\"longhorn-backend\",namespace=\"longhorn-system\",service=\"longhorn-backend\",pod=\"longhorn-manager-x2\",endpoint=\"manager\",node=\"n1\",volume=\"pvc-1\",pvc=\"data-mysql-0\",pvc_namespace=\"live\",state=\"{state}\"}}"
    )
}
fn lh_labels(state: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("job", "longhorn-backend"),
        ("namespace", "longhorn-system"),
        ("service", "longhorn-backend"),
        ("pod", "longhorn-manager-x2"),
        ("endpoint", "manager"),
        ("node", "n1"),
        ("volume", "pvc-1"),
        ("pvc", "data-mysql-0"),
        ("pvc_namespace", "live"),
        ("state", state),
    ]
}

fn kubelet(metric: &str) -> String {
    format!(
        "{metric}{{job=\"kubelet\",metrics_path=\"/metrics\",service=\"kube-prometheus-stack-kubelet\",node=\"n1\",namespace=\"live\",persistentvolumeclaim=\"data-mysql-0\"}}"
    )
}
const PVC_LABELS: [(&str, &str); 6] = [
    ("job", "kubelet"),
    ("metrics_path", "/metrics"),
    ("service", "kube-prometheus-stack-kubelet"),
    ("node", "n1"),
    ("namespace", "live"),
    ("persistentvolumeclaim", "data-mysql-0"),
];

fn nginx(status: &str) -> String {
    format!(
        "nginx_ingress_controller_requests{{job=\"ingress-nginx-controller-metrics\",namespace=\"ingress-nginx\",service=\"ingress-nginx-controller-metrics\",pod=\"ingress-nginx-controller-abc\",exported_namespace=\"live\",exported_service=\"xwiki\",ingress=\"xwiki\",host=\"docs.fixture.example\",method=\"GET\",path=\"/\",status=\"{status}\"}}"
    )
}

/// A volume `used` percent full for 30 minutes, evaluated at `eval`.
fn pvc_case(alert: &'static str, used: u32, eval: &'static str, fires: bool) -> Case {
    Case {
        alert,
        series: vec![
            (
                kubelet("kubelet_volume_stats_used_bytes"),
                format!("{used}+0x30"),
            ),
            (
                kubelet("kubelet_volume_stats_capacity_bytes"),
                "100+0x30".into(),
            ),
        ],
        eval,
        fires_with: fires.then(|| PVC_LABELS.to_vec()),
    }
}

fn cases() -> Vec<Case> {
    let labels = |v: &[(&'static str, &'static str)]| Some(v.to_vec());
    let days = |d: u64| (d * 86_400).to_string();
    let mysql = "mysql_up{job=\"mysql\",namespace=\"live\",service=\"mysql\",pod=\"mysql-0\",endpoint=\"metrics\"}";
    let mysql_labels = [
        ("job", "mysql"),
        ("namespace", "live"),
        ("service", "mysql"),
        ("pod", "mysql-0"),
        ("endpoint", "metrics"),
    ];
    let ksm = "kube_deployment_status_replicas_available{job=\"kube-state-metrics\",namespace=\"live\",service=\"kube-prometheus-stack-kube-state-metrics\",deployment=\"xwiki\"}";
    let ksm_labels = [
        ("job", "kube-state-metrics"),
        ("namespace", "live"),
        ("service", "kube-prometheus-stack-kube-state-metrics"),
        ("deployment", "xwiki"),
    ];
    vec![
        // Certificates: expiry timestamps count from promtool's t=0.
        Case {
            alert: "CertificateExpiresIn21Days",
            series: vec![(
                format!(
                    "certmanager_certificate_expiration_timestamp_seconds{}",
                    cert("")
                ),
                format!("{}+0x200", days(10)),
            )],
            eval: "2h",
            fires_with: labels(&CERT_LABELS),
        },
        Case {
            alert: "CertificateExpiresIn21Days",
            series: vec![(
                format!(
                    "certmanager_certificate_expiration_timestamp_seconds{}",
                    cert("")
                ),
                format!("{}+0x200", days(22)),
            )],
            eval: "2h",
            fires_with: None,
        },
        Case {
            alert: "CertificateExpiresIn7Days",
            series: vec![(
                format!(
                    "certmanager_certificate_expiration_timestamp_seconds{}",
                    cert("")
                ),
                format!("{}+0x200", days(3)),
            )],
            eval: "1h",
            fires_with: labels(&CERT_LABELS),
        },
        Case {
            alert: "CertificateExpiresIn7Days",
            series: vec![(
                format!(
                    "certmanager_certificate_expiration_timestamp_seconds{}",
                    cert("")
                ),
                format!("{}+0x200", days(8)),
            )],
            eval: "1h",
            fires_with: None,
        },
        Case {
            alert: "CertificateNotReady",
            series: vec![(
                format!(
                    "certmanager_certificate_ready_status{}",
                    cert(",condition=\"True\"")
                ),
                "0+0x30".into(),
            )],
            eval: "20m",
            fires_with: Some([CERT_LABELS.to_vec(), vec![("condition", "True")]].concat()),
        },
        Case {
            alert: "CertificateNotReady",
            series: vec![(
                format!(
                    "certmanager_certificate_ready_status{}",
                    cert(",condition=\"True\"")
                ),
                "1+0x30".into(),
            )],
            eval: "20m",
            fires_with: None,
        },
        // Longhorn 1.12: one series per state.
        Case {
            alert: "LonghornVolumeDegraded",
            series: vec![
                (lh("degraded"), "1+0x30".into()),
                (lh("healthy"), "0+0x30".into()),
            ],
            eval: "15m",
            fires_with: Some(lh_labels("degraded")),
        },
        Case {
            alert: "LonghornVolumeDegraded",
            series: vec![
                (lh("degraded"), "0+0x30".into()),
                (lh("healthy"), "1+0x30".into()),
            ],
            eval: "15m",
            fires_with: None,
        },
        Case {
            alert: "LonghornVolumeFaulted",
            series: vec![(lh("faulted"), "1+0x30".into())],
            eval: "5m",
            fires_with: Some(lh_labels("faulted")),
        },
        Case {
            alert: "LonghornVolumeFaulted",
            series: vec![
                (lh("faulted"), "0+0x30".into()),
                (lh("degraded"), "1+0x30".into()),
            ],
            eval: "5m",
            fires_with: None,
        },
        // Volume usage, just over and just under each threshold.
        pvc_case("PersistentVolumeUsageOver80Percent", 81, "20m", true),
        pvc_case("PersistentVolumeUsageOver80Percent", 79, "20m", false),
        pvc_case("PersistentVolumeUsageOver90Percent", 91, "10m", true),
        pvc_case("PersistentVolumeUsageOver90Percent", 89, "10m", false),
        // Ingress: 60 errors and 600 successes a minute (9%): fires. 2% errors: not. An idle
        // host (3 requests a minute, all errors): not, below the minimum rate.
        Case {
            alert: "IngressHigh5xxRate",
            series: vec![
                (nginx("500"), "0+60x40".into()),
                (nginx("200"), "0+600x40".into()),
            ],
            eval: "20m",
            fires_with: labels(&[("host", "docs.fixture.example")]),
        },
        Case {
            alert: "IngressHigh5xxRate",
            series: vec![
                (nginx("500"), "0+12x40".into()),
                (nginx("200"), "0+600x40".into()),
            ],
            eval: "20m",
            fires_with: None,
        },
        Case {
            alert: "IngressHigh5xxRate",
            series: vec![(nginx("502"), "0+3x40".into())],
            eval: "20m",
            fires_with: None,
        },
        // MySQL: down, absent (no series at all), up.
        Case {
            alert: "MySQLDownLive",
            series: vec![(mysql.into(), "0+0x30".into())],
            eval: "10m",
            fires_with: labels(&mysql_labels),
        },
        Case {
            alert: "MySQLDownLive",
            series: vec![(
                "mysql_up{namespace=\"qa-7\",job=\"mysql\"}".into(),
                "1+0x30".into(),
            )],
            eval: "10m",
            fires_with: labels(&[("namespace", "live")]),
        },
        Case {
            alert: "MySQLDownLive",
            series: vec![(mysql.into(), "1+0x30".into())],
            eval: "10m",
            fires_with: None,
        },
        Case {
            alert: "XWikiUnavailable",
            series: vec![(ksm.into(), "0+0x30".into())],
            eval: "10m",
            fires_with: labels(&ksm_labels),
        },
        Case {
            alert: "XWikiUnavailable",
            series: vec![(ksm.into(), "1+0x30".into())],
            eval: "10m",
            fires_with: None,
        },
    ]
    .into_iter()
    .chain(backup_cases())
    .chain(flux_cases())
    .chain(longhorn_backup_cases())
    .chain(runner_cases())
    .collect()
}

/// The listener's gauges as Prometheus stores them: our PodMonitor (`honorLabels` false) adds
/// the pod's target labels, so the exporter's `namespace` (the scale set's) becomes
/// `exported_namespace`; its empty `enterprise` label is dropped.
fn gha(metric: &str) -> String {
    format!(
        "{metric}{{container=\"listener\",endpoint=\"metrics\",instance=\"10.42.0.31:8080\",job=\"arc-systems/arc-listener\",namespace=\"arc-systems\",pod=\"o4g-runners-754b578d-listener\",name=\"o4g-runners\",exported_namespace=\"arc-runners\",organization=\"open4goods\",repository=\"o4g-gitops\"}}"
    )
}

fn runner_cases() -> Vec<Case> {
    let labels = vec![
        ("container", "listener"),
        ("endpoint", "metrics"),
        ("instance", "10.42.0.31:8080"),
        ("job", "arc-systems/arc-listener"),
        ("namespace", "arc-systems"),
        ("pod", "o4g-runners-754b578d-listener"),
        ("name", "o4g-runners"),
        ("exported_namespace", "arc-runners"),
        ("organization", "open4goods"),
        ("repository", "o4g-gitops"),
    ];
    let case = |assigned: &str, running: &str, idle: &str, fires: bool| Case {
        alert: "RunnerJobsWaitWithoutIdleRunner",
        series: vec![
            (gha("gha_assigned_jobs"), assigned.into()),
            (gha("gha_running_jobs"), running.into()),
            (gha("gha_idle_runners"), idle.into()),
        ],
        eval: "20m",
        fires_with: fires.then(|| labels.clone()),
    };
    vec![
        // Three jobs assigned, two running, no idle runner for 20 minutes: one waits.
        case("3+0x30", "2+0x30", "0+0x30", true),
        // Every assigned job runs.
        case("2+0x30", "2+0x30", "0+0x30", false),
        // A job waits but a runner is idle (it is about to take it).
        case("3+0x30", "2+0x30", "1+0x30", false),
        // A job waited 10 minutes, then started.
        case("3x10 2x20", "2+0x30", "0+0x30", false),
    ]
}

/// A Longhorn manager series as Prometheus stores it (our ServiceMonitor on `longhorn-backend`,
/// `honorLabels` false; no exporter label collides with a target label).
fn longhorn(
    metric: &str,
    labels: &[(&'static str, &'static str)],
) -> (String, Vec<(&'static str, &'static str)>) {
    let mut all = vec![
        ("job", "longhorn-backend"),
        ("namespace", "longhorn-system"),
        ("service", "longhorn-backend"),
        ("pod", "longhorn-manager-x2"),
        ("endpoint", "manager"),
    ];
    all.extend(labels);
    let selector = all
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    (format!("{metric}{{{selector}}}"), all)
}

fn longhorn_backup_cases() -> Vec<Case> {
    // longhorn-manager v1.12.1 `metrics_collector/volume_collector.go:88-96,230,313-325`:
    // `longhorn_volume_last_backup_at{node,volume,pvc,pvc_namespace}` is the Unix time of the
    // volume's last successful backup, 0 if none. `backup_collector.go:34-52,97-126`:
    // `longhorn_backup_state{volume,backup,recurring_job}`, 0 New, 1 Pending, 2 InProgress,
    // 3 Completed, 4 Error, 5 Unknown.
    let settings: Settings = common::fixture_settings();
    let schedule = &settings.cluster.s3.volume_backups.schedule;
    let allowance = o4g_gitops::components::alerts::longest_gap(schedule)
        .unwrap()
        .as_secs()
        + o4g_gitops::components::alerts::LONGHORN_BACKUP_GRACE.as_secs();
    let m = allowance / 60;
    let volume = [
        ("node", "n1"),
        ("volume", "pvc-1"),
        ("pvc", "xwiki-data"),
        ("pvc_namespace", "live"),
    ];
    let last = |at: u64, from_minute: u64, eval: u64, fires: bool| {
        let (s, labels) = longhorn("longhorn_volume_last_backup_at", &volume);
        let missing = from_minute / 10;
        // Samples every 10 minutes, past the evaluation.
        let n = eval / 10 + 10 - missing;
        let values = if missing == 0 {
            format!("{at}+0x{n}")
        } else {
            format!("_x{missing} {at}+0x{n}")
        };
        Case {
            alert: "LonghornBackupTooOld",
            series: vec![(s, values)],
            eval: leak(format!("{eval}m")),
            fires_with: fires.then_some(labels),
        }
    };
    let state = |v: u32, fires: bool| {
        let (s, labels) = longhorn(
            "longhorn_backup_state",
            &[
                ("volume", "pvc-1"),
                ("backup", "backup-3f2a9c"),
                ("recurring_job", "daily-backup"),
            ],
        );
        Case {
            alert: "LonghornBackupFailed",
            series: vec![(s, format!("{v}+0x30"))],
            eval: "20m",
            fires_with: fires.then_some(labels),
        }
    };
    vec![
        // Last backup at 10 min: an hour past the allowance it is too old; one taken at 2 h
        // is not yet.
        last(600, 0, m + 60, true),
        last(7200, 0, m + 60, false),
        // Never backed up (0) and older than the allowance: too old; created 2 h ago: not
        // checked yet.
        last(0, 0, m + 60, true),
        last(0, m - 60, m + 60, false),
        state(4, true),
        state(3, false),
        state(2, false),
    ]
}

/// Seconds of a Flux/Prometheus duration (`1h30m`, `25m`, `90s`).
fn secs(d: &str) -> u64 {
    let mut total = 0;
    let mut n = 0;
    for c in d.chars() {
        match c {
            '0'..='9' => n = n * 10 + u64::from(c.to_digit(10).unwrap()),
            'h' => (total, n) = (total + n * 3600, 0),
            'm' => (total, n) = (total + n * 60, 0),
            's' => (total, n) = (total + n, 0),
            _ => panic!("duration {d}"),
        }
    }
    total + n
}

/// `gotk_resource_info` as Prometheus stores it: kube-state-metrics' custom resource state
/// (Flux's config, `monitoring::flux_resource_state`: `name`, `exported_namespace`, `ready`,
/// `suspended`, `revision`; kube-state-metrics v2.20.0 adds `customresource_group`, `_kind`,
/// `_version`, `pkg/customresourcestate/registry_factory.go:44-46`, and drops a label whose path
/// is absent, lines 557-566), scraped by the chart's kube-state-metrics ServiceMonitor
/// (`honorLabels: true`, so `exported_namespace` stays and the target's `namespace` is added).
fn gotk(
    kind: &str,
    ns: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let (group, version) = match kind {
        "Kustomization" => ("kustomize.toolkit.fluxcd.io", "v1"),
        "HelmRelease" => ("helm.toolkit.fluxcd.io", "v2"),
        _ => ("source.toolkit.fluxcd.io", "v1"),
    };
    let mut labels: Vec<(String, String)> = [
        ("container", "kube-state-metrics"),
        ("customresource_group", group),
        ("customresource_kind", kind),
        ("customresource_version", version),
        ("endpoint", "http"),
        ("exported_namespace", ns),
        ("instance", "10.42.0.17:8080"),
        ("job", "kube-state-metrics"),
        ("name", name),
        ("namespace", "observability"),
        ("pod", "kube-prometheus-stack-kube-state-metrics-6d9c7"),
        ("revision", "main@sha1:4f1a5b10"),
        ("service", "kube-prometheus-stack-kube-state-metrics"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    labels.sort();
    let selector = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    (format!("gotk_resource_info{{{selector}}}"), labels)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The rendered Flux Kustomizations: (name, timeout in seconds).
fn flux_layers() -> Vec<(String, u64)> {
    let settings: Settings = common::fixture_settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    tree.files()
        .iter()
        .filter(|(p, _)| p.starts_with("out/clusters/open4goods/") && p.ends_with(".yaml"))
        .flat_map(|(p, b)| {
            o4g_gitops::lint::parse_documents(std::path::Path::new(p), &String::from_utf8_lossy(b))
                .unwrap()
        })
        .filter(|o| o["kind"] == "Kustomization")
        .map(|k| {
            (
                k["metadata"]["name"].as_str().unwrap().to_string(),
                secs(k["spec"]["timeout"].as_str().unwrap()),
            )
        })
        .collect()
}

/// A minute count as a promtool duration.
fn minutes(m: u64) -> &'static str {
    leak(format!("{m}m"))
}

fn flux_cases() -> Vec<Case> {
    let layers = flux_layers();
    assert!(layers.len() >= 3, "{layers:?}");
    let longest = layers.iter().map(|(_, t)| *t).max().unwrap() / 60;
    let mut cases = Vec::new();
    let case = |alert: &'static str,
                series: (String, Vec<(String, String)>),
                value: &str,
                eval: &'static str,
                fires: bool| {
        let (s, labels) = series;
        Case {
            alert,
            series: vec![(s, format!("{value}+0x2000"))],
            eval,
            fires_with: fires.then(|| {
                labels
                    .into_iter()
                    .map(|(k, v)| (leak(k), leak(v)))
                    .collect()
            }),
        }
    };
    for (name, timeout) in &layers {
        // Each layer's Kustomization, not Ready: quiet until its timeout, then firing.
        let alert = leak(o4g_gitops::components::alerts::flux_layer_alert_name(name));
        let m = timeout / 60;
        let failed = || gotk("Kustomization", "flux-system", name, &[("ready", "False")]);
        cases.push(case(alert, failed(), "1", minutes(m + 2), true));
        cases.push(case(alert, failed(), "1", minutes(m - 2), false));
        cases.push(case(
            alert,
            gotk("Kustomization", "flux-system", name, &[("ready", "True")]),
            "1",
            minutes(m + 2),
            false,
        ));
    }
    // A HelmRelease of the controllers layer is held to that layer's timeout.
    let (controllers, timeout) = layers
        .iter()
        .find(|(n, _)| n == "infra-controllers")
        .unwrap();
    let hr = || {
        gotk(
            "HelmRelease",
            "longhorn-system",
            "longhorn",
            &[("ready", "False")],
        )
    };
    let alert = leak(o4g_gitops::components::alerts::flux_layer_alert_name(
        controllers,
    ));
    cases.push(case(alert, hr(), "1", minutes(timeout / 60 + 2), true));
    cases.push(case(alert, hr(), "1", minutes(timeout / 60 - 2), false));
    // The bootstrap's GitRepository (in no layer): the longest layer timeout; a layer's object
    // is left to its layer's alert.
    let git = || {
        gotk(
            "GitRepository",
            "flux-system",
            "flux-system",
            &[("ready", "False")],
        )
    };
    cases.push(case("FluxNotReady", git(), "1", minutes(longest + 2), true));
    cases.push(case(
        "FluxNotReady",
        git(),
        "1",
        minutes(longest - 2),
        false,
    ));
    cases.push(case("FluxNotReady", hr(), "1", minutes(longest + 2), false));
    // Suspended for a day; for 23 hours; not suspended (no `suspended` label).
    let suspended = || {
        gotk(
            "Kustomization",
            "flux-system",
            "apps-recette",
            &[("ready", "True"), ("suspended", "true")],
        )
    };
    cases.push(case("FluxSuspended", suspended(), "1", "1500m", true));
    cases.push(case("FluxSuspended", suspended(), "1", "1380m", false));
    cases.push(case(
        "FluxSuspended",
        gotk(
            "Kustomization",
            "flux-system",
            "apps-recette",
            &[("ready", "True")],
        ),
        "1",
        "1500m",
        false,
    ));
    cases
}

/// kube-state-metrics series of a CronJob (its ServiceMonitor keeps `honorLabels: true`,
/// kube-prometheus-stack 88.5.3 `values.yaml:2702`, so `namespace` is the CronJob's), with
/// the component label the allowlist exports.
fn cronjob(metric: &str, name: &str, extra: &str) -> String {
    format!(
        "{metric}{{job=\"kube-state-metrics\",service=\"kube-prometheus-stack-kube-state-metrics\",namespace=\"live\",cronjob=\"{name}\"{extra}}}"
    )
}

fn backup_cases() -> Vec<Case> {
    let component = |c: &str| format!(",label_app_kubernetes_io_component=\"{c}\"");
    let steps = "x170"; // 170 samples 10 minutes apart, past 26 h
    let backup = |last: Option<&str>, comp: &str, eval: &'static str, fires: bool| {
        let mut series = vec![
            (
                cronjob("kube_cronjob_labels", "mysql-backup", &component(comp)),
                format!("1+0{steps}"),
            ),
            (
                cronjob("kube_cronjob_created", "mysql-backup", ""),
                format!("0+0{steps}"),
            ),
        ];
        if let Some(last) = last {
            series.push((
                cronjob(
                    "kube_cronjob_status_last_successful_time",
                    "mysql-backup",
                    "",
                ),
                format!("{last}+0{steps}"),
            ));
        }
        Case {
            alert: "BackupTooOld",
            series,
            eval,
            fires_with: fires.then(|| vec![("namespace", "live"), ("cronjob", "mysql-backup")]),
        }
    };
    let job = |metric: &str| {
        format!(
            "{metric}{{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\"}}"
        )
    };
    // kube-state-metrics v2.20.0 `internal/store/job.go`: `kube_job_failed` (lines 314-335) has
    // one series per status of the Job's `Failed` condition, lower-cased by
    // `addConditionMetrics` (`internal/store/utils.go:68-79`), and none while the Job has no
    // such condition; `kube_job_status_failed` (lines 205-250) counts failed pods, with
    // `reason=""` when no `Failed` condition names one.
    let start = |start: &str| (job("kube_job_status_start_time"), format!("{start}+0x160"));
    let labels = || {
        (
            format!(
                "kube_job_labels{{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\"{}}}",
                component("backup")
            ),
            "1+0x160".to_string(),
        )
    };
    let failed_condition = |status: &str, v: &str| {
        (
            format!(
                "kube_job_failed{{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\",condition=\"{status}\"}}"
            ),
            format!("{v}+0x160"),
        )
    };
    let gave_up = |started: &str, eval: &'static str, fires: bool| {
        Case {
        alert: "BackupJobFailed",
        series: vec![
            failed_condition("true", "1"),
            failed_condition("false", "0"),
            failed_condition("unknown", "0"),
            (
                "kube_job_status_failed{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\",reason=\"BackoffLimitExceeded\"}".to_string(),
                "1+0x160".into(),
            ),
            start(started),
            labels(),
        ],
        eval,
        fires_with: fires.then(|| {
            vec![
                ("job", "kube-state-metrics"),
                ("namespace", "live"),
                ("job_name", "mysql-backup-29410335"),
                ("condition", "true"),
            ]
        }),
    }
    };
    // One pod failed, the retry succeeded: the Job is Complete, it has no `Failed` condition
    // (so no `kube_job_failed` series), one failed pod with no reason, one succeeded.
    let retried_then_succeeded = Case {
        alert: "BackupJobFailed",
        series: vec![
            (
                "kube_job_status_failed{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\",reason=\"\"}".to_string(),
                "1+0x160".into(),
            ),
            (job("kube_job_status_succeeded"), "1+0x160".into()),
            start("0"),
            labels(),
        ],
        eval: "10m",
        fires_with: None,
    };
    let restore = |last: Option<&str>, eval: &'static str, fires: bool| {
        let n = "x900"; // 900 hourly samples, past 35 days
        let mut series = vec![
            (
                cronjob(
                    "kube_cronjob_labels",
                    "restore-test",
                    &component("restore-test"),
                ),
                format!("1+0{n}"),
            ),
            (
                cronjob("kube_cronjob_created", "restore-test", ""),
                format!("0+0{n}"),
            ),
        ];
        if let Some(last) = last {
            series.push((
                cronjob(
                    "kube_cronjob_status_last_successful_time",
                    "restore-test",
                    "",
                ),
                format!("{last}+0{n}"),
            ));
        }
        Case {
            alert: "RestoreTestNotSuccessful",
            series,
            eval,
            fires_with: fires.then(|| vec![("namespace", "live"), ("cronjob", "restore-test")]),
        }
    };
    vec![
        // Last success at t=0: 27 h later it is too old; 1 h later at 26 h it is 25 h old.
        backup(Some("0"), "backup", "1620m", true),
        backup(Some("3600"), "backup", "1560m", false),
        // Never succeeded, created 27 h ago: too old too; not a backup CronJob: never.
        backup(None, "backup", "1620m", true),
        backup(Some("0"), "web", "1620m", false),
        // A Job that gave up in the last 24 h; one that retried and then succeeded; one that
        // gave up 25 h ago.
        gave_up("0", "10m", true),
        retried_then_succeeded,
        gave_up("0", "1500m", false),
        // The restore test last passed at t=0: 35 days and 1 hour later it is overdue; one
        // that passed on day 1 is not.
        restore(Some("0"), "841h", true),
        restore(Some("86400"), "841h", false),
        restore(None, "841h", true),
    ]
}

#[test]
fn promtool_accepts_the_rendered_rules() {
    if !has_promtool() {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    common::promtool_check_rules(&rule_groups());
}

/// The live rule file, as committed in `out/` (whatever environments the settings hold).
#[test]
fn the_live_rule_file_passes_promtool_check_rules() {
    if !has_promtool() {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let path = "out/infrastructure/configs/monitoring/alerts.yaml";
    let rule = o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &std::fs::read_to_string(common::root().join(path)).unwrap(),
    )
    .unwrap()
    .remove(0);
    let groups = json!({"groups": rule["spec"]["groups"]});
    let settings = Settings::load(&common::root()).unwrap();
    for env in settings.environments() {
        assert!(
            groups
                .to_string()
                .contains(&format!("namespace=\\\"{env}\\\"")),
            "no rule selects the namespace {env}"
        );
    }
    common::promtool_check_rules(&groups);
}

#[test]
fn every_alert_fires_when_it_should_and_not_otherwise() {
    if !has_promtool() {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let groups = rule_groups();
    let all: Vec<String> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .map(|r| r["alert"].as_str().unwrap().to_string())
        .collect();
    let cases = cases();
    // Every alert of the production-facing set has both kinds of case (the per-environment MySQL
    // alerts share one rule shape: live's stands for them).
    for a in all
        .iter()
        .filter(|a| !a.starts_with("MySQLDown") || *a == "MySQLDownLive")
    {
        assert!(
            cases.iter().any(|c| c.alert == a && c.fires_with.is_some()),
            "{a} has no firing case"
        );
        assert!(
            cases.iter().any(|c| c.alert == a && c.fires_with.is_none()),
            "{a} has no quiet case"
        );
    }
    let tests: Vec<Value> = cases
        .iter()
        .map(|c| {
            let exp = match &c.fires_with {
                None => json!([]),
                Some(labels) => {
                    let r = rule(&groups, c.alert);
                    let mut l: BTreeMap<String, String> =
                        labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    for (k, v) in r["labels"].as_object().unwrap() {
                        l.insert(k.clone(), v.as_str().unwrap().to_string());
                    }
                    json!([{"exp_labels": l, "exp_annotations": rendered(&r["annotations"], &l)}])
                }
            };
            json!({
                // Month-long cases step by the hour; promtool would take minutes by the minute.
                "interval": match c.alert {
                    "RestoreTestNotSuccessful" => "1h",
                    "BackupTooOld" | "BackupJobFailed" | "FluxSuspended" | "LonghornBackupTooOld" => "10m",
                    _ => "1m",
                },
                "input_series": c.series.iter().map(|(s, v)| json!({"series": s, "values": v})).collect::<Vec<_>>(),
                "alert_rule_test": [{"eval_time": c.eval, "alertname": c.alert, "exp_alerts": exp}],
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), groups.to_string()).unwrap();
    // Rules are evaluated every `evaluation_interval` (one per file): the month-long cases
    // get their own file, evaluated at their sampling interval.
    let mut by_interval: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for t in tests {
        by_interval
            .entry(t["interval"].as_str().unwrap().to_string())
            .or_default()
            .push(t);
    }
    for (interval, tests) in by_interval {
        let test =
            json!({"rule_files": ["rules.yaml"], "evaluation_interval": interval, "tests": tests});
        std::fs::write(dir.path().join("test.yaml"), test.to_string()).unwrap();
        let out = Command::new("promtool")
            .args(["test", "rules", "test.yaml"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{interval}: {}", common::text(&out));
    }
    eprintln!("{} promtool cases over {} alerts", cases.len(), all.len());
}

#[test]
fn prometheus_deletes_old_data_before_its_volume_fills() {
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let path = "out/infrastructure/controllers/kube-prometheus-stack/release.yaml";
    let hr = o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &String::from_utf8_lossy(tree.get(path).unwrap()),
    )
    .unwrap()
    .remove(0);
    let spec = &hr["spec"]["values"]["prometheus"]["prometheusSpec"];
    let size = spec["retentionSize"]
        .as_str()
        .expect("retentionSize is set");
    let mib: u64 = size.strip_suffix("MiB").unwrap().parse().unwrap();
    let volume = o4g_gitops::quantity::Bytes::parse(
        spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        mib << 20 < volume.get(),
        "{size} must stay below the {volume} volume"
    );
    assert!(
        mib << 20 >= volume.get() / 2,
        "{size} wastes most of the {volume} volume"
    );
}

#[test]
fn each_environment_scrapes_its_mysqld_exporter() {
    // On the kustomize build of each overlay: the ServiceMonitor selects a Service with a
    // `metrics` port whose pods declare that port (Prometheus's reach to it is in the
    // reachability matrix of tests/network.rs).
    if !common::has_tool("kubectl", "version") && !common::has_tool("kubectl", "--help") {
        skip_or_fail!("kubectl is not installed");
    }
    let settings = Settings::load(&common::root()).unwrap();
    for (env, _) in settings.envs() {
        let dir = common::root().join(format!("out/apps/overlays/{}", env.name()));
        let objects = o4g_gitops::lint::parse_documents(&dir, &common::kustomize(&dir)).unwrap();
        let monitor = objects
            .iter()
            .find(|o| o["kind"] == "ServiceMonitor" && o["metadata"]["name"] == "mysqld-exporter")
            .unwrap_or_else(|| panic!("{}: no mysqld-exporter ServiceMonitor", env.name()));
        assert_eq!(monitor["metadata"]["namespace"], env.name());
        let port = monitor["spec"]["endpoints"][0]["port"].as_str().unwrap();
        let sel = monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap();
        let matches = |labels: &Value| sel.iter().all(|(k, v)| &labels[k] == v);
        let svc = objects
            .iter()
            .filter(|o| o["kind"] == "Service" && matches(&o["metadata"]["labels"]))
            .find(|s| {
                s["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == port)
            })
            .unwrap_or_else(|| panic!("{}: no Service with port {port}", env.name()));
        let target = svc["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == port)
            .unwrap()["targetPort"]
            .clone();
        let sts = objects.iter().find(|o| o["kind"] == "StatefulSet").unwrap();
        let pod_ports: Vec<&Value> = sts["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .collect();
        assert!(
            pod_ports
                .iter()
                .any(|p| p["name"] == target || p["containerPort"] == target),
            "{}: target port {target} is not on the mysql pod",
            env.name()
        );
    }
}

fn alertmanager_values() -> Value {
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let path = "out/infrastructure/controllers/kube-prometheus-stack/release.yaml";
    o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &String::from_utf8_lossy(tree.get(path).unwrap()),
    )
    .unwrap()
    .remove(0)["spec"]["values"]["alertmanager"]
        .clone()
}

/// The configuration as Debian's Alertmanager 0.25 (amtool and daemon) can load it: the
/// heartbeat webhook's `url_file` (alertmanager v0.34.0, the pinned image:
/// `notify/webhook/config.go:40`; new in 0.26.0, CHANGELOG #3223) becomes `url`, and the
/// Secret files mounted in the pod become files of `dir`.
fn for_alertmanager_0_25(config: &Value, dir: &std::path::Path) -> Value {
    let mut c = config.clone();
    for r in c["receivers"].as_array_mut().unwrap() {
        for w in r["webhook_configs"].as_array_mut().into_iter().flatten() {
            let w = w.as_object_mut().unwrap();
            assert!(
                w.remove("url_file").is_some(),
                "webhooks read their URL from a file"
            );
            w.insert("url".into(), json!("http://127.0.0.1:9/heartbeat"));
        }
    }
    let password = dir.join("smtp-password");
    std::fs::write(&password, "not-a-secret").unwrap();
    c["global"]["smtp_auth_password_file"] = json!(password);
    c["global"]["smtp_smarthost"] = json!("127.0.0.1:9");
    c
}

#[test]
fn alertmanager_routing_passes_amtool_and_never_drops_an_alert() {
    let am = alertmanager_values();
    let config = &am["config"];
    // Every alert reaches a receiver that sends something; only the chart's InfoInhibitor is
    // dropped.
    let default = config["route"]["receiver"].as_str().unwrap();
    let receiver_of = |name: &str| {
        config["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no receiver {name}"))
            .clone()
    };
    let receiver = receiver_of(default);
    assert!(
        receiver["email_configs"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{receiver}"
    );
    for r in config["route"]["routes"].as_array().unwrap() {
        if r["receiver"] == "null" {
            assert_eq!(r["matchers"], json!(["alertname = \"InfoInhibitor\""]));
        }
    }
    assert_eq!(
        config["route"]["group_by"],
        json!(["alertname", "namespace"])
    );
    // The dead man's switch: Watchdog goes to a webhook whose URL is a file of a mounted
    // Secret, never a value of the HelmRelease.
    let secrets: Vec<&str> = am["alertmanagerSpec"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let watchdog = config["route"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["matchers"] == json!(["alertname = \"Watchdog\""]))
        .expect("a Watchdog route");
    let heartbeat = receiver_of(watchdog["receiver"].as_str().unwrap());
    let hook = &heartbeat["webhook_configs"][0];
    assert!(hook.get("url").is_none(), "the URL is a Secret: {hook}");
    let url_file = hook["url_file"].as_str().unwrap();
    assert!(
        secrets
            .iter()
            .any(|s| url_file == format!("/etc/alertmanager/secrets/{s}/url")),
        "{url_file} is not a mounted Secret's file ({secrets:?})"
    );
    let required =
        o4g_gitops::components::required_secrets(&Settings::load(&common::root()).unwrap())
            .unwrap();
    for s in &secrets {
        assert!(
            required
                .iter()
                .any(|r| r.name == *s && r.namespace == "observability"),
            "{s} is not a required Secret of observability"
        );
    }
    // The password comes from the mounted Secret, never from the values.
    let file = config["global"]["smtp_auth_password_file"]
        .as_str()
        .unwrap();
    assert!(
        secrets
            .iter()
            .any(|s| file == format!("/etc/alertmanager/secrets/{s}/password"))
    );
    assert!(config["global"].get("smtp_auth_password").is_none());

    if !common::has_tool("amtool", "--version") {
        skip_or_fail!("amtool is not installed (Debian package prometheus-alertmanager)");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, for_alertmanager_0_25(config, dir.path()).to_string()).unwrap();
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    // Routing as amtool resolves it.
    let route = |labels: &[&str]| {
        let out = Command::new("amtool")
            .args(["config", "routes", "test", "--config.file"])
            .arg(&path)
            .args(labels)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        route(&[
            "alertname=PersistentVolumeUsageOver80Percent",
            "severity=warning"
        ]),
        "email"
    );
    assert_eq!(
        route(&["alertname=Watchdog", "severity=none"]),
        watchdog["receiver"].as_str().unwrap()
    );
    assert_ne!(route(&["alertname=Watchdog"]), "null");
    assert_eq!(route(&["alertname=InfoInhibitor"]), "null");
    assert_eq!(
        route(&["alertname=KubePodCrashLooping", "severity=warning"]),
        "email"
    );
}

/// A free TCP port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `prometheus-alertmanager` running the generated configuration; killed on drop.
struct RunningAlertmanager {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for RunningAlertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningAlertmanager {
    fn start(config: &Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alertmanager.yml");
        std::fs::write(&path, for_alertmanager_0_25(config, dir.path()).to_string()).unwrap();
        let port = free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let am = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        for _ in 0..100 {
            if am.amtool(&["config", "show"]).status.success() {
                return am;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("Alertmanager did not start on {}", am.url);
    }

    fn amtool(&self, args: &[&str]) -> std::process::Output {
        Command::new("amtool")
            .arg(format!("--alertmanager.url={}", self.url))
            .args(args)
            .output()
            .unwrap()
    }

    fn add(&self, labels: &[&str]) {
        let mut args = vec!["alert", "add"];
        args.extend(labels);
        let out = self.amtool(&args);
        assert!(out.status.success(), "{}", common::text(&out));
    }

    /// Each active alert's labels and whether something inhibits it.
    fn alerts(&self) -> Vec<(BTreeMap<String, String>, bool)> {
        let out = self.amtool(&["alert", "query", "--active", "--inhibited", "-o", "json"]);
        assert!(out.status.success(), "{}", common::text(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let labels = a["labels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                let inhibited = a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty());
                (labels, inhibited)
            })
            .collect()
    }
}

#[test]
fn inhibition_mutes_only_the_warning_of_the_same_family_and_email_failure_stops_the_heartbeat() {
    // The real Alertmanager (Debian's 0.25 daemon) with the generated configuration, fed with
    // alerts as Prometheus sends them; amtool reads back which are inhibited.
    if !common::has_tool("prometheus-alertmanager", "--version")
        || !common::has_tool("amtool", "--version")
    {
        skip_or_fail!("Alertmanager is not installed (Debian package prometheus-alertmanager)");
    }
    let am = RunningAlertmanager::start(&alertmanager_values()["config"]);
    let rule = rule_groups();
    let family = |alert: &str| rule_label(&rule, alert, "family");
    let pv80 = family("PersistentVolumeUsageOver80Percent");
    let pv90 = family("PersistentVolumeUsageOver90Percent");
    assert_eq!(pv80, pv90, "the 80% and 90% alerts are one family");
    let f = format!("family={pv80}");
    // A chart critical (no family) next to unrelated warnings of its namespace.
    am.add(&[
        "alertname=PrometheusRuleFailures",
        "severity=critical",
        "namespace=observability",
        "job=prometheus",
    ]);
    am.add(&[
        "alertname=TargetDown",
        "severity=warning",
        "namespace=observability",
        "job=grafana",
    ]);
    am.add(&[
        "alertname=KubePodCrashLooping",
        "severity=warning",
        "namespace=observability",
        "pod=grafana-0",
    ]);
    // The project's pair on one claim, and the warning of another claim.
    am.add(&[
        "alertname=PersistentVolumeUsageOver90Percent",
        "severity=critical",
        &f,
        "namespace=prod",
        "persistentvolumeclaim=data-mysql-0",
    ]);
    am.add(&[
        "alertname=PersistentVolumeUsageOver80Percent",
        "severity=warning",
        &f,
        "namespace=prod",
        "persistentvolumeclaim=data-mysql-0",
    ]);
    am.add(&[
        "alertname=PersistentVolumeUsageOver80Percent",
        "severity=warning",
        &f,
        "namespace=prod",
        "persistentvolumeclaim=xwiki-data",
    ]);
    // E-mail fails: the heartbeat must stop.
    am.add(&["alertname=Watchdog", "severity=none"]);
    am.add(&[
        "alertname=AlertmanagerFailedToSendAlerts",
        "severity=warning",
        "namespace=observability",
        "integration=email",
    ]);
    let alerts = am.alerts();
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    let inhibited: BTreeSet<String> = alerts
        .iter()
        .filter(|(_, i)| *i)
        .map(|(l, _)| {
            format!(
                "{}{}",
                l["alertname"],
                l.get("persistentvolumeclaim")
                    .map(|p| format!("/{p}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        inhibited,
        BTreeSet::from([
            "PersistentVolumeUsageOver80Percent/data-mysql-0".to_string(),
            "Watchdog".to_string(),
        ]),
        "{alerts:#?}"
    );
}

/// A label the rule of `alert` sets.
fn rule_label(groups: &Value, alert: &str, label: &str) -> String {
    rule(groups, alert)["labels"][label]
        .as_str()
        .unwrap()
        .to_string()
}

/// A request counter of Traefik v3.7 as Prometheus stores it after the scrape of the `traefik`
/// ServiceMonitor: the router metric (`traefik_router_requests_total` with `code`, `method`,
/// `protocol`, `router`, `service`: traefik/traefik v3.7.9
/// `pkg/observability/metrics/prometheus.go:43,187`), its `service` renamed `exported_service`
/// by the target's own (`honorLabels: false`). The router of environment `ns`'s HTTPS route
/// is named as `components::traefik::https_router_pattern` says, with a rule hash and the
/// provider suffix; `entry_point` picks the HTTPS route's router or the redirect's.
fn traefik(ns: &str, entry_point: &str, code: &str) -> String {
    format!(
        "traefik_router_requests_total{{job=\"traefik-metrics\",namespace=\"traefik\",service=\"traefik-metrics\",pod=\"traefik-x7k2p\",endpoint=\"metrics\",code=\"{code}\",method=\"GET\",protocol=\"http\",router=\"httproute-{ns}-xwiki-gw-{ns}-xwiki-ep-{entry_point}-0-5f1e2d3c4b@kubernetesgateway\",exported_service=\"httproute-{ns}-xwiki-gw-{ns}-xwiki-ep-{entry_point}-0-5f1e2d3c4b-wrr@kubernetesgateway\"}}"
    )
}

#[test]
fn with_traefik_the_5xx_alert_fires_per_host_on_traefiks_metrics() {
    if !has_promtool() {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let mut settings: Settings = common::fixture_settings();
    settings.cluster.ingress.controller = o4g_gitops::settings::IngressController::Traefik;
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let path = "out/infrastructure/configs/monitoring/alerts.yaml";
    let file = o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &String::from_utf8_lossy(tree.get(path).unwrap()),
    )
    .unwrap()
    .remove(0);
    let groups = json!({"groups": file["spec"]["groups"]});
    common::promtool_check_rules(&groups);
    let expr = rule(&groups, "IngressHigh5xxRate")["expr"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        expr.contains("traefik_router_requests_total") && !expr.contains("nginx"),
        "{expr}"
    );
    let host = |env: &str| {
        let e = settings.environment(env).unwrap();
        settings.env(e).xwiki.host.get_ref().to_string()
    };
    let r = rule(&groups, "IngressHigh5xxRate");
    let fires = |h: &str| {
        let mut l: BTreeMap<String, String> = BTreeMap::from([("host".into(), h.to_string())]);
        for (k, v) in r["labels"].as_object().unwrap() {
            l.insert(k.clone(), v.as_str().unwrap().to_string());
        }
        json!([{"exp_labels": l, "exp_annotations": rendered(&r["annotations"], &l)}])
    };
    let case = |series: Vec<(String, &str)>, exp: Value| {
        json!({
            "interval": "1m",
            "input_series": series.iter().map(|(s, v)| json!({"series": s, "values": v})).collect::<Vec<_>>(),
            "alert_rule_test": [{"eval_time": "20m", "alertname": "IngressHigh5xxRate", "exp_alerts": exp}],
        })
    };
    let tests = vec![
        // 9% errors on live's HTTPS route: fires for live's host only.
        case(
            vec![
                (traefik("live", "websecure", "500"), "0+60x40"),
                (traefik("live", "websecure", "200"), "0+600x40"),
                (traefik("qa-7", "websecure", "200"), "0+600x40"),
            ],
            fires(&host("live")),
        ),
        // The same on qa-7's: its host.
        case(
            vec![
                (traefik("qa-7", "websecure", "503"), "0+60x40"),
                (traefik("qa-7", "websecure", "200"), "0+600x40"),
            ],
            fires(&host("qa-7")),
        ),
        // 2% errors: quiet.
        case(
            vec![
                (traefik("live", "websecure", "500"), "0+12x40"),
                (traefik("live", "websecure", "200"), "0+600x40"),
            ],
            json!([]),
        ),
        // An idle host (3 requests a minute, all errors): quiet.
        case(
            vec![(traefik("live", "websecure", "502"), "0+3x40")],
            json!([]),
        ),
        // Errors of the HTTP redirect's router are not the wiki's answers: quiet.
        case(
            vec![
                (traefik("live", "web", "500"), "0+60x40"),
                (traefik("live", "websecure", "200"), "0+600x40"),
            ],
            json!([]),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), groups.to_string()).unwrap();
    let test = json!({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests});
    std::fs::write(dir.path().join("test.yaml"), test.to_string()).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}
