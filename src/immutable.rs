//! Changes the API server will not apply: fields that are immutable once an object exists.
//!
//! Flux applies `out/` with server-side apply; a change to an immutable field makes the apply
//! fail (the Kustomization turns not Ready and nothing after it in that layer is applied), so it
//! is caught at render time, against the committed `out/`. Both trees are built the way
//! kustomize builds our generated folders (resources, strategic-merge or JSON6902 patches with `kind`/`name`
//! targets, `namespace`), so an overlay's patch counts as much as a base edit.
//!
//! Rules (Kubernetes' own validation, `pkg/apis/*/validation`):
//! - StatefulSet: only `replicas`, `ordinals`, `template`, `updateStrategy`,
//!   `persistentVolumeClaimRetentionPolicy` and `minReadySeconds` may change
//!   (`ValidateStatefulSetUpdate`);
//! - Deployment and Job: `selector` (and a Job's `template`);
//! - PersistentVolumeClaim: the spec except `resources.requests` (and
//!   `volumeAttributesClassName`); the storage request may grow, never shrink;
//! - StorageClass: `provisioner`, `parameters`, `reclaimPolicy`, `volumeBindingMode`.

use std::collections::BTreeMap;

use serde_json::Value;

pub use crate::error::ImmutableChange;

const STS: &str = "Procedure (docs/apps.md, \"Changing what the API server will not patch\"): patch the live PVC (`kubectl -n <ns> patch pvc data-mysql-0 -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"<size>\"}}}}'`), wait until it is resized, then `kubectl -n <ns> delete statefulset mysql --cascade=orphan` so Flux recreates it with the new template while the pod and volume stay; render with --allow-immutable-change";
const SELECTOR: &str = "Delete the object (its pods go with it) and let Flux recreate it; render with --allow-immutable-change";
const PVC: &str = "A volume never shrinks: copy the data to a new, smaller claim (restore from backup), or keep the size";
const SC: &str = "Create a StorageClass under a new name and move the claims to it; render with --allow-immutable-change";

/// Reads a file of a tree (new: in memory; old: from disk).
pub type Reader<'a> = dyn Fn(&str) -> Option<Vec<u8>> + 'a;

/// The kinds whose fields the rules below guard; only files that mention one are parsed.
pub const KINDS: &[&str] = &[
    "StatefulSet",
    "Deployment",
    "Job",
    "PersistentVolumeClaim",
    "StorageClass",
];

fn docs(read: &Reader<'_>, path: &str) -> Vec<Value> {
    read(path)
        .and_then(|b| {
            crate::yaml_read::parse_documents(
                std::path::Path::new(path),
                &String::from_utf8_lossy(&b),
            )
            .ok()
        })
        .unwrap_or_default()
}

/// The objects of a resource file, parsed only when its text names one of [`KINDS`] (as
/// `kind: <Kind>`, which every document of such an object holds): the others cannot change
/// a guarded field, so a render reads a handful of files instead of the whole tree.
fn guarded_docs(read: &Reader<'_>, path: &str) -> Vec<Value> {
    let Some(bytes) = read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    if !KINDS.iter().any(|k| {
        text.match_indices("kind: ").any(|(i, _)| {
            text[i + 6..]
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with(['\n', '\r', ' ', '"']) || rest.is_empty())
        })
    }) {
        return Vec::new();
    }
    crate::yaml_read::parse_documents(std::path::Path::new(path), &text).unwrap_or_default()
}

/// The objects a kustomization folder builds (our generated subset of kustomize).
pub fn build(read: &Reader<'_>, dir: &str, depth: usize) -> Vec<Value> {
    if depth > 8 {
        return Vec::new();
    }
    let Some(k) = docs(read, &format!("{dir}/kustomization.yaml"))
        .into_iter()
        .next()
    else {
        return Vec::new();
    };
    let mut objects = Vec::new();
    for r in k["resources"].as_array().into_iter().flatten() {
        let Some(r) = r.as_str() else { continue };
        let path = normalize(&format!("{dir}/{r}"));
        if read(&format!("{path}/kustomization.yaml")).is_some() {
            objects.extend(build(read, &path, depth + 1));
        } else {
            objects.extend(guarded_docs(read, &path));
        }
    }
    for p in k["patches"].as_array().into_iter().flatten() {
        let (Some(file), Some(kind), Some(name)) = (
            p["path"].as_str(),
            p["target"]["kind"].as_str(),
            p["target"]["name"].as_str(),
        ) else {
            continue;
        };
        if !KINDS.contains(&kind) {
            continue;
        }
        let Some(ops) = docs(read, &normalize(&format!("{dir}/{file}")))
            .into_iter()
            .next()
        else {
            continue;
        };
        for o in objects
            .iter_mut()
            .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        {
            // A strategic-merge patch (an object), or JSON6902 operations (a list: trees
            // rendered before overlays became strategic-merge patches).
            if ops.is_object() {
                let built_in = crate::components::apps::value_is_built_in(o);
                crate::components::apps::apply_strategic(o, &ops, built_in);
            } else if let Ok(patch) = serde_json::from_value::<json_patch::Patch>(ops.clone()) {
                let _ = json_patch::patch(o, &patch);
            }
        }
    }
    if let Some(ns) = k["namespace"].as_str() {
        for o in &mut objects {
            if o["kind"] != "Namespace" && o["kind"] != "StorageClass" {
                o["metadata"]["namespace"] = Value::String(ns.to_string());
            }
        }
    }
    objects
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn key(o: &Value) -> (String, String, String) {
    (
        o["kind"].as_str().unwrap_or("").to_string(),
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(117).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn without(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

/// The refused changes between an old object and its new version.
fn compare(old: &Value, new: &Value) -> Vec<ImmutableChange> {
    let (kind, ns, name) = key(new);
    let object = format!("{kind} {ns}/{name}");
    let mut out = Vec::new();
    let mut push = |field: &str, a: &Value, b: &Value, procedure| {
        if a != b {
            out.push(ImmutableChange {
                object: object.clone(),
                field: field.to_string(),
                change: format!("{} → {}", short(a), short(b)),
                procedure,
            });
        }
    };
    let (o, n) = (&old["spec"], &new["spec"]);
    match kind.as_str() {
        "StatefulSet" => {
            let mutable = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            let (a, b) = (without(o, &mutable), without(n, &mutable));
            for field in [
                "volumeClaimTemplates",
                "selector",
                "serviceName",
                "podManagementPolicy",
            ] {
                push(&format!("spec.{field}"), &a[field], &b[field], STS);
            }
            let rest = [
                "volumeClaimTemplates",
                "selector",
                "serviceName",
                "podManagementPolicy",
            ];
            push(
                "spec (other fields)",
                &without(&a, &rest),
                &without(&b, &rest),
                STS,
            );
        }
        "Deployment" => push("spec.selector", &o["selector"], &n["selector"], SELECTOR),
        "Job" => {
            push("spec.selector", &o["selector"], &n["selector"], SELECTOR);
            push("spec.template", &o["template"], &n["template"], SELECTOR);
        }
        "PersistentVolumeClaim" => {
            let size = |v: &Value| {
                v["resources"]["requests"]["storage"]
                    .as_str()
                    .and_then(|s| crate::quantity::Bytes::parse(s).ok())
            };
            if let (Some(a), Some(b)) = (size(o), size(n))
                && b < a
            {
                push(
                    "spec.resources.requests.storage",
                    &o["resources"]["requests"]["storage"],
                    &n["resources"]["requests"]["storage"],
                    PVC,
                );
            }
            let mutable = ["resources", "volumeAttributesClassName"];
            push(
                "spec",
                &without(o, &mutable),
                &without(n, &mutable),
                SELECTOR,
            );
        }
        "StorageClass" => {
            for field in [
                "provisioner",
                "parameters",
                "reclaimPolicy",
                "volumeBindingMode",
            ] {
                push(field, &old[field], &new[field], SC);
            }
        }
        _ => {}
    }
    out
}

/// Every refused change from the tree `old` to the tree `new`, over the folders Flux applies.
pub fn changes(old: &Reader<'_>, new: &Reader<'_>, roots: &[String]) -> Vec<ImmutableChange> {
    let mut out = Vec::new();
    for root in roots {
        let before: BTreeMap<_, _> = build(old, root, 0)
            .into_iter()
            .map(|o| (key(&o), o))
            .collect();
        for n in build(new, root, 0) {
            if let Some(o) = before.get(&key(&n)) {
                out.extend(compare(o, &n));
            }
        }
    }
    out.sort_by(|a, b| (&a.object, &a.field).cmp(&(&b.object, &b.field)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn growing_a_claim_is_fine_shrinking_it_is_not() {
        let pvc = |s: &str| json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "p"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": s}}}});
        assert!(compare(&pvc("10Gi"), &pvc("20Gi")).is_empty());
        assert_eq!(compare(&pvc("20Gi"), &pvc("10Gi")).len(), 1);
    }

    #[test]
    fn a_statefulset_template_may_change_its_claims_may_not() {
        let sts = |image: &str, size: &str| json!({"kind": "StatefulSet", "metadata": {"name": "m", "namespace": "p"}, "spec": {"serviceName": "h", "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"image": image}]}}, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": size}}}}]}});
        assert!(compare(&sts("a", "50Gi"), &sts("b", "50Gi")).is_empty());
        let refused = compare(&sts("a", "50Gi"), &sts("a", "60Gi"));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "spec.volumeClaimTemplates");
    }
}
