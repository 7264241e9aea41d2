//! Speed of the two hot paths: building the whole tree in memory, and `render --check`.
//! Run with `cargo bench`.

use std::path::Path;

use o4g_gitops::{components, render, settings::Settings};

fn main() {
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

/// The pre-commit path: load settings, build, and compare with the committed `out/`.
#[divan::bench]
fn render_check(bencher: divan::Bencher) {
    bencher.bench(|| {
        let settings = Settings::load(root()).expect("settings");
        let tree = components::build(&settings).expect("build");
        let drift = render::check(root(), &tree).expect("check");
        assert!(drift.is_clean(), "{drift}");
    });
}
