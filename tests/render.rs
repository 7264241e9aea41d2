//! The render pipeline, end to end through the `o4g` binary, on scratch copies of fixture site A
//! (`live`, `qa-7`); `committed_tree_is_in_sync` and the sources check are the live ones.

mod common;

use common::{o4g, scratch_repo, snapshot_dir, text};

#[test]
fn committed_tree_is_in_sync() {
    let out = o4g(&common::root(), &["render", "--check"]);
    assert!(
        out.status.success(),
        "render --check failed:\n{}",
        text(&out)
    );
}

#[test]
fn two_renders_from_empty_out_are_identical_and_equal_the_committed_tree() {
    let repo = scratch_repo();
    let out = repo.path().join("out");
    std::fs::remove_dir_all(&out).unwrap();
    let first = o4g(repo.path(), &["render"]);
    assert!(first.status.success(), "{}", text(&first));
    let a = snapshot_dir(&out);
    std::fs::remove_dir_all(&out).unwrap();
    let second = o4g(repo.path(), &["render"]);
    assert!(second.status.success(), "{}", text(&second));
    let b = snapshot_dir(&out);
    assert_eq!(a, b, "two renders differ");
    assert_eq!(
        a,
        snapshot_dir(&common::fixture_repo().join("out")),
        "render differs from the first render of the fixture"
    );
    assert!(a.len() > 5, "the tree holds the first real output");
}

#[test]
fn a_second_render_writes_nothing() {
    let repo = scratch_repo();
    let out = o4g(repo.path(), &["render"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("0 written, 0 removed"), "{t}");
}

/// Applies `edit` to one settings file, runs render and render --check, and proves both exit
/// 2 with a message naming the file, line and key, leaving out/ byte-identical.
fn bad_input(file: &str, edit: impl Fn(&str) -> String, expect: &[&str]) {
    let repo = scratch_repo();
    let path = repo.path().join(file);
    let src = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&src)).unwrap();
    let before = snapshot_dir(&repo.path().join("out"));
    for args in [&["render"][..], &["render", "--check"][..]] {
        let out = o4g(repo.path(), args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} must exit 2:\n{t}");
        assert!(t.contains(file), "message must name {file}:\n{t}");
        for e in expect {
            assert!(t.contains(e), "message must contain {e:?}:\n{t}");
        }
    }
    assert_eq!(
        before,
        snapshot_dir(&repo.path().join("out")),
        "out/ changed after bad input"
    );
}

#[test]
fn render_refuses_an_unknown_key() {
    let lines = std::fs::read_to_string(common::fixture_root().join("overlays/live/env.toml"))
        .unwrap()
        .lines()
        .count();
    let at = format!("overlays/live/env.toml:{}:1", lines + 1);
    bad_input(
        "overlays/live/env.toml",
        |s| format!("{s}bogus_key = 1\n"),
        &[&at, "bogus_key", "unknown field", "expected"],
    );
}

#[test]
fn render_refuses_a_toml_syntax_error() {
    bad_input(
        "overlays/live/env.toml",
        |s| s.replacen("[mysql]", "[mysql", 1),
        &["TOML syntax error", "overlays/live/env.toml:"],
    );
}

#[test]
fn render_refuses_an_invalid_hostname() {
    bad_input(
        "overlays/live/env.toml",
        |s| s.replace("docs.fixture.example", "XWiki_Prod"),
        &["xwiki.host", "not a valid host name", "RFC 1123"],
    );
}

#[test]
fn render_refuses_an_invalid_quantity_and_schedule() {
    bad_input(
        "overlays/qa-7/env.toml",
        |s| s.replace("storage_size = \"5Gi\"", "storage_size = \"5 gigs\""),
        &["mysql.storage_size", "unknown suffix", "5 gigs"],
    );
    bad_input(
        "overlays/qa-7/env.toml",
        |s| s.replace("40 4 * * 1-5", "40 26 * * 1-5"),
        &["backup.schedule", "five fields"],
    );
}

#[test]
fn render_refuses_cluster_settings_missing_an_image_registry() {
    bad_input(
        "overlays/cluster.toml",
        |s| s.replace("\"quay.io\", ", ""),
        &["registries.allowed", "quay.io"],
    );
}

#[test]
fn render_refuses_a_missing_settings_file() {
    let repo = scratch_repo();
    std::fs::remove_file(repo.path().join("overlays/qa-7/env.toml")).unwrap();
    let out = o4g(repo.path(), &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("overlays/qa-7: is neither an environment (it has no env.toml)"),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_cli_arguments_exit_2() {
    let out = o4g(&common::root(), &["render", "--chek"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--chek"));
}

#[test]
fn stray_file_is_reported_and_kept_unless_pruning_is_asked_for() {
    let repo = scratch_repo();
    let stray = repo.path().join("out/apps/base/stray.yaml");
    std::fs::write(&stray, "kind: ConfigMap\n").unwrap();
    let check = o4g(repo.path(), &["render", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("stray: out/apps/base/stray.yaml"),
        "{}",
        text(&check)
    );
    assert!(stray.exists(), "--check must not remove anything");
    let render = o4g(repo.path(), &["render"]);
    assert!(render.status.success(), "{}", text(&render));
    assert!(stray.exists(), "a file the generator did not write is kept");
    assert!(
        text(&render).contains("kept    out/apps/base/stray.yaml"),
        "{}",
        text(&render)
    );
    let prune = o4g(repo.path(), &["render", "--prune-strays"]);
    assert!(prune.status.success(), "{}", text(&prune));
    assert!(!stray.exists(), "--prune-strays removes it");
    assert!(o4g(repo.path(), &["render", "--check"]).status.success());
}

#[test]
fn hand_written_files_outside_generated_folders_are_never_removed() {
    let repo = scratch_repo();
    let keep = [
        "README.md",
        "overlays/live/notes.md",
        // `flux bootstrap` writes here; no generated file lives in this folder.
        "out/clusters/open4goods/flux-system/gotk-sync.yaml",
        "out/apps/base/extra/notes.md",
    ];
    for k in keep {
        let p = repo.path().join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "hand-written\n").unwrap();
    }
    let check = o4g(repo.path(), &["render", "--check"]);
    assert!(check.status.success(), "{}", text(&check));
    let render = o4g(repo.path(), &["render"]);
    assert!(render.status.success(), "{}", text(&render));
    for k in keep {
        assert!(repo.path().join(k).exists(), "{k} was removed");
    }
}

#[test]
fn edited_and_deleted_generated_files_are_reported_as_diffs_and_restored() {
    let repo = scratch_repo();
    let ns = repo
        .path()
        .join("out/infrastructure/controllers/namespaces.yaml");
    let original = std::fs::read_to_string(&ns).unwrap();
    std::fs::write(
        &ns,
        original.replace("enforce: restricted", "enforce: privileged"),
    )
    .unwrap();
    std::fs::remove_file(repo.path().join("out/README.md")).unwrap();
    let check = o4g(repo.path(), &["render", "--check"]);
    let t = text(&check);
    assert_eq!(check.status.code(), Some(1), "{t}");
    assert!(
        t.contains("--- a/out/infrastructure/controllers/namespaces.yaml"),
        "{t}"
    );
    assert!(
        t.contains("-    pod-security.kubernetes.io/enforce: privileged"),
        "{t}"
    );
    assert!(
        t.contains("+    pod-security.kubernetes.io/enforce: restricted"),
        "{t}"
    );
    assert!(t.contains("missing: out/README.md"), "{t}");
    assert!(o4g(repo.path(), &["render"]).status.success());
    assert_eq!(std::fs::read_to_string(&ns).unwrap(), original);
}

#[test]
fn stale_generated_files_listed_in_the_manifest_are_removed() {
    let repo = scratch_repo();
    // Pretend an earlier render generated a file in a folder it no longer writes to.
    let stale = "out/apps/old-component/deployment.yaml";
    let full = repo.path().join(stale);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, "old\n").unwrap();
    let manifest = repo.path().join("out/generated.sha256");
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    m.push_str(&format!(
        "{}  {stale}\n",
        o4g_gitops::tree::sha256_hex(b"old\n")
    ));
    std::fs::write(&manifest, m).unwrap();
    let check = o4g(repo.path(), &["render", "--check"]);
    assert!(
        text(&check).contains(&format!("stale: {stale}")),
        "{}",
        text(&check)
    );
    assert!(o4g(repo.path(), &["render"]).status.success());
    assert!(!full.exists());
    assert!(
        !full.parent().unwrap().exists(),
        "the emptied folder is removed too"
    );
}

#[test]
fn render_refuses_requests_above_limits_and_unknown_mysql_versions() {
    bad_input(
        "overlays/live/env.toml",
        |s| s.replacen("requests = { cpu = \"300m\"", "requests = { cpu = \"4\"", 1),
        &["xwiki.resources", "must not exceed limits"],
    );
    bad_input(
        "overlays/live/env.toml",
        |s| s.replace("version = \"8.0\"", "version = \"5.7\""),
        &["mysql.version", "8.0", "8.4"],
    );
}

#[test]
fn every_generated_file_names_sources_that_exist() {
    let brace = regex::Regex::new(r"\{([a-z_,]+)\}").unwrap();
    let token = regex::Regex::new(r"(?:src|templates|overlays)/[A-Za-z0-9_./{},<>-]*").unwrap();
    let root = common::root();
    let manifest = std::fs::read_to_string(root.join("out/generated.sha256")).unwrap();
    let mut files: Vec<String> = manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect();
    files.push("out/generated.sha256".into());
    assert!(files.len() > 100, "{} files", files.len());
    for file in files {
        let source = o4g_gitops::components::layout::source_of(&file);
        assert!(source.starts_with("generated from "), "{file}: {source}");
        let named: Vec<&str> = token.find_iter(&source).map(|m| m.as_str()).collect();
        assert!(
            named.iter().any(|n| *n != "src/components/"),
            "{file} gets only the fallback: {source}"
        );
        for n in named {
            let n = n.trim_end_matches(['.', ',']);
            if n.contains('<') {
                continue; // a pattern such as overlays/<env>/
            }
            let paths: Vec<String> = match brace.captures(n) {
                Some(c) => c[1].split(',').map(|alt| n.replace(&c[0], alt)).collect(),
                None => vec![n.to_string()],
            };
            for p in paths {
                assert!(
                    root.join(&p).exists(),
                    "{file}: source `{p}` does not exist ({source})"
                );
            }
        }
    }
}

#[test]
fn check_names_the_setting_behind_a_drifted_file() {
    let repo = scratch_repo();
    let patch = repo
        .path()
        .join("out/apps/overlays/live/patches/deployment-xwiki.yaml");
    let before = std::fs::read_to_string(&patch).unwrap();
    assert!(before.contains("memory: 2500Mi"), "{before}");
    std::fs::write(&patch, before.replace("memory: 2500Mi", "memory: 4Gi")).unwrap();
    let out = o4g(repo.path(), &["render", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "out/apps/overlays/live/patches/deployment-xwiki.yaml: generated from overlays/live/env.toml"
        ) && text(&out).contains("edits in out/ are reverted"),
        "{}",
        text(&out)
    );
}
