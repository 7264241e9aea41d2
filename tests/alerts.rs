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

use std::collections::BTreeMap;
use std::process::Command;

use o4g_gitops::settings::Settings;
use serde_json::{Value, json};

/// The alert rules generated for fixture site A (`live`, `qa-7`): the cases below use its
/// namespaces and host. (The live rule file: `the_live_rule_file_passes_promtool_check_rules`.)
fn rule_groups() -> Value {
    let settings: Settings = common::fixture_settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let path = "out/infrastructure/configs/monitoring/alerts.yaml";
    let rule = o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &String::from_utf8_lossy(tree.get(path).expect("alerts are rendered")),
    )
    .unwrap()
    .remove(0);
    assert_eq!(rule["kind"], "PrometheusRule");
    json!({"groups": rule["spec"]["groups"]})
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
    .collect()
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
    let failed = |failed: &str, start: &str, eval: &'static str, fires: bool| {
        Case {
        alert: "BackupJobFailed",
        series: vec![
            (
                "kube_job_status_failed{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\",reason=\"BackoffLimitExceeded\"}".to_string(),
                format!("{failed}+0x160"),
            ),
            (job("kube_job_status_start_time"), format!("{start}+0x160")),
            (
                format!(
                    "kube_job_labels{{job=\"kube-state-metrics\",namespace=\"live\",job_name=\"mysql-backup-29410335\"{}}}",
                    component("backup")
                ),
                "1+0x160".into(),
            ),
        ],
        eval,
        fires_with: fires.then(|| {
            vec![
                ("job", "kube-state-metrics"),
                ("namespace", "live"),
                ("job_name", "mysql-backup-29410335"),
                ("reason", "BackoffLimitExceeded"),
            ]
        }),
    }
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
        // A failed run in the last 24 h; none failed; one that failed 25 h ago.
        failed("1", "0", "10m", true),
        failed("0", "0", "10m", false),
        failed("1", "0", "1500m", false),
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
                    "BackupTooOld" | "BackupJobFailed" => "10m",
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

#[test]
fn alertmanager_routing_passes_amtool_and_never_drops_an_alert() {
    let am = alertmanager_values();
    let config = &am["config"];
    // Every alert reaches a receiver that sends something; only the chart's always-firing
    // Watchdog/InfoInhibitor are dropped.
    let default = config["route"]["receiver"].as_str().unwrap();
    let receiver = config["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == default)
        .unwrap();
    assert!(
        receiver["email_configs"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{receiver}"
    );
    for r in config["route"]["routes"].as_array().unwrap() {
        if r["receiver"] == "null" {
            assert_eq!(
                r["matchers"],
                json!(["alertname =~ \"Watchdog|InfoInhibitor\""])
            );
        }
    }
    assert_eq!(
        config["route"]["group_by"],
        json!(["alertname", "namespace"])
    );
    let inhibit = &config["inhibit_rules"][0];
    assert!(
        inhibit["equal"]
            .as_array()
            .unwrap()
            .contains(&json!("family"))
    );
    // The password comes from the mounted Secret, never from the values.
    let file = config["global"]["smtp_auth_password_file"]
        .as_str()
        .unwrap();
    let secret = am["alertmanagerSpec"]["secrets"][0].as_str().unwrap();
    assert_eq!(file, format!("/etc/alertmanager/secrets/{secret}/password"));
    assert!(config["global"].get("smtp_auth_password").is_none());

    if !common::has_tool("amtool", "--version") {
        skip_or_fail!("amtool is not installed (Debian package prometheus-alertmanager)");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    // Routing as amtool resolves it (it cannot simulate inhibition; the rule is checked above).
    let route = |labels: &str| {
        Command::new("amtool")
            .args(["config", "routes", "test", "--config.file"])
            .arg(&path)
            .arg(labels)
            .output()
            .unwrap()
    };
    let out = route("alertname=PersistentVolumeUsageOver80Percent");
    assert!(
        common::text(&out).contains("email"),
        "{}",
        common::text(&out)
    );
    let out = route("alertname=Watchdog");
    assert!(
        common::text(&out).contains("null"),
        "{}",
        common::text(&out)
    );
}
