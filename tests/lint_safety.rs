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
fn a_symlink_in_a_linted_folder_is_reported_as_not_linted() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("pod.yaml"), POD).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("pod.yaml"),
        dir.path().join("linked.yaml"),
    )
    .unwrap();
    let out = lint(dir.path());
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("linked.yaml: not linted: a symlink"),
        "the file and the reason: {t}"
    );
    assert!(t.contains("1 file(s) not linted"), "the summary: {t}");
}

#[test]
fn a_pod_inside_a_nested_list_is_linted_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let pod = format!("{POD}    securityContext: {{privileged: true}}\n").replace('\n', "\n    ");
    let text = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {}\n",
        pod.trim_end()
    );
    std::fs::write(dir.path().join("nested.yaml"), &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_o4g"))
        .args(["lint", "--format", "json", "--rules", "pss:privileged"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    let line = text
        .lines()
        .position(|l| l.contains("privileged: true"))
        .unwrap()
        + 1;
    assert_eq!(found[0]["line"], line, "{found:#?}\n{text}");
}

/// Peak resident memory (KiB) of `o4g` with `args`, and its output.
fn peak_kib(args: &[&std::ffi::OsStr]) -> (u64, std::process::Output) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak-kib=%M"])
        .arg(env!("CARGO_BIN_EXE_o4g"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let kib = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-kib="))
        .unwrap_or_else(|| panic!("{err}"))
        .trim()
        .parse()
        .unwrap();
    (kib, out)
}

#[test]
fn a_50_mb_stream_gets_a_verdict_within_the_memory_of_a_few_documents() {
    if !std::path::Path::new("/usr/bin/time").exists() {
        skip_or_fail!("/usr/bin/time (Debian `time`) is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.yaml");
    let big = dir.path().join("big.yaml");
    // Ordinary objects: restricted pods, one of them privileged half-way through.
    let doc = |i: usize| {
        let privileged = if i == 100_000 {
            ", privileged: true"
        } else {
            ""
        };
        format!(
            "---\n{}    securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}{privileged}}}\n  securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}\n",
            POD.replace("name: p}", &format!("name: p{i}}}"))
        )
    };
    std::fs::write(&small, doc(0)).unwrap();
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let (mut written, mut i) = (0usize, 0usize);
        while written < 50 << 20 {
            let d = doc(i);
            w.write_all(d.as_bytes()).unwrap();
            written += d.len();
            i += 1;
        }
        w.flush().unwrap();
    }
    let args = |f: &std::path::Path| {
        [
            std::ffi::OsString::from("lint"),
            "--rules".into(),
            "pss".into(),
            f.into(),
        ]
    };
    let (base, _) = peak_kib(
        &args(&small)
            .iter()
            .map(|a| a.as_os_str())
            .collect::<Vec<_>>(),
    );
    let (peak, out) = peak_kib(&args(&big).iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let t = common::text(&out);
    // A verdict (1: the privileged pod), not a refusal (2).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        &t[t.len().saturating_sub(2000)..]
    );
    assert!(t.contains("Pod/p100000\n    [pss:privileged]"), "{t}");
    assert!(t.contains("1 violation(s) in 1 object(s)"), "{t}");
    // Documents are read one at a time: well under the 50 MB file.
    assert!(
        peak < base + 40 * 1024,
        "peak {peak} KiB for 50 MB, {base} KiB for one document"
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
