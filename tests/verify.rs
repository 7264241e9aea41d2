//! `o4g verify`: a snapshot built from the rendered tree (objects as the API server returns
//! them, status filled) passes; breaking one item at a time fails with that item's message;
//! bad snapshots are exit 2. On fixture site A's `live` environment.

mod common;

use o4g_gitops::settings::{Environment, Settings};
use serde_json::{Value, json};

const NOW: &str = "2026-12-01T12:00:00Z";
const REVISION: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";

fn ready(message: &str) -> Value {
    json!({"conditions": [{"type": "Ready", "status": "True", "message": message}]})
}

/// What `kubectl get … -o json` would list for fixture site A's `live` on a healthy cluster.
fn healthy() -> Vec<Value> {
    let settings: Settings = common::fixture_settings();
    let env: Environment = common::fixture_env("live");
    let mut items = Vec::new();
    for mut o in o4g_gitops::components::apps::final_objects(&settings, env).unwrap() {
        o["metadata"]["namespace"] = json!("live");
        let kind = o["kind"].as_str().unwrap().to_string();
        if kind == "Deployment" || kind == "StatefulSet" {
            let t = &o["spec"]["template"];
            let mut spec = t["spec"].clone();
            // The API server fills probe defaults the template leaves out.
            for c in spec["containers"].as_array_mut().unwrap() {
                for p in ["readinessProbe", "livenessProbe", "startupProbe"] {
                    if c[p].is_object() {
                        c[p]["successThreshold"] = json!(1);
                    }
                }
            }
            items.push(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{}-0", o["metadata"]["name"].as_str().unwrap()), "namespace": "live", "labels": t["metadata"]["labels"]},
                "spec": spec,
                "status": ready(""),
            }));
        }
        if kind == "CronJob" {
            let name = o["metadata"]["name"].as_str().unwrap().to_string();
            o["status"] = json!({"lastSuccessfulTime": "2026-12-01T02:20:00Z"});
            items.push(json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": format!("{name}-29410335"), "namespace": "live", "creationTimestamp": "2026-12-01T02:15:00Z",
                    "ownerReferences": [{"kind": "CronJob", "name": name}]},
                "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
            }));
        }
        // Each claim bound to its Longhorn volume, with a completed backup of it (longhorn.io/v1beta2
        // `Backup`, labelled `backup-volume`; longhorn-manager v1.12.1, see src/verify.rs).
        let mut claims = Vec::new();
        if kind == "PersistentVolumeClaim" {
            claims.push(o["metadata"]["name"].as_str().unwrap().to_string());
            o["spec"]["volumeName"] = json!(volume_of(claims[0].as_str()));
            o["metadata"]["creationTimestamp"] = json!("2026-10-01T10:00:00Z");
        }
        if kind == "StatefulSet" {
            let set = o["metadata"]["name"].as_str().unwrap().to_string();
            for t in o["spec"]["volumeClaimTemplates"].as_array().unwrap() {
                let claim = format!("{}-{set}-0", t["metadata"]["name"].as_str().unwrap());
                items.push(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim, "namespace": "live", "creationTimestamp": "2026-10-01T10:00:00Z"},
                    "spec": {"storageClassName": t["spec"]["storageClassName"], "volumeName": volume_of(&claim)},
                    "status": {"phase": "Bound"}}));
                claims.push(claim);
            }
        }
        for claim in claims {
            items.push(longhorn_backup(
                &claim,
                "2026-11-28T05:30:00Z",
                "Completed",
                Some("2026-11-28T05:41:12Z"),
            ));
        }
        items.push(o);
    }
    for cm in o4g_gitops::components::dashboards::config_maps(&common::fixture_settings()) {
        items.push(serde_json::to_value(&cm).unwrap());
    }
    items.push(json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "xwiki-tls", "namespace": "live"}, "status": ready("Certificate is up to date and has not expired")}));
    let tree = o4g_gitops::components::build(&settings).unwrap();
    for (path, bytes) in tree.files() {
        if !path.ends_with(".yaml") {
            continue;
        }
        for mut d in o4g_gitops::yaml_read::read_documents(&String::from_utf8_lossy(bytes)).unwrap()
        {
            let kind = d["kind"].as_str().unwrap_or("").to_string();
            let api = d["apiVersion"].as_str().unwrap_or("").to_string();
            if kind == "Kustomization" && api.starts_with("kustomize.toolkit") {
                d["status"] = ready("Applied revision");
                d["status"]["lastAppliedRevision"] = json!(REVISION);
                items.push(d);
            } else if kind == "HelmRelease" {
                d["status"] = ready("Helm install succeeded");
                d["status"]["lastAttemptedRevision"] =
                    d["spec"]["chart"]["spec"]["version"].clone();
                items.push(d);
            }
        }
    }
    items
}

/// The Longhorn volume the CSI driver creates for a claim (named after its PersistentVolume).
fn volume_of(claim: &str) -> String {
    format!("pvc-{claim}-5b1c")
}

/// A longhorn.io/v1beta2 `Backup` of the claim's volume, as longhorn-manager v1.12.1 lists it.
fn longhorn_backup(claim: &str, created: &str, state: &str, done: Option<&str>) -> Value {
    let volume = volume_of(claim);
    let mut b = json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
        "metadata": {"name": format!("backup-{}", created.replace([':', '-'], "").to_lowercase()), "namespace": "longhorn-system",
            "creationTimestamp": created,
            "labels": {"backup-volume": volume, "backup-target": "default"}},
        "spec": {"snapshotName": "snap-1", "labels": {"RecurringJob": "daily-backup"}},
        "status": {"state": state, "volumeName": volume, "backupTargetName": "default"}});
    if let Some(done) = done {
        b["status"]["backupCreatedAt"] = json!(done);
    }
    if state == "Error" {
        b["status"]["error"] = json!("failed to get the backup target default: connection refused");
    }
    b
}

fn verify(items: &[Value]) -> (Option<i32>, String) {
    verify_with(items, &[])
}

fn verify_with(items: &[Value], extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.json");
    std::fs::write(
        &file,
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    verify_file_with(&file, extra)
}

fn verify_file(file: &std::path::Path) -> (Option<i32>, String) {
    verify_file_with(file, &[])
}

fn verify_file_with(file: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "verify",
        "--env",
        "live",
        "--snapshot",
        file.to_str().unwrap(),
        "--now",
        NOW,
        "--revision",
        REVISION,
    ];
    args.extend(extra);
    let out = common::o4g(common::fixture_repo(), &args);
    (out.status.code(), common::text(&out))
}

fn find<'a>(items: &'a mut [Value], kind: &str, name: &str) -> &'a mut Value {
    items
        .iter_mut()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name}"))
}

#[test]
fn a_healthy_snapshot_passes_every_item() {
    let (code, text) = verify(&healthy());
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains('✗'), "{text}");
    for line in [
        "✓ networkpolicy live/default-deny",
        "✓ pod live/xwiki-0 (xwiki)",
        "✓ backup live/mysql-backup",
        "✓ certificate live/xwiki-tls",
        "✓ kustomization flux-system/apps-live",
        "✓ helmrelease longhorn-system/longhorn",
        "✓ volume backup live/xwiki-data",
        "✓ volume backup live/data-mysql-0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(text.contains("✓ dashboard observability/"), "{text}");
}

#[test]
fn each_broken_item_fails_with_its_own_message() {
    type Break = Box<dyn Fn(&mut Vec<Value>)>;
    let cases: Vec<(&str, Break, &str)> = vec![
        (
            "missing policy",
            Box::new(|i| {
                i.retain(|o| {
                    !(o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "default-deny")
                })
            }),
            "✗ networkpolicy live/default-deny: missing",
        ),
        (
            "changed policy",
            Box::new(|i| {
                find(i, "NetworkPolicy", "allow-mysql-backup")["spec"]["egress"] = json!([{}]);
            }),
            "✗ networkpolicy live/allow-mysql-backup: changed",
        ),
        (
            "pod not Ready",
            Box::new(|i| {
                find(i, "Pod", "mysql-0")["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "message": "containers with unready status: [mysql]"}]});
            }),
            "✗ pod live/mysql-0 (mysql): not Ready (containers with unready status: [mysql])",
        ),
        (
            "probe removed",
            Box::new(|i| {
                find(i, "Pod", "xwiki-0")["spec"]["containers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("readinessProbe");
            }),
            "container xwiki: readinessProbe differs from the tree",
        ),
        (
            "backup 25 h old",
            Box::new(|i| {
                find(i, "CronJob", "mysql-backup")["status"]["lastSuccessfulTime"] =
                    json!("2026-11-30T11:00:00Z");
            }),
            "✗ backup live/mysql-backup: last success 2026-11-30T11:00:00Z is 25 h old",
        ),
        (
            "failed last backup",
            Box::new(|i| {
                i.push(json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "xwiki-export-29411775", "namespace": "live", "creationTimestamp": "2026-12-01T11:15:00Z", "ownerReferences": [{"kind": "CronJob", "name": "xwiki-export"}]},
                "status": {"failed": 3, "conditions": [{"type": "Failed", "status": "True"}]}}));
            }),
            "✗ backup live/xwiki-export: its last run xwiki-export-29411775 failed",
        ),
        (
            "newest volume backup in error",
            Box::new(|i| {
                i.push(longhorn_backup(
                    "xwiki-data",
                    "2026-12-01T05:30:00Z",
                    "Error",
                    None,
                ))
            }),
            "✗ volume backup live/xwiki-data: its newest backup backup-20261201t053000z is in state Error (failed to get the backup target default: connection refused)",
        ),
        (
            "volume backup older than the schedule allows",
            Box::new(|i| {
                let b = i
                    .iter_mut()
                    .find(|o| {
                        o["kind"] == "Backup"
                            && o["status"]["volumeName"] == volume_of("xwiki-data")
                    })
                    .unwrap();
                b["status"]["backupCreatedAt"] = json!("2026-11-21T05:41:12Z");
            }),
            // Fixture site A backs volumes up weekly (`30 5 * * 6`): 168 h plus 3 h of grace.
            "✗ volume backup live/xwiki-data: its newest completed backup backup-20261128t053000z of 2026-11-21T05:41:12Z is 246 h old (schedule `30 5 * * 6` allows 171 h)",
        ),
        (
            "volume never backed up",
            Box::new(|i| {
                i.retain(|o| {
                    !(o["kind"] == "Backup"
                        && o["status"]["volumeName"] == volume_of("data-mysql-0"))
                })
            }),
            "✗ volume backup live/data-mysql-0: no completed backup of volume pvc-data-mysql-0-5b1c",
        ),
        (
            "claim not bound",
            Box::new(|i| {
                find(i, "PersistentVolumeClaim", "xwiki-data")["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("volumeName");
            }),
            "✗ volume backup live/xwiki-data: claim not bound to a volume",
        ),
        (
            "missing dashboard",
            Box::new(|i| {
                let n = i
                    .iter()
                    .position(|o| {
                        o["kind"] == "ConfigMap" && o["metadata"]["namespace"] == "observability"
                    })
                    .unwrap();
                i.remove(n);
            }),
            "ConfigMap missing",
        ),
        (
            "certificate not Ready",
            Box::new(|i| {
                find(i, "Certificate", "xwiki-tls")["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "message": "Issuing certificate as Secret does not exist"}]});
            }),
            "✗ certificate live/xwiki-tls: not Ready (Issuing certificate as Secret does not exist)",
        ),
        (
            "kustomization not Ready",
            Box::new(|i| {
                find(i, "Kustomization", "apps-live")["status"]["conditions"][0]["status"] =
                    json!("False");
            }),
            "✗ kustomization flux-system/apps-live: not Ready",
        ),
        (
            "kustomization at another revision",
            Box::new(|i| {
                find(i, "Kustomization", "infra-configs")["status"]["lastAppliedRevision"] =
                    json!("main@sha1:ffff");
            }),
            "✗ kustomization flux-system/infra-configs: applied main@sha1:ffff",
        ),
    ];
    for (what, breaks, expected) in cases {
        let mut items = healthy();
        breaks(&mut items);
        let (code, text) = verify(&items);
        assert_eq!(code, Some(1), "{what}: {text}");
        assert!(
            text.contains(expected),
            "{what}: expected `{expected}` in\n{text}"
        );
        assert_eq!(
            text.matches('✗').count(),
            1,
            "{what}: only that item fails:\n{text}"
        );
    }
}

#[test]
fn a_bad_snapshot_is_exit_2_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let full = json!({"kind": "List", "items": healthy()}).to_string();
    for (what, text, expected) in [
        (
            "not JSON",
            "error: the server doesn't have a resource type".to_string(),
            "not JSON",
        ),
        ("truncated", full[..full.len() / 2].to_string(), "not JSON"),
        (
            "wrong kind",
            json!({"kind": "Pod", "metadata": {"name": "x"}}).to_string(),
            "no `items` list",
        ),
        (
            "item without a kind",
            json!({"kind": "List", "items": [{"metadata": {"name": "x"}}]}).to_string(),
            "items[0] has no kind",
        ),
    ] {
        let file = dir.path().join("s.json");
        std::fs::write(&file, text).unwrap();
        let (code, out) = verify_file(&file);
        assert_eq!(code, Some(2), "{what}: {out}");
        assert!(out.contains(expected), "{what}: {out}");
    }
    let out = common::o4g(common::fixture_repo(), &["verify", "--print-command"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        o4g_gitops::verify::SNAPSHOT_COMMAND
    );
}

/// A volume created less than the schedule's allowance ago has no backup due yet, and passes;
/// an in-progress backup newer than a completed one is not a failure.
#[test]
fn a_new_volume_and_a_backup_in_progress_pass() {
    let mut items = healthy();
    items.retain(|o| {
        !(o["kind"] == "Backup" && o["status"]["volumeName"] == volume_of("data-mysql-0"))
    });
    find(&mut items, "PersistentVolumeClaim", "data-mysql-0")["metadata"]["creationTimestamp"] =
        json!("2026-11-30T12:00:00Z");
    items.push(longhorn_backup(
        "xwiki-data",
        "2026-12-01T11:55:00Z",
        "InProgress",
        None,
    ));
    let (code, text) = verify(&items);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("✓ volume backup live/data-mysql-0"), "{text}");
    assert!(text.contains("✓ volume backup live/xwiki-data"), "{text}");
}

#[test]
fn with_traefik_the_certificate_of_each_gateway_is_checked() {
    // The Gateway's HTTPS listener names the Secret; cert-manager's gateway-shim names the
    // Certificate after it, as the ingress-shim does for an Ingress.
    let mut settings: Settings = common::fixture_settings();
    settings.cluster.ingress.controller = o4g_gitops::settings::IngressController::Traefik;
    let env = common::fixture_env("live");
    let now: k8s_openapi::jiff::Timestamp = NOW.parse().unwrap();
    let cert = |items: &[Value]| {
        o4g_gitops::verify::check(&settings, env, items, now, None, None)
            .unwrap()
            .into_iter()
            .find(|i| i.what == "certificate live/xwiki-tls")
    };
    let with: Vec<Value> = vec![
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "xwiki-tls", "namespace": "live"}, "status": ready("up to date")}),
    ];
    assert_eq!(cert(&with).expect("checked").failure, None);
    assert_eq!(
        cert(&[]).expect("checked").failure.as_deref(),
        Some("missing")
    );
}

/// A Job of the snapshot, as `kubectl get jobs -o json` lists it.
fn job(name: &str, labels: Value, owner: Option<&str>, created: &str, done: Option<&str>) -> Value {
    let owners = owner.map_or(json!([]), |o| json!([{"kind": "CronJob", "name": o}]));
    let status = match done {
        Some(t) => {
            json!({"succeeded": 1, "completionTime": t, "conditions": [{"type": "Complete", "status": "True"}]})
        }
        None => json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}),
    };
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "live", "creationTimestamp": created,
            "labels": labels, "ownerReferences": owners},
        "status": status})
}

/// The restore runbook's Job, completed at `done`.
fn restore(done: &str) -> Value {
    job(
        "mysql-restore-x7k2p",
        json!({o4g_gitops::components::backup::RUNBOOK_LABEL: o4g_gitops::components::backup::RUNBOOK_RESTORE}),
        None,
        "2026-12-01T09:00:00Z",
        Some(done),
    )
}

/// A run of backup CronJob `cron` made by hand (`kubectl create job --from=cronjob/…`).
fn manual(cron: &str, done: &str) -> Value {
    job(
        &format!("{cron}-after-import"),
        json!({"app.kubernetes.io/component": "backup"}),
        Some(cron),
        "2026-12-01T10:30:00Z",
        Some(done),
    )
}

#[test]
fn after_an_import_both_backups_must_have_succeeded_since_it_ended() {
    // The nightly runs (02:20) are under 24 h old, but predate the import that ended at 10:00.
    let mut items = healthy();
    items.push(restore("2026-12-01T10:00:00Z"));
    let (code, text) = verify(&items);
    assert_eq!(code, Some(1), "{text}");
    for cron in ["mysql-backup", "xwiki-export"] {
        assert!(
            text.contains(&format!("✗ backup live/{cron}: no successful run completed after the import (2026-12-01T10:00:00Z): take one with `kubectl -n live create job {cron}-after-import --from=cronjob/{cron}`")),
            "{cron}: {text}"
        );
    }
    assert_eq!(text.matches('✗').count(), 2, "{text}");

    // The dump alone is not enough: the XAR export must follow the import too.
    items.push(manual("mysql-backup", "2026-12-01T10:40:00Z"));
    let (code, text) = verify(&items);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("✓ backup live/mysql-backup"), "{text}");
    assert!(
        text.contains("✗ backup live/xwiki-export: no successful run completed after the import"),
        "{text}"
    );

    // Both taken after the import: the gate opens.
    items.push(manual("xwiki-export", "2026-12-01T10:50:00Z"));
    let (code, text) = verify(&items);
    assert_eq!(code, Some(0), "{text}");

    // A failed manual run after the import does not count, and a verify-only Job is no import.
    let mut items = healthy();
    items.push(restore("2026-12-01T10:00:00Z"));
    items.push(manual("mysql-backup", "2026-12-01T10:40:00Z"));
    let mut failed = job(
        "xwiki-export-after-import",
        json!({}),
        Some("xwiki-export"),
        "2026-12-01T10:30:00Z",
        None,
    );
    failed["metadata"]["name"] = json!("xwiki-export-after-import");
    items.push(failed);
    let (code, text) = verify(&items);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("✗ backup live/xwiki-export: its last run xwiki-export-after-import failed"),
        "{text}"
    );
    let mut items = healthy();
    items.push(job(
        "mysql-verify-q8r3s",
        json!({o4g_gitops::components::backup::RUNBOOK_LABEL: o4g_gitops::components::backup::RUNBOOK_VERIFY}),
        None,
        "2026-12-01T09:00:00Z",
        Some("2026-12-01T10:00:00Z"),
    ));
    let (code, text) = verify(&items);
    assert_eq!(code, Some(0), "a verify-only Job imports nothing: {text}");
}

#[test]
fn since_gates_the_backups_when_the_restore_job_is_gone() {
    // The restore Job was deleted (or expired): the runbook passes the import's end.
    let (code, text) = verify_with(&healthy(), &["--since", "2026-12-01T10:00:00Z"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        text.matches("no successful run completed after the import")
            .count(),
        2,
        "{text}"
    );
    let mut items = healthy();
    items.push(manual("mysql-backup", "2026-12-01T10:40:00Z"));
    items.push(manual("xwiki-export", "2026-12-01T10:50:00Z"));
    let (code, text) = verify_with(&items, &["--since", "2026-12-01T10:00:00Z"]);
    assert_eq!(code, Some(0), "{text}");
    // The later of --since and the restore Job's end wins.
    items.push(restore("2026-12-01T10:45:00Z"));
    let (code, text) = verify_with(&items, &["--since", "2026-12-01T10:00:00Z"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("✓ backup live/xwiki-export"), "{text}");
    assert!(text.contains("✗ backup live/mysql-backup: no successful run completed after the import (2026-12-01T10:45:00Z)"), "{text}");
    let (code, text) = verify_with(&healthy(), &["--since", "yesterday"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--since `yesterday` is not an RFC 3339 time"),
        "{text}"
    );
}
