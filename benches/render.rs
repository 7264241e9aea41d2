//! Speed of the hot paths: building the whole tree in memory, `render --check`, and a warm
//! `render` (nothing to write) of the repository with 0 to 100 environments more.
//! Run with `cargo bench --bench render`.

use std::path::Path;

use o4g_gitops::{components, render, settings::Settings};

/// The `o4g` binary's allocator (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // As src/main.rs: no purging of freed memory (`mi_option_purge_delay` = -1).
    // SAFETY: sets one integer of mimalloc's option table; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(o4g_gitops::parallel::MIMALLOC_PURGE_DELAY, -1) };
    divan::main();
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Settings → objects → YAML bytes for every file (no disk I/O beyond the settings read once).
#[divan::bench]
fn build_tree(bencher: divan::Bencher) {
    let settings = Settings::load(root()).expect("settings");
    bencher.bench(|| components::build(divan::black_box(&settings)).expect("build"));
}

/// The pre-commit path (`render --check`): load settings, build, audit, and compare with the
/// committed `out/`.
#[divan::bench]
fn render_check(bencher: divan::Bencher) {
    bencher.bench(|| {
        let settings = Settings::load(root()).expect("settings");
        let parts = components::Parts::new(&settings).expect("contributions");
        assert!(parts.missing_secrets().is_empty());
        let built = parts.build().expect("build");
        components::audit(&built, &settings).expect("audit");
        let drift = render::check(root(), &built.tree).expect("check");
        assert!(drift.is_clean(), "{drift}");
    });
}

/// Copies a folder of regular files.
fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from).into_iter().map(Result::unwrap) {
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of the repository's settings and `out/` with `extra` environments more
/// (`e1`, `e2`…: integration's `env.toml` with its own host, integration's recipient and a
/// copy of its Secret files, as a real environment has), rendered once so that the timed
/// renders are warm.
fn with_environments(extra: usize) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&root().join("overlays"), &repo.path().join("overlays"));
    copy_dir(&root().join("out"), &repo.path().join("out"));
    std::fs::copy(root().join(".sops.yaml"), repo.path().join(".sops.yaml")).unwrap();
    let overlays = repo.path().join("overlays");
    let integration = std::fs::read_to_string(overlays.join("integration/env.toml")).unwrap();
    let mut cluster = std::fs::read_to_string(overlays.join("cluster.toml")).unwrap();
    let key = cluster
        .lines()
        .find_map(|l| l.strip_prefix("integration = "))
        .expect("integration's recipients in cluster.toml")
        .to_string();
    for i in 1..=extra {
        let name = format!("e{i}");
        std::fs::create_dir(overlays.join(&name)).unwrap();
        copy_dir(
            &overlays.join("integration/secrets"),
            &overlays.join(&name).join("secrets"),
        );
        std::fs::write(
            overlays.join(&name).join("env.toml"),
            integration.replace("xwiki-integration.", &format!("xwiki-{name}.")),
        )
        .unwrap();
        cluster = cluster.replace("\nplatform = [", &format!("\n{name} = {key}\nplatform = ["));
    }
    std::fs::write(overlays.join("cluster.toml"), cluster).unwrap();
    render_once(repo.path());
    repo
}

/// What `o4g render` does: load the settings, gather the parts, list the missing Secrets,
/// build, audit, and write what changed.
fn render_once(root: &Path) -> render::Written {
    let settings = Settings::load(root).expect("settings");
    let parts = components::Parts::new(&settings).expect("contributions");
    assert!(parts.missing_secrets().is_empty());
    let built = parts.build().expect("build");
    render::render(root, &built, &settings, render::WriteOptions::default()).expect("render")
}

/// A warm `render` (out/ already up to date) with 0, 10, 50 and 100 environments more than
/// the repository's three (goal: 100 more within 100 ms, and linear).
#[divan::bench(args = [0, 10, 50, 100], sample_count = 10)]
fn render_warm_with_extra_environments(bencher: divan::Bencher, extra: usize) {
    let repo = with_environments(extra);
    bencher.bench(|| {
        let done = render_once(repo.path());
        assert!(done.written.is_empty(), "{:?}", done.written);
    });
}

/// The phases of a warm `render` with 0 and 100 environments more, to see which one grows:
/// loading the settings (TOML and Secret files), building the tree (every part's
/// contribution, once), the audit, and the comparison with the committed `out/`.
#[divan::bench(args = [0, 100], sample_count = 10)]
fn phase_load(bencher: divan::Bencher, extra: usize) {
    let repo = with_environments(extra);
    bencher.bench(|| Settings::load(repo.path()).expect("settings"));
}

/// See [`phase_load`].
#[divan::bench(args = [0, 100], sample_count = 10)]
fn phase_build(bencher: divan::Bencher, extra: usize) {
    let repo = with_environments(extra);
    let settings = Settings::load(repo.path()).expect("settings");
    bencher.bench(|| components::build_all(&settings).expect("build"));
}

/// See [`phase_load`].
#[divan::bench(args = [0, 100], sample_count = 10)]
fn phase_audit(bencher: divan::Bencher, extra: usize) {
    let repo = with_environments(extra);
    let settings = Settings::load(repo.path()).expect("settings");
    let built = components::build_all(&settings).expect("build");
    bencher.bench(|| components::audit(&built, &settings).expect("audit"));
}

/// See [`phase_load`].
#[divan::bench(args = [0, 100], sample_count = 10)]
fn phase_check(bencher: divan::Bencher, extra: usize) {
    let repo = with_environments(extra);
    let settings = Settings::load(repo.path()).expect("settings");
    let tree = components::build(&settings).expect("build");
    bencher.bench(|| render::check(repo.path(), &tree).expect("check"));
}
