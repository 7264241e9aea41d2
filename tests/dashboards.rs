//! Dashboards: each ConfigMap holds valid Grafana JSON with a uid and a title, every panel has a
//! title and a unit, every query parses as PromQL in the real `promtool` (rendered into a
//! throwaway rule file) and names only metrics the platform's exporters expose. The alerts'
//! expressions are held to the same list.

mod common;

use std::collections::BTreeSet;

use o4g_gitops::components::dashboards::KNOWN_METRICS;
use o4g_gitops::settings::Settings;
use serde_json::{Value, json};

fn rendered(path: &str) -> Vec<Value> {
    let settings = Settings::load(&common::root()).unwrap();
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

fn dashboards() -> Vec<Value> {
    let cms = rendered("out/infrastructure/configs/monitoring/dashboards.yaml");
    assert!(
        cms.len() >= 4,
        "MySQL, XWiki + ingress, Longhorn, backups + certificates"
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
    let mut uids = BTreeSet::new();
    for d in dashboards() {
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
    let known = known();
    let mut exprs: Vec<(String, String)> = Vec::new();
    for d in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                exprs.push((
                    format!("{}/{}", d["uid"], p["title"]),
                    t["expr"].as_str().unwrap().into(),
                ));
            }
        }
    }
    let rule = rendered("out/infrastructure/configs/monitoring/alerts.yaml").remove(0);
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
    for d in dashboards() {
        for (i, p) in d["panels"].as_array().unwrap().iter().enumerate() {
            for (j, t) in p["targets"].as_array().unwrap().iter().enumerate() {
                rules.push(json!({"record": format!("dashboard:{}:{i}:{j}", d["uid"].as_str().unwrap().replace('-', "_")), "expr": t["expr"]}));
            }
        }
    }
    common::promtool_check_rules(&json!({"groups": [{"name": "dashboards", "rules": rules}]}));
}
