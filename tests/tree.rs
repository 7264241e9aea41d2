//! The generator's output for fixture site A (`tests/fixtures/site-a`): namespaces and the
//! Flux entry point read back from the built tree, and one insta snapshot per generated file
//! (the review of a generator change). The live `out/` has no snapshot: its review is its diff.

mod common;

use o4g_gitops::components;
use o4g_gitops::settings::Settings;

fn built() -> o4g_gitops::tree::Tree {
    let settings: Settings = common::fixture_settings();
    components::build(&settings).expect("the tree builds")
}

fn docs(tree: &o4g_gitops::tree::Tree, path: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text =
        std::str::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path} missing"))).unwrap();
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .collect()
}

#[test]
fn namespaces_carry_part_of_environment_and_pod_security_labels() {
    let tree = built();
    let mut namespaces = docs(&tree, "out/infrastructure/controllers/namespaces.yaml");
    namespaces.extend(docs(
        &tree,
        "out/infrastructure/controllers/kube-prometheus-stack/namespace.yaml",
    ));
    let names: Vec<&str> = namespaces
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["live", "qa-7", "observability"]);
    for ns in &namespaces {
        let l = &ns["metadata"]["labels"];
        let name = ns["metadata"]["name"].as_str().unwrap();
        assert_eq!(l["app.kubernetes.io/part-of"], "open4goods", "{name}");
        let env = l["open4goods.org/environment"].as_str().unwrap();
        assert_eq!(
            env,
            if name == "observability" {
                "platform"
            } else {
                name
            }
        );
        for mode in ["enforce", "audit", "warn"] {
            assert_eq!(
                l[format!("pod-security.kubernetes.io/{mode}")],
                "restricted",
                "{name} {mode}"
            );
            assert!(
                l[format!("pod-security.kubernetes.io/{mode}-version")].is_string(),
                "{name} {mode}-version"
            );
        }
        assert_eq!(l["pod-security.kubernetes.io/enforce-version"], "v1.33");
    }
}

#[test]
fn flux_kustomizations_form_a_chain_from_controllers_to_every_environment() {
    let tree = built();
    let mut all = docs(&tree, "out/clusters/open4goods/infrastructure.yaml");
    all.extend(docs(&tree, "out/clusters/open4goods/apps.yaml"));
    let name = |k: &serde_json::Value| k["metadata"]["name"].as_str().unwrap().to_string();
    let names: Vec<String> = all.iter().map(name).collect();
    assert_eq!(
        names,
        [
            "infra-controllers",
            "infra-configs",
            "apps-live",
            "apps-qa-7"
        ]
    );
    for k in &all {
        let n = name(k);
        let spec = &k["spec"];
        assert_eq!(k["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
        assert_eq!(k["metadata"]["namespace"], "flux-system");
        assert_eq!(spec["prune"], true, "{n}");
        assert_eq!(spec["wait"], true, "{n}");
        for f in ["interval", "retryInterval", "timeout"] {
            assert!(spec[f].is_string(), "{n} lacks {f}");
        }
        assert_eq!(
            spec["sourceRef"],
            serde_json::json!({"kind": "GitRepository", "name": "flux-system"})
        );
        let path = spec["path"]
            .as_str()
            .unwrap()
            .strip_prefix("./")
            .expect("paths start with ./");
        assert!(
            tree.get(&format!("{path}/kustomization.yaml")).is_some(),
            "{n} points at {path}, which has no kustomization.yaml"
        );
        let depends: Vec<&str> = spec["dependsOn"].as_array().map_or(vec![], |d| {
            d.iter().map(|x| x["name"].as_str().unwrap()).collect()
        });
        let is_app = n.starts_with("apps-");
        let decrypts = is_app || n == "infra-controllers";
        match n.as_str() {
            "infra-controllers" => assert!(depends.is_empty()),
            "infra-configs" => assert_eq!(depends, ["infra-controllers"]),
            _ => assert_eq!(depends, ["infra-configs"], "{n}"),
        }
        if decrypts {
            assert_eq!(
                spec["decryption"],
                serde_json::json!({"provider": "sops", "secretRef": {"name": "sops-age"}}),
                "{n}"
            );
        } else {
            assert!(
                spec.get("decryption").is_none(),
                "{n} has nothing to decrypt"
            );
        }
        if is_app {
            let env = n.strip_prefix("apps-").unwrap();
            let overlay = docs(&tree, &format!("{path}/kustomization.yaml"));
            assert_eq!(
                overlay[0]["namespace"], env,
                "the {env} overlay sets its namespace"
            );
        }
    }
}

#[test]
fn out_readme_says_what_is_deployed_where() {
    let tree = built();
    let readme = std::str::from_utf8(tree.get("out/README.md").unwrap()).unwrap();
    for needle in [
        "docs.fixture.example",
        "qa-7.docs.fixture.example",
        "letsencrypt-prod",
        "apps-qa-7",
        "https://git.fixture.example/platform/site-a.git",
        "flux bootstrap git",
        "observability",
        "sha256:",
    ] {
        assert!(readme.contains(needle), "out/README.md lacks {needle}");
    }
}

#[test]
fn tree_snapshot() {
    // One snapshot per generated file: a PR shows the manifest change file by file. Pins that
    // Renovate moves are redacted: a bump shows in the live out/, not here.
    let tree = built();
    for (path, bytes) in tree.files() {
        if path == o4g_gitops::tree::MANIFEST_PATH {
            continue; // digests of the files below; render --check covers it
        }
        let name = format!("site-a__{}", path.replace('/', "__"));
        insta::assert_snapshot!(name, common::redact_pins(&String::from_utf8_lossy(bytes)));
    }
}
