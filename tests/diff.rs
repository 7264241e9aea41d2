//! `o4g diff`: on a scratch git repository, a commit that changes a host, grows MySQL's
//! storage (rendered with --allow-immutable-change), removes a NetworkPolicy flow and bumps an
//! image; the report names every changed object, flags the immutable and the reachability
//! changes, lists the image change per environment, and prints no Secret value.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", common::text(&out));
}

/// A scratch repository with one commit (the current tree) and a second commit with the four
/// changes; returns it with the environment whose settings changed.
fn scratch_with_a_change() -> (tempfile::TempDir, String) {
    let dir = common::scratch_repo();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);

    let settings = o4g_gitops::settings::Settings::load(root).unwrap();
    let env = settings.environments().next().unwrap().to_string();
    // A host change and a MySQL storage grow, through the settings and a render.
    let file = root.join(format!("overlays/{env}/env.toml"));
    let text = std::fs::read_to_string(&file).unwrap();
    let host = regex::Regex::new(r#"(?m)^host = "([^"]+)""#).unwrap();
    let old_host = host.captures(&text).unwrap()[1].to_string();
    let text = host
        .replace(&text, format!("host = \"new-{old_host}\""))
        .to_string();
    let size = regex::Regex::new(r#"(?ms)(\[mysql\].*?^storage_size = )"(\d+)Gi""#).unwrap();
    let grown = size
        .replace(&text, |c: &regex::Captures| {
            format!("{}\"{}Gi\"", &c[1], c[2].parse::<u32>().unwrap() + 10)
        })
        .to_string();
    assert_ne!(grown, text);
    std::fs::write(&file, grown).unwrap();
    let out = common::o4g(root, &["render"]);
    assert!(
        !out.status.success() && common::text(&out).contains("volumeClaimTemplates"),
        "render refuses the claim change without the flag: {}",
        common::text(&out)
    );
    let out = common::o4g(root, &["render", "--allow-immutable-change"]);
    assert!(out.status.success(), "{}", common::text(&out));
    // A removed flow (XWiki to MySQL) and an image bump, in the rendered tree.
    let policies = root.join("out/apps/base/network/networkpolicies.yaml");
    let text = std::fs::read_to_string(&policies).unwrap();
    let rule = "  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app.kubernetes.io/instance: xwiki\n          app.kubernetes.io/name: xwiki\n    ports:\n    - port: mysql\n      protocol: TCP\n";
    assert!(text.contains(rule), "the allow-mysql rule for XWiki");
    std::fs::write(&policies, text.replacen(rule, "  ingress:\n", 1)).unwrap();
    let deployment = root.join("out/apps/base/xwiki/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    let old_image = o4g_gitops::images::XWIKI.to_string();
    assert!(text.contains(&old_image));
    let new_image = format!(
        "docker.io/library/xwiki:17.3.1-mysql-tomcat@sha256:{}",
        "ab".repeat(32)
    );
    std::fs::write(&deployment, text.replace(&old_image, &new_image)).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "change"]);
    (dir, env)
}

#[test]
fn diff_names_each_change_and_flags_the_dangerous_ones() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let (dir, env) = scratch_with_a_change();
    let root = dir.path();
    let out = common::o4g(root, &["diff", "HEAD~1", "--format", "json"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ks = |name: &str| {
        r["kustomizations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .clone()
    };
    let apps = ks(&format!("apps-{env}"));
    let changed: Vec<&str> = apps["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    for object in [
        format!("Ingress {env}/xwiki"),
        format!("StatefulSet {env}/mysql"),
        format!("NetworkPolicy {env}/allow-mysql"),
        format!("Deployment {env}/xwiki"),
    ] {
        assert!(changed.contains(&object.as_str()), "{object}: {changed:?}");
    }
    let ingress = apps["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == format!("Ingress {env}/xwiki"))
        .unwrap();
    assert!(
        ingress["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["new"].as_str().is_some_and(|n| n.starts_with("new-"))),
        "{ingress}"
    );
    let dangers = r["dangers"].as_array().unwrap();
    let has = |kind: &str, object: &str, what: &str| {
        dangers.iter().any(|d| {
            d["kind"] == kind
                && d["object"].as_str().unwrap().contains(object)
                && d["message"].as_str().unwrap().contains(what)
        })
    };
    assert!(
        has(
            "immutable",
            &format!("StatefulSet {env}/mysql"),
            "volumeClaimTemplates"
        ),
        "{dangers:#?}"
    );
    assert!(
        has("storage", &format!("StatefulSet {env}/mysql"), "size"),
        "{dangers:#?}"
    );
    assert!(
        has(
            "reachability",
            &format!("{env}/xwiki → {env}/mysql:3306/TCP"),
            "lost"
        ),
        "{dangers:#?}"
    );
    // The image change, in every environment (the base changed).
    let images = r["images"].as_array().unwrap();
    let settings = o4g_gitops::settings::Settings::load(root).unwrap();
    for e in settings.environments() {
        assert!(
            images
                .iter()
                .any(|i| i["kustomization"] == format!("apps-{e}")
                    && i["new"].as_str().unwrap_or("").contains("17.3.1")),
            "{e}: {images:#?}"
        );
    }
    assert!(!text.contains("ENC[AES256_GCM"), "no Secret value");

    let out = common::o4g(root, &["diff", "HEAD~1", "--format", "markdown"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with(o4g_gitops::diff::MARKER));
    assert!(md.chars().count() <= o4g_gitops::diff::COMMENT_LIMIT);
    for needle in [
        "<details>",
        "**immutable**",
        "**reachability**",
        "17.3.1-mysql-tomcat",
    ] {
        assert!(md.contains(needle), "{needle}:\n{md}");
    }
    assert!(!md.contains("ENC[AES256_GCM"));
}

#[test]
fn diff_refuses_a_bad_base_with_exit_2() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = common::scratch_repo();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    for bad in ["no-such-ref", "--output=/tmp/x"] {
        let out = common::o4g(dir.path(), &["diff", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", common::text(&out));
    }
    // Nothing changed: an empty report.
    let out = common::o4g(dir.path(), &["diff", "HEAD"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No change"));
}

/// A scratch repository whose one commit is the fixture's rendered tree.
fn scratch_committed() -> tempfile::TempDir {
    let dir = common::scratch_repo();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

/// Commits the working tree, then reports it against the commit before: the JSON report
/// (parsed and as text) and the markdown comment.
fn commit_and_diff(root: &Path) -> (serde_json::Value, String, String) {
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "change"]);
    let out = common::o4g(root, &["diff", "HEAD~1", "--format", "json"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let json = String::from_utf8(out.stdout).unwrap();
    let out = common::o4g(root, &["diff", "HEAD~1", "--format", "markdown"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with(o4g_gitops::diff::MARKER), "{md}");
    assert!(
        md.len() <= o4g_gitops::diff::COMMENT_LIMIT,
        "{} bytes",
        md.len()
    );
    (serde_json::from_str(&json).unwrap(), json, md)
}

/// The YAML documents of a file of the rendered tree.
fn read_docs(file: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(file).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

/// Rewrites a file of the rendered tree from its documents.
fn write_docs(file: &Path, docs: &[serde_json::Value]) {
    let text: Vec<String> = docs
        .iter()
        .map(|d| serde_yaml::to_string(d).unwrap())
        .collect();
    std::fs::write(file, text.join("---\n")).unwrap();
}

/// The danger notes of `kind` on `object`.
fn dangers<'a>(r: &'a serde_json::Value, kind: &str, object: &str) -> Vec<&'a str> {
    r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == kind && d["object"] == object)
        .map(|d| d["message"].as_str().unwrap())
        .collect()
}

/// The markdown line of a danger note: `- ⚠️ **kind** `object`: message`.
fn md_danger(kind: &str, object: &str, message: &str) -> String {
    format!("- ⚠️ **{kind}** `{object}`: {message}\n")
}

#[test]
fn diff_flags_a_pod_security_level_change_and_only_that() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    let file = root.join("out/infrastructure/controllers/namespaces.yaml");
    let mut docs = read_docs(&file);
    let enforce = "pod-security.kubernetes.io/enforce";
    let restricted: Vec<usize> = (0..docs.len())
        .filter(|i| docs[*i]["metadata"]["labels"][enforce] == "restricted")
        .collect();
    assert!(
        restricted.len() >= 2,
        "two restricted namespaces: {docs:#?}"
    );
    let name = |d: &serde_json::Value| d["metadata"]["name"].as_str().unwrap().to_string();
    // One namespace loosened to privileged; another changes a label that is not Pod Security.
    let (loosened, relabelled) = (name(&docs[restricted[0]]), name(&docs[restricted[1]]));
    docs[restricted[0]]["metadata"]["labels"][enforce] = "privileged".into();
    docs[restricted[1]]["metadata"]["labels"]["o4g-test/other"] = "x".into();
    write_docs(&file, &docs);
    // A privileged namespace tightened to baseline.
    let (tight_file, mut tight_docs, i) = walkdir::WalkDir::new(root.join("out/infrastructure"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|f| f.is_file())
        .find_map(|f| {
            let docs = read_docs(&f);
            let i = docs.iter().position(|d| {
                d["kind"] == "Namespace" && d["metadata"]["labels"][enforce] == "privileged"
            })?;
            Some((f, docs, i))
        })
        .expect("a privileged namespace");
    let tightened = name(&tight_docs[i]);
    tight_docs[i]["metadata"]["labels"][enforce] = "baseline".into();
    write_docs(&tight_file, &tight_docs);
    let (r, json, md) = commit_and_diff(root);

    let object = format!("Namespace {tightened}");
    let message = format!(
        "{enforce}: privileged → baseline: stricter, pods that break it are refused when next created"
    );
    assert_eq!(
        dangers(&r, "pod-security", &object),
        [message.as_str()],
        "{json}"
    );
    assert!(
        md.contains(&md_danger("pod-security", &object, &message)),
        "{md}"
    );

    let object = format!("Namespace {loosened}");
    let message = format!(
        "{enforce}: restricted → privileged: looser, pods the old level refused are admitted"
    );
    assert_eq!(
        dangers(&r, "pod-security", &object),
        [message.as_str()],
        "{json}"
    );
    let other = format!("Namespace {relabelled}");
    assert!(
        dangers(&r, "pod-security", &other).is_empty(),
        "a label that is not Pod Security is no danger: {json}"
    );
    assert!(
        md.contains(&md_danger("pod-security", &object, &message)),
        "{md}"
    );
    assert!(!md.contains(&format!("**pod-security** `{other}`")), "{md}");
}

/// Two ClusterPolicies in Audit, one per way Kyverno spells the action: `spec.validationFailureAction`
/// and, since Kyverno 1.13, `spec.rules[].validate.failureAction` (both in the CRD,
/// `../shared/schemas/kyverno.io/clusterpolicy_v1.json`, datreeio/CRDs-catalog@7b1e26ef).
fn cluster_policies(action: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: o4g-test-lower-case
spec:
  validationFailureAction: {}
  rules:
  - name: labels
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: a label
      pattern:
        metadata:
          labels:
            app.kubernetes.io/name: \"?*\"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: o4g-test-old-spelling
spec:
  validationFailureAction: {action}
  rules:
  - name: labels
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: a label
      pattern:
        metadata:
          labels:
            app.kubernetes.io/name: \"?*\"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: o4g-test-rule-action
spec:
  rules:
  - name: labels
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      failureAction: {action}
      message: a label
      pattern:
        metadata:
          labels:
            app.kubernetes.io/name: \"?*\"
",
        // The same action in the other case the CRD allows (`audit`, `Audit`): no change.
        if action == "Audit" { "audit" } else { "Audit" }
    )
}

#[test]
fn diff_flags_each_kyverno_audit_deny_change() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = common::scratch_repo();
    let root = dir.path();
    let policies = root.join("out/infrastructure/configs/policies");
    std::fs::write(policies.join("o4g-test.yaml"), cluster_policies("Audit")).unwrap();
    let list = policies.join("kustomization.yaml");
    let text = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, format!("{text}- o4g-test.yaml\n")).unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);

    // The ClusterPolicies go to Enforce; the first ValidatingPolicy in Deny goes to Audit.
    std::fs::write(policies.join("o4g-test.yaml"), cluster_policies("Enforce")).unwrap();
    let mut loosened = None;
    for entry in std::fs::read_dir(&policies).unwrap() {
        let file = entry.unwrap().path();
        let mut docs = read_docs(&file);
        for d in &mut docs {
            if loosened.is_none()
                && d["kind"] == "ValidatingPolicy"
                && d["spec"]["validationActions"] == serde_json::json!(["Deny"])
            {
                d["spec"]["validationActions"] = serde_json::json!(["Audit"]);
                loosened = Some(d["metadata"]["name"].as_str().unwrap().to_string());
            }
        }
        if loosened.is_some() {
            write_docs(&file, &docs);
            break;
        }
    }
    let loosened = loosened.expect("a ValidatingPolicy in Deny");
    let (r, json, md) = commit_and_diff(root);

    for (object, message) in [
        (
            format!("ValidatingPolicy {loosened}"),
            "enforcement validationActions[0]=Deny → validationActions[0]=Audit",
        ),
        (
            "ClusterPolicy o4g-test-old-spelling".to_string(),
            "enforcement validationFailureAction=Audit → validationFailureAction=Enforce",
        ),
        (
            "ClusterPolicy o4g-test-rule-action".to_string(),
            "enforcement rules[0].validate.failureAction=Audit → rules[0].validate.failureAction=Enforce",
        ),
    ] {
        assert_eq!(
            dangers(&r, "kyverno", &object),
            [message],
            "{object}: {json}"
        );
        assert!(
            dangers(&r, "kyverno", "ClusterPolicy o4g-test-lower-case").is_empty(),
            "{json}"
        );
        assert!(
            md.contains(&md_danger("kyverno", &object, message)),
            "{object}: {md}"
        );
    }
}

/// The Flux Kustomizations of the rendered tree: (name, folder it applies, file it is in).
fn flux_kustomizations(root: &Path) -> Vec<(String, String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root.join("out/clusters")).sort_by_file_name() {
        let file = entry.unwrap().into_path();
        if file.extension().is_some_and(|e| e == "yaml") {
            for d in read_docs(&file) {
                if d["kind"] == "Kustomization" {
                    let path = d["spec"]["path"].as_str().unwrap();
                    out.push((
                        d["metadata"]["name"].as_str().unwrap().to_string(),
                        path.trim_start_matches("./").to_string(),
                        file.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// Sets `spec.prune` of every Flux Kustomization.
fn set_prune(root: &Path, prune: bool) {
    let files: BTreeSet<_> = flux_kustomizations(root)
        .into_iter()
        .map(|(_, _, f)| f)
        .collect();
    for file in files {
        let mut docs = read_docs(&file);
        for d in &mut docs {
            if d["kind"] == "Kustomization" {
                d["spec"]["prune"] = prune.into();
            }
        }
        write_docs(&file, &docs);
    }
}

/// Drops `entry` from the `resources` of a kustomization.yaml and deletes its file.
fn drop_resource(folder: &Path, entry: &str) {
    let file = folder.join("kustomization.yaml");
    let mut docs = read_docs(&file);
    let resources = docs[0]["resources"].as_array_mut().unwrap();
    let before = resources.len();
    resources.retain(|r| r != entry);
    assert_eq!(resources.len() + 1, before, "{entry} in {}", file.display());
    write_docs(&file, &docs);
    std::fs::remove_file(folder.join(entry)).unwrap();
}

/// Removes the first StatefulSet and the first PersistentVolumeClaim of the apps' base (and
/// the overlays' patches of them) and the first Namespace of the infrastructure's controllers;
/// returns each removed object with the Flux Kustomization that applied it.
fn remove_stateful_objects(root: &Path) -> Vec<(String, String)> {
    let base = root.join("out/apps/base");
    let mut removed_base = Vec::new();
    for kind in ["StatefulSet", "PersistentVolumeClaim"] {
        let found = walkdir::WalkDir::new(&base)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .filter(|f| f.is_file() && f.file_name().unwrap() != "kustomization.yaml")
            .find_map(|f| {
                let docs = read_docs(&f);
                (docs.len() == 1 && docs[0]["kind"] == kind)
                    .then(|| (f, docs[0]["metadata"]["name"].as_str().unwrap().to_string()))
            })
            .unwrap_or_else(|| panic!("a file with one {kind} under {}", base.display()));
        let (file, name) = found;
        let entry = file.file_name().unwrap().to_str().unwrap().to_string();
        drop_resource(file.parent().unwrap(), &entry);
        removed_base.push((kind, name));
    }
    let mut removed = Vec::new();
    for (ks, path, _) in flux_kustomizations(root) {
        let Some(env) = path.strip_prefix("out/apps/overlays/") else {
            continue;
        };
        // The overlay's patches of the removed objects go too (kustomize refuses a patch
        // without its target).
        let file = root.join(&path).join("kustomization.yaml");
        let mut docs = read_docs(&file);
        if let Some(patches) = docs[0]["patches"].as_array_mut() {
            patches.retain(|p| {
                !removed_base
                    .iter()
                    .any(|(k, n)| p["target"]["kind"] == *k && p["target"]["name"] == *n)
            });
        }
        write_docs(&file, &docs);
        for (kind, name) in &removed_base {
            removed.push((ks.clone(), format!("{kind} {env}/{name}")));
        }
    }
    assert!(removed.len() >= 2, "an apps Kustomization: {removed:?}");
    let file = root.join("out/infrastructure/controllers/namespaces.yaml");
    let mut docs = read_docs(&file);
    let gone = docs.remove(0);
    assert_eq!(gone["kind"], "Namespace");
    write_docs(&file, &docs);
    let ks = flux_kustomizations(root)
        .into_iter()
        .find(|(_, p, _)| p == "out/infrastructure/controllers")
        .expect("the Kustomization of out/infrastructure/controllers")
        .0;
    removed.push((
        ks,
        format!("Namespace {}", gone["metadata"]["name"].as_str().unwrap()),
    ));
    removed
}

/// The object diff of `object` under the Flux Kustomization `ks`.
fn object_diff<'a>(r: &'a serde_json::Value, ks: &str, object: &str) -> &'a serde_json::Value {
    r["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == ks)
        .and_then(|k| {
            k["objects"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["object"] == object)
        })
        .unwrap_or_else(|| panic!("{ks}: {object} in {r:#}"))
}

#[test]
fn diff_flags_the_prune_of_a_pvc_a_statefulset_and_a_namespace() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    let removed = remove_stateful_objects(root);
    let (r, json, md) = commit_and_diff(root);
    for (ks, object) in &removed {
        let o = object_diff(&r, ks, object);
        assert_eq!(o["change"], "removed", "{o}");
        assert_eq!(o["pruned"], true, "{o}");
        let message = format!("Flux ({ks}, prune: true) deletes it from the cluster");
        assert_eq!(
            dangers(&r, "prune", object),
            [message.as_str()],
            "{object}: {json}"
        );
        assert!(md.contains(&md_danger("prune", object, &message)), "{md}");
        assert!(
            md.contains(&format!("- removed `{object}` (Flux prunes it)\n")),
            "{md}"
        );
    }
}

#[test]
fn diff_with_prune_off_lists_the_removals_as_left_in_the_cluster() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    set_prune(root, false);
    git(root, &["commit", "-q", "-am", "prune off"]);
    let removed = remove_stateful_objects(root);
    let (r, json, md) = commit_and_diff(root);
    for (ks, object) in &removed {
        let o = object_diff(&r, ks, object);
        assert_eq!(o["change"], "removed", "{o}");
        assert_eq!(o["pruned"], false, "{o}");
        assert!(
            md.contains(&format!(
                "- removed `{object}` (left in the cluster: prune is off)\n"
            )),
            "{md}"
        );
    }
    assert!(
        !r["dangers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "prune"),
        "{json}"
    );
    assert!(!md.contains("**prune**"), "{md}");
}

#[test]
fn a_huge_diff_fits_one_github_comment_and_the_json_keeps_everything() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    // 1,000 claims in the apps' base, then all of them removed: a prune danger note per claim
    // and environment, far more than one comment holds.
    let dir = common::scratch_repo();
    let root = dir.path();
    let folder = root.join("out/apps/base");
    let claims: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": format!("o4g-test-{i:04}")},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}
                }
            })
        })
        .collect();
    write_docs(&folder.join("o4g-test-claims.yaml"), &claims);
    let list = folder.join("kustomization.yaml");
    let mut docs = read_docs(&list);
    docs[0]["resources"]
        .as_array_mut()
        .unwrap()
        .push("o4g-test-claims.yaml".into());
    write_docs(&list, &docs);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    drop_resource(&folder, "o4g-test-claims.yaml");
    let (r, json, md) = commit_and_diff(root);

    let envs = flux_kustomizations(root)
        .iter()
        .filter(|(_, p, _)| p.starts_with("out/apps/overlays/"))
        .count();
    assert!(envs >= 1);
    let prunes = r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "prune")
        .count();
    assert_eq!(prunes, 1000 * envs, "the JSON keeps every note");
    assert!(json.len() > o4g_gitops::diff::COMMENT_LIMIT);
    // The comment: within GitHub's limit (counted in bytes, which no way of counting
    // characters exceeds), whole lines, the danger notes first, and a note that it is cut.
    assert!(
        md.len() <= o4g_gitops::diff::COMMENT_LIMIT,
        "{} bytes",
        md.len()
    );
    assert!(md.contains("**Danger notes**"), "{md}");
    assert!(md.contains("o4g-test-0000"), "{md}");
    assert!(md.contains("Cut to fit GitHub's comment size"), "{md}");
    assert!(md.ends_with('\n'));
}

/// Sets `metadata.<field>.kustomize.toolkit.fluxcd.io/prune` to `value` on the first object of
/// `kind` in a file under `folder` (or in the file `folder`); returns the file.
fn mark_prune_disabled(folder: &Path, kind: &str, field: &str, value: &str) -> std::path::PathBuf {
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let file = entry.unwrap().into_path();
        if !file.is_file() || file.file_name().unwrap() == "kustomization.yaml" {
            continue;
        }
        let mut docs = read_docs(&file);
        if let Some(d) = docs.iter_mut().find(|d| d["kind"] == kind) {
            d["metadata"][field]["kustomize.toolkit.fluxcd.io/prune"] = value.into();
            write_docs(&file, &docs);
            return file;
        }
    }
    panic!("no {kind} under {}", folder.display());
}

#[test]
fn diff_leaves_objects_marked_prune_disabled_and_says_why() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = common::scratch_repo();
    let root = dir.path();
    // Flux compares the value in any case, on a label or an annotation (fluxcd/pkg@f3cc2d70
    // ssa/utils/meta.go AnyInMetadata).
    mark_prune_disabled(
        &root.join("out/apps/base"),
        "PersistentVolumeClaim",
        "labels",
        "Disabled",
    );
    let file = mark_prune_disabled(
        &root.join("out/infrastructure/controllers/namespaces.yaml"),
        "Namespace",
        "annotations",
        "disabled",
    );
    assert!(file.ends_with("namespaces.yaml"), "{}", file.display());
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    let removed = remove_stateful_objects(root);
    let (r, json, md) = commit_and_diff(root);
    let why = "kustomize.toolkit.fluxcd.io/prune: disabled on the object";
    for (ks, object) in &removed {
        let o = object_diff(&r, ks, object);
        if object.starts_with("StatefulSet ") {
            assert_eq!(o["pruned"], true, "{o}");
            assert_eq!(dangers(&r, "prune", object).len(), 1, "{object}: {json}");
        } else {
            assert_eq!(o["pruned"], false, "{o}");
            assert_eq!(o["why"], why, "{o}");
            assert!(dangers(&r, "prune", object).is_empty(), "{object}: {json}");
            assert!(
                md.contains(&format!(
                    "- removed `{object}` (left in the cluster: {why})\n"
                )),
                "{md}"
            );
        }
    }
}

#[test]
fn diff_says_flux_may_prune_when_prune_changes_in_the_same_commit() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    set_prune(root, false);
    let removed = remove_stateful_objects(root);
    let (r, json, md) = commit_and_diff(root);
    for (ks, object) in &removed {
        let o = object_diff(&r, ks, object);
        assert_eq!(o["pruned"], true, "{o}");
        let message = format!(
            "Flux ({ks}) may delete it from the cluster: prune changes true → false in the same commit, and the revision may be reconciled under either"
        );
        assert_eq!(dangers(&r, "prune", object), [message.as_str()], "{json}");
        assert!(md.contains(&md_danger("prune", object, &message)), "{md}");
    }
}

#[test]
fn diff_follows_the_deletion_policy_of_a_removed_kustomization() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = common::scratch_repo();
    let root = dir.path();
    let apps: Vec<_> = flux_kustomizations(root)
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("out/apps/overlays/"))
        .collect();
    assert!(apps.len() >= 2, "two apps Kustomizations: {apps:?}");
    // The first keeps its objects when it is deleted; the second mirrors prune: true.
    let (orphan, mirror) = (&apps[0], &apps[1]);
    let mut docs = read_docs(&orphan.2);
    for d in &mut docs {
        if d["metadata"]["name"] == orphan.0.as_str() {
            d["spec"]["deletionPolicy"] = "Orphan".into();
            assert_eq!(d["spec"]["prune"], true);
        }
    }
    write_docs(&orphan.2, &docs);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    for (_, _, file) in [orphan, mirror] {
        let mut docs = read_docs(file);
        docs.retain(|d| {
            d["metadata"]["name"] != orphan.0.as_str() && d["metadata"]["name"] != mirror.0.as_str()
        });
        write_docs(file, &docs);
    }
    let (r, json, md) = commit_and_diff(root);
    let statefulset = |ks: &str| {
        r["kustomizations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == ks)
            .unwrap_or_else(|| panic!("{ks}: {json}"))["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"].as_str().unwrap().starts_with("StatefulSet "))
            .unwrap_or_else(|| panic!("a StatefulSet under {ks}: {json}"))
            .clone()
    };
    let kept = statefulset(&orphan.0);
    let object = kept["object"].as_str().unwrap();
    let why = format!(
        "the Flux Kustomization {} is removed (deletionPolicy: Orphan, prune: true)",
        orphan.0
    );
    assert_eq!(
        (&kept["pruned"], &kept["why"]),
        (&false.into(), &why.clone().into()),
        "{kept}"
    );
    assert!(dangers(&r, "prune", object).is_empty(), "{json}");
    assert!(
        md.contains(&format!(
            "- removed `{object}` (left in the cluster: {why})\n"
        )),
        "{md}"
    );
    let gone = statefulset(&mirror.0);
    let object = gone["object"].as_str().unwrap();
    let message = format!(
        "the Flux Kustomization {} is removed (deletionPolicy: MirrorPrune, prune: true): Flux deletes it from the cluster",
        mirror.0
    );
    assert_eq!(gone["pruned"], true, "{gone}");
    assert_eq!(dangers(&r, "prune", object), [message.as_str()], "{json}");
    assert!(md.contains(&md_danger("prune", object, &message)), "{md}");
    assert!(
        md.contains(&format!("- removed `{object}` ({message})\n")),
        "{md}"
    );
}

#[test]
fn diff_flags_a_namespace_moving_from_audit_to_deny() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    // A pair of ValidatingPolicies with one title: the Deny one selects namespaces by
    // `In`, the Audit one the rest by `NotIn`.
    let file = root.join("out/infrastructure/configs/policies/image-digest.yaml");
    let mut docs = read_docs(&file);
    let expr = |d: &serde_json::Value| {
        d["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0].clone()
    };
    let deny = docs
        .iter()
        .position(|d| d["spec"]["validationActions"] == serde_json::json!(["Deny"]))
        .expect("the Deny policy");
    let audit = docs
        .iter()
        .position(|d| d["spec"]["validationActions"] == serde_json::json!(["Audit"]))
        .expect("the Audit policy");
    assert_eq!(expr(&docs[deny])["operator"], "In");
    assert_eq!(expr(&docs[audit])["operator"], "NotIn");
    let title = docs[deny]["metadata"]["annotations"]["policies.kyverno.io/title"]
        .as_str()
        .unwrap()
        .to_string();
    // A namespace of the rendered tree under the Audit policy.
    let excluded = expr(&docs[audit])["values"].as_array().unwrap().clone();
    let moved = walkdir::WalkDir::new(root.join("out/infrastructure"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|f| f.is_file())
        .flat_map(|f| read_docs(&f))
        .filter(|d| d["kind"] == "Namespace")
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .find(|n| !excluded.contains(&n.as_str().into()))
        .expect("a namespace in Audit");
    for i in [deny, audit] {
        docs[i]["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"]
            .as_array_mut()
            .unwrap()
            .push(moved.as_str().into());
    }
    write_docs(&file, &docs);
    let (r, json, md) = commit_and_diff(root);
    let object = format!("{title} in namespace {moved}");
    let message = "enforcement Audit → Deny";
    assert_eq!(dangers(&r, "kyverno", &object), [message], "{json}");
    assert!(md.contains(&md_danger("kyverno", &object, message)), "{md}");
    // Only that namespace moved.
    let notes: Vec<_> = r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "kyverno")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:#?}");
}

/// The first workload under `folder` whose pod template has `app.kubernetes.io/name: name`:
/// its name and its containers' ports as `port/protocol`.
fn workload_labelled(folder: &Path, name: &str) -> (String, Vec<String>) {
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let file = entry.unwrap().into_path();
        if !file.is_file() || file.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for d in read_docs(&file) {
            let template = match d["kind"].as_str() {
                Some("Deployment" | "StatefulSet") => &d["spec"]["template"],
                Some("CronJob") => &d["spec"]["jobTemplate"]["spec"]["template"],
                _ => continue,
            };
            if template["metadata"]["labels"]["app.kubernetes.io/name"] != name {
                continue;
            }
            let ports = template["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["containerPort"],
                        p["protocol"].as_str().unwrap_or("TCP")
                    )
                })
                .collect();
            return (d["metadata"]["name"].as_str().unwrap().to_string(), ports);
        }
    }
    panic!("no workload labelled {name} under {}", folder.display());
}

#[test]
fn diff_flags_each_flow_a_network_policy_gains_and_only_those() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    let base = root.join("out/apps/base");
    // The backup job may now reach XWiki: egress on its side, ingress on XWiki's.
    let (backup, _) = workload_labelled(&base, "mysql-backup");
    let (xwiki, ports) = workload_labelled(&base, "xwiki");
    assert!(!ports.is_empty(), "XWiki listens on a port");
    let select = |name: &str| serde_json::json!({"matchLabels": {"app.kubernetes.io/name": name}});
    let file = base.join("network/networkpolicies.yaml");
    let mut docs = read_docs(&file);
    docs.push(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "o4g-test-backup-egress"},
        "spec": {"podSelector": select("mysql-backup"), "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": select("xwiki")}]}]}
    }));
    docs.push(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "o4g-test-xwiki-ingress"},
        "spec": {"podSelector": select("xwiki"), "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": select("mysql-backup")}]}]}
    }));
    write_docs(&file, &docs);
    let (r, json, md) = commit_and_diff(root);

    let envs: Vec<String> = flux_kustomizations(root)
        .into_iter()
        .filter_map(|(_, p, _)| p.strip_prefix("out/apps/overlays/").map(str::to_string))
        .collect();
    assert!(!envs.is_empty());
    let message = "flow gained: the NetworkPolicies now allow it";
    let mut expected = BTreeSet::new();
    for env in &envs {
        for port in &ports {
            expected.insert(format!("{env}/{backup} → {env}/{xwiki}:{port}"));
        }
    }
    let notes: BTreeSet<String> = r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "reachability")
        .map(|d| {
            assert_eq!(d["message"], message, "{json}");
            d["object"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(notes, expected, "exactly the flows gained: {json}");
    for flow in &expected {
        assert!(
            md.contains(&md_danger("reachability", flow, message)),
            "{flow}: {md}"
        );
    }
    assert_eq!(
        md.matches("**reachability**").count(),
        expected.len(),
        "{md}"
    );
}

/// `1.2.3` → `1.2.4`, `v1.2.3` → `v1.2.4`.
fn next_patch(version: &str) -> String {
    let (head, last) = version.rsplit_once('.').unwrap();
    format!("{head}.{}", last.parse::<u32>().unwrap() + 1)
}

#[test]
fn diff_notes_a_helm_release_chart_version_and_values_change_and_a_chart_reference() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let dir = scratch_committed();
    let root = dir.path();
    let controllers = root.join("out/infrastructure/controllers");
    // Longhorn: a chart version bump and one value changed.
    let file = controllers.join("longhorn/release.yaml");
    let mut docs = read_docs(&file);
    let hr = &mut docs[0];
    assert_eq!(hr["kind"], "HelmRelease");
    let object = format!(
        "HelmRelease {}/{}",
        hr["metadata"]["namespace"].as_str().unwrap(),
        hr["metadata"]["name"].as_str().unwrap()
    );
    let old_version = hr["spec"]["chart"]["spec"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    let new_version = next_patch(&old_version);
    hr["spec"]["chart"]["spec"]["version"] = new_version.clone().into();
    let count = hr["spec"]["values"]["persistence"]["defaultClassReplicaCount"]
        .as_u64()
        .expect("a replica count in Longhorn's values");
    hr["spec"]["values"]["persistence"]["defaultClassReplicaCount"] = (count + 1).into();
    write_docs(&file, &docs);
    // Kyverno: a field that is neither the chart nor its values (no helm note).
    let file = controllers.join("kyverno/release.yaml");
    let mut docs = read_docs(&file);
    let unchanged = format!(
        "HelmRelease {}/{}",
        docs[0]["metadata"]["namespace"].as_str().unwrap(),
        docs[0]["metadata"]["name"].as_str().unwrap()
    );
    docs[0]["spec"]["interval"] = "31m".into();
    write_docs(&file, &docs);
    // cert-manager: its OCIRepository moves to the next tag.
    let file = controllers.join("cert-manager/source.yaml");
    let mut docs = read_docs(&file);
    let oci = docs
        .iter_mut()
        .find(|d| d["kind"] == "OCIRepository")
        .expect("cert-manager's OCIRepository");
    let source = format!(
        "OCIRepository {}/{}",
        oci["metadata"]["namespace"].as_str().unwrap(),
        oci["metadata"]["name"].as_str().unwrap()
    );
    let old_tag = oci["spec"]["ref"]["tag"].as_str().unwrap().to_string();
    let new_tag = next_patch(&old_tag);
    oci["spec"]["ref"]["tag"] = new_tag.clone().into();
    write_docs(&file, &docs);
    let (r, json, md) = commit_and_diff(root);

    let version = format!("chart version {old_version} → {new_version}");
    let values = "values change (persistence.defaultClassReplicaCount); the chart's rendered objects are not shown (no chart cache was given: o4g diff --charts DIR): review the values diff";
    assert_eq!(
        dangers(&r, "helm", &object),
        [version.as_str(), values],
        "{json}"
    );
    for message in [version.as_str(), values] {
        assert!(md.contains(&md_danger("helm", &object, message)), "{md}");
    }
    let reference = format!(
        "chart reference {} → {}",
        serde_json::json!({"tag": old_tag}),
        serde_json::json!({"tag": new_tag})
    );
    assert_eq!(dangers(&r, "helm", &source), [reference.as_str()], "{json}");
    assert!(md.contains(&md_danger("helm", &source, &reference)), "{md}");
    assert!(dangers(&r, "helm", &unchanged).is_empty(), "{json}");
    assert!(!md.contains(&format!("**helm** `{unchanged}`")), "{md}");
    let helm = r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "helm")
        .count();
    assert_eq!(helm, 3, "{json}");
}

#[test]
fn a_new_environment_gains_or_loses_no_flow() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    // A copy of an environment under a new name (its overlay, Namespace and Flux
    // Kustomization): its pods did not exist before, so no flow of theirs is lost or gained.
    let dir = scratch_committed();
    let root = dir.path();
    let (ks, path, ks_file) = flux_kustomizations(root)
        .into_iter()
        .find(|(_, p, _)| p.starts_with("out/apps/overlays/"))
        .expect("an apps Kustomization");
    let env = path.strip_prefix("out/apps/overlays/").unwrap().to_string();
    let new_env = format!("{env}-copy");
    let rename = |v: &serde_json::Value| -> serde_json::Value {
        serde_json::from_str(&v.to_string().replace(&env, &new_env)).unwrap()
    };
    let from = root.join(&path);
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let target = root
            .join(format!("out/apps/overlays/{new_env}"))
            .join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&target, text.replace(&env, &new_env)).unwrap();
        }
    }
    let mut docs = read_docs(&ks_file);
    let copy = rename(
        docs.iter()
            .find(|d| d["metadata"]["name"] == ks.as_str())
            .unwrap(),
    );
    docs.push(copy);
    write_docs(&ks_file, &docs);
    let namespaces = root.join("out/infrastructure/controllers/namespaces.yaml");
    let mut docs = read_docs(&namespaces);
    let copy = rename(
        docs.iter()
            .find(|d| d["kind"] == "Namespace" && d["metadata"]["name"] == env.as_str())
            .expect("the environment's Namespace"),
    );
    docs.push(copy);
    write_docs(&namespaces, &docs);
    let (r, json, md) = commit_and_diff(root);
    let added = &r["kustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == format!("apps-{new_env}"))
        .unwrap_or_else(|| panic!("apps-{new_env}: {json}"))["objects"];
    assert!(
        added.as_array().unwrap().iter().any(|o| o["object"]
            == format!("StatefulSet {new_env}/mysql")
            && o["change"] == "added"),
        "{json}"
    );
    let reachability: Vec<_> = r["dangers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "reachability")
        .collect();
    assert!(reachability.is_empty(), "{reachability:#?}");
    assert!(!md.contains("**reachability**"), "{md}");
}

/// The chart section of `helm_release` in a JSON report.
fn chart_diff<'a>(r: &'a serde_json::Value, helm_release: &str) -> &'a serde_json::Value {
    r["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["helm_release"] == helm_release)
        .unwrap_or_else(|| panic!("{helm_release} in {r:#}"))
}

/// The field `path` of `object` in a chart section.
fn chart_field<'a>(c: &'a serde_json::Value, object: &str, path: &str) -> &'a serde_json::Value {
    c["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == object)
        .and_then(|o| {
            o["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == path)
        })
        .unwrap_or_else(|| panic!("{object} {path} in {c:#}"))
}

#[test]
fn diff_renders_a_changed_helm_release_with_helms_library() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    if let Err(why) = common::charts::available() {
        skip_or_fail!("{why}");
    }
    let charts = common::shared().unwrap().join("charts");
    let renderer = common::root().join("tests/helm/render.py");
    let dir = scratch_committed();
    let root = dir.path();
    let controllers = root.join("out/infrastructure/controllers");
    let hr_of = |file: &Path| {
        let docs = read_docs(file);
        let d = docs.iter().find(|d| d["kind"] == "HelmRelease").unwrap();
        format!(
            "HelmRelease {}/{}",
            d["metadata"]["namespace"].as_str().unwrap(),
            d["metadata"]["name"].as_str().unwrap()
        )
    };
    // Longhorn: one more replica per volume of its default StorageClass.
    let longhorn_file = controllers.join("longhorn/release.yaml");
    let longhorn = hr_of(&longhorn_file);
    let mut docs = read_docs(&longhorn_file);
    let count = docs[0]["spec"]["values"]["persistence"]["defaultClassReplicaCount"]
        .as_u64()
        .unwrap();
    docs[0]["spec"]["values"]["persistence"]["defaultClassReplicaCount"] = (count + 1).into();
    write_docs(&longhorn_file, &docs);
    // kube-prometheus-stack: two Prometheus replicas, and Alertmanager's sender (its
    // configuration is a Secret the chart renders).
    let kps_file = controllers.join("kube-prometheus-stack/release.yaml");
    let kps = hr_of(&kps_file);
    let mut docs = read_docs(&kps_file);
    let values = &mut docs[0]["spec"]["values"];
    values["prometheus"]["prometheusSpec"]["replicas"] = 2.into();
    let sender = "o4g-test-sender@example.invalid";
    assert!(values["alertmanager"]["config"]["global"]["smtp_from"].is_string());
    values["alertmanager"]["config"]["global"]["smtp_from"] = sender.into();
    write_docs(&kps_file, &docs);
    // cert-manager: its OCIRepository moves to a tag the chart cache does not hold.
    let cm_file = controllers.join("cert-manager/source.yaml");
    let cert_manager = hr_of(&controllers.join("cert-manager/release.yaml"));
    let mut docs = read_docs(&cm_file);
    let oci = docs
        .iter_mut()
        .find(|d| d["kind"] == "OCIRepository")
        .unwrap();
    let new_tag = next_patch(oci["spec"]["ref"]["tag"].as_str().unwrap());
    oci["spec"]["ref"]["tag"] = new_tag.clone().into();
    write_docs(&cm_file, &docs);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "change"]);
    let diff = |format: &str| {
        let out = common::o4g(
            root,
            &[
                "diff",
                "HEAD~1",
                "--format",
                format,
                "--charts",
                charts.to_str().unwrap(),
                "--helm-renderer",
                renderer.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", common::text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let (json, md) = (diff("json"), diff("markdown"));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(md.len() <= o4g_gitops::diff::COMMENT_LIMIT);

    // Longhorn: the ConfigMap holding its StorageClass, the changed line only.
    let c = chart_diff(&r, &longhorn);
    assert_eq!(c["rendered"], true, "{c:#}");
    let ns = longhorn.split(['/', ' ']).nth(1).unwrap();
    let object = format!("ConfigMap {ns}/longhorn-storageclass");
    let f = chart_field(c, &object, "data[\"storageclass.yaml\"]");
    assert_eq!(
        (&f["old"], &f["new"]),
        (
            &format!("numberOfReplicas: \"{count}\"").into(),
            &format!("numberOfReplicas: \"{}\"", count + 1).into()
        ),
        "{c:#}"
    );
    assert_eq!(c["objects"].as_array().unwrap().len(), 1, "{c:#}");
    let note = "values change (persistence.defaultClassReplicaCount); the chart renders 1 changed, 0 added, 0 removed objects";
    let message = format!("{note} (under {longhorn} below)");
    assert_eq!(dangers(&r, "helm", &longhorn), [message.as_str()], "{json}");
    assert!(md.contains(&md_danger("helm", &longhorn, &message)), "{md}");
    assert!(
        md.contains(&format!(
            "- changed `{object}`\n  - `data[\"storageclass.yaml\"]`: `numberOfReplicas: \"{count}\"` → `numberOfReplicas: \"{}\"`\n",
            count + 1
        )),
        "{md}"
    );

    // kube-prometheus-stack: the Prometheus resource's replicas; the Alertmanager Secret by
    // key name only.
    let c = chart_diff(&r, &kps);
    assert_eq!(c["rendered"], true, "{c:#}");
    let ns = kps.split(['/', ' ']).nth(1).unwrap();
    let prometheus = c["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["object"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Prometheus {ns}/"))
        })
        .unwrap_or_else(|| panic!("the Prometheus resource: {c:#}"));
    let replicas = prometheus["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "spec.replicas")
        .unwrap_or_else(|| panic!("{prometheus:#}"));
    assert_eq!(replicas["new"], "2", "{prometheus:#}");
    let secret = c["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"].as_str().unwrap().starts_with("Secret "))
        .unwrap_or_else(|| panic!("the Alertmanager configuration Secret: {c:#}"));
    for f in secret["fields"].as_array().unwrap() {
        assert!(f["path"].as_str().unwrap().starts_with("data"), "{f}");
        assert_eq!(f["new"], "(value not shown)", "{f}");
    }
    let section = md
        .split("<details>")
        .find(|s| s.contains(&format!("<b>{kps}</b>")))
        .unwrap_or_else(|| panic!("the markdown section of {kps}: {md}"));
    assert!(
        section.contains(&format!(
            "- changed `{}`\n",
            prometheus["object"].as_str().unwrap()
        )),
        "{section}"
    );
    assert!(section.contains("  - `spec.replicas`: "), "{section}");
    assert!(!section.contains(sender) && !c.to_string().contains(sender));

    // cert-manager: not in the cache at the new tag, so its values diff with a note.
    let c = chart_diff(&r, &cert_manager);
    assert_eq!(c["rendered"], false, "{c:#}");
    let why = format!(
        "chart cert-manager {new_tag} is not in the chart cache {}",
        charts.display()
    );
    assert_eq!(c["note"], why.as_str(), "{c:#}");
    assert!(
        md.contains(&format!("<b>{cert_manager}</b> (chart <code>")) && md.contains(&why),
        "{md}"
    );
}

/// A chart cache holding the chart `probe 0.1.0`, made for the test: a ConfigMap whose value
/// says how Helm rendered it (`.Release.IsUpgrade`, whether the cluster serves Longhorn's
/// RecurringJob), a StatefulSet and a Job hook present while `.Values.hook`, a PVC hook of
/// `.Values.size`.
fn probe_chart_cache() -> tempfile::TempDir {
    let cache = tempfile::tempdir().unwrap();
    let chart = cache.path().join("probe-0.1.0");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/objects.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  value: {{ printf "%s %s recurringjob:%t" .Values.v (ternary "upgrade" "install" .Release.IsUpgrade) (.Capabilities.APIVersions.Has "longhorn.io/v1beta2/RecurringJob") | quote }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: probe-hook
  annotations:
    helm.sh/hook: pre-upgrade
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: {{ .Values.size }}
{{- if .Values.hook }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: probe-migrate
  annotations:
    helm.sh/hook: pre-upgrade,pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: m
          image: busybox
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: probe
spec:
  serviceName: probe
  selector:
    matchLabels: {app: probe}
  template:
    metadata:
      labels: {app: probe}
    spec:
      containers:
        - name: p
          image: busybox
{{- end }}
"#,
    )
    .unwrap();
    cache
}

/// A scratch repository whose Longhorn HelmRelease installs `probe 0.1.0` with `values`, then
/// a commit with `next`; `render.py` of the head is edited too when `edit_renderer`.
fn probe_change(
    values: serde_json::Value,
    next: serde_json::Value,
    edit_renderer: bool,
) -> (tempfile::TempDir, String) {
    let dir = common::scratch_repo();
    let root = dir.path();
    std::fs::create_dir_all(root.join("tests/helm")).unwrap();
    std::fs::copy(
        common::root().join("tests/helm/render.py"),
        root.join("tests/helm/render.py"),
    )
    .unwrap();
    let file = root.join("out/infrastructure/controllers/longhorn/release.yaml");
    let set = |values: &serde_json::Value| {
        let mut docs = read_docs(&file);
        let hr = docs
            .iter_mut()
            .find(|d| d["kind"] == "HelmRelease")
            .unwrap();
        hr["spec"]["chart"]["spec"]["chart"] = "probe".into();
        hr["spec"]["chart"]["spec"]["version"] = "0.1.0".into();
        hr["spec"]["values"] = values.clone();
        let label = format!(
            "HelmRelease {}/{}",
            hr["metadata"]["namespace"].as_str().unwrap(),
            hr["metadata"]["name"].as_str().unwrap()
        );
        write_docs(&file, &docs);
        label
    };
    let hr = set(&values);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    set(&next);
    if edit_renderer {
        let r = root.join("tests/helm/render.py");
        let text = std::fs::read_to_string(&r).unwrap();
        std::fs::write(&r, format!("{text}# edited by the change\n")).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "change"]);
    (dir, hr)
}

/// `o4g diff HEAD~1 --charts CACHE` in `format`, with more arguments.
fn diff_with_charts(root: &Path, cache: &Path, format: &str, more: &[&str]) -> String {
    let mut args = vec![
        "diff",
        "HEAD~1",
        "--format",
        format,
        "--charts",
        cache.to_str().unwrap(),
    ];
    args.extend(more);
    let out = common::o4g(root, &args);
    assert!(out.status.success(), "{}", common::text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn diff_renders_a_release_as_an_upgrade_and_tells_hooks_from_release_objects() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    if let Err(why) = common::charts::available() {
        skip_or_fail!("{why}");
    }
    let cache = probe_chart_cache();
    let (dir, hr) = probe_change(
        serde_json::json!({"v": "a", "hook": true, "size": "1Gi"}),
        serde_json::json!({"v": "b", "hook": false, "size": "2Gi"}),
        true,
    );
    let root = dir.path();
    let renderer = common::root().join("tests/helm/render.py");
    let more = ["--helm-renderer", renderer.to_str().unwrap()];
    let r: serde_json::Value =
        serde_json::from_str(&diff_with_charts(root, cache.path(), "json", &more)).unwrap();
    let md = diff_with_charts(root, cache.path(), "markdown", &more);
    let c = chart_diff(&r, &hr);
    assert_eq!(c["rendered"], true, "{c:#}");
    let ns = hr.split(['/', ' ']).nth(1).unwrap();
    // Both sides render as helm-controller's upgrade, with the API versions out/ uses.
    let f = chart_field(c, &format!("ConfigMap {ns}/probe"), "data.value");
    assert_eq!(
        (&f["old"], &f["new"]),
        (
            &"a upgrade recurringjob:true".into(),
            &"b upgrade recurringjob:true".into()
        ),
        "{c:#}"
    );
    // The hooks are labelled; the removed one is not deleted by the upgrade and neither gets a
    // danger note; the removed StatefulSet, a release object, does.
    let (job, pvc, sts) = (
        format!("Job {ns}/probe-migrate"),
        format!("PersistentVolumeClaim {ns}/probe-hook"),
        format!("StatefulSet {ns}/probe"),
    );
    assert_eq!(
        c["hooks"],
        serde_json::json!({&job: "pre-upgrade,pre-install", &pvc: "pre-upgrade"}),
        "{c:#}"
    );
    let object = |o: &str| {
        c["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["object"] == o)
            .unwrap_or_else(|| panic!("{o} in {c:#}"))
    };
    assert_eq!(object(&job)["change"], "removed");
    assert!(object(&job).get("pruned").is_none(), "{c:#}");
    assert_eq!(
        object(&job)["why"],
        "a Helm hook (pre-upgrade,pre-install), not in the release's manifest: an upgrade does not delete it"
    );
    assert_eq!(object(&pvc)["change"], "changed");
    assert_eq!(object(&sts)["pruned"], true);
    for o in [&job, &pvc] {
        assert!(
            r["dangers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["object"] != *o),
            "{o}: {:#}",
            r["dangers"]
        );
    }
    assert_eq!(
        dangers(&r, "prune", &sts),
        [format!("{hr}: Helm deletes it on upgrade").as_str()]
    );
    assert!(
        md.contains(&format!(
            "- removed `{job}` (a Helm hook (pre-upgrade,pre-install), not in the release's manifest: an upgrade does not delete it)\n"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "- changed `{pvc}` (Helm hook: pre-upgrade, not a release object)\n"
        )),
        "{md}"
    );
    // The header names the commit reviewed; the change edits the renderer, so the report says
    // it may be forged.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert!(
        md.starts_with(&format!(
            "{}\n### o4g diff of `HEAD ({})` against `HEAD~1 (",
            o4g_gitops::diff::MARKER,
            head.trim()
        )),
        "{md}"
    );
    assert_eq!(
        r["warnings"],
        serde_json::json!([
            "this change edits tests/helm/render.py, which makes this report: the report may not be what main's code says; read that file's diff"
        ])
    );
    assert!(
        md.contains("\n> ⚠️ this change edits tests/helm/render.py, which makes this report"),
        "{md}"
    );
}

#[test]
fn a_renderer_past_its_deadline_is_killed_and_the_chart_says_it_timed_out() {
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let cache = probe_chart_cache();
    let (dir, hr) = probe_change(
        serde_json::json!({"v": "a", "hook": true, "size": "1Gi"}),
        serde_json::json!({"v": "b", "hook": true, "size": "1Gi"}),
        false,
    );
    let root = dir.path();
    // A renderer that hangs, and writes its pid first so the test can see it was killed.
    let hang = cache.path().join("hang.py");
    let pid = cache.path().join("pid");
    std::fs::write(
        &hang,
        format!(
            "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n",
            pid.display().to_string()
        ),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let more = [
        "--helm-renderer",
        hang.to_str().unwrap(),
        "--helm-timeout",
        "2",
    ];
    let r: serde_json::Value =
        serde_json::from_str(&diff_with_charts(root, cache.path(), "json", &more)).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
    let c = chart_diff(&r, &hr);
    assert_eq!(c["rendered"], false, "{c:#}");
    assert_eq!(
        c["note"],
        format!(
            "the Helm render timed out: python3 {} was killed after 2 s",
            hang.display()
        ),
        "{c:#}"
    );
    let pid = std::fs::read_to_string(&pid).unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the renderer {pid} still runs"
    );
}
