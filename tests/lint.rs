//! `o4g lint` from the command line: exit codes, formats, inputs.

mod common;

use common::{o4g, text};

fn write(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p
}

const GOOD_POD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: good, namespace: prod}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: docker.io/library/mysql:8.0.46@sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 200m, memory: 128Mi}}
"#;

#[test]
fn clean_input_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "good.yaml", GOOD_POD);
    let out = o4g(&common::root(), &["lint", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 object(s) checked in 1 file(s): no violation"));
}

#[test]
fn violations_exit_1_with_object_container_rule_and_path_in_a_stable_order() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD_POD
        .replace("name: good", "name: bad")
        .replace(
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: false, privileged: true",
        )
        .replace(
            "@sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b",
            "",
        );
    // A List of a Deployment, and a second document.
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {{name: web}}\n  spec:\n    template:\n      spec:\n        containers: [{{name: c, image: nginx}}]\n---\n{bad}"
    );
    let f = write(dir.path(), "sub/bad.yml", &list);
    let run = |fmt: &str| {
        o4g(
            &common::root(),
            &["lint", "--format", fmt, dir.path().to_str().unwrap()],
        )
    };
    let out = run("text");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("  Pod/prod/bad\n"), "{t}");
    assert!(
        t.contains(
            "    [pss:privileged] spec.containers[0].securityContext.privileged (container app)"
        ),
        "{t}"
    );
    assert!(
        t.contains("      fix: set `securityContext.privileged: false` or remove it"),
        "{t}"
    );
    assert!(
        t.contains("  Deployment/web\n")
            && t.contains(
                "    [image-registry] spec.template.spec.containers[0].image (container c)"
            ),
        "{t}"
    );
    assert!(t.contains("    [requests-limits]"), "{t}");
    assert_eq!(t, text(&run("text")), "output is stable");
    let json: Vec<serde_json::Value> = serde_json::from_slice(&run("json").stdout).unwrap();
    assert!(json.iter().all(|v| v["file"] == f.to_str().unwrap()));
    let rules: Vec<&str> = json.iter().map(|v| v["rule"].as_str().unwrap()).collect();
    assert!(
        rules.contains(&"image-digest")
            && rules.contains(&"image-tag")
            && rules.contains(&"pss:runAsNonRoot")
            && !rules.contains(&"run-as-non-root"),
        "{rules:?}"
    );
    let mut sorted = json.clone();
    sorted.sort_by_key(|v| {
        (
            v["object"].to_string(),
            v["rule"].to_string(),
            v["path"].to_string(),
        )
    });
    assert_eq!(
        json, sorted,
        "violations come sorted by object, rule and path"
    );
}

#[test]
fn baseline_level_and_old_versions_change_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // Violates only restricted checks (no seccomp, no drop ALL) and v1.23's runAsUser.
    let pod = GOOD_POD
        .replace("seccompProfile: {type: RuntimeDefault}", "runAsUser: 0")
        .replace(", capabilities: {drop: [ALL]}", "");
    let f = write(dir.path(), "p.yaml", &pod);
    let pss = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["lint", "--format", "json"];
        a.extend(args);
        a.push(f.to_str().unwrap());
        let out = o4g(&common::root(), &a);
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter()
            .filter_map(|x| x["rule"].as_str())
            .filter(|r| r.starts_with("pss:"))
            .map(String::from)
            .collect()
    };
    assert!(pss(&["--level", "baseline"]).is_empty());
    let latest = pss(&[]);
    assert!(
        latest.contains(&"pss:runAsUser".to_string())
            && latest.contains(&"pss:capabilities_restricted".to_string()),
        "{latest:?}"
    );
    let old = pss(&["--pss-version", "v1.21"]);
    assert!(
        !old.iter()
            .any(|r| r == "pss:runAsUser" || r == "pss:capabilities_restricted"),
        "{old:?}"
    );
}

#[test]
fn unreadable_input_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n  oops: [\n",
    );
    let out = o4g(&common::root(), &["lint", f.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("{}:", f.display())) && t.contains("YAML syntax error"),
        "{t}"
    );
    let missing = o4g(&common::root(), &["lint", "/nonexistent/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    let bad_version = o4g(
        &common::root(),
        &["lint", "--pss-version", "1.33", f.to_str().unwrap()],
    );
    assert_eq!(bad_version.status.code(), Some(2));
    assert!(text(&bad_version).contains("v1.N"));
}

#[test]
fn odd_documents_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "odd.yaml",
        "--- 3\n--- [1, 2]\n---\n--- {kind: Pod}\n--- {kind: Deployment, spec: {template: 7}}\n--- {kind: Pod, spec: {containers: 5, volumes: [1], securityContext: []}}\n",
    );
    let out = o4g(&common::root(), &["lint", f.to_str().unwrap()]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
}

#[test]
fn the_committed_tree_lints_clean() {
    let out = o4g(
        &common::root(),
        &["lint", common::root().join("out").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A pod that Pod Security `restricted` accepts at every version, without a digest,
/// resources or an allowed registry.
const PSS_ONLY: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  securityContext:\n    runAsNonRoot: true\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: web\n    image: nginx:1.27\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n";

fn lint_in(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let mut a = vec!["lint"];
    a.extend_from_slice(args);
    let out = o4g(dir, &a);
    (out.status.code(), text(&out))
}

#[test]
fn rules_pss_accepts_a_compliant_pod_without_digest_or_requests_at_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "pod.yaml", PSS_ONLY);
    let f = f.to_str().unwrap();
    let (code, out) = lint_in(dir.path(), &[f]);
    assert_eq!(
        code,
        Some(1),
        "every rule: digest, registry and resources fail\n{out}"
    );
    for minor in 25..=33 {
        let v = format!("v1.{minor}");
        let (code, out) = lint_in(
            dir.path(),
            &[
                "--rules",
                "pss",
                "--level",
                "restricted",
                "--pss-version",
                &v,
                f,
            ],
        );
        assert_eq!(code, Some(0), "{v}: {out}");
    }
    // --skip drops exactly the rules it names.
    let (code, out) = lint_in(dir.path(), &["--skip", "image-digest,image-registry", f]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("[requests-limits]")
            && !out.contains("[image-digest]")
            && !out.contains("[image-registry]"),
        "{out}"
    );
    // A selector that names no rule is refused, not silently empty.
    let (code, out) = lint_in(dir.path(), &["--rules", "psss", f]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("unknown rule `psss`") && out.contains("pss:privileged"),
        "{out}"
    );
}

#[test]
fn an_annotation_with_a_reason_skips_a_rule_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let with = PSS_ONLY.replace(
        "  name: web\n",
        "  name: web\n  annotations:\n    o4g.dev/skip: \"image-digest=vendor image, pinned by the chart; image-registry=mirrored by the vendor\"\n",
    );
    let f = write(dir.path(), "pod.yaml", &with);
    let (code, out) = lint_in(dir.path(), &[f.to_str().unwrap()]);
    assert_eq!(code, Some(1), "requests-limits still fails: {out}");
    assert!(!out.contains("[image-digest]"), "{out}");
    assert!(
        out.contains("image-digest skipped by o4g.dev/skip: vendor image, pinned by the chart"),
        "{out}"
    );
    assert!(out.contains("2 rule(s) skipped by annotation"), "{out}");
    let without = PSS_ONLY.replace(
        "  name: web\n",
        "  name: web\n  annotations:\n    o4g.dev/skip: image-digest\n",
    );
    let f = write(dir.path(), "bare.yaml", &without);
    let (code, out) = lint_in(dir.path(), &[f.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("`image-digest` has no reason"), "{out}");
}

#[test]
fn lint_keeps_going_past_a_bad_file_reads_stdin_and_names_templates() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "a-bad.yaml", "kind: Pod\nmetadata: [unclosed\n");
    let tpl = write(
        dir.path(),
        "b-chart.yaml",
        "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    let kus = write(
        dir.path(),
        "c-kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
    );
    let good = write(dir.path(), "d-pod.yaml", PSS_ONLY);
    let (code, out) = lint_in(
        dir.path(),
        &[
            bad.to_str().unwrap(),
            tpl.to_str().unwrap(),
            kus.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("a-bad.yaml:"), "the bad file is named: {out}");
    assert_eq!(
        out.matches("not a manifest: render it first (helm template / kubectl kustomize)")
            .count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("d-pod.yaml\n  Pod/web\n    [image-digest]"),
        "the good file is still linted: {out}"
    );
    assert!(out.contains("3 file(s) not linted"), "{out}");
    // `-` is stdin.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_o4g"))
        .args(["lint", "--rules", "image-digest", "-"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), PSS_ONLY.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("-\n  Pod/web\n    [image-digest]"));
}

#[test]
fn one_defect_reported_by_two_rules_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = PSS_ONLY.replace("    runAsNonRoot: true\n", "");
    let f = write(dir.path(), "pod.yaml", &root);
    let (_, out) = lint_in(dir.path(), &[f.to_str().unwrap()]);
    assert!(out.contains("[pss:runAsNonRoot]"), "{out}");
    assert!(
        !out.contains("[run-as-non-root]"),
        "the same defect twice: {out}"
    );
    // Without Pod Security, the workload rule still reports it.
    let (_, out) = lint_in(dir.path(), &["--skip", "pss", f.to_str().unwrap()]);
    assert!(out.contains("[run-as-non-root]"), "{out}");
}

/// The SARIF 2.1.0 schema, as shipped by the serde-sarif crate the output is built with
/// (found through `cargo metadata`, not copied into the repository).
fn sarif_schema() -> serde_json::Value {
    let lock = std::fs::read_to_string(common::root().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"serde-sarif\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("serde-sarif is locked");
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo")
        });
    let path = std::fs::read_dir(home.join("registry/src"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            e.path()
                .join(format!("serde-sarif-{version}/src/schema.json"))
        })
        .find(|p| p.is_file())
        .expect("the serde-sarif sources cargo built from");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "pod.yaml", PSS_ONLY);
    let bad = write(dir.path(), "bad.yaml", "kind: [\n");
    let out = o4g(
        dir.path(),
        &[
            "lint",
            "--format",
            "sarif",
            f.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = sarif_schema();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    // The published schema's `language` pattern has a stray `]` (`…[a-zA-Z]{2}]?$`), which the
    // meta-schema refuses as a regex: it is replaced, in memory, by the pattern it means.
    let fixed = schema.to_string().replace(
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    let validator = jsonschema::validator_for(&serde_json::from_str(&fixed).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "digest, registry, resources");
    for r in results {
        let rule = r["ruleId"].as_str().unwrap();
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][i]["id"], rule,
            "ruleIndex points at its rule"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            f.to_str().unwrap()
        );
    }
    assert_eq!(
        run["invocations"][0]["executionSuccessful"], false,
        "bad.yaml was not linted"
    );
    // The validator is not a rubber stamp: a result without its message is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(validator.iter_errors(&broken).next().is_some());
}

#[test]
fn the_human_format_groups_by_object_and_states_each_fix() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!(
        "{PSS_ONLY}---\n{}",
        PSS_ONLY
            .replace("name: web", "name: api")
            .replace("    runAsNonRoot: true\n", "")
            .replace(
                "allowPrivilegeEscalation: false",
                "allowPrivilegeEscalation: true"
            )
    );
    let f = write(dir.path(), "pods.yaml", &two);
    let out = o4g(dir.path(), &["lint", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = String::from_utf8(out.stdout)
        .unwrap()
        .replace(dir.path().to_str().unwrap(), "<dir>");
    insta::assert_snapshot!("lint_human_format", shown);
}

#[test]
fn a_config_file_selects_rules_for_the_team_and_bad_ones_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "pod.yaml", PSS_ONLY);
    let run = |cwd: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_o4g"))
            .arg("lint")
            .args(extra)
            .arg(&f)
            .current_dir(cwd)
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    // .o4g-lint.toml in the current directory is picked up.
    std::fs::write(
        dir.path().join(".o4g-lint.toml"),
        "[lint]\nrules = [\"pss\", \"image-digest\"]\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("[image-digest]") && !out.contains("[requests-limits]"),
        "{out}"
    );
    // --skip adds to it; --rules replaces its rules.
    let (code, out) = run(dir.path(), &["--skip", "image-digest"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(dir.path(), &["--rules", "requests-limits"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("[requests-limits]") && !out.contains("[image-digest]"),
        "{out}"
    );
    // An unknown key or rule names the file (and the line).
    std::fs::write(dir.path().join("bad.toml"), "[lint]\nrulez = [\"pss\"]\n").unwrap();
    let (code, out) = run(dir.path(), &["--config", "bad.toml"]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("bad.toml:2:") && out.contains("rulez"),
        "{out}"
    );
    std::fs::write(
        dir.path().join("typo.toml"),
        "[lint]\nskip = [\"image-digets\"]\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["--config", "typo.toml"]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("typo.toml: [lint]: unknown rule `image-digets`"),
        "{out}"
    );
}

#[test]
fn v1_37_sysctls_pass_at_latest_which_help_names() {
    let dir = tempfile::tempdir().unwrap();
    let pod = PSS_ONLY.replace(
        "    runAsNonRoot: true\n",
        "    runAsNonRoot: true\n    sysctls: [{name: net.ipv4.tcp_slow_start_after_idle, value: \"0\"}, {name: net.ipv4.tcp_notsent_lowat, value: \"131072\"}]\n",
    );
    let f = write(dir.path(), "pod.yaml", &pod);
    let f = f.to_str().unwrap();
    for (version, denied) in [
        ("latest", false),
        ("v1.37", false),
        ("v1.40", false),
        ("v1.36", true),
    ] {
        let (code, out) = lint_in(dir.path(), &["--rules", "pss", "--pss-version", version, f]);
        assert_eq!(out.contains("[pss:sysctls]"), denied, "{version}: {out}");
        assert_eq!(code, Some(if denied { 1 } else { 0 }), "{version}: {out}");
    }
    let help = text(&o4g(dir.path(), &["lint", "--help"]));
    let latest = format!("`latest` = v1.{}", o4g_gitops::policy::LATEST_MINOR);
    assert!(help.contains(&latest), "{help}");
    const { assert!(o4g_gitops::policy::LATEST_MINOR >= 37) };
}

/// A privileged pod: one finding, at a known line and column.
const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";

#[test]
fn sarif_results_carry_the_region_of_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "pod.yaml", PRIVILEGED);
    let out = o4g(
        dir.path(),
        &[
            "lint",
            "--rules",
            "pss:privileged",
            "--format",
            "sarif",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &log["runs"][0]["results"][0];
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 10, "{result:#}");
    assert_eq!(region["startColumn"], 7, "{result:#}");
}

#[test]
fn json_output_carries_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "pod.yaml", PRIVILEGED);
    let out = o4g(
        dir.path(),
        &[
            "lint",
            "--rules",
            "pss:privileged",
            "--format",
            "json",
            f.to_str().unwrap(),
        ],
    );
    let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["line"], 10);
    assert_eq!(
        found[0]["fix"],
        "set `securityContext.privileged: false` or remove it"
    );
}

#[test]
fn a_clean_run_says_how_many_objects_were_checked() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!(
        "{PSS_ONLY}---\n{}",
        PSS_ONLY.replace("name: web\nspec", "name: api\nspec")
    );
    write(dir.path(), "a.yaml", &two);
    write(dir.path(), "b/c.yaml", PSS_ONLY);
    let (code, out) = lint_in(
        dir.path(),
        &["--rules", "pss", dir.path().to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("3 object(s) checked in 2 file(s): no violation"),
        "{out}"
    );
}
