//! Dashboards: each ConfigMap holds valid Grafana JSON with a uid and a title, every panel has a
//! title and a unit, every query parses as PromQL in the real `promtool` (rendered into a
//! throwaway rule file) and names only metrics the platform's exporters expose. The alerts'
//! expressions are held to the same list. On both trees (ingress-nginx's and Traefik's metrics).

mod common;

use std::collections::BTreeSet;

use o4g_gitops::components::dashboards::KNOWN_METRICS;
use o4g_gitops::settings::Settings;
use serde_json::{Value, json};

fn rendered(tree: common::Tree, path: &str) -> Vec<Value> {
    let settings: Settings = tree.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    o4g_gitops::lint::parse_documents(
        std::path::Path::new(path),
        &String::from_utf8_lossy(
            tree.get(path)
                .unwrap_or_else(|| panic!("{path} is rendered")),
        ),
    )
    .unwrap()
}

fn dashboards(tree: common::Tree) -> Vec<Value> {
    let cms = rendered(
        tree,
        "out/infrastructure/configs/monitoring/dashboards.yaml",
    );
    assert!(
        cms.len() >= 5,
        "XWiki + ingress, MySQL, volumes + Longhorn backups, backups + restore tests, Flux"
    );
    cms.iter()
        .map(|cm| {
            assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
            assert_eq!(cm["metadata"]["namespace"], "observability");
            let data = cm["data"].as_object().unwrap();
            assert_eq!(data.len(), 1);
            let text = data.values().next().unwrap().as_str().unwrap();
            serde_json::from_str::<Value>(text).expect("valid JSON")
        })
        .collect()
}

/// Metric names a PromQL expression uses: identifiers outside label matchers, strings and
/// `by (…)` / `without (…)` lists that are not PromQL functions, keywords or `le`.
fn metrics_of(expr: &str) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "sum",
        "rate",
        "irate",
        "increase",
        "by",
        "without",
        "max",
        "min",
        "avg",
        "count",
        "histogram_quantile",
        "time",
        "and",
        "or",
        "unless",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "absent",
        "offset",
        "topk",
        "bottomk",
        "clamp_min",
        "clamp_max",
        "label_replace",
    ];
    let mut cleaned = String::new();
    let (mut depth, mut quote) = (0, false);
    for c in expr.chars() {
        match c {
            '"' => quote = !quote,
            '{' if !quote => depth += 1,
            '}' if !quote => depth -= 1,
            _ if quote || depth > 0 => {}
            c => cleaned.push(c),
        }
    }
    // Drop grouping label lists.
    for kw in ["by", "without", "on", "ignoring"] {
        while let Some(i) = cleaned.find(&format!("{kw} (")) {
            let end = cleaned[i..].find(')').map_or(cleaned.len(), |e| i + e + 1);
            cleaned.replace_range(i..end, " ");
        }
    }
    cleaned
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty() && !t.chars().next().unwrap().is_ascii_digit())
        .filter(|t| !WORDS.contains(t))
        .map(String::from)
        .collect()
}

fn known() -> BTreeSet<&'static str> {
    KNOWN_METRICS
        .iter()
        .flat_map(|(_, m)| m.iter().copied())
        .collect()
}

#[test]
fn every_dashboard_is_valid_with_titled_panels_that_carry_units() {
    for tree in common::Tree::ALL {
        valid(tree);
    }
}

fn valid(tree: common::Tree) {
    let mut uids = BTreeSet::new();
    for d in dashboards(tree) {
        let uid = d["uid"].as_str().expect("a uid");
        assert!(uids.insert(uid.to_string()), "uid {uid} twice");
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{uid}: title"
        );
        let panels = d["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{uid}: no panel");
        for p in panels {
            assert!(
                p["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{uid}: a panel without title"
            );
            assert!(
                p["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .is_some_and(|u| !u.is_empty()),
                "{uid}/{}: no unit",
                p["title"]
            );
            assert!(
                !p["targets"].as_array().unwrap().is_empty(),
                "{uid}/{}: no query",
                p["title"]
            );
        }
    }
}

#[test]
fn every_query_and_alert_names_only_metrics_the_exporters_expose() {
    for tree in common::Tree::ALL {
        known_metrics_only(tree);
    }
    // The parser of this test sees what it should.
    assert_eq!(
        metrics_of(
            "sum by (host) (label_replace(rate(traefik_router_requests_total{router=~\"a\"}[5m]), \"host\", \"h\", \"router\", \".*\"))"
        ),
        BTreeSet::from(["traefik_router_requests_total".to_string()])
    );
}

fn known_metrics_only(tree: common::Tree) {
    let known = known();
    let mut exprs: Vec<(String, String)> = Vec::new();
    for d in dashboards(tree) {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                exprs.push((
                    format!("{}/{}", d["uid"], p["title"]),
                    t["expr"].as_str().unwrap().into(),
                ));
            }
        }
    }
    let rule = rendered(tree, "out/infrastructure/configs/monitoring/alerts.yaml").remove(0);
    for g in rule["spec"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            exprs.push((
                r["alert"].as_str().unwrap().into(),
                r["expr"].as_str().unwrap().into(),
            ));
        }
    }
    for (where_, e) in &exprs {
        let used = metrics_of(e);
        assert!(!used.is_empty(), "{where_}: no metric found in {e}");
        for m in used {
            assert!(
                known.contains(m.as_str()),
                "{where_}: `{m}` is exposed by no exporter of the platform ({e})"
            );
        }
    }
    // The parser of this test sees what it should.
    assert_eq!(
        metrics_of(
            "sum by (host) (rate(nginx_ingress_controller_requests{status=~\"5..\"}[5m])) / x_total"
        ),
        BTreeSet::from([
            "nginx_ingress_controller_requests".to_string(),
            "x_total".to_string()
        ])
    );
}

#[test]
fn every_query_parses_as_promql() {
    if !common::has_tool("promtool", "--version") {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let mut rules = Vec::new();
    for d in common::Tree::ALL.into_iter().flat_map(dashboards) {
        for (i, p) in d["panels"].as_array().unwrap().iter().enumerate() {
            for (j, t) in p["targets"].as_array().unwrap().iter().enumerate() {
                rules.push(json!({"record": format!("dashboard:{}:{}:{i}:{j}", rules.len(), d["uid"].as_str().unwrap().replace('-', "_")), "expr": t["expr"]}));
            }
        }
    }
    common::promtool_check_rules(&json!({"groups": [{"name": "dashboards", "rules": rules}]}));
}

#[test]
fn every_panel_the_cutover_runbook_names_exists_and_each_runbook_lists_them() {
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let boards = dashboards(common::Tree::Live);
    let named = o4g_gitops::components::dashboards::cutover_panels();
    assert!(named.len() >= 5);
    for p in &named {
        let board = boards
            .iter()
            .find(|d| d["title"] == p.dashboard)
            .unwrap_or_else(|| panic!("no dashboard {}", p.dashboard));
        assert!(
            board["panels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["title"] == p.panel),
            "{} has no panel {}",
            p.dashboard,
            p.panel
        );
    }
    // One dashboard per concern a person looks at during an incident or the cutover.
    for concern in ["XWiki", "MySQL", "Longhorn", "restore", "Flux"] {
        assert!(
            boards
                .iter()
                .any(|d| d["title"].as_str().unwrap().contains(concern)),
            "no dashboard for {concern}"
        );
    }
    for (env, _) in settings.envs() {
        let path = format!("out/docs/runbooks/cutover-{}.md", env.name());
        let text = String::from_utf8_lossy(tree.get(&path).unwrap()).to_string();
        for p in &named {
            assert!(
                text.contains(&format!("| {} | {} |", p.dashboard, p.panel)),
                "{path} does not list {} / {}",
                p.dashboard,
                p.panel
            );
        }
        // Every panel the runbook's table names exists, read from the rendered runbook.
        let section = text
            .split("\n## Dashboards to watch\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{path} has no \"Dashboards to watch\""));
        let section = section.split("\n## ").next().unwrap();
        let rows: Vec<Vec<&str>> = section
            .lines()
            .filter(|l| {
                l.starts_with("| ") && !l.starts_with("| dashboard |") && !l.starts_with("| ---")
            })
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        assert_eq!(rows.len(), named.len(), "{path}: {rows:?}");
        for row in &rows {
            let board = boards
                .iter()
                .find(|d| d["title"] == row[0])
                .unwrap_or_else(|| {
                    panic!("{path} names dashboard {}, which does not exist", row[0])
                });
            assert!(
                board["panels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["title"] == row[1]),
                "{path} names panel {} of {}, which does not exist",
                row[1],
                row[0]
            );
        }
    }
}

/// Object labels of a series, sorted by name, in PromQL selector form.
fn stored(metric: &str, labels: &[(&str, &str)]) -> String {
    let labels: std::collections::BTreeMap<&str, &str> = labels.iter().copied().collect();
    let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{metric}{{{}}}", body.join(","))
}

/// A workload of the rendered apps: (namespace, kind, name, `app.kubernetes.io/component`,
/// containers, claims).
struct Workload {
    namespace: String,
    kind: String,
    name: String,
    component: String,
    /// The component label of the Jobs a CronJob creates (its `jobTemplate`'s).
    job_component: String,
    containers: Vec<String>,
    claims: Vec<String>,
}

/// The Deployments, StatefulSets, CronJobs and claims of every environment, as rendered
/// (`out/apps/base/` in each environment's namespace, plus its `env-only.yaml`).
fn workloads(settings: &Settings, tree: &o4g_gitops::tree::Tree) -> Vec<Workload> {
    let mut out = Vec::new();
    for (env, _) in settings.envs() {
        let ns = env.name();
        let only = format!("out/apps/overlays/{ns}/env-only.yaml");
        for (path, bytes) in tree.files() {
            let base = path.starts_with("out/apps/base/") && path.ends_with(".yaml");
            if !(base || *path == only) {
                continue;
            }
            let docs = o4g_gitops::lint::parse_documents(
                std::path::Path::new(path),
                &String::from_utf8_lossy(bytes),
            )
            .unwrap();
            for d in docs {
                let kind = d["kind"].as_str().unwrap_or_default().to_string();
                let name = d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let pod = match kind.as_str() {
                    "Deployment" | "StatefulSet" => &d["spec"]["template"]["spec"],
                    "CronJob" => &d["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                    "PersistentVolumeClaim" => &Value::Null,
                    _ => continue,
                };
                let names = |v: &Value| -> Vec<String> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["metadata"]["name"].as_str().or(c["name"].as_str()))
                        .map(String::from)
                        .collect()
                };
                let claims = match kind.as_str() {
                    "PersistentVolumeClaim" => vec![name.clone()],
                    // A StatefulSet's claims are `<template>-<set>-<ordinal>`.
                    "StatefulSet" => names(&d["spec"]["volumeClaimTemplates"])
                        .iter()
                        .map(|t| format!("{t}-{name}-0"))
                        .collect(),
                    _ => vec![],
                };
                out.push(Workload {
                    namespace: ns.to_string(),
                    component: d["metadata"]["labels"]["app.kubernetes.io/component"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    job_component: d["spec"]["jobTemplate"]["metadata"]["labels"]
                        ["app.kubernetes.io/component"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    containers: names(&pod["containers"]),
                    kind,
                    name,
                    claims,
                });
            }
        }
    }
    out
}

/// Every series the dashboards read, as Prometheus stores it after kube-prometheus-stack's
/// scrape (the exporter's labels, the target's, and `exported_` for a collision while
/// `honorLabels` is false; see `src/components/alerts.rs`), for the objects the rendered tree
/// holds, with one object in trouble of each kind so that every panel has something to show.
fn stored_series(settings: &Settings, tree: &o4g_gitops::tree::Tree) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = Vec::new();
    let mut add = |metric: &str, labels: &[(&str, &str)], values: &str| {
        s.push((stored(metric, labels), values.to_string()));
    };
    // kube-state-metrics v2.20.0, scraped with `honorLabels: true` (kube-prometheus-stack
    // 88.5.3 `values.yaml:2702`): the object's `namespace` stays. `internal/store/deployment.go:41`
    // (`namespace`, `deployment`), `cronjob.go:48` (`namespace`, `cronjob`; `kube_cronjob_labels`
    // with `label_<name>` of the allow-listed labels), `job.go:42,302,327` (`namespace`,
    // `job_name`; `kube_job_failed` one series per `condition`).
    let ksm = [
        ("job", "kube-state-metrics"),
        ("service", "kube-prometheus-stack-kube-state-metrics"),
        ("endpoint", "http"),
        ("container", "kube-state-metrics"),
        ("pod", "kube-prometheus-stack-kube-state-metrics-6d9c7"),
        ("instance", "10.42.0.17:8080"),
    ];
    // kubelet, scraped with `honorLabels: true` (`values.yaml:1803`): cAdvisor's container
    // series carry `container`, `pod`, `namespace`, `id`, `image`, `name`
    // (kubernetes/kubernetes `pkg/kubelet/server/server.go` `containerPrometheusLabelsFunc`),
    // volume stats `namespace` and `persistentvolumeclaim`
    // (`pkg/kubelet/metrics/collectors/volume_stats.go`).
    let kubelet = |path: &'static str| {
        [
            ("job", "kubelet"),
            ("service", "kube-prometheus-stack-kubelet"),
            ("endpoint", "https-metrics"),
            ("metrics_path", path),
            ("node", "n1"),
            ("instance", "10.0.0.5:10250"),
        ]
    };
    // longhorn-manager v1.12.1, our ServiceMonitor on `longhorn-backend` (`honorLabels` false,
    // no collision): `metrics_collector/volume_collector.go:59-182` (`node`, `volume`, `pvc`,
    // `pvc_namespace`, and `state` on `longhorn_volume_robustness`), `node_collector.go`
    // (`node`), `backup_collector.go:34-62` (`volume`, `backup`, `recurring_job`; state 3
    // Completed, 4 Error, lines 108-126).
    let longhorn = [
        ("job", "longhorn-backend"),
        ("namespace", "longhorn-system"),
        ("service", "longhorn-backend"),
        ("endpoint", "manager"),
        ("pod", "longhorn-manager-x2"),
        ("instance", "10.42.0.9:9500"),
    ];
    let mut first_job = true;
    for (i, w) in workloads(settings, tree).iter().enumerate() {
        let ns = w.namespace.as_str();
        match w.kind.as_str() {
            "Deployment" => add(
                "kube_deployment_status_replicas_available",
                &[
                    ksm.as_slice(),
                    &[("namespace", ns), ("deployment", &w.name)],
                ]
                .concat(),
                "1x20",
            ),
            "CronJob" => {
                let cron = [ksm.as_slice(), &[("namespace", ns), ("cronjob", &w.name)]].concat();
                add(
                    "kube_cronjob_status_last_successful_time",
                    &cron,
                    "1700000000x20",
                );
                add(
                    "kube_cronjob_labels",
                    &[
                        cron.as_slice(),
                        &[("label_app_kubernetes_io_component", &w.component)],
                    ]
                    .concat(),
                    "1x20",
                );
                let job = format!("{}-29000000", w.name);
                let job = [ksm.as_slice(), &[("namespace", ns), ("job_name", &job)]].concat();
                // The first CronJob's Job failed; the others succeeded.
                let (failed, not) = if first_job {
                    ("1x20", "0x20")
                } else {
                    ("0x20", "1x20")
                };
                first_job = false;
                add(
                    "kube_job_failed",
                    &[job.as_slice(), &[("condition", "true")]].concat(),
                    failed,
                );
                add(
                    "kube_job_failed",
                    &[job.as_slice(), &[("condition", "false")]].concat(),
                    not,
                );
                add(
                    "kube_job_labels",
                    &[
                        job.as_slice(),
                        &[("label_app_kubernetes_io_component", &w.job_component)],
                    ]
                    .concat(),
                    "1x20",
                );
            }
            _ => {}
        }
        for c in &w.containers {
            let pod = format!("{}-0", w.name);
            let labels = [
                kubelet("/metrics/cadvisor").as_slice(),
                &[
                    ("namespace", ns),
                    ("pod", &pod),
                    ("container", c),
                    ("id", "/kubepods/pod1/c1"),
                    ("image", "registry.example/x:1"),
                    ("name", "c1"),
                ],
            ]
            .concat();
            add("container_memory_working_set_bytes", &labels, "1e8x20");
            add("container_cpu_usage_seconds_total", &labels, "0+30x20");
        }
        for (j, claim) in w.claims.iter().enumerate() {
            let claim_labels = [
                kubelet("/metrics").as_slice(),
                &[("namespace", ns), ("persistentvolumeclaim", claim)],
            ]
            .concat();
            add("kubelet_volume_stats_used_bytes", &claim_labels, "1e9x20");
            add(
                "kubelet_volume_stats_capacity_bytes",
                &claim_labels,
                "1e10x20",
            );
            let volume = format!("pvc-{i}-{j}");
            let vol = [
                longhorn.as_slice(),
                &[
                    ("node", "n1"),
                    ("volume", &volume),
                    ("pvc", claim),
                    ("pvc_namespace", ns),
                ],
            ]
            .concat();
            for (state, v) in [("healthy", "1x20"), ("degraded", "0x20")] {
                add(
                    "longhorn_volume_robustness",
                    &[vol.as_slice(), &[("state", state)]].concat(),
                    v,
                );
            }
            add("longhorn_volume_actual_size_bytes", &vol, "2e9x20");
            add("longhorn_volume_capacity_bytes", &vol, "1e10x20");
            add("longhorn_volume_last_backup_at", &vol, "1700000000x20");
            for (k, state) in ["3", "4"].iter().enumerate() {
                let backup = format!("backup-{i}-{j}-{k}");
                add(
                    "longhorn_backup_state",
                    &[
                        longhorn.as_slice(),
                        &[
                            ("volume", &volume),
                            ("backup", &backup),
                            ("recurring_job", "o4g-volume-backup"),
                        ],
                    ]
                    .concat(),
                    &format!("{state}x20"),
                );
            }
        }
    }
    for m in [
        "longhorn_node_storage_usage_bytes",
        "longhorn_node_storage_capacity_bytes",
    ] {
        add(
            m,
            &[longhorn.as_slice(), &[("node", "n1")]].concat(),
            "1e11x20",
        );
    }
    for (env, e) in settings.envs() {
        let ns = env.name();
        let host = e.xwiki.host.get_ref().as_str();
        // mysqld_exporter v0.19.0 (the pinned image): `mysql_up` and the SHOW GLOBAL
        // STATUS/VARIABLES gauges carry no label (`collector/exporter.go:44-48`,
        // `global_status.go:124-131`, `global_variables.go:169-180`); our ServiceMonitor on the
        // `mysql` Service adds the target's.
        let mysql = [
            ("job", "mysql"),
            ("service", "mysql"),
            ("namespace", ns),
            ("endpoint", "metrics"),
            ("pod", "mysql-0"),
            ("container", "mysqld-exporter"),
            ("instance", "10.42.0.12:9104"),
        ];
        for (m, v) in [
            ("mysql_up", "1x20"),
            ("mysql_global_status_threads_connected", "12x20"),
            ("mysql_global_variables_max_connections", "151x20"),
            ("mysql_global_status_queries", "0+600x20"),
            ("mysql_global_status_slow_queries", "0+1x20"),
            (
                "mysql_global_status_innodb_buffer_pool_bytes_data",
                "1e8x20",
            ),
            ("mysql_global_variables_innodb_buffer_pool_size", "1.3e8x20"),
        ] {
            add(m, &mysql, v);
        }
        // ingress-nginx v1.15.1 (`ingress::traffic`'s citation), our ServiceMonitor with
        // `honorLabels` false: the Ingress's `namespace` and `service` become `exported_`.
        let ingress = [
            ("job", "ingress-nginx-controller-metrics"),
            ("namespace", "ingress-nginx"),
            ("service", "ingress-nginx-controller-metrics"),
            ("endpoint", "metrics"),
            ("pod", "ingress-nginx-controller-abc"),
            ("instance", "10.0.0.5:10254"),
            ("controller_namespace", "ingress-nginx"),
            ("controller_class", "k8s.io/ingress-nginx"),
            ("controller_pod", "ingress-nginx-controller-abc"),
            ("exported_namespace", ns),
            ("exported_service", "xwiki"),
            ("ingress", "xwiki"),
            ("host", host),
            ("method", "GET"),
            ("path", "/"),
        ];
        for (status, v) in [("200", "0+600x20"), ("503", "0+6x20")] {
            let labels = [ingress.as_slice(), &[("status", status)]].concat();
            add("nginx_ingress_controller_requests", &labels, v);
            for (le, b) in [("0.5", "0+500x20"), ("2.5", "0+590x20"), ("+Inf", v)] {
                add(
                    "nginx_ingress_controller_request_duration_seconds_bucket",
                    &[labels.as_slice(), &[("le", le)]].concat(),
                    b,
                );
            }
        }
        // Traefik v3.7 (`ingress::traefik_traffic`'s citation): the router counter and
        // histogram of the environment's HTTPS route, our ServiceMonitor with `honorLabels`
        // false: Traefik's `service` becomes `exported_service`.
        let router = format!(
            "httproute-{ns}-xwiki-gw-{ns}-xwiki-ep-websecure-0-5f1e2d3c4b@kubernetesgateway"
        );
        let backend = format!("{}-wrr", router.trim_end_matches("@kubernetesgateway"));
        let traefik = [
            ("job", "traefik-metrics"),
            ("namespace", "traefik"),
            ("service", "traefik-metrics"),
            ("endpoint", "metrics"),
            ("pod", "traefik-x7k2p"),
            ("instance", "10.42.0.30:9100"),
            ("method", "GET"),
            ("protocol", "http"),
            ("router", router.as_str()),
            ("exported_service", backend.as_str()),
        ];
        for (code, v) in [("200", "0+600x20"), ("503", "0+6x20")] {
            let labels = [traefik.as_slice(), &[("code", code)]].concat();
            add("traefik_router_requests_total", &labels, v);
            for (le, b) in [("0.3", "0+500x20"), ("1.2", "0+590x20"), ("+Inf", v)] {
                add(
                    "traefik_router_request_duration_seconds_bucket",
                    &[labels.as_slice(), &[("le", le)]].concat(),
                    b,
                );
            }
        }
        // cert-manager v1.21.1 `internal/collectors/certificate_collector.go:30,33` (`name`,
        // `namespace`, `condition`, `issuer_*`), our ServiceMonitor with `honorLabels` false:
        // the Certificate's `namespace` becomes `exported_namespace`.
        let cert = [
            ("job", "cert-manager"),
            ("namespace", "cert-manager"),
            ("service", "cert-manager"),
            ("endpoint", "http-metrics"),
            ("pod", "cert-manager-5d7f"),
            ("instance", "10.42.0.20:9402"),
            ("name", "xwiki-tls"),
            ("exported_namespace", ns),
            ("issuer_name", "letsencrypt-prod"),
            ("issuer_kind", "ClusterIssuer"),
            ("issuer_group", "cert-manager.io"),
        ];
        add(
            "certmanager_certificate_expiration_timestamp_seconds",
            &cert,
            "1800000000x20",
        );
        for (condition, v) in [("True", "0x20"), ("False", "1x20"), ("Unknown", "0x20")] {
            add(
                "certmanager_certificate_ready_status",
                &[cert.as_slice(), &[("condition", condition)]].concat(),
                v,
            );
        }
    }
    // kube-state-metrics' custom resource state for Flux (`monitoring::flux_resource_state`
    // gives `name`, `exported_namespace`, `ready`, `suspended`, `revision`; v2.20.0 adds
    // `customresource_group`, `_kind`, `_version`, `pkg/customresourcestate/registry_factory.go:44-46`).
    for (kind, group, version, ready, suspended) in [
        (
            "Kustomization",
            "kustomize.toolkit.fluxcd.io",
            "v1",
            "True",
            None,
        ),
        (
            "HelmRelease",
            "helm.toolkit.fluxcd.io",
            "v2",
            "False",
            Some("true"),
        ),
    ] {
        let mut labels = vec![
            ("customresource_group", group),
            ("customresource_kind", kind),
            ("customresource_version", version),
            ("exported_namespace", "flux-system"),
            ("name", "apps"),
            ("namespace", "observability"),
            ("ready", ready),
            ("revision", "main@sha1:4f1a5b10"),
        ];
        labels.extend(ksm.iter().copied());
        labels.extend(suspended.map(|s| ("suspended", s)));
        add("gotk_resource_info", &labels, "1x20");
    }
    // The runner scale set's listener (actions/actions-runner-controller@2ee6b3b8e8
    // `cmd/ghalistener/metrics/metrics.go:17-21,310-316`: `name`, `namespace`, `enterprise`,
    // `organization`, `repository`), our PodMonitor with `honorLabels` false.
    for (m, v) in [
        ("gha_assigned_jobs", "3x20"),
        ("gha_running_jobs", "2x20"),
        ("gha_idle_runners", "0x20"),
    ] {
        add(
            m,
            &[
                ("job", "arc-systems/arc-listener"),
                ("namespace", "arc-systems"),
                ("container", "listener"),
                ("endpoint", "metrics"),
                ("pod", "o4g-runners-754b578d-listener"),
                ("instance", "10.42.0.31:8080"),
                ("name", "o4g-runners"),
                ("exported_namespace", "arc-runners"),
                ("organization", "open4goods"),
                ("repository", "o4g-gitops"),
            ],
            v,
        );
    }
    s
}

/// The labels a legend names (`{{label}}`).
fn legend_labels(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|p| p.split_once("}}"))
        .map(|(l, _)| l.trim().to_string())
        .collect()
}

#[test]
fn every_panel_shows_series_with_its_legend_labels_over_what_the_exporters_store() {
    if !common::has_tool("promtool", "--version") {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    for t in common::Tree::ALL {
        panels_show_series(t);
    }
}

fn panels_show_series(t: common::Tree) {
    let settings = t.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut rules = Vec::new();
    let mut checks = Vec::new();
    for d in dashboards(t) {
        let uid = d["uid"].as_str().unwrap().replace('-', "_");
        for (i, p) in d["panels"].as_array().unwrap().iter().enumerate() {
            for (j, t) in p["targets"].as_array().unwrap().iter().enumerate() {
                let record = format!("dashboard_check:{uid}:{i}:{j}");
                rules.push(json!({"record": record, "expr": t["expr"]}));
                // Not empty: the panel shows something over these series.
                checks.push(json!({"expr": format!("absent({record})"), "eval_time": "10m", "exp_samples": []}));
                // Every series it shows carries each label its legend names.
                for l in legend_labels(t["legendFormat"].as_str().unwrap()) {
                    checks.push(json!({"expr": format!("{record}{{{l}=\"\"}}"), "eval_time": "10m", "exp_samples": []}));
                }
            }
        }
    }
    assert!(checks.len() > rules.len(), "legends name labels");
    let series = stored_series(&settings, &tree);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        json!({"groups": [{"name": "dashboards", "rules": rules}]}).to_string(),
    )
    .unwrap();
    let test = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series.iter().map(|(s, v)| json!({"series": s, "values": v})).collect::<Vec<_>>(),
            "promql_expr_test": checks,
        }],
    });
    std::fs::write(dir.path().join("test.yaml"), test.to_string()).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["test", "rules", "test.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        t.label(),
        common::text(&out)
    );
}

/// The checker above catches a panel that reads a label its metric does not carry, and one
/// whose selector matches no series the exporters store.
#[test]
fn the_panel_check_fails_on_a_wrong_label_or_metric() {
    if !common::has_tool("promtool", "--version") {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let series = stored_series(&settings, &tree);
    for (expr, check) in [
        // Longhorn's volume series have `pvc_namespace`, not `namespace` of the claim.
        (
            "longhorn_volume_last_backup_at",
            "dashboard_check:bad{persistentvolumeclaim=\"\"}",
        ),
        // ingress-nginx reports the code, not its class.
        (
            "nginx_ingress_controller_requests{status=\"5xx\"}",
            "absent(dashboard_check:bad)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rules.yaml"),
            json!({"groups": [{"name": "d", "rules": [{"record": "dashboard_check:bad", "expr": expr}]}]})
                .to_string(),
        )
        .unwrap();
        let test = json!({
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": series.iter().map(|(s, v)| json!({"series": s, "values": v})).collect::<Vec<_>>(),
                "promql_expr_test": [{"expr": check, "eval_time": "10m", "exp_samples": []}],
            }],
        });
        std::fs::write(dir.path().join("test.yaml"), test.to_string()).unwrap();
        let out = std::process::Command::new("promtool")
            .args(["test", "rules", "test.yaml"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{expr} passed the check");
    }
}

/// The 5xx ratio shows 0 for a host that served no 5xx (not a gap), and the share for one
/// that did: evaluated in promtool on two hosts' request counters.
#[test]
fn the_5xx_ratio_is_zero_for_a_host_without_errors() {
    if !common::has_tool("promtool", "--version") {
        skip_or_fail!("promtool is not installed (Debian package prometheus)");
    }
    let expr = dashboards(common::Tree::Live)
        .iter()
        .flat_map(|d| d["panels"].as_array().unwrap().clone())
        .find(|p| p["title"] == "5xx ratio per host")
        .expect("the 5xx ratio panel")["targets"][0]["expr"]
        .as_str()
        .unwrap()
        .to_string();
    let series = |host: &str, status: &str, values: &str| json!({"series": format!("nginx_ingress_controller_requests{{host=\"{host}\",status=\"{status}\"}}"), "values": values});
    let test = json!({
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                series("quiet.example", "200", "0+60x20"),
                series("busy.example", "200", "0+54x20"),
                series("busy.example", "503", "0+6x20"),
            ],
            "promql_expr_test": [{"expr": expr, "eval_time": "10m", "exp_samples": [
                {"labels": "{host=\"busy.example\"}", "value": 0.1},
                {"labels": "{host=\"quiet.example\"}", "value": 0},
            ]}],
        }],
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.yaml"), test.to_string()).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["test", "rules", "test.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}
