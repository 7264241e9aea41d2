//! Every custom resource in `out/` validates against its CRD schema from `../shared/schemas/`.

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
    let mut checked = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (file, doc) in common::documents(&common::root().join("out")) {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        // Built-in kinds (no group, or a *.k8s.io group) have no CRD schema.
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if !group.contains('.') || group.ends_with(".k8s.io") {
            continue;
        }
        let path = schema_path(&schemas, api_version, kind)
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
    println!("validated {checked} custom resources: {kinds:?}");
    assert!(checked >= 5, "the Flux Kustomizations at least");
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
