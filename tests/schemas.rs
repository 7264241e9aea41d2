//! Every custom resource in `out/` validates against its CRD schema from `../shared/schemas/`,
//! on both trees (ingress-nginx and Traefik).

mod common;

use std::path::Path;

/// `<group>/<kind>_<version>.json`, the kubeconform layout of `../shared/schemas/`.
fn schema_path(schemas: &Path, api_version: &str, kind: &str) -> Option<std::path::PathBuf> {
    let (group, version) = api_version.split_once('/')?;
    Some(
        schemas
            .join(group)
            .join(format!("{}_{version}.json", kind.to_lowercase())),
    )
}

#[test]
fn every_custom_resource_validates_against_its_schema() {
    let Some(shared) = common::shared() else {
        skip_or_fail!("../shared is absent, so the CRD schemas are not available");
    };
    let schemas = shared.join("schemas");
    for tree in common::Tree::ALL {
        validate_tree(&schemas, tree);
    }
}

fn validate_tree(schemas: &Path, tree: common::Tree) {
    let mut checked = 0;
    let mut kinds = std::collections::BTreeSet::new();
    // The files of out/, and each overlay as kustomize builds it (its patches are fragments).
    let mut docs = common::documents(&tree.root().join("out"));
    for dir in common::kustomize_dirs(&tree.root().join("out/apps/overlays")) {
        let built = common::kustomize(&dir);
        for d in serde_yaml::Deserializer::from_str(&built) {
            let v: serde_json::Value = serde::Deserialize::deserialize(d).unwrap();
            docs.push((dir.clone(), v));
        }
    }
    for (file, doc) in docs {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        // Built-in kinds (no group, or a *.k8s.io group) have no CRD schema; the Gateway API
        // (gateway.networking.k8s.io) is a *.k8s.io group installed by CRDs, and has one.
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if !group.contains('.') || (group.ends_with(".k8s.io") && !schemas.join(group).is_dir()) {
            continue;
        }
        let path = schema_path(schemas, api_version, kind)
            .unwrap_or_else(|| panic!("{}: bad apiVersion {api_version}", file.display()));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: no schema for {api_version} {kind} at {}: {e}",
                file.display(),
                path.display()
            )
        });
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} {kind}/{}: {errors:#?}",
            file.display(),
            doc["metadata"]["name"]
        );
        checked += 1;
        kinds.insert(format!("{api_version} {kind}"));
    }
    println!(
        "{}: validated {checked} custom resources: {kinds:?}",
        tree.label()
    );
    assert!(checked >= 5, "the Flux Kustomizations at least");
    if tree == common::Tree::Traefik {
        // The Gateway API schemas are generated beside the catalog's (`../shared/schemas/
        // README.md`), `local` in .ci/upstream.toml: a cache without them cannot check these.
        if !schemas.join("gateway.networking.k8s.io").is_dir() {
            common::report_skip(
                "no gateway.networking.k8s.io schemas: Gateway and HTTPRoute unchecked",
            );
            return;
        }
        for kind in [
            "gateway.networking.k8s.io/v1 Gateway",
            "gateway.networking.k8s.io/v1 HTTPRoute",
            "source.toolkit.fluxcd.io/v1 GitRepository",
        ] {
            assert!(kinds.contains(kind), "{kind} is validated ({kinds:?})");
        }
    }
}

#[test]
fn the_schema_check_catches_a_wrong_field() {
    let Some(shared) = common::shared() else {
        skip_or_fail!("../shared is absent, so the CRD schemas are not available");
    };
    let path = shared.join("schemas/kustomize.toolkit.fluxcd.io/kustomization_v1.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "x"},
        "spec": {"interval": "1h", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "s"},
                 "decryption": {"provider": "vault"}}
    });
    assert!(
        !validator.is_valid(&bad),
        "an unknown decryption provider must be refused"
    );
}
