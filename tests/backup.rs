//! The backup component's static guarantees: scripts shellcheck-clean and fail-fast, the
//! CronJobs' settings from env.toml, every volume covered by a Longhorn backup, every backup
//! CronJob watched by the freshness alert, the runbook complete. The scripts' behaviour is
//! tests/backup_drill.rs's.

mod common;

use std::process::Command;

use o4g_gitops::components::{apps, backup, longhorn};
use o4g_gitops::settings::{Environment, Settings};
use serde_json::{Value, json};

fn settings() -> Settings {
    Settings::load(&common::root()).unwrap()
}

fn tree_text(path: &str) -> String {
    let tree = o4g_gitops::components::build(&settings()).unwrap();
    String::from_utf8(
        tree.get(path)
            .unwrap_or_else(|| panic!("{path} is rendered"))
            .to_vec(),
    )
    .unwrap()
}

fn cron_jobs(env: Environment) -> Vec<Value> {
    apps::final_objects(&settings(), env)
        .unwrap()
        .into_iter()
        .filter(|o| o["kind"] == "CronJob")
        .collect()
}

#[test]
fn the_rendered_scripts_are_shellcheck_clean_and_stop_at_the_first_error() {
    if !common::has_tool("shellcheck", "--version") {
        skip_or_fail!("shellcheck is not installed (Debian shellcheck)");
    }
    let scripts = backup::scripts().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &scripts {
        std::fs::write(dir.path().join(name), text).unwrap();
        if name != "backup-lib.sh" {
            let strict = text.contains("set -euo pipefail")
                || (text.contains("set -eu\n") && text.contains("set -o pipefail"));
            assert!(strict, "{name} does not stop at the first error");
        }
        assert!(
            !text.contains("{{") && !text.contains("{%"),
            "{name}: template left over"
        );
    }
    let out = Command::new("shellcheck")
        .args(["-x", "--source-path=SCRIPTDIR"])
        .args(scripts.keys())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    // The rendered ConfigMap holds exactly these scripts, and Flux leaves their ${…} alone.
    let cm: Value =
        serde_yaml::from_str(&tree_text("out/apps/base/backup/configmap.yaml")).unwrap();
    assert_eq!(
        cm["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"],
        "disabled"
    );
    for (name, text) in &scripts {
        assert_eq!(cm["data"][name].as_str(), Some(text.as_str()), "{name}");
    }
}

#[test]
fn backup_cron_jobs_follow_env_toml_and_never_overlap_or_hang() {
    let s = settings();
    for env in common::environments() {
        let jobs = cron_jobs(env);
        let b = &s.env(env).backup;
        let names: Vec<&str> = jobs
            .iter()
            .map(|j| j["metadata"]["name"].as_str().unwrap())
            .collect();
        let mut expected = vec![backup::MYSQL_JOB, backup::XWIKI_JOB];
        if b.restore_test.is_some() {
            expected.push(backup::RESTORE_JOB);
        }
        assert_eq!(names, expected, "{env}");
        for j in &jobs {
            let name = j["metadata"]["name"].as_str().unwrap();
            let spec = &j["spec"];
            let schedule = match name {
                backup::RESTORE_JOB => b.restore_test.as_ref().unwrap().schedule.as_str(),
                _ => b.schedule.as_str(),
            };
            assert_eq!(spec["schedule"], schedule, "{env} {name}");
            assert_eq!(spec["concurrencyPolicy"], "Forbid");
            assert!(spec["startingDeadlineSeconds"].as_u64().unwrap() > 0);
            assert!(spec["successfulJobsHistoryLimit"].as_u64().unwrap() >= 1);
            assert!(spec["failedJobsHistoryLimit"].as_u64().unwrap() >= 1);
            let job = &spec["jobTemplate"]["spec"];
            assert!(job["backoffLimit"].as_u64().unwrap() <= 3);
            assert!(job["activeDeadlineSeconds"].as_u64().unwrap() <= 4 * 3600);
            let env_of = |c: &Value, k: &str| {
                c["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["name"] == k)
                    .and_then(|e| e["value"].as_str().map(String::from))
            };
            let main = &job["template"]["spec"]["containers"][0];
            if name != backup::RESTORE_JOB {
                assert_eq!(env_of(main, "BACKUP_PREFIX").as_deref(), Some(env.name()));
                assert_eq!(
                    env_of(main, "RETENTION_DAYS"),
                    Some(b.retention_days.get_ref().to_string())
                );
                assert_eq!(
                    env_of(main, "KEEP_COPIES"),
                    Some(b.keep_copies.get_ref().to_string())
                );
            } else {
                let source = b.restore_test.as_ref().unwrap().source.get_ref();
                assert_eq!(
                    env_of(main, "BACKUP_PREFIX").as_deref(),
                    Some(source.as_str())
                );
            }
            // No credential in the environment, literal or from a Secret: every process of
            // the job would inherit it (issue 29, item 6). They are mounted files, and the
            // variables only name their paths.
            for e in main["env"].as_array().unwrap() {
                let n = e["name"].as_str().unwrap();
                assert!(e.get("valueFrom").is_none(), "{env} {name}: {n}");
                if n.contains("KEY") || n.contains("PASSWORD") || n.contains("SALT") {
                    assert!(
                        n.ends_with("_FILE") || n.ends_with("_DIR"),
                        "{env} {name}: {n}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_backup_cron_job_is_watched_by_the_freshness_alerts() {
    let rules: Value = serde_yaml::from_str(&tree_text(
        "out/infrastructure/configs/monitoring/alerts.yaml",
    ))
    .unwrap();
    let exprs: Vec<(String, String)> = rules["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expr = |a: &str| &exprs.iter().find(|(n, _)| n == a).unwrap().1;
    // kube-state-metrics exports the label the rules select on.
    let kps: Value = serde_yaml::from_str(&tree_text(
        "out/infrastructure/controllers/kube-prometheus-stack/release.yaml",
    ))
    .unwrap();
    let allow = kps["spec"]["values"]["kube-state-metrics"]["metricLabelsAllowlist"].to_string();
    assert!(
        allow.contains("cronjobs=[app.kubernetes.io/component]")
            && allow.contains("jobs=[app.kubernetes.io/component]"),
        "{allow}"
    );
    for env in common::environments() {
        for j in cron_jobs(env) {
            let name = j["metadata"]["name"].as_str().unwrap();
            let component = j["metadata"]["labels"]["app.kubernetes.io/component"]
                .as_str()
                .unwrap();
            let template =
                j["spec"]["jobTemplate"]["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str();
            assert_eq!(
                template,
                Some(component),
                "{env} {name}: its Jobs carry the label too"
            );
            let selector = format!("label_app_kubernetes_io_component=\"{component}\"");
            let alert = if name == backup::RESTORE_JOB {
                "RestoreTestNotSuccessful"
            } else {
                "BackupTooOld"
            };
            assert!(
                expr(alert).contains(&selector),
                "{env} {name} is not selected by {alert}"
            );
            if name != backup::RESTORE_JOB {
                assert!(expr("BackupJobFailed").contains(&selector));
            }
        }
    }
}

#[test]
fn every_volume_of_the_platform_is_covered_by_a_longhorn_backup() {
    let job: Value = serde_yaml::from_str(&tree_text(
        "out/infrastructure/configs/backups/recurringjobs.yaml",
    ))
    .unwrap();
    assert_eq!(job["kind"], "RecurringJob");
    assert_eq!(job["metadata"]["namespace"], "longhorn-system");
    assert_eq!(job["spec"]["task"], "backup");
    // `default` is every volume without a recurring-job label of its own.
    assert_eq!(job["spec"]["groups"], serde_json::json!(["default"]));
    let s = settings();
    assert_eq!(
        job["spec"]["cron"],
        s.cluster.s3.volume_backups.schedule.as_str()
    );
    // Every claim the platform makes (apps and chart values) is on Longhorn and opts out of
    // nothing: no recurring-job label, so it stays in the default group.
    let tree = o4g_gitops::components::build(&s).unwrap();
    let mut claims = 0;
    for env in common::environments() {
        for o in apps::final_objects(&s, env).unwrap() {
            let mut pvcs = vec![];
            if o["kind"] == "PersistentVolumeClaim" {
                pvcs.push(o.clone());
            }
            pvcs.extend(
                o["spec"]["volumeClaimTemplates"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            for c in pvcs {
                claims += 1;
                assert_eq!(
                    c["spec"]["storageClassName"],
                    longhorn::STORAGE_CLASS,
                    "{env}: {c}"
                );
                let labels = c["metadata"]["labels"].to_string();
                assert!(!labels.contains("recurring-job"), "{env}: {labels}");
            }
        }
    }
    assert_eq!(
        claims,
        2 * common::environments().len(),
        "MySQL and xwiki-data in each environment"
    );
    let kps = String::from_utf8(
        tree.get("out/infrastructure/controllers/kube-prometheus-stack/release.yaml")
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let longhorn_claims = kps
        .matches(&format!("storageClassName: {}", longhorn::STORAGE_CLASS))
        .count();
    assert!(
        longhorn_claims >= 2,
        "Prometheus and Alertmanager claim Longhorn volumes"
    );
    // Longhorn knows where to put them.
    let lh: Value = serde_yaml::from_str(&tree_text(
        "out/infrastructure/controllers/longhorn/release.yaml",
    ))
    .unwrap();
    let store = &lh["spec"]["values"]["defaultBackupStore"];
    assert_eq!(store["backupTarget"], longhorn::backup_target(&s));
    assert_eq!(
        store["backupTargetCredentialSecret"],
        longhorn::BACKUP_SECRET
    );
}

#[test]
fn the_restore_runbook_names_every_environment_with_its_own_values() {
    let s = settings();
    let doc = tree_text("out/docs/runbooks/restore.md");
    assert!(
        !doc.contains("{{") && !doc.contains("{%"),
        "template left over"
    );
    for needle in [
        s.cluster.s3.bucket.as_str(),
        s.cluster.s3.endpoint.as_str(),
        &longhorn::backup_target(&s),
        "history=replace",
        "RTO 4 h",
        "RPO 24 h",
    ] {
        assert!(doc.contains(needle), "the runbook lacks {needle}");
    }
    for env in common::environments() {
        let b = &s.env(env).backup;
        assert!(doc.contains(&format!("## Restore `{env}`")), "{env}");
        assert!(doc.contains(&format!(
            "kubectl -n {env} scale deployment/xwiki --replicas=0"
        )));
        assert!(doc.contains(&format!("out/docs/runbooks/restore-{env}.yaml")));
        assert!(doc.contains(b.schedule.as_str()));
        // The restore Job it points at is restricted, pinned and bounded like the CronJobs.
        let job: Value =
            serde_yaml::from_str(&tree_text(&format!("out/docs/runbooks/restore-{env}.yaml")))
                .unwrap();
        assert_eq!(job["metadata"]["namespace"], env.name());
        let cfg = o4g_gitops::policy::AuditConfig::strict(s.allowed_registries());
        let v = o4g_gitops::policy::audit_object(&job, &cfg);
        assert!(v.is_empty(), "{env}: {v:#?}");
        assert!(job["spec"]["activeDeadlineSeconds"].as_u64().unwrap() <= 4 * 3600);
        // The cutover's files Job beside it: the same guarantees.
        let files: Value = serde_yaml::from_str(&tree_text(&format!(
            "out/docs/runbooks/files-restore-{env}.yaml"
        )))
        .unwrap();
        assert_eq!(files["metadata"]["namespace"], env.name());
        let v = o4g_gitops::policy::audit_object(&files, &cfg);
        assert!(v.is_empty(), "{env}: {v:#?}");
    }
}

#[test]
fn restore_job_prints_an_audited_job_and_refuses_bad_arguments() {
    let root = common::root();
    let s = settings();
    let production = s.production().name();
    let other = s
        .environments()
        .map(|e| e.name())
        .find(|e| *e != production)
        .unwrap_or(production);
    let bucket = s.cluster.s3.bucket.as_str();
    let out = common::o4g(&root, &["restore-job", "--env", other]);
    assert!(out.status.success(), "{}", common::text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let job: Value = serde_yaml::from_str(&yaml).unwrap();
    let cfg = o4g_gitops::policy::AuditConfig::strict(s.allowed_registries());
    assert!(o4g_gitops::policy::audit_object(&job, &cfg).is_empty());
    assert_eq!(job["metadata"]["namespace"], other);
    // The newest dump when --from is absent: no argument to the script.
    assert!(job["spec"]["template"]["spec"]["containers"][0]["args"].is_null());
    // A new name at each `kubectl create` (generateName), so a failed Job never blocks the
    // next attempt; kubectl reads the printed YAML as one Job (offline: `label --local`).
    assert_eq!(
        job["metadata"]["generateName"],
        o4g_gitops::components::backup::RESTORE_NOW_JOB
    );
    assert!(job["metadata"]["name"].is_null());
    let header: String = yaml
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for step in [
        format!("flux suspend kustomization apps-{other}"),
        format!(
            "kubectl -n {other} patch cronjob mysql-backup -p '{{\"spec\":{{\"suspend\":true}}}}'"
        ),
        format!(
            "kubectl -n {other} patch cronjob xwiki-export -p '{{\"spec\":{{\"suspend\":true}}}}'"
        ),
        "[?(@.status.active)]".to_string(),
        "| kubectl create -f - -o name)".to_string(),
        "grep -qwE 'Complete|Failed'".to_string(),
        format!(
            "kubectl -n {other} patch cronjob mysql-backup -p '{{\"spec\":{{\"suspend\":false}}}}'"
        ),
        format!("flux resume kustomization apps-{other}"),
    ] {
        assert!(header.contains(&step), "`{step}` in\n{header}");
    }
    let at = |s: &str| header.find(s).unwrap();
    assert!(
        at("flux suspend") < at("suspend\":true")
            && at("suspend\":true") < at("kubectl create")
            && at("kubectl create") < at("suspend\":false")
            && at("suspend\":false") < at("flux resume"),
        "Flux suspended first, resumed last:\n{header}"
    );
    if common::has_tool("kubectl", "--help") || common::in_ci() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), &yaml).unwrap();
        let out = std::process::Command::new("kubectl")
            .args(["label", "--local", "-f"])
            .arg(dir.path().join("job.yaml"))
            .args([
                "o4g.dev/check=1",
                "-o",
                "jsonpath={.kind} {.metadata.generateName}",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Job mysql-restore-");
    }
    // A name that is no environment of these settings.
    let unknown = (0..)
        .map(|i| format!("no-such-env-{i}"))
        .find(|n| s.environment(n).is_none())
        .unwrap();
    let elsewhere = format!("s3://{bucket}/{other}/mysql/20261201T021500Z.sql.gz");
    let not_under = format!("is not under s3://{bucket}/{production}/");
    for (args, expected) in [
        (vec!["--env", unknown.as_str()], "is not an environment"),
        (
            vec!["--env", production, "--from", elsewhere.as_str()],
            not_under.as_str(),
        ),
        (
            vec!["--env", production, "--from", "mysql/latest.sql.gz"],
            "expected s3://",
        ),
        (
            vec![
                "--env",
                production,
                "--from",
                "mysql/20261201T021500Z.sql.gz;rm -rf /",
            ],
            "expected s3://",
        ),
    ] {
        if args.contains(&elsewhere.as_str()) && other == production {
            continue; // a single environment: no other prefix to refuse
        }
        let mut a = vec!["restore-job"];
        a.extend(args);
        let out = common::o4g(&root, &a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(out.stdout.is_empty(), "{a:?}: nothing printed");
        assert!(
            common::text(&out).contains(expected),
            "{a:?}: {}",
            common::text(&out)
        );
    }
}

/// The runbook's bucket setup adds the abort rule to the bucket's lifecycle configuration
/// without losing the rules already there (a put replaces the whole configuration): its `jq`
/// step, run with the real jq on what `get-bucket-lifecycle-configuration` returns.
#[test]
fn the_bucket_setup_keeps_the_lifecycle_rules_already_there() {
    let doc = tree_text("out/docs/runbooks/restore.md");
    let step = doc
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("jq ") && l.contains("AbortIncompleteMultipartUpload"))
        .expect("the runbook has the jq merge step");
    let days = backup::ABORT_INCOMPLETE_UPLOADS_DAYS;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        r#"{"Rules":[]}"#,
        // What the read returns on a bucket with an expiry rule and an old abort rule.
        r#"{"TransitionDefaultMinimumObjectSize":"all_storage_classes_128K","Rules":[
            {"ID":"expire-tmp","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":3}},
            {"ID":"abort-incomplete-multipart-uploads","Status":"Enabled","Filter":{"Prefix":""},
             "AbortIncompleteMultipartUpload":{"DaysAfterInitiation":9}}]}"#,
    ];
    for (i, now) in cases.iter().enumerate() {
        std::fs::write(dir.path().join("lifecycle-now.json"), now).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(step)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        let new: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("lifecycle-new.json")).unwrap())
                .unwrap();
        let keys: Vec<_> = new.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Rules"], "case {i}: {new}");
        let rules = new["Rules"].as_array().unwrap();
        let abort: Vec<_> = rules
            .iter()
            .filter(|r| r.get("AbortIncompleteMultipartUpload").is_some())
            .collect();
        assert_eq!(abort.len(), 1, "case {i}: {new}");
        assert_eq!(
            abort[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], days,
            "case {i}"
        );
        let before: Value = serde_json::from_str(now).unwrap();
        for r in before["Rules"].as_array().unwrap() {
            if r.get("AbortIncompleteMultipartUpload").is_none() {
                assert!(rules.contains(r), "case {i}: {r} was lost");
            }
        }
    }
}

/// The XAR holds the attachments and their revisions (xwiki-platform `ExportAction` defaults),
/// so its staging follows the data volume, and the export streams attachment revisions
/// instead of building each history in XWiki's heap (issue 24, item 12).
#[test]
fn the_xar_staging_follows_the_data_volume_and_attachment_history_is_streamed() {
    let s = settings();
    for env in common::environments() {
        let objs = apps::final_objects(&s, env).unwrap();
        let claim = objs
            .iter()
            .find(|o| {
                o["kind"] == "PersistentVolumeClaim"
                    && o["metadata"]["name"] == o4g_gitops::components::xwiki::DATA_CLAIM
            })
            .unwrap_or_else(|| panic!("{env}: no data claim"));
        let data = o4g_gitops::quantity::Bytes::parse(
            claim["spec"]["resources"]["requests"]["storage"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let job = objs
            .iter()
            .find(|o| o["kind"] == "CronJob" && o["metadata"]["name"] == backup::XWIKI_JOB)
            .unwrap_or_else(|| panic!("{env}: no export"));
        let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let work = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "work")
            .unwrap();
        let staging =
            o4g_gitops::quantity::Bytes::parse(work["emptyDir"]["sizeLimit"].as_str().unwrap())
                .unwrap();
        assert!(
            staging.get() >= data.get(),
            "{env}: staging {} < data volume {}",
            staging.get(),
            data.get()
        );
        let scripts = objs
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == backup::SCRIPTS)
            .unwrap_or_else(|| panic!("{env}: no scripts"));
        let export = scripts["data"]["xwiki-export.sh"].as_str().unwrap();
        assert!(export.contains("attachment_jrcs=false"), "{env}: {export}");
    }
}

/// The volume restore of each environment suspends its Flux Kustomization before a claim is
/// deleted (with `prune: true` and the workload in Git, a reconcile recreates the claim empty),
/// and the dump restore suspends Flux before the backup CronJobs, resuming in reverse order.
#[test]
fn the_restore_runbook_suspends_flux_before_the_backups_and_before_deleting_a_claim() {
    let s = settings();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let doc =
        String::from_utf8(tree.get("out/docs/runbooks/restore.md").unwrap().to_vec()).unwrap();
    for env in s.environments().map(|e| e.name()) {
        let section = doc
            .split(&format!("## Restore `{env}`"))
            .nth(1)
            .unwrap()
            .split("\n## ")
            .next()
            .unwrap();
        let at = |needle: &str| {
            section
                .find(needle)
                .unwrap_or_else(|| panic!("{env}: `{needle}` in\n{section}"))
        };
        let volumes = at("### Volumes from Longhorn backups");
        let suspend = volumes
            + section[volumes..]
                .find(&format!("flux suspend kustomization apps-{env}"))
                .unwrap_or_else(|| panic!("{env}: no flux suspend in the volume restore"));
        let delete = volumes + section[volumes..].find("delete the old claim").unwrap();
        assert!(
            suspend < delete,
            "{env}: Flux suspended before the claim is deleted"
        );
        let flux = at(&format!("flux suspend kustomization apps-{env}"));
        let cron = at(&format!(
            "kubectl -n {env} patch cronjob mysql-backup -p '{{\"spec\":{{\"suspend\":true}}}}'"
        ));
        let active = at("[?(@.status.active)]");
        let create = at("kubectl create -f out/docs/runbooks/restore-");
        let resume_cron = at(&format!(
            "kubectl -n {env} patch cronjob mysql-backup -p '{{\"spec\":{{\"suspend\":false}}}}'"
        ));
        let resume = at(&format!("flux resume kustomization apps-{env}"));
        assert!(
            flux < cron
                && cron < active
                && active < create
                && create < resume_cron
                && resume_cron < resume,
            "{env}: order"
        );
    }
}

/// The wait the restore steps print ends on `Failed` as well as on `Complete`, and not on the
/// interim `FailureTarget`/`SuccessCriteriaMet` conditions: run as printed, with the real
/// kubectl evaluating its JSONPath offline (`label --local` on a Job of that status).
#[test]
fn the_printed_wait_ends_on_failed_or_complete_only() {
    if !common::has_tool("kubectl", "--help") {
        if common::in_ci() {
            panic!("kubectl is required in CI");
        }
        eprintln!("skipped: no kubectl");
        return;
    }
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v kubectl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let lines = backup::wait_lines("live", "restore", "stop here");
    for (conditions, ends, last) in [
        (
            json!([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]),
            true,
            "FailureTarget Failed",
        ),
        (
            json!([{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]),
            true,
            "SuccessCriteriaMet Complete",
        ),
        (
            json!([{"type": "FailureTarget", "status": "True"}]),
            false,
            "",
        ),
        (json!([{"type": "Failed", "status": "False"}]), false, ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "mysql-restore-x7k2p", "namespace": "live"},
            "spec": {"template": {"spec": {"containers": []}}},
            "status": {"conditions": conditions}});
        std::fs::write(dir.path().join("job.json"), job.to_string()).unwrap();
        // `kubectl -n live get "$job" -o jsonpath=…` → the real kubectl on the file.
        let fake = format!(
            "#!/bin/bash\ncase \"$3\" in\n  get) exec {} label --local -f {}/job.json o4g.dev/x=1 \"$5\" \"$6\" ;;\n  logs) echo 'o4g: the log' ;;\nesac\n",
            real.trim(),
            dir.path().display()
        );
        let bin = dir.path().join("kubectl");
        std::fs::write(&bin, fake).unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let script = format!(
            "set -eu\njob=job.batch/mysql-restore-x7k2p\n{}\n",
            lines.join("\n")
        );
        let out = Command::new("timeout")
            .args(["5", "bash", "-c", &script])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        let text = common::text(&out);
        if ends {
            assert!(out.status.success(), "{conditions}: {text}");
            assert_eq!(
                text.lines().last().unwrap_or(""),
                last,
                "{conditions}: {text}"
            );
            assert!(text.contains("o4g: the log"), "{text}");
        } else {
            assert_eq!(
                out.status.code(),
                Some(124),
                "{conditions} must keep waiting: {text}"
            );
        }
    }
}

/// The XAR import check of the restore runbook compares the documents named in the XAR's
/// `package.xml` with the wiki's. XWiki writes each name with `XMLStreamWriter.writeCharacters`
/// (xwiki-platform `xwiki-platform-xar-model` `XarPackage.java` `write(XMLStreamWriter)`), which
/// escapes `&`, `<` and `>`: the runbook's extraction must undo that, or a document whose name
/// holds one of them is reported missing though it was imported.
#[test]
fn the_xar_check_reads_document_names_as_the_wiki_returns_them() {
    let doc = tree_text("out/docs/runbooks/restore.md");
    let step = |start: &str| {
        doc.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("the runbook has a step starting with {start:?}"))
            .to_owned()
    };
    let extract = step("unzip -p backup.xar package.xml");
    let compare = step("comm -23 xar-documents.txt wiki-documents.txt");
    // Names as the wiki holds them (the REST answer is JSON, so unescaped), one with every
    // character XML escapes, translations listed once per locale in the XAR.
    let names = [
        "Main.WebHome",
        "Sandbox.R&D <draft> \"quoted\" 'single'",
        "Équipe.Accueil",
        "A\\.B.Page",
    ];
    let esc = |n: &str| {
        n.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut files = String::new();
    for n in names {
        for locale in ["", "fr"] {
            files.push_str(&format!(
                "    <file defaultAction=\"0\" locale=\"{locale}\">{}</file>\n",
                esc(n)
            ));
        }
    }
    let package = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<package>\n  <infos>\n    <name>Backup</name>\n  </infos>\n  <files>\n{files}  </files>\n</package>\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.xml"), package).unwrap();
    let zipped = Command::new("zip")
        .current_dir(dir.path())
        .args(["-q", "backup.xar", "package.xml"])
        .status()
        .unwrap();
    assert!(zipped.success());
    let mut wiki: Vec<&str> = names.to_vec();
    wiki.push("XWiki.CreatedAtFirstStart");
    let out = Command::new("bash")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "set -eo pipefail\n{extract}\nprintf '%s\\n' \"$@\" | LC_ALL=C sort -u >wiki-documents.txt\n{compare}"
        ))
        .arg("check")
        .args(&wiki)
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "reported missing: {text}"
    );
    let listed = std::fs::read_to_string(dir.path().join("xar-documents.txt")).unwrap();
    assert_eq!(listed.lines().count(), names.len(), "{listed}");
    // And a document really missing from the wiki is reported.
    let out = Command::new("bash")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "set -eo pipefail\n{extract}\nprintf '%s\\n' Main.WebHome | LC_ALL=C sort -u >wiki-documents.txt\n{compare}"
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Sandbox.R&D <draft>"),
        "{}",
        common::text(&out)
    );
}

/// `o4g_client_cnf` (backup-lib.sh) keeps the password file private by itself (the legacy
/// host's work directory persists, so an option file left there readable would stay so), and
/// each failure inside it stops the script even when a caller tests it in a condition, where
/// bash's `set -e` no longer applies (cold review of 50ea0bc).
#[test]
fn the_client_option_file_is_private_and_its_failures_stop_the_script_in_any_context() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("backup-lib.sh");
    std::fs::write(&lib, &backup::scripts().unwrap()["backup-lib.sh"]).unwrap();
    let cnf = dir.path().join("client.cnf");
    let good = dir.path().join("good");
    let broken = dir.path().join("broken");
    std::fs::write(&good, "s3cr\"e\\t #x").unwrap();
    std::fs::write(&broken, "two\nlines").unwrap();
    let run = |script: &str, password: &std::path::Path| {
        Command::new("bash")
            .args([
                "-c",
                &format!(
                    "set -euo pipefail; umask 022; . '{}'; {script}",
                    lib.display()
                ),
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("MYSQL_USER", "backup")
            .env("MYSQL_HOST", "127.0.0.1")
            .env("MYSQL_PORT", "3306")
            .env("MYSQL_PASSWORD_FILE", password)
            .output()
            .unwrap()
    };
    // A readable leftover of an earlier run, under a caller's permissive umask.
    std::fs::write(&cnf, "[client]\nuser=old\n").unwrap();
    std::fs::set_permissions(&cnf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&format!("o4g_client_cnf '{}' 1", cnf.display()), &good);
    assert!(out.status.success(), "{}", common::text(&out));
    let mode = std::fs::metadata(&cnf).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the option file holding the password is {mode:o}"
    );
    let text = std::fs::read_to_string(&cnf).unwrap();
    assert!(text.contains("password=\"s3cr\\\"e\\\\t #x\"\n"), "{text}");
    assert!(!text.contains("user=old"), "{text}");
    // Failures inside, called in a condition: the script stops all the same.
    for (script, password) in [
        (
            format!(
                "o4g_client_cnf '{}' 1 || true; echo CONTINUED",
                cnf.display()
            ),
            &broken,
        ),
        (
            format!(
                "if o4g_client_cnf '{}/missing/x.cnf' 1; then echo CONTINUED; fi",
                dir.path().display()
            ),
            &good,
        ),
    ] {
        let out = run(&script, password);
        assert!(
            !out.status.success() && !common::text(&out).contains("CONTINUED"),
            "{script}: {}",
            common::text(&out)
        );
        assert!(
            common::text(&out).contains("o4g: ERROR:"),
            "{}",
            common::text(&out)
        );
    }
}
