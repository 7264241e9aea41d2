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

/// Where the procedures are written out (`templates/apps.md`, rendered).
const DOC: &str = "out/docs/apps.md, \"Changing what the API server will not patch\"";
const SELECTOR: &str = "Delete the object (its pods go with it) and let Flux recreate it; render with --allow-immutable-change";
const PVC: &str = "A volume never shrinks: copy the data to a new, smaller claim (restore from backup), or keep the size";
const SC: &str = "Create a StorageClass under a new name and move the claims to it; render with --allow-immutable-change";

/// The StatefulSet's other fixed fields: the object must be recreated.
fn sts_other(ns: &str, name: &str, kustomization: &str) -> String {
    format!(
        "Procedure ({DOC}): `flux suspend kustomization {kustomization}`; `kubectl -n {ns} delete statefulset {name} --cascade=orphan` (the pods and volumes stay); render with --allow-immutable-change, commit and push; `flux reconcile source git {src}`; `flux resume kustomization {kustomization}`",
        src = crate::components::flux::GIT_SOURCE
    )
}

/// Growing a claim template: the live claims are resized by hand, the StatefulSet is
/// recreated around its running pods, with Flux held off in between. `flux suspend`/`resume
/// kustomization` and `flux reconcile source git` are the Flux CLI's (fluxcd/flux2@v2.9.4
/// docs/cmd/flux_suspend_kustomization.md, flux_resume_kustomization.md: resume "waits for
/// it to finish the apply", of the source's current artifact, hence the source first).
fn sts_grow(ns: &str, name: &str, claims: &[String], size: &str, kustomization: &str) -> String {
    let patch = claims
        .iter()
        .map(|c| {
            format!(
                "`kubectl -n {ns} patch pvc {c} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{size}\"}}}}}}}}'`"
            )
        })
        .collect::<Vec<_>>()
        .join(" and ");
    let check = claims
        .iter()
        .map(|c| {
            format!("`kubectl -n {ns} get pvc {c} -o jsonpath='{{.status.capacity.storage}}'`")
        })
        .collect::<Vec<_>>()
        .join(" and ");
    format!(
        "Procedure ({DOC}), in this order: (1) `flux suspend kustomization {kustomization}` (otherwise a reconcile between steps 3 and 5 recreates the StatefulSet with the old template); (2) {patch}, then wait until {check} prints {size} (Longhorn expands online); (3) `kubectl -n {ns} delete statefulset {name} --cascade=orphan` (the pod and its volume stay); (4) render with --allow-immutable-change, commit and push; (5) `flux reconcile source git {src}` (the source fetches that commit), then `flux resume kustomization {kustomization}`: Flux recreates the StatefulSet with the new template and it adopts the running pod",
        src = crate::components::flux::GIT_SOURCE
    )
}

/// A smaller claim template: no procedure keeps the StatefulSet's claims (Kubernetes
/// pkg/apis/core/validation/validation.go `ValidatePersistentVolumeClaimUpdate` refuses a
/// smaller request: "field can not be less than previous value").
fn sts_shrink(ns: &str, claims: &[String], old: &str) -> String {
    format!(
        "A claim never shrinks, and a template smaller than the live claims ({} at {old} in {ns}) would no longer describe them, so --allow-immutable-change does not write it either: keep {old} (set it back in the settings), or restore a backup into a new StatefulSet under another name ({DOC})",
        claims.join(", ")
    )
}

/// The kinds whose fields the rules below guard: [`changes`] builds only their objects.
pub const KINDS: &[&str] = &[
    "StatefulSet",
    "Deployment",
    "Job",
    "CronJob",
    "PersistentVolumeClaim",
    "StorageClass",
];

/// What a file is to [`build`], so that a [`Reader`] can skip what a build does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A folder's `kustomization.yaml` (also read to tell a folder from a file).
    Kustomization,
    /// A file of `resources:`; a guarded build keeps only its objects of [`KINDS`].
    Resource,
    /// A file of `patches:`.
    Patch,
}

/// The objects of a file of a tree (`List` items flattened), `None` when there is no such
/// file: parsed from disk (the committed tree), or the objects a tree in memory holds.
pub type Reader<'a> = dyn Fn(&str, Part) -> Option<Vec<Value>> + 'a;

/// The objects of a YAML file's bytes (none when it cannot be parsed: the build of a broken
/// tree is what kustomize would refuse, and render checks the new tree elsewhere).
pub fn parse(path: &str, bytes: &[u8]) -> Vec<Value> {
    crate::yaml_read::parse_documents(std::path::Path::new(path), &String::from_utf8_lossy(bytes))
        .unwrap_or_default()
}

/// Whether a file's text may hold an object of [`KINDS`]: it names one of them. Any way of
/// writing the kind (plain, quoted, flow) holds its name, except a double-quoted escape, so a
/// text with a `\` is parsed too. The other files are not parsed by a guarded build.
pub fn may_hold_guarded(bytes: &[u8]) -> bool {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    bytes.contains(&b'\\') || KINDS.iter().any(|k| has(k.as_bytes()))
}

/// The objects a kustomization folder builds (our generated subset of kustomize): every
/// object, or with `guarded` only those of [`KINDS`] (what [`changes`] compares).
pub fn build(read: &Reader<'_>, dir: &str, guarded: bool) -> Vec<Value> {
    match read(&format!("{dir}/kustomization.yaml"), Part::Kustomization) {
        Some(k) => build_from(read, dir, k.into_iter().next(), 0, guarded),
        None => Vec::new(),
    }
}

fn build_from(
    read: &Reader<'_>,
    dir: &str,
    kustomization: Option<Value>,
    depth: usize,
    guarded: bool,
) -> Vec<Value> {
    let Some(k) = kustomization else {
        return Vec::new();
    };
    if depth > 8 {
        return Vec::new();
    }
    let mut objects = Vec::new();
    for r in k["resources"].as_array().into_iter().flatten() {
        let Some(r) = r.as_str() else { continue };
        let path = normalize(&format!("{dir}/{r}"));
        if let Some(sub) = read(&format!("{path}/kustomization.yaml"), Part::Kustomization) {
            objects.extend(build_from(
                read,
                &path,
                sub.into_iter().next(),
                depth + 1,
                guarded,
            ));
        } else {
            objects.extend(
                read(&path, Part::Resource)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|o| !guarded || o["kind"].as_str().is_some_and(|k| KINDS.contains(&k))),
            );
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
        if guarded && !KINDS.contains(&kind) {
            continue;
        }
        let Some(ops) = read(&normalize(&format!("{dir}/{file}")), Part::Patch)
            .unwrap_or_default()
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

/// A value as one line of JSON, in full (both sides of a refused change are printed whole).
fn full(v: &Value) -> String {
    v.to_string()
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

/// The size a claim template requests, as written and in bytes.
fn requested(t: &Value) -> Option<Size> {
    let s = t["spec"]["resources"]["requests"]["storage"].as_str()?;
    let b = crate::quantity::Bytes::parse(s).ok()?;
    Some((s.to_string(), b.get()))
}

/// A requested size as written, and in bytes.
type Size = (String, u64);

/// When two lists of claim templates differ only in requested sizes: each template whose size
/// changed, with its old and new size.
fn resized(old: &Value, new: &Value) -> Option<Vec<(String, Size, Size)>> {
    let (o, n) = (old.as_array()?, new.as_array()?);
    if o.len() != n.len() {
        return None;
    }
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(r) = t["spec"]["resources"]["requests"].as_object_mut() {
            r.remove("storage");
        }
        t
    };
    let mut out = Vec::new();
    for (a, b) in o.iter().zip(n) {
        if strip(a) != strip(b) {
            return None;
        }
        if a != b {
            let name = b["metadata"]["name"].as_str()?.to_string();
            out.push((name, requested(a)?, requested(b)?));
        }
    }
    Some(out)
}

/// The refused changes between an old object and its new version; `kustomization` is the Flux
/// Kustomization that applies it.
fn compare(old: &Value, new: &Value, kustomization: &str) -> Vec<ImmutableChange> {
    let (kind, ns, name) = key(new);
    let object = format!("{kind} {ns}/{name}");
    let mut out = Vec::new();
    let mut push = |field: &str, a: &Value, b: &Value, procedure: String, never: bool| {
        if a != b {
            out.push(ImmutableChange {
                object: object.clone(),
                field: field.to_string(),
                change: format!("{} → {}", full(a), full(b)),
                procedure,
                never,
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
            let other = sts_other(&ns, &name, kustomization);
            let field = "spec.volumeClaimTemplates";
            let (ot, nt) = (&a["volumeClaimTemplates"], &b["volumeClaimTemplates"]);
            match resized(ot, nt) {
                Some(sizes) if ot != nt => {
                    let replicas = n["replicas"].as_u64().unwrap_or(1);
                    for (template, (old_size, ob), (new_size, nb)) in sizes {
                        let claims: Vec<String> = (0..replicas)
                            .map(|i| format!("{template}-{name}-{i}"))
                            .collect();
                        if nb < ob {
                            push(field, ot, nt, sts_shrink(&ns, &claims, &old_size), true);
                        } else {
                            let procedure = sts_grow(&ns, &name, &claims, &new_size, kustomization);
                            push(field, ot, nt, procedure, false);
                        }
                    }
                }
                _ => push(field, ot, nt, other.clone(), false),
            }
            for field in ["selector", "serviceName", "podManagementPolicy"] {
                push(
                    &format!("spec.{field}"),
                    &a[field],
                    &b[field],
                    other.clone(),
                    false,
                );
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
                other,
                false,
            );
        }
        "Deployment" => push(
            "spec.selector",
            &o["selector"],
            &n["selector"],
            SELECTOR.into(),
            false,
        ),
        "Job" => {
            push(
                "spec.selector",
                &o["selector"],
                &n["selector"],
                SELECTOR.into(),
                false,
            );
            push(
                "spec.template",
                &o["template"],
                &n["template"],
                SELECTOR.into(),
                false,
            );
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
                    PVC.into(),
                    false,
                );
            }
            let mutable = ["resources", "volumeAttributesClassName"];
            push(
                "spec",
                &without(o, &mutable),
                &without(n, &mutable),
                SELECTOR.into(),
                false,
            );
        }
        "StorageClass" => {
            for field in [
                "provisioner",
                "parameters",
                "reclaimPolicy",
                "volumeBindingMode",
            ] {
                push(field, &old[field], &new[field], SC.into(), false);
            }
        }
        _ => {}
    }
    out
}

/// The pod template of a workload or a CronJob.
fn pod_spec(o: &Value) -> &Value {
    match o["kind"].as_str() {
        Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &o["spec"]["template"]["spec"],
    }
}

/// The `emptyDir` size limits that change between two versions of an object: what moves with
/// a volume size elsewhere (the restore test's scratch datadir is as large as its source's
/// MySQL volume, and its node needs that much free disk).
fn empty_dir_moves(old: &Value, new: &Value) -> Vec<String> {
    let limits = |o: &Value| -> BTreeMap<String, Value> {
        pod_spec(o)["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["emptyDir"].is_object())
            .map(|v| {
                (
                    v["name"].as_str().unwrap_or("").to_string(),
                    v["emptyDir"]["sizeLimit"].clone(),
                )
            })
            .collect()
    };
    let (a, b) = (limits(old), limits(new));
    let (kind, ns, name) = key(new);
    b.iter()
        .filter_map(|(volume, limit)| {
            let before = a.get(volume)?;
            (before != limit).then(|| {
                format!(
                    "{kind} {ns}/{name}: emptyDir `{volume}` {} → {} (its node needs that much free disk)",
                    before.as_str().unwrap_or("unlimited"),
                    limit.as_str().unwrap_or("unlimited")
                )
            })
        })
        .collect()
}

/// Every refused change from the tree `old` to the tree `new`, over the folders Flux applies
/// (`roots`: each Flux Kustomization's name and path). A claim template's change also names
/// what moves with it elsewhere in the tree.
pub fn changes(
    old: &Reader<'_>,
    new: &Reader<'_>,
    roots: &[(String, String)],
) -> Vec<ImmutableChange> {
    let mut out = Vec::new();
    let mut moves = Vec::new();
    for (kustomization, root) in roots {
        let before: BTreeMap<_, _> = build(old, root, true)
            .into_iter()
            .map(|o| (key(&o), o))
            .collect();
        for n in build(new, root, true) {
            if let Some(o) = before.get(&key(&n)) {
                out.extend(compare(o, &n, kustomization));
                moves.extend(empty_dir_moves(o, &n));
            }
        }
    }
    moves.sort();
    moves.dedup();
    if !moves.is_empty() {
        for c in out
            .iter_mut()
            .filter(|c| c.field == "spec.volumeClaimTemplates" && !c.never)
        {
            c.procedure
                .push_str(&format!(". What moves with it: {}", moves.join("; ")));
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
    fn a_guarded_build_reads_every_file_that_may_hold_a_guarded_kind() {
        assert!(may_hold_guarded(b"kind: 'StatefulSet'\n"));
        // `\x53` is an `S` once parsed: a file with an escape is parsed.
        assert!(may_hold_guarded(b"{kind: \"\\x53tatefulSet\"}\n"));
        assert_eq!(
            parse("f", b"{kind: \"\\x53tatefulSet\"}\n")[0]["kind"],
            "StatefulSet"
        );
        assert!(!may_hold_guarded(b"kind: Service\n"));
        let files = |p: &str, _| match p {
            "k/kustomization.yaml" => Some(vec![json!({"resources": ["a.yaml"]})]),
            "k/a.yaml" => Some(vec![json!({"kind": "Service"}), json!({"kind": "Job"})]),
            _ => None,
        };
        assert_eq!(build(&files, "k", false).len(), 2);
        assert_eq!(build(&files, "k", true), vec![json!({"kind": "Job"})]);
    }

    #[test]
    fn growing_a_claim_is_fine_shrinking_it_is_not() {
        let pvc = |s: &str| json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "p"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": s}}}});
        assert!(compare(&pvc("10Gi"), &pvc("20Gi"), "apps-p").is_empty());
        assert_eq!(compare(&pvc("20Gi"), &pvc("10Gi"), "apps-p").len(), 1);
    }

    #[test]
    fn a_statefulset_template_may_change_its_claims_may_not() {
        let sts = |image: &str, size: &str| json!({"kind": "StatefulSet", "metadata": {"name": "m", "namespace": "p"}, "spec": {"serviceName": "h", "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"image": image}]}}, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": size}}}}]}});
        assert!(compare(&sts("a", "50Gi"), &sts("b", "50Gi"), "apps-p").is_empty());
        let refused = compare(&sts("a", "50Gi"), &sts("a", "60Gi"), "apps-p");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "spec.volumeClaimTemplates");
    }
}
