//! Promises of the repository itself: README, CI script, dev shell, hooks, no keys.

mod common;

use std::process::Command;

fn read(path: &str) -> String {
    std::fs::read_to_string(common::root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first two command lines of the README's first code block.
fn readme_commands() -> (String, String) {
    let readme = read("README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README opens with a sh block");
    let mut lines = block
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .map(|l| l.split('#').next().unwrap().trim().to_string());
    (lines.next().unwrap(), lines.next().unwrap())
}

#[test]
fn readme_opens_with_render_then_test_and_ci_runs_that_test_command() {
    let (render, test) = readme_commands();
    assert_eq!(render, "cargo run -- render");
    let head: String = read("README.md")
        .lines()
        .take(6)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        head.contains(&render) && head.contains(&test),
        "the commands come first:\n{head}"
    );
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == test),
        ".ci/run must run exactly `{test}`"
    );
    assert!(ci.contains("export CI=true"));
}

#[test]
fn pre_commit_runs_render_check() {
    let cfg: serde_json::Value = serde_yaml::from_str(&read(".pre-commit-config.yaml")).unwrap();
    let entries: Vec<&str> = cfg["repos"][0]["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["entry"].as_str())
        .collect();
    assert!(
        entries.contains(&"cargo run -q -- render --check"),
        "{entries:?}"
    );
}

#[test]
fn flake_parses_and_lists_the_dev_tools() {
    let flake = read("flake.nix");
    for tool in [
        "cargo",
        "kubectl",
        "kustomize",
        "fluxcd",
        "sops",
        "age",
        "kubeconform",
        "trivy",
        "prometheus",
    ] {
        assert!(
            flake.contains(&format!("            {tool}")),
            "flake.nix dev shell lacks {tool}"
        );
    }
    if !common::has_tool("nix-instantiate", "--version") {
        skip_or_fail!("nix-instantiate (Debian nix-bin) is not installed");
    }
    let out = Command::new("nix-instantiate")
        .args(["--parse", "flake.nix"])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files Git tracks (`git ls-files`): what a commit can carry. An untracked
/// `staging.agekey` made as README says (and git-ignored) is not the repository's.
fn tracked_files() -> Option<Vec<std::path::PathBuf>> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(common::root())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| common::root().join(String::from_utf8_lossy(p).as_ref()))
            .collect(),
    )
}

#[test]
fn no_private_key_is_committed() {
    let Some(files) = tracked_files() else {
        skip_or_fail!("git ls-files does not run here (no git, or not a Git checkout)")
    };
    // README's `age-keygen -o staging.agekey` leaves a git-ignored key in the working tree.
    let untracked = common::root().join(format!("o4g-test-{}.agekey", std::process::id()));
    std::fs::write(
        &untracked,
        format!("# made by tests/repo.rs\n{}-SECRET-KEY-1TEST\n", "AGE"),
    )
    .unwrap();
    let files_now = tracked_files().unwrap_or_default();
    std::fs::remove_file(&untracked).unwrap();
    assert!(
        !files_now.contains(&untracked),
        "an ignored key file counts as tracked"
    );
    let mut scanned = 0;
    for path in files {
        // A tracked file deleted in the working tree is not read.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        // Spelled in two parts so this file does not match itself.
        let marker = format!("{}-SECRET-KEY-", "AGE");
        assert!(
            !text.contains(&marker),
            "{} holds an age private key",
            path.display()
        );
        let ssh = format!("BEGIN OPENSSH {}", "PRIVATE KEY");
        assert!(
            !text.contains(&ssh),
            "{} holds an SSH private key",
            path.display()
        );
        scanned += 1;
    }
    assert!(scanned > 20, "scanned {scanned} files");
}

#[test]
fn the_architecture_map_names_every_component_module() {
    let map = std::fs::read_to_string(common::root().join("docs/ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(common::root().join("src/components")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().replace(".rs", "");
        if name == "mod" {
            continue;
        }
        if !map.contains(&format!("`{name}`")) && !map.contains(&format!("{name}.rs")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md does not mention {missing:?}"
    );
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    assert!(
        readme.contains("docs/ARCHITECTURE.md"),
        "README points at the map"
    );
}
