//! `o4g lint` on untrusted YAML (issue 12): read as the API server's reader does (merge keys,
//! duplicate keys, BOM), with bounded resources, nothing skipped silently, quiet on a closed
//! pipe.

mod common;

use std::process::Command;

fn lint(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_o4g"))
        .args(["lint", "--root"])
        .arg(dir)
        .arg(dir)
        .output()
        .unwrap()
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: docker.io/library/busybox:1.37.0@sha256:0000000000000000000000000000000000000000000000000000000000000000\n";

#[test]
fn a_merge_key_cannot_hide_privileged_from_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pod.yaml"),
        format!("{POD}    securityContext:\n      <<: {{privileged: true}}\n"),
    )
    .unwrap();
    let out = lint(dir.path());
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("privileged"), "{t}");
}

#[test]
fn duplicate_keys_are_an_error_and_a_bom_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dup.yaml"), "kind: Pod\nkind: Deployment\n").unwrap();
    let out = lint(dir.path());
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("dup.yaml:") && t.contains("duplicate"), "{t}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bom.yaml"), format!("\u{feff}{POD}")).unwrap();
    let out = lint(dir.path());
    assert_ne!(out.status.code(), Some(2), "{}", common::text(&out));
}

#[test]
fn alias_fan_out_and_deep_nesting_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A 100 KB anchor and 160 KB of aliases to it.
    let anchor = format!("base: &b [{}]\n", vec!["x"; 50_000].join(","));
    let aliases = format!("use: [{}]\n", vec!["*b"; 40_000].join(","));
    std::fs::write(dir.path().join("bomb.yaml"), format!("{anchor}{aliases}")).unwrap();
    let out = lint(dir.path());
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("aliases"), "{t}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deep.yaml"), "[".repeat(100_000)).unwrap();
    let out = lint(dir.path());
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("nested deeper"), "{t}");
}

#[test]
fn a_symlink_in_a_linted_folder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("pod.yaml"), POD).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("pod.yaml"),
        dir.path().join("linked.yaml"),
    )
    .unwrap();
    let out = lint(dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("linked.yaml") && err.contains("symlink"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let many: String = (0..3000)
        .map(|i| format!("---\n{}", POD.replace("name: p", &format!("name: p{i}"))))
        .collect();
    std::fs::write(dir.path().join("many.yaml"), many).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; {} lint {} | head -1 >/dev/null; echo \"status=${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_o4g"),
            dir.path().display()
        ))
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(!t.contains("panicked"), "{t}");
    assert!(!t.contains("status=101"), "{t}");
}
