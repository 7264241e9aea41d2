//! `o4g verify`: checks a cluster snapshot (the JSON of [`SNAPSHOT_COMMAND`]) against what the
//! rendered tree declares for one environment, before the cutover's unfreeze.
//!
//! One checklist line per item (`✓`/`✗` and why). Nothing here talks to a cluster: the operator
//! runs the printed command and hands its output over, so the check is reproducible and
//! testable.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::components;
use crate::settings::{Environment, Settings};

/// The command whose output `o4g verify --snapshot` reads.
pub const SNAPSHOT_COMMAND: &str = "kubectl get ns,netpol,pods,deploy,sts,cronjob,jobs,pvc,cm,ingress,certificates.cert-manager.io,helmreleases.helm.toolkit.fluxcd.io,kustomizations.kustomize.toolkit.fluxcd.io -A -o json";

/// A backup older than this fails the check (the RPO).
pub const MAX_BACKUP_AGE_SECONDS: i64 = 24 * 3600;

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What was checked, e.g. `networkpolicy prod/default-deny`.
    pub what: String,
    /// `None` when it passed, else why not.
    pub failure: Option<String>,
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.failure {
            None => write!(f, "✓ {}", self.what),
            Some(why) => write!(f, "✗ {}: {why}", self.what),
        }
    }
}

/// Bad snapshot input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SnapshotError(pub String);

/// Parses the snapshot: a `List` (or any object with `items`) of objects with `kind` and
/// `metadata.name`.
pub fn parse_snapshot(name: &str, text: &str) -> Result<Vec<Value>, SnapshotError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        SnapshotError(format!(
            "{name}: not JSON ({e}); expected the output of `{SNAPSHOT_COMMAND}`"
        ))
    })?;
    let items = v["items"].as_array().ok_or_else(|| {
        SnapshotError(format!(
            "{name}: no `items` list (kind {}); expected the output of `{SNAPSHOT_COMMAND}`",
            v["kind"]
        ))
    })?;
    for (i, item) in items.iter().enumerate() {
        if item["kind"].as_str().is_none() || item["metadata"]["name"].as_str().is_none() {
            return Err(SnapshotError(format!(
                "{name}: items[{i}] has no kind or metadata.name"
            )));
        }
    }
    Ok(items.clone())
}

fn ns_of(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("")
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

fn find<'a>(items: &'a [Value], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|o| o["kind"] == kind && ns_of(o) == ns && name_of(o) == name)
}

fn condition_true(o: &Value, kind: &str) -> bool {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn condition_message(o: &Value, kind: &str) -> String {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .and_then(|c| c["message"].as_str())
        .unwrap_or("no such condition")
        .to_string()
}

fn item(what: String, failure: Option<String>) -> Item {
    Item { what, failure }
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

/// Checks `items` against the tree for `env` at time `now`; `revision` is the Git revision
/// every Flux Kustomization must have applied (`main@sha1:…`), when given.
pub fn check(
    settings: &Settings,
    env: Environment,
    items: &[Value],
    now: Timestamp,
    revision: Option<&str>,
) -> Result<Vec<Item>, crate::Error> {
    let ns = env.name();
    let declared = components::apps::final_objects(settings, env)?;
    let mut out = Vec::new();

    // NetworkPolicies: present, and with the spec the tree declares.
    for np in declared.iter().filter(|o| o["kind"] == "NetworkPolicy") {
        let what = format!("networkpolicy {ns}/{}", name_of(np));
        let failure = match find(items, "NetworkPolicy", ns, name_of(np)) {
            None => Some("missing".into()),
            Some(live) if live["spec"] != np["spec"] => {
                Some("changed: its spec differs from the rendered tree".into())
            }
            Some(_) => None,
        };
        out.push(item(what, failure));
    }

    // Workloads: each pod Ready, with the probes of its template.
    for w in declared
        .iter()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
    {
        let template = &w["spec"]["template"];
        let selector = w["spec"]["selector"]["matchLabels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let pods: Vec<&Value> = items
            .iter()
            .filter(|o| o["kind"] == "Pod" && ns_of(o) == ns)
            .filter(|p| {
                selector
                    .iter()
                    .all(|(k, v)| &p["metadata"]["labels"][k] == v)
            })
            .collect();
        let what = format!(
            "{} {ns}/{}",
            w["kind"].as_str().unwrap_or("").to_lowercase(),
            name_of(w)
        );
        if pods.is_empty() {
            out.push(item(what, Some("no pod".into())));
            continue;
        }
        for p in pods {
            let what = format!("pod {ns}/{} ({})", name_of(p), name_of(w));
            let mut why = Vec::new();
            if !condition_true(p, "Ready") {
                why.push(format!("not Ready ({})", condition_message(p, "Ready")));
            }
            for c in template["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let live = p["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|l| l["name"] == c["name"]);
                let Some(live) = live else {
                    why.push(format!("container {} missing", c["name"]));
                    continue;
                };
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    if c[probe].is_object() && !probe_matches(&c[probe], &live[probe]) {
                        why.push(format!(
                            "container {}: {probe} differs from the tree",
                            c["name"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
            out.push(item(what, (!why.is_empty()).then(|| why.join("; "))));
        }
    }

    // Backups: the last run of each backup CronJob succeeded, within the RPO.
    for cj in declared.iter().filter(|o| {
        o["kind"] == "CronJob"
            && o["metadata"]["labels"]["app.kubernetes.io/component"]
                == components::backup::BACKUP_COMPONENT
    }) {
        let name = name_of(cj);
        let what = format!("backup {ns}/{name}");
        let failure = match find(items, "CronJob", ns, name) {
            None => Some("CronJob missing".into()),
            Some(live) => backup_failure(live, items, now),
        };
        out.push(item(what, failure));
    }

    // Dashboards.
    for cm in components::dashboards::config_maps() {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let dns = cm.metadata.namespace.clone().unwrap_or_default();
        let what = format!("dashboard {dns}/{name}");
        let failure = find(items, "ConfigMap", &dns, &name)
            .is_none()
            .then(|| "ConfigMap missing".to_string());
        out.push(item(what, failure));
    }

    // Certificates of the environment's Ingresses (cert-manager names them after the TLS Secret).
    for ing in declared.iter().filter(|o| o["kind"] == "Ingress") {
        for tls in ing["spec"]["tls"].as_array().into_iter().flatten() {
            let name = tls["secretName"].as_str().unwrap_or("");
            let what = format!("certificate {ns}/{name}");
            let failure = match find(items, "Certificate", ns, name) {
                None => Some("missing".into()),
                Some(c) if !condition_true(c, "Ready") => {
                    Some(format!("not Ready ({})", condition_message(c, "Ready")))
                }
                Some(_) => None,
            };
            out.push(item(what, failure));
        }
    }

    // Flux: every Kustomization and HelmRelease Ready at the expected revision.
    let tree = components::build(settings)?;
    for (path, bytes) in tree.files() {
        if !path.ends_with(".yaml") {
            continue;
        }
        let Ok(docs) = crate::yaml_read::read_documents(&String::from_utf8_lossy(bytes)) else {
            continue;
        };
        for d in docs {
            let kind = d["kind"].as_str().unwrap_or("");
            let api = d["apiVersion"].as_str().unwrap_or("");
            let flux_kind = (kind == "Kustomization"
                && api.starts_with("kustomize.toolkit.fluxcd.io"))
                || (kind == "HelmRelease" && api.starts_with("helm.toolkit.fluxcd.io"));
            if !flux_kind {
                continue;
            }
            let (dns, name) = (ns_of(&d).to_string(), name_of(&d).to_string());
            let what = format!("{} {dns}/{name}", kind.to_lowercase());
            let failure = match find(items, kind, &dns, &name) {
                None => Some("missing".into()),
                Some(live) if !condition_true(live, "Ready") => {
                    Some(format!("not Ready ({})", condition_message(live, "Ready")))
                }
                Some(live) => revision_failure(kind, &d, live, revision),
            };
            out.push(item(what, failure));
        }
    }
    Ok(out)
}

/// A probe as the API server returns it carries defaults the template leaves out; compare
/// only what the template sets.
fn probe_matches(declared: &Value, live: &Value) -> bool {
    match (declared, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| probe_matches(v, lv))),
        (d, l) => d == l,
    }
}

fn backup_failure(cron: &Value, items: &[Value], now: Timestamp) -> Option<String> {
    let name = name_of(cron);
    let ns = ns_of(cron);
    let mut jobs: Vec<&Value> = items
        .iter()
        .filter(|o| o["kind"] == "Job" && ns_of(o) == ns)
        .filter(|j| {
            j["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["kind"] == "CronJob" && r["name"] == name)
        })
        .collect();
    jobs.sort_by_key(|j| time(&j["metadata"]["creationTimestamp"]));
    if let Some(last) = jobs.last()
        && last["status"]["failed"].as_u64().unwrap_or(0) > 0
        && !condition_true(last, "Complete")
    {
        return Some(format!("its last run {} failed", name_of(last)));
    }
    let Some(success) = time(&cron["status"]["lastSuccessfulTime"]) else {
        return Some("never succeeded".into());
    };
    let age = now.as_second() - success.as_second();
    (age > MAX_BACKUP_AGE_SECONDS)
        .then(|| format!("last success {success} is {} h old (RPO 24 h)", age / 3600))
}

fn revision_failure(
    kind: &str,
    declared: &Value,
    live: &Value,
    revision: Option<&str>,
) -> Option<String> {
    if kind == "HelmRelease" {
        let want = declared["spec"]["chart"]["spec"]["version"].as_str()?;
        let got = live["status"]["lastAttemptedRevision"]
            .as_str()
            .unwrap_or("none");
        return (got != want).then(|| format!("at chart {got}, the tree pins {want}"));
    }
    let want = revision?;
    let got = live["status"]["lastAppliedRevision"]
        .as_str()
        .unwrap_or("none");
    (got != want).then(|| format!("applied {got}, expected {want}"))
}

/// Counts per outcome, for the summary line.
pub fn summary(items: &[Item]) -> BTreeMap<&'static str, usize> {
    let failed = items.iter().filter(|i| i.failure.is_some()).count();
    BTreeMap::from([("failed", failed), ("passed", items.len() - failed)])
}

/// The current time (the default of `--now`).
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}
