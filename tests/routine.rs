//! Day two: the routine changes a platform team makes are green with no test edit.
//!
//! In a scratch copy of the repository (every file Git tracks or would track, as it is in the
//! working tree), the test makes the changes a person makes by hand or Renovate makes in a pull
//! request, each read from and applied to whatever the settings hold today:
//!
//! - the production environment's XWiki host becomes another name in `[cutover] dns_zone`;
//! - its `xwiki-data` volume grows by 10Gi, its XWiki memory limit by 1Gi;
//! - its backup schedule moves by 15 minutes and its `retention_days` changes;
//! - XWiki's image is bumped the way Renovate's regex manager writes it: a new tag and digest on
//!   the `pinned_image!` line of `src/images.rs` (a made-up, well-formed digest);
//! - a new environment is added as README says (folder, `env.toml`, `age-keygen`, its recipient
//!   in `cluster.toml`), its Secrets made by the commands `render` prints;
//! - an environment is removed (folder, recipient, order).
//!
//! It then compiles the scratch copy (its own `o4g`, with the bumped image, and its own test
//! binaries), renders with it, and runs the test binaries that check the live configuration
//! ([`LIVE_TESTS`]) with `CI=true`. They must pass, and no file under `tests/` may differ from
//! the repository's.
//!
//! Compiling: the scratch copy gets a target folder of its own under `CARGO_TARGET_TMPDIR`
//! (so the outer `cargo test`'s build lock is never waited for), seeded with this target's
//! compiled dependencies (`deps/` hard-linked, `build/` and `.fingerprint/` copied with their
//! times), so only the
//! crate itself is compiled. It is built with `cargo test --no-run`, whose dev-dependency
//! feature set is the one the seed was compiled with (`cargo build` would pick another set and
//! recompile dependencies).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use o4g_gitops::quantity::Bytes;
use o4g_gitops::settings::Settings;

/// The test binaries holding the checks of the live configuration, run on the scratch copy.
const LIVE_TESTS: &[&str] = &[
    "alerts",
    "apps",
    "audit",
    "backup",
    "bootstrap",
    "charts",
    "ci",
    "cutover",
    "infrastructure",
    "kustomize",
    "network",
    "render",
    "schemas",
    "secrets",
];

#[test]
fn routine_changes_pass_the_live_checks_with_no_test_edit() {
    for (tool, arg) in [
        ("kubectl", "--help"),
        ("age-keygen", "--version"),
        ("sops", "--version"),
    ] {
        if !common::has_tool(tool, arg) {
            skip_or_fail!("{tool} is not installed");
        }
    }
    let started = Instant::now();
    let base = tempfile::Builder::new()
        .prefix("routine-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let repo = base.path().join("repo");
    copy_checkout(&common::root(), &repo);
    // The tests find `../shared` beside the repository.
    if let Some(shared) = common::shared() {
        std::os::unix::fs::symlink(shared, base.path().join("shared")).unwrap();
    }
    let tests_before = hashes(&repo.join("tests"));
    let target = base.path().join("target");
    seed_target(&target);

    let settings = Settings::load_without_secrets(&repo).expect("the live settings load");
    let production = settings.production();
    let zone = settings.cluster.cutover.dns_zone.as_str().to_string();
    let hosts: Vec<String> = settings
        .envs()
        .map(|(_, e)| e.xwiki.host.get_ref().as_str().to_string())
        .collect();
    let free_host = |stem: &str| {
        (0..)
            .map(|i| match i {
                0 => format!("{stem}.{zone}"),
                i => format!("{stem}{i}.{zone}"),
            })
            .find(|h| !hosts.contains(h))
            .unwrap()
    };

    // 1. Production: host, volume, memory, schedule, retention.
    let env_file = repo.join(format!("overlays/{production}/env.toml"));
    let e = settings.env(production);
    let mut toml = read_toml(&env_file);
    let host = free_host("wiki");
    toml["xwiki"]["host"] = host.clone().into();
    let grown = Bytes::new(e.xwiki.storage_size.get() + Bytes::gibi(10).get());
    toml["xwiki"]["storage_size"] = grown.to_string().into();
    let limits = e.xwiki.resources.get_ref().limits;
    let memory = Bytes::new(limits.memory.get() + Bytes::gibi(1).get());
    toml["xwiki"]["resources"]["limits"]["memory"] = memory.to_string().into();
    let schedule = later(e.backup.schedule.as_str());
    toml["backup"]["schedule"] = schedule.clone().into();
    let retention = if *e.backup.retention_days.get_ref() == 14 {
        21
    } else {
        14
    };
    toml["backup"]["retention_days"] = toml::Value::Integer(retention);
    write_toml(&env_file, &toml);

    // 2. Renovate's XWiki bump on its `pinned_image!` line.
    let images = repo.join("src/images.rs");
    let (old_tag, new_tag, new_digest) = bump_xwiki(&images);

    // 3. Compile the scratch copy: its o4g and its test binaries.
    let t = Instant::now();
    let mut build = cargo(&repo, &target, &["test", "--offline", "--no-run"]);
    for name in LIVE_TESTS {
        build.args(["--test", name]);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "{}", common::text(&built));
    let compile_s = t.elapsed().as_secs_f64();
    let o4g = target.join("debug/o4g");
    let run = |args: &[&str]| -> Output {
        Command::new(&o4g)
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "o4g {args:?}:\n{}",
            common::text(&out)
        );
        out
    };
    ok(&["render"]);

    // 4. A new environment, as README says.
    let new = (0..)
        .map(|i| match i {
            0 => "staging".to_string(),
            i => format!("staging{i}"),
        })
        .find(|n| settings.environment(n).is_none() && !repo.join("overlays").join(n).exists())
        .unwrap();
    let model = settings
        .envs()
        .find(|(env, e)| *env != production && e.backup.restore_test.is_none())
        .or_else(|| settings.envs().find(|(env, _)| *env != production))
        .map_or(production, |(env, _)| env);
    std::fs::create_dir(repo.join("overlays").join(&new)).unwrap();
    let new_file = repo.join(format!("overlays/{new}/env.toml"));
    std::fs::copy(repo.join(format!("overlays/{model}/env.toml")), &new_file).unwrap();
    let mut toml = read_toml(&new_file);
    let new_host = free_host(&format!("xwiki-{new}"));
    toml["xwiki"]["host"] = new_host.clone().into();
    write_toml(&new_file, &toml);
    let key_file = repo.join(format!("{new}.agekey"));
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", common::text(&keygen));
    let public = std::fs::read_to_string(&key_file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let cluster_file = repo.join("overlays/cluster.toml");
    let mut cluster = read_toml(&cluster_file);
    cluster["sops"]["age_recipients"]
        .as_table_mut()
        .unwrap()
        .insert(new.clone(), toml::Value::Array(vec![public.into()]));
    write_toml(&cluster_file, &cluster);
    // render names the missing Secrets with the commands that create them; they run as printed
    // from the repository root, `cargo run -q --` answered by this scratch copy's o4g.
    let missing = run(&["render"]);
    let shown = common::text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{shown}");
    let commands = common::fresh_site::printed_commands(&shown);
    assert!(!commands.is_empty(), "no command printed:\n{shown}");
    let bin = base.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n[ \"$1 $2 $3\" = 'run -q --' ] || {{ echo \"not a printed command: cargo $*\" >&2; exit 97; }}\nshift 3\nexec '{}' \"$@\"\n",
            o4g.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for c in &commands {
        let out = Command::new("sh")
            .args(["-c", c])
            .current_dir(&repo)
            .env("PATH", &path)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the printed command failed as printed:\n  {c}\n{}",
            common::text(&out)
        );
    }
    ok(&["render"]);

    // 5. Remove an environment no role or restore test names (not the new one).
    let sources: Vec<String> = settings
        .envs()
        .filter_map(|(_, e)| e.backup.restore_test.as_ref())
        .map(|t| t.source.get_ref().clone())
        .collect();
    let removed = settings.environments().find(|e| {
        *e != production && *e != settings.rehearsal() && !sources.contains(&e.name().to_string())
    });
    if let Some(removed) = removed {
        std::fs::remove_dir_all(repo.join("overlays").join(removed.name())).unwrap();
        let mut cluster = read_toml(&cluster_file);
        cluster["sops"]["age_recipients"]
            .as_table_mut()
            .unwrap()
            .remove(removed.name());
        if let Some(order) = cluster
            .get_mut("environments")
            .and_then(|e| e.get_mut("order"))
            .and_then(toml::Value::as_array_mut)
        {
            order.retain(|v| v.as_str() != Some(removed.name()));
        }
        write_toml(&cluster_file, &cluster);
        ok(&["render"]);
        assert!(!repo.join("out/apps/overlays").join(removed.name()).exists());
    }
    ok(&["render", "--check"]);

    // The changes are in the rendered tree.
    let out = read_tree(&repo.join(format!("out/apps/overlays/{production}")));
    for needle in [
        host.as_str(),
        &grown.to_string(),
        &memory.to_string(),
        &schedule,
    ] {
        assert!(
            out.contains(needle),
            "{production}'s overlay lacks {needle}"
        );
    }
    let base_tree = read_tree(&repo.join("out/apps/base"));
    assert!(
        base_tree.contains(&format!("{new_tag}@{new_digest}")) && !base_tree.contains(&old_tag),
        "the apps base runs the bumped XWiki"
    );
    assert!(read_tree(&repo.join(format!("out/apps/overlays/{new}"))).contains(&new_host));

    // 6. The live checks of the scratch copy, as CI runs them.
    let t = Instant::now();
    let mut test = cargo(&repo, &target, &["test", "--offline", "--no-fail-fast"]);
    for name in LIVE_TESTS {
        test.args(["--test", name]);
    }
    let tested = test.env("CI", "true").output().unwrap();
    let test_s = t.elapsed().as_secs_f64();
    let report = common::text(&tested);
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("test result:") || l.contains("FAILED") || l.contains("panicked"))
        .collect();
    assert!(
        tested.status.success(),
        "the live checks fail on the routine changes:\n{report}"
    );
    assert_eq!(
        hashes(&repo.join("tests")),
        tests_before,
        "a file under tests/ changed"
    );
    // Past libtest's capture: the cost shows in every run.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "routine changes: compile {compile_s:.0} s, live checks {test_s:.0} s, total {:.0} s ({} test binaries)",
        started.elapsed().as_secs_f64(),
        summary
            .iter()
            .filter(|l| l.starts_with("test result: ok"))
            .count()
    );
}

/// Copies the files of a checkout that Git tracks or would track (`git ls-files --cached
/// --others --exclude-standard`), as they are in the working tree; without Git, every file but
/// `target/` and `.git/`.
fn copy_checkout(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(from)
        .output()
        .ok()
        .filter(|o| o.status.success());
    let files: Vec<PathBuf> = match listed {
        Some(o) => o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).as_ref()))
            .collect(),
        None => walkdir::WalkDir::new(from)
            .into_iter()
            .filter_entry(|e| !matches!(e.file_name().to_str(), Some("target" | ".git")))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(from).unwrap().to_path_buf())
            .collect(),
    };
    for rel in files {
        let src = from.join(&rel);
        if !src.is_file() {
            continue; // deleted in the working tree
        }
        let dst = to.join(&rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap();
    }
}

/// A target folder for the scratch copy holding this target's compiled dependencies.
fn seed_target(target: &Path) {
    let ours = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("debug");
    let debug = target.join("debug");
    std::fs::create_dir_all(&debug).unwrap();
    // deps/: hard links (gigabytes; rustc writes new files, never into these). The crate's
    // own artifacts are left out: the scratch copy is another package path, so its own are
    // named differently and compiled anew.
    let deps = debug.join("deps");
    std::fs::create_dir_all(&deps).unwrap();
    for entry in std::fs::read_dir(ours.join("deps")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::hard_link(entry.path(), deps.join(entry.file_name()))
                .or_else(|_| std::fs::copy(entry.path(), deps.join(entry.file_name())).map(|_| ()))
                .unwrap();
        }
    }
    // build/ and .fingerprint/: copied with their times (cargo compares them; a copy dated now
    // would make every build script, and all that depends on it, stale).
    for dir in ["build", ".fingerprint"] {
        if ours.join(dir).is_dir() {
            let cp = Command::new("cp")
                .arg("-a")
                .arg(ours.join(dir))
                .arg(&debug)
                .output()
                .unwrap();
            assert!(cp.status.success(), "{}", common::text(&cp));
        }
    }
}

/// `cargo ARGS` in the scratch copy with its own target folder.
fn cargo(repo: &Path, target: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args)
        .arg("--target-dir")
        .arg(target)
        .current_dir(repo)
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("INSTA_UPDATE");
    c
}

fn read_toml(path: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_toml(path: &Path, value: &toml::Value) {
    std::fs::write(path, toml::to_string(value).unwrap()).unwrap();
}

/// The schedule 15 minutes later (a plain minute field), or at minute 30.
fn later(schedule: &str) -> String {
    let (minute, rest) = schedule.split_once(' ').unwrap();
    let moved = match minute.parse::<u32>() {
        Ok(m) => (m + 15) % 60,
        Err(_) => 30,
    };
    format!("{moved} {rest}")
}

/// Writes a new patch version and a new digest on XWiki's `pinned_image!` line, as Renovate's
/// regex manager does; returns (old tag, new tag, new digest).
fn bump_xwiki(images: &Path) -> (String, String, String) {
    let text = std::fs::read_to_string(images).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("pub const XWIKI: PinnedImage = pinned_image!("))
        .expect("XWiki's pinned_image! line")
        .to_string();
    let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    let (old_tag, old_digest) = (quoted[2].to_string(), quoted[3].to_string());
    // 17.3.0-mysql-tomcat → 17.3.1-mysql-tomcat.
    let (version, variant) = old_tag.split_once('-').unwrap_or((&old_tag, ""));
    let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    *parts.last_mut().unwrap() += 1;
    let version = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    let new_tag = if variant.is_empty() {
        version
    } else {
        format!("{version}-{variant}")
    };
    let new_digest = format!(
        "sha256:{}",
        o4g_gitops::tree::sha256_hex(format!("o4g routine test {new_tag}").as_bytes())
    );
    let bumped = line
        .replace(&format!("\"{old_tag}\""), &format!("\"{new_tag}\""))
        .replace(&old_digest, &new_digest);
    std::fs::write(images, text.replace(&line, &bumped)).unwrap();
    (old_tag, new_tag, new_digest)
}

/// Every file's text under `dir`, concatenated.
fn read_tree(dir: &Path) -> String {
    common::snapshot_dir(dir)
        .into_values()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

/// sha256 of every file under `dir`.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    common::snapshot_dir(dir)
        .into_iter()
        .map(|(p, b)| (p, o4g_gitops::tree::sha256_hex(&b)))
        .collect()
}
