//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod charts;
pub mod fresh_site;
pub mod mariadb;
pub mod procs;
pub mod s3;
pub mod sandbox;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream test data (chart sources, PSS and Kyverno fixtures, CRD schemas; listed with
/// their sources and sha256s in `.ci/upstream.toml`): the folder `$O4G_SHARED` names (the
/// hosted CI job's cache, filled by `.ci/upstream.py fetch`), else `../shared` beside the
/// repository (this machine's copy), if present.
pub fn shared() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SHARED_ENV) {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let p = root().join("../shared");
    p.join("DESIGN.md").is_file().then_some(p)
}

/// The environment variable naming the upstream data cache.
pub const SHARED_ENV: &str = "O4G_SHARED";

/// True when running in CI (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips the calling test with a reason, or fails it in CI. The reason goes straight to the
/// process's stderr, past libtest's capture, so a person sees `SKIPPED <test>: <why>` in the
/// normal `cargo test` output (no `--nocapture` needed) among the `test … ok` lines.
#[macro_export]
macro_rules! skip_or_fail {
    ($($why:tt)*) => {{
        let why = format!($($why)*);
        if $crate::common::in_ci() {
            panic!("CI=true and a prerequisite is missing: {why}");
        }
        $crate::common::report_skip(&why);
        return;
    }};
}

/// Writes `SKIPPED <test>: <why>` to the real stderr (not the captured `eprintln!`).
pub fn report_skip(why: &str) {
    use std::io::Write as _;
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// True when `tool` can be run.
pub fn has_tool(tool: &str, version_arg: &str) -> bool {
    Command::new(tool)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fixture site A (`tests/fixtures/site-a/`): the settings the tool's own tests render, so they
/// never move when the live `overlays/` moves. Two environments, `live` (production) and `qa-7`
/// (rehearsal, restore test, MySQL 8.4), with throwaway age recipients and made-up Secrets.
pub fn fixture_root() -> PathBuf {
    root().join("tests/fixtures/site-a")
}

/// The settings of fixture site A.
pub fn fixture_settings() -> o4g_gitops::settings::Settings {
    o4g_gitops::settings::Settings::load(&fixture_root()).expect("fixture site A loads")
}

/// The environment `name` of fixture site A.
pub fn fixture_env(name: &str) -> o4g_gitops::settings::Environment {
    fixture_settings()
        .environment(name)
        .unwrap_or_else(|| panic!("fixture site A has no environment {name}"))
}

/// Fixture site A rendered once per test process by the `o4g` binary (`overlays/`, `out/`,
/// `.sops.yaml`), in a temporary folder that lives as long as the process.
pub fn fixture_repo() -> &'static Path {
    static REPO: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    REPO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(
            &fixture_root().join("overlays"),
            &dir.path().join("overlays"),
        );
        let out = o4g(dir.path(), &["render"]);
        assert!(
            out.status.success(),
            "fixture site A renders:\n{}",
            text(&out)
        );
        dir
    })
    .path()
}

/// `text` with every pin Renovate moves replaced by a marker: image tags and digests
/// (`src/images.rs`), the version labels taken from them, and chart versions
/// (`src/charts.rs`). The fixture's snapshots show what the generator does with the settings;
/// a Renovate bump changes only these values, so it must not change a snapshot (the live
/// `out/` shows the bump in its diff).
pub fn redact_pins(text: &str) -> String {
    let mut out = text.to_string();
    for image in o4g_gitops::images::ALL
        .iter()
        .chain(&o4g_gitops::components::traefik::images::ALL)
    {
        let name = format!("{}/{}", image.registry(), image.repository());
        out = out.replace(&image.to_string(), &format!("{name}:<tag>@<digest>"));
        out = out.replace(image.digest(), "<digest>");
    }
    // Digests pinned elsewhere (e.g. the cert-manager images beside its chart version).
    let digest = regex::Regex::new(r"sha256:[0-9a-f]{64}").unwrap();
    out = digest.replace_all(&out, "<digest>").into_owned();
    let label = regex::Regex::new(r"(app\.kubernetes\.io/version: ).*").unwrap();
    out = label.replace_all(&out, "${1}<version>").into_owned();
    let mut versions: Vec<&str> = o4g_gitops::images::ALL
        .iter()
        .chain(&o4g_gitops::components::traefik::images::ALL)
        .flat_map(|i| [i.tag(), i.tag().split('-').next().unwrap()])
        .chain(o4g_gitops::charts::ALL.iter().map(|c| c.version))
        .filter(|v| v.contains('.'))
        .collect();
    // Longest first, so `17.3.0-mysql-tomcat` goes before `17.3.0`.
    versions.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in versions {
        let whole = regex::Regex::new(&format!(
            r"(^|[^0-9A-Za-z.]){}($|[^0-9A-Za-z])",
            regex::escape(v)
        ))
        .unwrap();
        out = whole.replace_all(&out, "${1}<version>${2}").into_owned();
    }
    out
}

/// A scratch copy of rendered fixture site A (`overlays/`, `out/`, `.sops.yaml`) in a
/// temporary folder, for the tests that edit settings or `out/` and render.
pub fn scratch_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = fixture_repo();
    copy_dir(&from.join("overlays"), &dir.path().join("overlays"));
    copy_dir(&from.join("out"), &dir.path().join("out"));
    std::fs::copy(from.join(".sops.yaml"), dir.path().join(".sops.yaml")).expect(".sops.yaml");
    dir
}

/// A scratch copy of the live configuration (`overlays/`, `out/`, `.sops.yaml` of the
/// repository), for checks that must hold for whatever the live settings are.
pub fn live_scratch_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("overlays"), &dir.path().join("overlays"));
    copy_dir(&root().join("out"), &dir.path().join("out"));
    std::fs::copy(root().join(".sops.yaml"), dir.path().join(".sops.yaml")).expect(".sops.yaml");
    dir
}

/// Copies a folder recursively. `from` itself may be a link to a folder (the scratch copy of
/// `tests/routine.rs` reaches `../shared` through one); links inside it are not followed.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() || (entry.depth() == 0 && entry.path().is_dir()) {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir`, as relative path → bytes.
pub fn snapshot_dir(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}

/// Runs `o4g ARGS --root ROOT`.
pub fn o4g(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_o4g"))
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .expect("run o4g")
}

/// stdout + stderr as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `kubectl kustomize DIR`, returning its stdout or panicking with its stderr.
pub fn kustomize(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl is on the machine");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every folder under `dir` that holds a `kustomization.yaml`.
pub fn kustomize_dirs(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "kustomization.yaml")
        .map(|e| e.path().parent().unwrap().to_path_buf())
        .collect()
}

/// Every YAML document of every `.yaml` file under `dir`, as JSON values with their file.
pub fn documents(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        // Overlay patches are fragments of objects, not objects: tests/apps.rs checks what
        // kustomize builds with them.
        let patch = entry
            .path()
            .components()
            .any(|c| c.as_os_str() == "patches");
        if entry.path().extension().is_some_and(|e| e == "yaml") && !patch {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let v = serde_json::Value::deserialize(doc).unwrap();
                if !v.is_null() {
                    docs.push((entry.path().to_path_buf(), v));
                }
            }
        }
    }
    docs
}

/// Runs `promtool check rules` on a rule file made of `groups` (JSON, which is YAML);
/// panics with promtool's output when it refuses them.
pub fn promtool_check_rules(groups: &serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, groups.to_string()).unwrap();
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// The environments of the repository's own settings (the folders `overlays/<name>/env.toml`),
/// in listing order.
pub fn environments() -> Vec<o4g_gitops::settings::Environment> {
    o4g_gitops::settings::Settings::load_without_secrets(&root())
        .expect("the repository's settings load")
        .environments()
        .collect()
}

/// A tree the per-tree checks run on: the live settings as they are (ingress-nginx), or the
/// same settings with `[ingress] controller = "traefik"` (the other value of the setting), so
/// every such check proves both controllers without a second fixture to keep in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// `overlays/` and `out/` of the repository.
    Live,
    /// A scratch copy of them with `controller = "traefik"`, rendered once per test process.
    Traefik,
}

impl Tree {
    /// Both trees.
    pub const ALL: [Tree; 2] = [Tree::Live, Tree::Traefik];

    /// Its repository root (`overlays/`, `out/`, `.sops.yaml`).
    pub fn root(self) -> PathBuf {
        match self {
            Tree::Live => root(),
            Tree::Traefik => traefik_repo().to_path_buf(),
        }
    }

    /// Its name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Tree::Live => "live (ingress-nginx)",
            Tree::Traefik => "live with controller = traefik",
        }
    }

    /// Its settings.
    pub fn settings(self) -> o4g_gitops::settings::Settings {
        o4g_gitops::settings::Settings::load(&self.root()).expect("the settings load")
    }
}

/// `cluster.toml` with `[ingress] controller = VALUE` (the table replaced, or added).
pub fn with_controller(cluster_toml: &str, value: &str) -> String {
    let table = format!("[ingress]\ncontroller = \"{value}\"\n");
    let re = regex::Regex::new(r"(?ms)^\[ingress\]\n.*?(^\[|\z)").unwrap();
    if re.is_match(cluster_toml) {
        re.replace(cluster_toml, |c: &regex::Captures| {
            format!("{table}\n{}", &c[1])
        })
        .into_owned()
    } else {
        format!("{cluster_toml}\n{table}")
    }
}

/// The live configuration with `controller = "traefik"`, rendered by the `o4g` binary once per
/// test process in a temporary folder.
pub fn traefik_repo() -> &'static Path {
    static REPO: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    REPO.get_or_init(|| {
        let dir = live_scratch_repo();
        let cluster = dir.path().join("overlays/cluster.toml");
        let settings = std::fs::read_to_string(&cluster).unwrap();
        std::fs::write(&cluster, with_controller(&settings, "traefik")).unwrap();
        let out = o4g(dir.path(), &["render"]);
        assert!(
            out.status.success(),
            "the live settings render with controller = traefik:\n{}",
            text(&out)
        );
        dir
    })
    .path()
}
