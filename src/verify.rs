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
pub const SNAPSHOT_COMMAND: &str = "kubectl get ns,netpol,pods,deploy,sts,cronjob,jobs,pvc,cm,ingress,certificates.cert-manager.io,helmreleases.helm.toolkit.fluxcd.io,kustomizations.kustomize.toolkit.fluxcd.io,backups.longhorn.io -A -o json";

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

/// The time the environment's newest restore completed: the latest `completionTime` of a
/// Complete Job of the restore runbook (label [`components::backup::RUNBOOK_LABEL`]) in `ns`.
pub fn restore_completed(items: &[Value], ns: &str) -> Option<Timestamp> {
    items
        .iter()
        .filter(|o| o["kind"] == "Job" && ns_of(o) == ns)
        .filter(|j| {
            j["metadata"]["labels"][components::backup::RUNBOOK_LABEL]
                == components::backup::RUNBOOK_RESTORE
        })
        .filter(|j| condition_true(j, "Complete"))
        .filter_map(|j| time(&j["status"]["completionTime"]))
        .max()
}

/// Checks `items` against the tree for `env` at time `now`; `revision` is the Git revision
/// every Flux Kustomization must have applied (`main@sha1:…`), when given. Each backup must
/// have succeeded after `since` and after the newest restore the snapshot shows (a backup of
/// the database before the import does not protect what was imported).
pub fn check(
    settings: &Settings,
    env: Environment,
    items: &[Value],
    now: Timestamp,
    revision: Option<&str>,
    since: Option<Timestamp>,
) -> Result<Vec<Item>, crate::Error> {
    let ns = env.name();
    let gate = since.into_iter().chain(restore_completed(items, ns)).max();
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
            Some(live) => backup_failure(live, items, now, gate),
        };
        out.push(item(what, failure));
    }

    // Longhorn volume backups: the only copy of what a volume holds outside the dumps.
    let tree = components::build(settings)?;
    out.extend(volume_backup_items(
        settings, &tree, &declared, ns, items, now,
    ));

    // Dashboards.
    for cm in components::dashboards::config_maps(settings) {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let dns = cm.metadata.namespace.clone().unwrap_or_default();
        let what = format!("dashboard {dns}/{name}");
        let failure = find(items, "ConfigMap", &dns, &name)
            .is_none()
            .then(|| "ConfigMap missing".to_string());
        out.push(item(what, failure));
    }

    // Certificates of the environment's Ingresses and Gateways' HTTPS listeners (cert-manager's
    // ingress- and gateway-shim name them after the TLS Secret).
    let secrets: Vec<&str> = declared
        .iter()
        .filter(|o| o["kind"] == "Ingress")
        .flat_map(|ing| ing["spec"]["tls"].as_array().into_iter().flatten())
        .filter_map(|tls| tls["secretName"].as_str())
        .chain(
            declared
                .iter()
                .filter(|o| o["kind"] == "Gateway")
                .flat_map(|g| g["spec"]["listeners"].as_array().into_iter().flatten())
                .flat_map(|l| l["tls"]["certificateRefs"].as_array().into_iter().flatten())
                .filter_map(|r| r["name"].as_str()),
        )
        .collect();
    {
        for name in secrets {
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

fn backup_failure(
    cron: &Value,
    items: &[Value],
    now: Timestamp,
    gate: Option<Timestamp>,
) -> Option<String> {
    let name = name_of(cron);
    let ns = ns_of(cron);
    // The CronJob's own runs and those made with `kubectl create job --from=cronjob/<name>`,
    // to which kubectl gives an owner reference of kind CronJob and the jobTemplate's labels
    // (kubernetes/kubernetes staging/src/k8s.io/kubectl/pkg/cmd/create/create_job.go,
    // `createJobFromCronJob`).
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
    // `lastSuccessfulTime` counts only the CronJob's scheduled runs; a Job's completionTime
    // counts the manual ones too.
    let success = jobs
        .iter()
        .filter(|j| condition_true(j, "Complete"))
        .filter_map(|j| time(&j["status"]["completionTime"]))
        .chain(time(&cron["status"]["lastSuccessfulTime"]))
        .max();
    if let Some(gate) = gate
        && success.is_none_or(|s| s <= gate)
    {
        return Some(format!(
            "no successful run completed after the import ({gate}): take one with `kubectl -n {ns} create job {name}-after-import --from=cronjob/{name}` and wait until it is Complete"
        ));
    }
    let Some(success) = success else {
        return Some("never succeeded".into());
    };
    let age = now.as_second() - success.as_second();
    (age > MAX_BACKUP_AGE_SECONDS)
        .then(|| format!("last success {success} is {} h old (RPO 24 h)", age / 3600))
}

/// The StorageClasses whose volumes Longhorn provisions: the tree's with provisioner
/// `driver.longhorn.io`, and the chart's own class
/// ([`components::longhorn::CHART_STORAGE_CLASS`]).
fn longhorn_classes(tree: &crate::tree::Tree) -> Vec<String> {
    let mut classes = vec![components::longhorn::CHART_STORAGE_CLASS.to_string()];
    for (path, bytes) in tree.files() {
        if !path.ends_with(".yaml") {
            continue;
        }
        let Ok(docs) = crate::yaml_read::read_documents(&String::from_utf8_lossy(bytes)) else {
            continue;
        };
        classes.extend(
            docs.iter()
                .filter(|d| d["kind"] == "StorageClass" && d["provisioner"] == "driver.longhorn.io")
                .map(|d| name_of(d).to_string()),
        );
    }
    classes
}

/// The claims the environment declares: its PersistentVolumeClaims and each StatefulSet
/// replica's claims (`<template>-<set>-<ordinal>`), with their StorageClass.
fn declared_claims(declared: &[Value]) -> Vec<(String, String)> {
    let class = |spec: &Value| spec["storageClassName"].as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    for o in declared {
        if o["kind"] == "PersistentVolumeClaim" {
            out.push((name_of(o).to_string(), class(&o["spec"])));
        } else if o["kind"] == "StatefulSet" {
            let replicas = o["spec"]["replicas"].as_u64().unwrap_or(1);
            for t in o["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for i in 0..replicas {
                    out.push((
                        format!("{}-{}-{i}", name_of(t), name_of(o)),
                        class(&t["spec"]),
                    ));
                }
            }
        }
    }
    out
}

/// One line per Longhorn volume of the environment: its newest backup (longhorn.io/v1beta2
/// `Backup` in `longhorn-system`) is not in error, and its newest completed one is younger than
/// the RecurringJob's schedule allows (the longest gap between runs plus
/// [`components::alerts::LONGHORN_BACKUP_GRACE`], as `LonghornBackupTooOld`). A volume younger
/// than that allowance without a backup yet passes. What is read, at longhorn-manager v1.12.1:
/// the Backup's label `backup-volume` = the volume's name (`types/types.go:226,694-697`, read
/// back at `controller/backup_controller.go:696`) and `status.volumeName`,
/// `status.state` (`""`, `Pending`, `InProgress`, `Completed`, `Error`, `Unknown`,
/// `Deleting`), `status.error`, `status.backupCreatedAt` (RFC 3339, set with the state
/// `Completed` from the backup store at `backup_controller.go:521-531`: the store's
/// `CreatedTime`, `vendor/github.com/longhorn/backupstore/deltablock.go:630`, `vendor/github.com/longhorn/backupstore/util/util.go:164-166`, RFC 3339 UTC)
/// (`k8s/pkg/apis/longhorn/v1beta2/backup.go:7-19,61-129`). The volume of a claim is its
/// `spec.volumeName`: the CSI driver names the Longhorn volume after the PersistentVolume it
/// is asked to create (`csi/controller_server.go:115`).
fn volume_backup_items(
    settings: &Settings,
    tree: &crate::tree::Tree,
    declared: &[Value],
    ns: &str,
    items: &[Value],
    now: Timestamp,
) -> Vec<Item> {
    let schedule = &settings.cluster.s3.volume_backups.schedule;
    let gap =
        components::alerts::longest_gap(schedule).unwrap_or(crate::quantity::Duration::hours(24));
    let allowance =
        gap.as_secs() as i64 + components::alerts::LONGHORN_BACKUP_GRACE.as_secs() as i64;
    let classes = longhorn_classes(tree);
    let mut out = Vec::new();
    for (claim, class) in declared_claims(declared) {
        if !classes.contains(&class) {
            continue;
        }
        let what = format!("volume backup {ns}/{claim}");
        let Some(pvc) = find(items, "PersistentVolumeClaim", ns, &claim) else {
            out.push(item(what, Some("claim missing".into())));
            continue;
        };
        let Some(volume) = pvc["spec"]["volumeName"].as_str().filter(|v| !v.is_empty()) else {
            out.push(item(what, Some("claim not bound to a volume".into())));
            continue;
        };
        let created = |b: &Value| {
            time(&b["status"]["backupCreatedAt"])
                .or_else(|| time(&b["metadata"]["creationTimestamp"]))
        };
        let mut backups: Vec<&Value> = items
            .iter()
            .filter(|o| {
                o["kind"] == "Backup"
                    && o["apiVersion"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("longhorn.io/"))
                    && (o["metadata"]["labels"]["backup-volume"] == volume
                        || o["status"]["volumeName"] == volume)
            })
            .collect();
        backups.sort_by_key(|b| created(b));
        let state = |b: &Value| b["status"]["state"].as_str().unwrap_or("").to_string();
        if let Some(newest) = backups.last()
            && matches!(state(newest).as_str(), "Error" | "Unknown")
        {
            let error = newest["status"]["error"]
                .as_str()
                .unwrap_or("no error message");
            out.push(item(
                what,
                Some(format!(
                    "its newest backup {} is in state {} ({error})",
                    name_of(newest),
                    state(newest)
                )),
            ));
            continue;
        }
        let completed = backups
            .iter()
            .rev()
            .find(|b| state(b) == "Completed")
            .and_then(|b| Some((*b, time(&b["status"]["backupCreatedAt"])?)));
        let failure = match completed {
            Some((b, at)) => {
                let age = now.as_second() - at.as_second();
                (age > allowance).then(|| {
                    format!(
                        "its newest completed backup {} of {at} is {} h old (schedule `{schedule}` allows {} h)",
                        name_of(b),
                        age / 3600,
                        allowance / 3600
                    )
                })
            }
            None => {
                let young = time(&pvc["metadata"]["creationTimestamp"])
                    .is_some_and(|c| now.as_second() - c.as_second() <= allowance);
                (!young).then(|| {
                    format!(
                        "no completed backup of volume {volume} (schedule `{schedule}` allows {} h)",
                        allowance / 3600
                    )
                })
            }
        };
        out.push(item(what, failure));
    }
    out
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
