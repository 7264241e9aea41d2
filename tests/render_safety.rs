//! Render and check on a hostile checkout (issue 12): nothing outside `out/` is touched,
//! no symlink is followed, nothing secret is printed, nothing a user made is lost.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::{o4g, scratch_repo, snapshot_dir, text};

fn append_manifest(repo: &Path, line: &str) {
    let manifest = repo.join("out/generated.sha256");
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    m.push_str(line);
    m.push('\n');
    std::fs::write(&manifest, m).unwrap();
}

fn no_tmp_files(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("o4g-tmp"))
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn manifest_lines_outside_out_are_never_deleted() {
    let repo = scratch_repo();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::fs::create_dir_all(repo.path().join("src")).unwrap();
    std::fs::write(repo.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(repo.path().join(".git")).unwrap();
    std::fs::write(repo.path().join(".git/config"), "[core]\n").unwrap();
    let targets = [
        "overlays/cluster.toml".to_string(),
        "src/main.rs".to_string(),
        ".git/config".to_string(),
        "../x".to_string(),
        "out/../src/main.rs".to_string(),
        victim.display().to_string(),
    ];
    for t in &targets {
        // With the right hash, as a hostile PR would write it.
        let bytes = std::fs::read(repo.path().join(t)).unwrap_or_default();
        append_manifest(
            repo.path(),
            &format!("{}  {t}", o4g_gitops::tree::sha256_hex(&bytes)),
        );
    }
    let before = std::fs::read(repo.path().join("overlays/cluster.toml")).unwrap();
    let out = o4g(repo.path(), &["render"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("manifest entry outside out/"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(repo.path().join("overlays/cluster.toml")).unwrap(),
        before
    );
    assert!(repo.path().join("src/main.rs").exists());
    assert!(repo.path().join(".git/config").exists());
    assert!(victim.exists());
}

#[test]
fn a_listed_generated_file_edited_by_hand_is_kept_not_removed() {
    let repo = scratch_repo();
    let path = "out/apps/old/notes.yaml";
    let full = repo.path().join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, "edited by a person\n").unwrap();
    append_manifest(
        repo.path(),
        &format!(
            "{}  {path}",
            o4g_gitops::tree::sha256_hex(b"as generated\n")
        ),
    );
    let out = o4g(repo.path(), &["render"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(full.exists(), "the hash differs: not ours any more");
    assert!(text(&out).contains("edited since"), "{}", text(&out));
}

#[test]
fn out_as_a_symlink_is_refused_and_nothing_is_written_through_it() {
    let repo = scratch_repo();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(repo.path().join("out")).unwrap();
    symlink(elsewhere.path(), repo.path().join("out")).unwrap();
    for args in [&["render"][..], &["render", "--check"]] {
        let out = o4g(repo.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("symlink"), "{}", text(&out));
    }
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "written outside"
    );
}

#[test]
fn a_symlinked_folder_or_planted_temp_file_under_out_is_refused() {
    for planted in ["out/docs", "out/docs/.apps.md.o4g-tmp", "out/docs/apps.md"] {
        let repo = scratch_repo();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("apps.md"), "outside\n").unwrap();
        let link_to = if planted == "out/docs" {
            target.clone()
        } else {
            target.join("apps.md")
        };
        let full = repo.path().join(planted);
        if full.is_dir() {
            std::fs::remove_dir_all(&full).unwrap();
        } else {
            let _ = std::fs::remove_file(&full);
        }
        // Make a change so render has something to write.
        std::fs::remove_file(repo.path().join("out/README.md")).unwrap();
        symlink(&link_to, &full).unwrap();
        let before = snapshot_dir(&repo.path().join("out"));
        let out = o4g(repo.path(), &["render"]);
        assert_eq!(out.status.code(), Some(1), "{planted}: {}", text(&out));
        assert!(text(&out).contains("refusing"), "{planted}: {}", text(&out));
        assert_eq!(
            std::fs::read_to_string(target.join("apps.md")).unwrap(),
            "outside\n",
            "{planted}"
        );
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            1,
            "{planted}: written outside"
        );
        assert_eq!(
            before,
            snapshot_dir(&repo.path().join("out")),
            "{planted}: out/ changed"
        );
    }
}

#[test]
fn check_never_reads_through_a_symlink_under_out() {
    let repo = scratch_repo();
    let secret = tempfile::tempdir().unwrap();
    let key = secret.path().join("keys.txt");
    std::fs::write(&key, format!("{}-SECRET-KEY-1SUPERSECRETVALUE\n", "AGE")).unwrap();
    let docs = repo.path().join("out/docs/apps.md");
    std::fs::remove_file(&docs).unwrap();
    symlink(&key, &docs).unwrap();
    let env = repo.path().join("out/docs/network.md");
    std::fs::remove_file(&env).unwrap();
    symlink("/proc/self/environ", &env).unwrap();
    let out = o4g(repo.path(), &["render", "--check"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("unexpected: out/docs/apps.md"), "{t}");
    assert!(!t.contains("SUPERSECRET"), "printed the link's target: {t}");
    assert!(!t.contains("PATH="), "printed the environment: {t}");
}

#[test]
fn strays_are_kept_and_leftover_temp_files_never_break_the_next_render() {
    let repo = scratch_repo();
    let note = repo.path().join("out/docs/my-notes.md");
    std::fs::write(&note, "mine\n").unwrap();
    let leftover = repo.path().join("out/docs/.o4g-tmp-apps.md-99999");
    std::fs::write(&leftover, "half-written").unwrap();
    let manifest_leftover = repo.path().join("out/.o4g-tmp-generated.sha256-99999");
    std::fs::write(&manifest_leftover, "half").unwrap();
    std::fs::remove_file(repo.path().join("out/docs/apps.md")).unwrap();
    let out = o4g(repo.path(), &["render"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(note.exists(), "a user's file is kept");
    assert!(
        !leftover.exists() && !manifest_leftover.exists(),
        "leftovers are cleaned"
    );
    assert!(no_tmp_files(&repo.path().join("out")).is_empty());
}

#[test]
fn temp_file_names_are_covered_by_gitignore() {
    let ignore = std::fs::read_to_string(common::root().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == ".o4g-tmp*"));
    assert!(o4g_gitops::render::TMP_PREFIX.starts_with(".o4g-tmp"));
}

#[test]
fn a_file_size_limit_leaves_out_unchanged_and_no_temp_file() {
    let repo = scratch_repo();
    std::fs::remove_file(repo.path().join("out/docs/network.md")).unwrap();
    let before = snapshot_dir(&repo.path().join("out"));
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 1 && exec {} render --root {}",
            env!("CARGO_BIN_EXE_o4g"),
            repo.path().display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("file-size limit"), "{}", text(&out));
    assert_eq!(
        before,
        snapshot_dir(&repo.path().join("out")),
        "out/ changed"
    );
    assert!(no_tmp_files(&repo.path().join("out")).is_empty());
}

#[test]
fn two_renders_at_once_both_succeed_the_second_waiting_for_the_lock() {
    let repo = scratch_repo();
    let mut waited = 0;
    for _ in 0..20 {
        std::fs::remove_file(repo.path().join("out/docs/apps.md")).ok();
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_o4g"))
                .args(["render", "--root"])
                .arg(repo.path())
                .output()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(spawn);
            let b = s.spawn(spawn);
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        for o in [&a, &b] {
            assert!(o.status.success(), "{}", text(o));
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("Blocking") {
                assert!(err.contains("waiting for the lock on out/"), "{err}");
                waited += 1;
            }
        }
        let check = o4g(repo.path(), &["render", "--check"]);
        assert!(check.status.success(), "{}", text(&check));
        assert!(no_tmp_files(&repo.path().join("out")).is_empty());
    }
    eprintln!("{waited} of 40 renders waited for the lock");
}

#[test]
fn a_render_waits_for_the_lock_with_a_bound() {
    let repo = scratch_repo();
    // Another holder of the lock on out/ that never lets go (flock(1) on the folder).
    let mut holder = std::process::Command::new("flock")
        .arg(repo.path().join("out"))
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let start = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_o4g"))
        .args(["render", "--root"])
        .arg(repo.path())
        .env("O4G_LOCK_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    let waited = start.elapsed();
    holder.kill().ok();
    holder.wait().ok();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Blocking waiting for the lock on out/"), "{t}");
    assert!(t.contains("gave up after 2 s"), "{t}");
    assert!(waited >= std::time::Duration::from_secs(2), "{waited:?}");
    assert!(waited < std::time::Duration::from_secs(30), "{waited:?}");
}

#[test]
fn a_secret_diff_names_keys_and_never_values() {
    let repo = scratch_repo();
    let file = walkdir::WalkDir::new(repo.path().join("out/apps/overlays/live"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().to_string_lossy().contains("/secrets/") && e.file_type().is_file())
        .expect("an encrypted Secret under out/")
        .into_path();
    let original = std::fs::read_to_string(&file).unwrap();
    let start = original.find("ENC[AES256_GCM,data:").unwrap() + "ENC[AES256_GCM,data:".len();
    let end = start + original[start..].find(',').unwrap();
    let planted = original.replace(&original[start..end], "UExBSU5URVhUU0VDUkVU");
    std::fs::write(&file, &planted).unwrap();
    let out = o4g(repo.path(), &["render", "--check"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("keys that differ"), "{t}");
    assert!(
        !t.contains("UExBSU5URVhUU0VDUkVU"),
        "a value is printed: {t}"
    );
    assert!(
        !t.contains(&original[start..end]),
        "a value is printed: {t}"
    );
}

#[test]
fn control_characters_in_file_names_are_escaped_in_messages() {
    let repo = scratch_repo();
    let evil = repo.path().join("out/docs/evil\u{1b}[31m\u{7}.md");
    std::fs::write(&evil, "x\n").unwrap();
    let out = o4g(repo.path(), &["render", "--check"]);
    let t = text(&out);
    assert!(t.contains("evil"), "{t}");
    assert!(
        !t.contains('\u{1b}') && !t.contains('\u{7}'),
        "raw control characters: {t:?}"
    );
}

#[test]
fn changes_the_api_server_would_refuse_are_caught_against_the_committed_tree() {
    // Raising MySQL's volume in qa-7 patches the StatefulSet's volumeClaimTemplates;
    // shrinking XWiki's claim shrinks a PVC. Both would fail Flux's apply.
    for (from, to, field) in [
        (
            "storage_size = \"5Gi\"",
            "storage_size = \"6Gi\"",
            "spec.volumeClaimTemplates",
        ),
        (
            "storage_size = \"3Gi\"",
            "storage_size = \"2Gi\"",
            "spec.resources.requests.storage",
        ),
    ] {
        let repo = scratch_repo();
        let env = repo.path().join("overlays/qa-7/env.toml");
        let src = std::fs::read_to_string(&env).unwrap();
        assert!(src.contains(from));
        std::fs::write(&env, src.replacen(from, to, 1)).unwrap();
        let before = snapshot_dir(&repo.path().join("out"));
        let out = o4g(repo.path(), &["render"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{to}: {t}");
        assert!(t.contains(field) && t.contains("qa-7"), "{to}: {t}");
        assert!(t.contains("--allow-immutable-change"), "{t}");
        assert_eq!(
            before,
            snapshot_dir(&repo.path().join("out")),
            "out/ changed"
        );
        let forced = o4g(repo.path(), &["render", "--allow-immutable-change"]);
        assert!(forced.status.success(), "{}", text(&forced));
    }
    // A mutable change (resources) goes through.
    let repo = scratch_repo();
    let env = repo.path().join("overlays/live/env.toml");
    let src = std::fs::read_to_string(&env).unwrap();
    assert!(src.contains("storage_size = \"7Gi\""), "{src}");
    std::fs::write(
        &env,
        src.replacen("storage_size = \"7Gi\"", "storage_size = \"9Gi\"", 1),
    )
    .unwrap();
    let out = o4g(repo.path(), &["render"]);
    assert!(
        out.status.success(),
        "growing a PVC is allowed: {}",
        text(&out)
    );
}

#[test]
fn a_claim_template_grow_prints_its_real_procedure_and_a_shrink_is_refused_even_with_the_flag() {
    // Growing live's MySQL volume: the refusal names live, the new size, the claim, the Flux
    // Kustomization to suspend first and resume after, both sides in full, the rendered doc,
    // and qa-7's restore-test scratch (sized from live's volume) that grows with it.
    let repo = scratch_repo();
    let env = repo.path().join("overlays/live/env.toml");
    let src = std::fs::read_to_string(&env).unwrap();
    assert!(src.contains("storage_size = \"11Gi\""), "{src}");
    std::fs::write(
        &env,
        src.replacen("storage_size = \"11Gi\"", "storage_size = \"12Gi\"", 1),
    )
    .unwrap();
    let out = o4g(repo.path(), &["render"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for expected in [
        "StatefulSet live/mysql: `spec.volumeClaimTemplates`",
        "out/docs/apps.md",
        "(1) `flux suspend kustomization apps-live`",
        "kubectl -n live patch pvc data-mysql-0 -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"12Gi\"}}}}'",
        "kubectl -n live delete statefulset mysql --cascade=orphan",
        "(5) `flux reconcile source git flux-system` (the source fetches that commit), then `flux resume kustomization apps-live`",
        "CronJob qa-7/restore-test: emptyDir `scratch` 11Gi → 12Gi",
    ] {
        assert!(t.contains(expected), "`{expected}` in\n{t}");
    }
    assert!(
        !t.contains("<ns>") && !t.contains("<size>") && !t.contains('…'),
        "{t}"
    );
    // Both sides whole: each side's template carries its storage class.
    assert_eq!(t.matches("\"storageClassName\"").count(), 2, "{t}");
    let suspend = t.find("flux suspend").unwrap();
    let orphan = t.find("--cascade=orphan").unwrap();
    let resume = t.find("flux resume").unwrap();
    assert!(suspend < orphan && orphan < resume, "{t}");
    let forced = o4g(repo.path(), &["render", "--allow-immutable-change"]);
    assert!(forced.status.success(), "{}", text(&forced));

    // Shrinking it: refused with no grow procedure, and --allow-immutable-change does not
    // write a template smaller than the live claim either.
    let repo = scratch_repo();
    let env = repo.path().join("overlays/live/env.toml");
    std::fs::write(
        &env,
        src.replacen("storage_size = \"11Gi\"", "storage_size = \"10Gi\"", 1),
    )
    .unwrap();
    let before = snapshot_dir(&repo.path().join("out"));
    for args in [&["render"][..], &["render", "--allow-immutable-change"]] {
        let out = o4g(repo.path(), args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains("A claim never shrinks"), "{args:?}: {t}");
        assert!(t.contains("data-mysql-0 at 11Gi in live"), "{args:?}: {t}");
        assert!(!t.contains("patch pvc"), "{args:?}: no grow procedure: {t}");
        assert_eq!(
            before,
            snapshot_dir(&repo.path().join("out")),
            "{args:?}: out/ changed"
        );
    }
}
