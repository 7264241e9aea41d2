//! `o4g diff`: on a scratch git repository, a commit that changes a host, grows MySQL's
//! storage (rendered with --allow-immutable-change), removes a NetworkPolicy flow and bumps an
//! image; the report names every changed object, flags the immutable and the reachability
//! changes, lists the image change per environment, and prints no Secret value.

mod common;

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
