//! The policy rules against upstream test data: the Kubernetes pod-security-admission fixtures
//! and the Kyverno library tests; and the emitted CEL against the same verdicts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use o4g_gitops::lint::parse_documents;
use o4g_gitops::policy::{PodView, containers, images, kyverno};

fn shared_or_skip() -> Option<PathBuf> {
    common::shared()
}

/// Checks a fixture file name stands for, and the checks that replace them at restricted.
fn expected_checks(file: &str) -> BTreeSet<String> {
    let stem = file
        .trim_end_matches(".yaml")
        .trim_end_matches(char::is_numeric)
        .to_string();
    let mut ids = BTreeSet::from([stem.clone()]);
    match stem.as_str() {
        "hostpathvolumes" => ids.insert("restrictedvolumes".into()),
        "capabilities_baseline" => ids.insert("capabilities_restricted".into()),
        _ => false,
    };
    ids
}

#[test]
fn lint_agrees_with_every_upstream_pod_security_fixture() {
    let Some(shared) = shared_or_skip() else {
        skip_or_fail!("../shared is absent, so the PSS fixtures are not available");
    };
    let root = shared.join("fixtures/pss");
    let mut counts = BTreeMap::new();
    let mut failures = Vec::new();
    for level in ["baseline", "restricted"] {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root.join(level))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        versions.sort();
        assert!(versions.len() >= 34, "{level}: {} versions", versions.len());
        for vdir in versions {
            let version = vdir.file_name().unwrap().to_string_lossy().into_owned();
            for outcome in ["pass", "fail"] {
                let dir = vdir.join(outcome);
                let out = common::o4g(
                    &common::root(),
                    &[
                        "lint",
                        "--format",
                        "json",
                        "--level",
                        level,
                        "--pss-version",
                        &version,
                        "--registry",
                        "registry.k8s.io",
                        dir.to_str().unwrap(),
                    ],
                );
                assert!(
                    matches!(out.status.code(), Some(0 | 1)),
                    "{}",
                    common::text(&out)
                );
                let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
                let mut flagged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for v in &found {
                    let rule = v["rule"].as_str().unwrap();
                    if let Some(check) = rule.strip_prefix("pss:") {
                        let file = Path::new(v["file"].as_str().unwrap())
                            .file_name()
                            .unwrap()
                            .to_string_lossy()
                            .into_owned();
                        flagged
                            .entry(file)
                            .or_default()
                            .insert(check.to_lowercase());
                    }
                }
                let mut n = 0;
                for entry in std::fs::read_dir(&dir).unwrap() {
                    let file = entry.unwrap().file_name().to_string_lossy().into_owned();
                    n += 1;
                    let got = flagged.get(&file);
                    match (outcome, got) {
                        ("pass", Some(rules)) => failures.push(format!("{level}/{version}/pass/{file} flagged by {rules:?}")),
                        ("fail", None) => failures.push(format!("{level}/{version}/fail/{file} not flagged")),
                        ("fail", Some(rules)) if rules.is_disjoint(&expected_checks(&file)) => {
                            failures.push(format!("{level}/{version}/fail/{file} flagged by {rules:?}, not by its own check"))
                        }
                        _ => {}
                    }
                }
                *counts.entry((level, outcome)).or_insert(0) += n;
            }
        }
    }
    println!("PSS fixtures checked: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let on_disk = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert_eq!(
        counts.values().sum::<usize>(),
        on_disk,
        "every fixture file was checked: {counts:?}"
    );
}

/// One expected result of a Kyverno CLI test.
struct Expected {
    kind: String,
    name: String,
    rule: String,
    pass: bool,
}

fn kyverno_case(shared: &Path, policy: &str) -> (Vec<serde_json::Value>, Vec<Expected>) {
    let dir = shared
        .join("fixtures/kyverno")
        .join(policy)
        .join(".kyverno-test");
    let test: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kyverno-test.yaml")).unwrap())
            .unwrap();
    let resources = parse_documents(
        &dir,
        &std::fs::read_to_string(dir.join("resource.yaml")).unwrap(),
    )
    .unwrap();
    let mut expected = Vec::new();
    for r in test["results"].as_array().unwrap() {
        for name in r["resources"].as_array().unwrap() {
            expected.push(Expected {
                kind: r["kind"].as_str().unwrap().into(),
                name: name.as_str().unwrap().into(),
                rule: r["rule"].as_str().unwrap().into(),
                pass: r["result"] == "pass",
            });
        }
    }
    (resources, expected)
}

fn find<'a>(resources: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    resources
        .iter()
        .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in resource.yaml"))
}

fn images_of(pod: &PodView<'_>) -> Vec<String> {
    pod.containers()
        .map(|c| c.value["image"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Our verdict for a Kyverno rule name, computed by the Rust rule that mirrors it.
fn our_verdict(rule: &str, pod: &PodView<'_>) -> bool {
    let imgs = images_of(pod);
    match rule {
        "require-image-checksum" => imgs.iter().all(|i| images::has_digest(i)),
        "require-image-tag" => imgs.iter().all(|i| images::has_tag(i)),
        "validate-image-tag" => imgs.iter().all(|i| images::tag_is_not_latest(i)),
        "validate-registries" => imgs
            .iter()
            .all(|i| images::registry_allowed(i, &["eu.foo.io".into(), "bar.io".into()])),
        "run-as-non-root" => containers::runs_as_non_root(pod),
        "validate-resources" => pod.spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| containers::missing_resources(c).is_empty()),
        other => panic!("no mapping for Kyverno rule {other}"),
    }
}

const KYVERNO_POLICIES: [&str; 5] = [
    "require-image-checksum",
    "disallow-latest-tag",
    "restrict-image-registries",
    "require-run-as-nonroot",
    "require-pod-requests-limits",
];

#[test]
fn rules_reproduce_the_kyverno_library_tests() {
    let Some(shared) = shared_or_skip() else {
        skip_or_fail!("../shared is absent, so the Kyverno fixtures are not available");
    };
    let mut checked = 0;
    let mut stricter = Vec::new();
    for policy in KYVERNO_POLICIES {
        let (resources, expected) = kyverno_case(&shared, policy);
        assert!(!expected.is_empty());
        for e in expected {
            let object = find(&resources, &e.kind, &e.name);
            let pod = PodView::of(object).expect("a pod or pod controller");
            let ours = our_verdict(&e.rule, &pod);
            checked += 1;
            if ours == e.pass {
                continue;
            }
            // The one documented difference: we also demand CPU limits.
            let only_cpu_limit = e.rule == "validate-resources"
                && e.pass
                && pod.spec["containers"].as_array().unwrap().iter().all(|c| {
                    let m = containers::missing_resources(c);
                    m.is_empty() || m == ["limits.cpu"]
                });
            assert!(
                only_cpu_limit,
                "{policy}: {} {} rule {}: upstream {} but ours {}",
                e.kind, e.name, e.rule, e.pass, ours
            );
            stricter.push(format!("{}/{}", e.kind, e.name));
        }
    }
    println!(
        "Kyverno results reproduced: {checked}; failed by our stricter CPU-limit rule: {stricter:?}"
    );
    assert_eq!(
        stricter,
        ["Pod/goodpod01", "Pod/goodpod02"],
        "upstream passes these without limits.cpu"
    );
}

/// Evaluates one CEL rule over a pod-shaped object the way Kyverno does (variables first).
fn cel_verdict(rule: &kyverno::CelRule, pod: &PodView<'_>, registries: &[String]) -> bool {
    let object = serde_json::json!({"metadata": pod.meta, "spec": pod.spec});
    let mut ctx = cel::Context::default();
    ctx.add_variable("object", cel::to_value(&object).unwrap())
        .unwrap();
    let mut vars = std::collections::HashMap::new();
    for (name, expr) in rule.variables {
        let expr = expr.replace("{registries}", &kyverno::registries_literal(registries));
        let mut vctx = cel::Context::default();
        vctx.add_variable("object", cel::to_value(&object).unwrap())
            .unwrap();
        vctx.add_variable_from_value("variables", cel::Value::from(vars.clone()));
        let program =
            cel::Program::compile(&expr).unwrap_or_else(|e| panic!("{}: {expr}: {e:?}", rule.name));
        let v = program
            .execute(&vctx)
            .unwrap_or_else(|e| panic!("{}: {expr}: {e:?}", rule.name));
        vars.insert(name.to_string(), v);
    }
    ctx.add_variable_from_value("variables", cel::Value::from(vars));
    let program =
        cel::Program::compile(rule.expression).unwrap_or_else(|e| panic!("{}: {e:?}", rule.name));
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => b,
        other => panic!("{} on {}: {other:?}", rule.name, pod.meta["name"]),
    }
}

fn rust_verdict(rule: &str, pod: &PodView<'_>, registries: &[String]) -> bool {
    let imgs = images_of(pod);
    match rule {
        "image-digest" => imgs.iter().all(|i| images::has_digest(i)),
        "image-tag" => imgs
            .iter()
            .all(|i| images::has_tag(i) && images::tag_is_not_latest(i)),
        "image-registry" => imgs.iter().all(|i| images::registry_allowed(i, registries)),
        "run-as-non-root" => containers::runs_as_non_root(pod),
        "requests-limits" => pod
            .containers()
            .filter(|c| c.list != "ephemeralContainers")
            .all(|c| containers::missing_resources(c.value).is_empty()),
        other => panic!("unknown rule {other}"),
    }
}

#[test]
fn emitted_cel_gives_the_verdicts_of_the_rust_rules() {
    let Some(shared) = shared_or_skip() else {
        skip_or_fail!("../shared is absent, so the fixtures are not available");
    };
    let registries: Vec<String> = ["eu.foo.io", "bar.io", "registry.k8s.io", "docker.io"]
        .map(String::from)
        .to_vec();
    let mut objects = Vec::new();
    for policy in KYVERNO_POLICIES {
        objects.extend(kyverno_case(&shared, policy).0);
    }
    // The PSS fixtures the CEL rules cover: runAsNonRoot (and every image and resource rule
    // on the whole restricted set of the newest version).
    for dir in [
        "restricted/v1.33/pass",
        "restricted/v1.33/fail",
        "baseline/v1.33/pass",
    ] {
        let d = shared.join("fixtures/pss").join(dir);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            objects.extend(parse_documents(&p, &std::fs::read_to_string(&p).unwrap()).unwrap());
        }
    }
    // A pod made by the restricted builders, which passes every rule.
    objects.push(builder_pod());
    // Our own rendered pods.
    objects.extend(
        common::documents(&common::root().join("out"))
            .into_iter()
            .map(|(_, v)| v),
    );
    let mut compared = 0;
    let mut verdicts = BTreeMap::new();
    for object in &objects {
        let Some(pod) = PodView::of(object) else {
            continue;
        };
        for rule in kyverno::RULES {
            let cel = cel_verdict(rule, &pod, &registries);
            let rust = rust_verdict(rule.name, &pod, &registries);
            assert_eq!(
                cel, rust,
                "rule {} on {} {}: CEL {cel}, Rust {rust}",
                rule.name, object["kind"], object["metadata"]["name"]
            );
            *verdicts.entry((rule.name, cel)).or_insert(0) += 1;
            compared += 1;
        }
    }
    println!("CEL and Rust agree on {compared} (rule, pod) pairs: {verdicts:?}");
    for rule in kyverno::RULES {
        assert!(
            verdicts.contains_key(&(rule.name, true)) && verdicts.contains_key(&(rule.name, false)),
            "{} needs both verdicts in the corpus",
            rule.name
        );
    }
}

/// A Pod made through the workload builders (all rules pass by construction).
fn builder_pod() -> serde_json::Value {
    use o4g_gitops::quantity::{Bytes, Cpu};
    use o4g_gitops::workload::*;
    const HTTP: Port = Port::tcp("http", 8080);
    let res = Resources::new(
        Compute::new(Cpu::millis(100), Bytes::mebi(64)),
        Compute::new(Cpu::millis(200), Bytes::mebi(128)),
    );
    let init = Container::new("init", o4g_gitops::images::CURL)
        .resources(res)
        .build_task();
    let main = Container::new("main", o4g_gitops::images::XWIKI)
        .port(HTTP)
        .resources(res)
        .probes(Probe::http_get("/", HTTP), Probe::tcp(HTTP))
        .build();
    let t = PodTemplate::service(RunAs::new(1000, 1000))
        .init_container(init)
        .container(main)
        .build()
        .unwrap();
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "from-builders"}, "spec": t.spec})
}

#[test]
fn no_policy_needs_an_exclusion() {
    // The one exclusion there was (cert-manager's HTTP-01 solver pods, whose image the chart
    // wrote as repo@digest) is gone: the chart now gets tag and digest and renders
    // repo:tag@digest, which tests/charts.rs checks on the real chart.
    for rule in kyverno::RULES {
        assert!(
            rule.exclusions.is_empty(),
            "{}: exclusions {:?}",
            rule.name,
            rule.exclusions
        );
    }
}
