//! The generated tree against the real `kubectl kustomize`.

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use o4g_gitops::object::Object;
use o4g_gitops::tree::{Folder, Tree};

fn kubectl_or_skip() -> bool {
    common::has_tool("kubectl", "version") || common::has_tool("kubectl", "--help")
}

#[test]
fn every_generated_kustomization_builds() {
    if !kubectl_or_skip() {
        skip_or_fail!("kubectl is not installed");
    }
    for tree in common::Tree::ALL {
        let dirs = common::kustomize_dirs(&tree.root().join("out"));
        assert!(
            dirs.len() >= 3 + common::environments().len(),
            "{}: expected the controllers, configs, base and one overlay per environment: {dirs:?}",
            tree.label()
        );
        for dir in &dirs {
            common::kustomize(dir);
        }
        println!(
            "{}: kubectl kustomize built {} folders",
            tree.label(),
            dirs.len()
        );
    }
}

#[test]
fn yaml11_lookalike_strings_survive_kubectl_kustomize_as_strings() {
    if !kubectl_or_skip() {
        skip_or_fail!("kubectl is not installed");
    }
    let words = [
        "on",
        "off",
        "yes",
        "no",
        "y",
        "n",
        "Y",
        "NO",
        "0777",
        "1e3",
        "1_000",
        "true",
        "null",
        "~",
        "0x1F",
        ".5",
        "12:30",
        "8.0.46",
        // A BOM survives when escaped. (NEL, DEL and the other C1 controls do not survive
        // kustomize at all, whatever the input's escaping: kustomize itself turns
        // "a\u0085b" and "a\Nb" into "a b". Settings refuse them: see
        // tests/settings_values.rs.)
        "\u{feff}x",
    ];
    let data: BTreeMap<String, String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (format!("k{i}"), w.to_string()))
        .collect();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("lookalikes".into()),
            ..Default::default()
        },
        data: Some(data.clone()),
        ..Default::default()
    };
    let mut tree = Tree::new();
    tree.add_folder(Folder::new("t").file("cm.yaml", vec![Object::new(&cm).unwrap()]))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in tree.files() {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let built = common::kustomize(&dir.path().join("t"));
    let v: serde_json::Value = serde_yaml::from_str(&built).unwrap();
    for (k, w) in &data {
        let same = v["data"][k] == serde_json::Value::String(w.clone());
        assert!(
            same,
            "{w:?} did not come out of kustomize as the same string:\n{built}"
        );
    }
}
