//! The applications (MySQL + XWiki): an environment-agnostic base and one overlay per
//! environment that patches only what differs.
//!
//! The base is built from [`AppParams::base`]; each environment's objects are built from its
//! settings, and its overlay holds the strategic-merge difference between the two, object by
//! object, list items keyed by name (a diff reads "xwiki container, JAVA_OPTS: … → …"), never
//! by position.
//! So what kustomize builds for an environment is, by construction, what the generator built
//! for it ([`final_objects`]); a test proves it with the real kustomize.

use std::collections::BTreeMap;

use serde_json::Value;

use super::namespaces::ENVIRONMENT_LABEL;
use super::{layout, mysql, xwiki};

use crate::Error;
use crate::kustomize::{Patch, PatchTarget};
use crate::object::Object;
use crate::settings::{Environment, Settings};
use crate::tree::{Folder, Tree};

pub use super::params::{AppParams, DB_STORAGE_CLASS, Plan, SecretRef};

/// Each environment's row of `out/docs/apps.md`, and the Secret keys the workloads read.
pub fn doc_rows(plan: &Plan<'_>) -> (Vec<super::docs::EnvRow>, Vec<super::docs::SecretRow>) {
    let envs = plan
        .environments()
        .map(|(env, p)| super::docs::EnvRow {
            name: env.name(),
            host: p.host.clone(),
            issuer: p.issuer.name(),
            mysql_image: p.mysql_image.tag().to_string(),
            mysql_storage: p.mysql_storage.to_string(),
            buffer_pool: mysql::buffer_pool_mib(p),
            xwiki_storage: p.xwiki_storage.to_string(),
            xwiki_class: p.xwiki_storage_class.clone(),
            heap: xwiki::heap_mib(p),
        })
        .collect();
    let secrets = secret_refs()
        .into_iter()
        .chain(super::backup::restore_source_refs())
        .map(|r| super::docs::SecretRow {
            secret: r.secret,
            key: r.key,
            consumer: r.consumer,
            usage: r.usage,
        })
        .collect();
    (envs, secrets)
}

/// Every Secret key the applications read.
pub fn secret_refs() -> Vec<SecretRef> {
    let mut all = mysql::secret_refs();
    all.extend(xwiki::secret_refs());
    all.extend(super::backup::secret_refs());
    all
}

/// One file of application objects.
#[derive(Debug, Clone)]
pub struct AppFile {
    /// Component folder under `out/apps/base/` (`mysql`, `xwiki`).
    pub component: &'static str,
    /// File name.
    pub file: &'static str,
    /// The objects in it.
    pub objects: Vec<Object>,
}

/// The application objects for `p`, by component folder and file.
pub fn objects(p: &AppParams) -> Result<Vec<AppFile>, Error> {
    let mut out = Vec::new();
    for (component, files) in [
        ("mysql", mysql::objects(p)?),
        ("xwiki", xwiki::objects(p)?),
        ("backup", super::backup::objects(p)?),
        ("network", network_objects(p)?),
    ] {
        for (file, objects) in files {
            out.push(AppFile {
                component,
                file,
                objects,
            });
        }
    }
    Ok(out)
}

/// The application namespace's NetworkPolicies (namespace left to the overlay).
fn network_objects(p: &AppParams) -> Result<Vec<(&'static str, Vec<Object>)>, Error> {
    let ns = p.env.map_or("base", |e| e.name());
    let flows = super::network::app_flows(ns, &p.network, p);
    let objects = crate::netpol::policies(ns, &flows, &super::network::policy_labels())
        .into_iter()
        .map(|mut np| {
            np.metadata.namespace = None;
            Object::new(&np)
        })
        .collect::<Result<_, _>>()?;
    Ok(vec![("networkpolicies.yaml", objects)])
}

/// What kustomize must build for `env`: its encrypted Secrets and the environment's objects,
/// in its namespace.
pub fn final_objects(settings: &Settings, env: Environment) -> Result<Vec<Value>, Error> {
    final_objects_of(&Plan::new(settings), env)
}

/// [`final_objects`] within a build, from its plan.
pub fn final_objects_of(plan: &Plan<'_>, env: Environment) -> Result<Vec<Value>, Error> {
    let objects: Vec<Object> = objects(plan.env(env))?
        .into_iter()
        .flat_map(|f| f.objects)
        .collect();
    Ok(final_objects_from(plan.settings, env, objects))
}

/// [`final_objects`] from the environment's objects, built already (moved, not copied).
fn final_objects_from(
    settings: &Settings,
    env: Environment,
    env_objects: Vec<Object>,
) -> Vec<Value> {
    let mut out = Vec::new();
    // The Secrets as the settings read them (each file's one document).
    for f in settings.secret_files_in(env.name()) {
        let mut d = f.object.clone();
        d["metadata"]["namespace"] = Value::String(env.name().to_string());
        out.push(d);
    }
    for o in env_objects {
        let cluster_scoped = o.is_cluster_scoped();
        let mut body = o.into_body();
        if !cluster_scoped {
            body["metadata"]["namespace"] = Value::String(env.name().to_string());
        }
        out.push(body);
    }
    out.extend(super::extra::env_objects(settings, env));
    // What the overlay's `labels:` does to every object it builds.
    for o in &mut out {
        o["metadata"]["labels"][ENVIRONMENT_LABEL] = Value::String(env.name().to_string());
    }
    out
}

/// The label every object of an overlay gets from its `labels:`: on the object's metadata
/// only. Not on selectors (immutable on Deployments and StatefulSets), and not on templates:
/// with `includeTemplates` kustomize (v5.5.0, measured on this base) also labels a
/// StatefulSet's `volumeClaimTemplates`, a field the API server refuses to change, so the pod
/// templates keep the label through their patches. kustomize-controller decrypts SOPS Secrets
/// after the build without checking the SOPS MAC (fluxcd/kustomize-controller@017ea1c
/// `internal/decryptor/decryptor.go`, `checkSopsMac`: "Not enabled by default, as arbitrary
/// data gets injected into most resources"), so labelling them is safe.
fn environment_label(env: Environment) -> crate::kustomize::Labels {
    crate::kustomize::Labels {
        pairs: BTreeMap::from([(ENVIRONMENT_LABEL.to_string(), env.name().to_string())]),
        include_selectors: false,
        include_templates: false,
    }
}

fn target(o: &Object) -> PatchTarget {
    let (group, version) = o
        .api_version()
        .rsplit_once('/')
        .unwrap_or(("", o.api_version()));
    PatchTarget {
        group: group.to_string(),
        version: version.to_string(),
        kind: o.kind().to_string(),
        name: o.name().to_string(),
    }
}

/// Kubernetes' own kinds, for which kustomize merges lists by their patch merge key;
/// custom resources get a JSON merge patch (lists replaced whole).
fn is_built_in(o: &Object) -> bool {
    let group = o.api_version().rsplit_once('/').map_or("", |(g, _)| g);
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Lists of built-in kinds that merge by `name` in a strategic-merge patch (their
/// `x-kubernetes-patch-merge-key` in the Kubernetes OpenAPI).
const MERGE_BY_NAME: &[&str] = &["containers", "initContainers", "env", "volumes"];

/// The strategic-merge patch that turns `base` into `env`, readable in a review: only what
/// differs, list items of [`MERGE_BY_NAME`] addressed by their name (never by index), a field
/// the environment drops set to null. `None` when they are equal.
fn strategic_patch(base: &Value, env: &Value, built_in: bool) -> Option<Value> {
    match (base, env) {
        (Value::Object(b), Value::Object(e)) => {
            let mut out = serde_json::Map::new();
            // Both sides come from the same serializer, so their keys mostly line up: each
            // key is first looked for where the base's next one is, then by hash.
            let mut in_step = b.iter().peekable();
            let mut matched = 0;
            for (k, ev) in e {
                let found = match in_step.peek() {
                    Some((bk, bv)) if *bk == k => {
                        let bv = *bv;
                        in_step.next();
                        matched += 1;
                        Some(bv)
                    }
                    _ => b.get(k),
                };
                match found {
                    None => {
                        out.insert(k.clone(), ev.clone());
                    }
                    // Two mappings: their difference, `None` when equal (comparing them first
                    // would walk every level again at each level below).
                    Some(bv) if bv.is_object() && ev.is_object() => {
                        if let Some(p) = strategic_patch(bv, ev, built_in) {
                            out.insert(k.clone(), p);
                        }
                    }
                    Some(bv) if same(bv, ev) => {}
                    Some(bv) => {
                        let merged = if built_in && MERGE_BY_NAME.contains(&k.as_str()) {
                            merge_named(bv, ev)
                        } else {
                            None
                        };
                        let part = match merged {
                            Some(m) => Some(m),
                            None if bv.is_object() && ev.is_object() => {
                                strategic_patch(bv, ev, built_in)
                            }
                            None => Some(ev.clone()),
                        };
                        if let Some(p) = part {
                            out.insert(k.clone(), p);
                        }
                    }
                }
            }
            // Every key of the base met in step is in the environment's: none was dropped.
            if matched < b.len() {
                for k in b.keys().filter(|k| !e.contains_key(*k)) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ if same(base, env) => None,
        _ => Some(env.clone()),
    }
}

/// `a == b`, comparing mappings key by key in order first (values from the same serializer
/// list their keys alike), by hash only where the orders differ.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return false;
            }
            for ((xk, xv), (yk, yv)) in x.iter().zip(y) {
                if xk != yk {
                    return x == y;
                }
                // Keys are unique: the same key with another value is another mapping.
                if !same(xv, yv) {
                    return false;
                }
            }
            true
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// A list of named items as a strategic-merge list: each changed or new item by its name,
/// each removed one as `$patch: delete`. `None` when the items are not all uniquely named or
/// their order changes (then the whole list is written).
fn merge_named(base: &Value, env: &Value) -> Option<Value> {
    let names = |v: &Value| -> Option<Vec<String>> {
        let items = v.as_array()?;
        let n: Vec<String> = items
            .iter()
            .map(|i| i["name"].as_str().map(String::from))
            .collect::<Option<_>>()?;
        let mut sorted = n.clone();
        sorted.sort();
        sorted.dedup();
        (sorted.len() == n.len()).then_some(n)
    };
    let (bn, en) = (names(base)?, names(env)?);
    let kept: Vec<&String> = en.iter().filter(|n| bn.contains(n)).collect();
    let base_order: Vec<&String> = bn.iter().filter(|n| en.contains(n)).collect();
    if kept != base_order {
        return None;
    }
    let (b, e) = (base.as_array()?, env.as_array()?);
    // kustomize puts the items a patch names first, in the patch's order, then the others:
    // so the patch names every item up to the last one that changes (unchanged ones by their
    // name alone), which keeps the environment's order.
    let mut items = Vec::new();
    let mut last_changed = None;
    for (i, item) in e.iter().enumerate() {
        let name = &item["name"];
        let entry = match b.iter().find(|x| &x["name"] == name) {
            Some(bi) => match strategic_patch(bi, item, true) {
                Some(d) => {
                    // The item's name first: it is what the patch is keyed by.
                    let mut keyed = serde_json::Map::new();
                    keyed.insert("name".into(), name.clone());
                    keyed.extend(
                        d.as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                    last_changed = Some(i);
                    Value::Object(keyed)
                }
                None => serde_json::json!({ "name": name }),
            },
            None => {
                last_changed = Some(i);
                item.clone()
            }
        };
        items.push(entry);
    }
    let mut out: Vec<Value> = match last_changed {
        Some(last) => items.into_iter().take(last + 1).collect(),
        None => Vec::new(),
    };
    for bi in b
        .iter()
        .filter(|x| !e.iter().any(|i| i["name"] == x["name"]))
    {
        out.push(serde_json::json!({"name": bi["name"], "$patch": "delete"}));
    }
    Some(Value::Array(out))
}

/// Applies a patch made by [`strategic_patch`] as kustomize does: mappings merge, null
/// deletes, the lists of [`MERGE_BY_NAME`] of built-in kinds merge by name (`$patch: delete`
/// removes an item), every other list is replaced. `tests/apps.rs` proves kustomize builds
/// the same objects.
pub fn apply_strategic(target: &mut Value, patch: &Value, built_in: bool) {
    let (Value::Object(t), Value::Object(p)) = (&mut *target, patch) else {
        *target = patch.clone();
        return;
    };
    for (k, pv) in p {
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        let named = built_in && MERGE_BY_NAME.contains(&k.as_str());
        match t.get_mut(k) {
            Some(Value::Array(items)) if named && pv.is_array() => {
                for pi in pv.as_array().into_iter().flatten() {
                    let pos = items.iter().position(|i| i["name"] == pi["name"]);
                    match (pos, pi["$patch"].as_str()) {
                        (Some(i), Some("delete")) => {
                            items.remove(i);
                        }
                        (Some(i), _) => apply_strategic(&mut items[i], pi, built_in),
                        (None, Some("delete")) => {}
                        (None, _) => items.push(pi.clone()),
                    }
                }
            }
            Some(tv) if tv.is_object() && pv.is_object() => apply_strategic(tv, pv, built_in),
            _ => {
                t.insert(k.clone(), pv.clone());
            }
        }
    }
}

/// Whether an object value is of a Kubernetes built-in kind (see [`is_built_in`]).
pub fn value_is_built_in(v: &Value) -> bool {
    let api = v["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// The overlay file of the objects only one environment has.
pub const ENV_ONLY_FILE: &str = "env-only.yaml";

/// Adds `out/apps/base/` and `out/apps/overlays/<env>/` to the tree; returns what the audit
/// finds in each environment's objects as kustomize builds them ([`final_objects`]), at the
/// Pod Security level of its namespace, each object named with its overlay folder.
pub fn add_to_tree(
    tree: &mut Tree,
    plan: &Plan<'_>,
) -> Result<Vec<crate::error::Violation>, Error> {
    let settings = plan.settings;
    // The environments' namespaces as the environments part declares them (first in
    // `components::all`, so the level `components::audit` gives every other object there).
    let namespaces = super::namespaces::applications(settings.environments());
    let level = super::namespaces::level_of(&namespaces);
    let allowed_registries = settings.allowed_registries();
    let base = objects(&plan.base)?;
    let mut base_folder = Folder::new(layout::APPS_BASE);
    let mut by_component: Vec<(&str, Folder)> = Vec::new();
    for AppFile {
        component,
        file,
        objects: objs,
    } in &base
    {
        let idx = match by_component.iter().position(|(c, _)| c == component) {
            Some(i) => i,
            None => {
                by_component.push((
                    component,
                    Folder::new(format!("{}/{component}", layout::APPS_BASE)),
                ));
                base_folder = base_folder.resource(*component);
                by_component.len() - 1
            }
        };
        let (c, folder) = by_component.remove(idx);
        by_component.insert(idx, (c, folder.file(*file, objs.clone())));
    }
    for (_, folder) in by_component {
        tree.add_folder(folder)?;
    }
    tree.add_folder(base_folder)?;

    let base_objects: Vec<Object> = base.into_iter().flat_map(|f| f.objects).collect();
    // Each environment's overlay on the cores there are (they share nothing but the base),
    // merged in listing order: the first error is the one a loop over them would meet.
    let envs: Vec<Environment> = settings.environments().collect();
    let overlays = crate::parallel::try_map(&envs, |&env| {
        overlay(plan, env, &base_objects, &level, &allowed_registries)
    })?;
    let mut violations = Vec::new();
    for (files, found) in overlays {
        tree.merge(files)?;
        violations.extend(found);
    }
    Ok(violations)
}

/// One environment's overlay (`out/apps/overlays/<env>/`), as a tree of its own, with what the
/// audit finds in its objects as kustomize builds them.
fn overlay(
    plan: &Plan<'_>,
    env: Environment,
    base_objects: &[Object],
    level: &impl Fn(Option<&str>) -> crate::policy::Level,
    allowed_registries: &[String],
) -> Result<(Tree, Vec<crate::error::Violation>), Error> {
    let settings = plan.settings;
    let mut files = Tree::new();
    let tree = &mut files;
    let mut violations = Vec::new();
    let mut env_objects: Vec<Object> = objects(plan.env(env))?
        .into_iter()
        .flat_map(|f| f.objects)
        .collect();
    let dir = layout::app_overlay(env);
    let mut patches = Vec::new();
    let mut extra = Vec::new();
    for b in base_objects {
        if !env_objects.iter().any(|e| e.same_id(b)) {
            return Err(Error::Build(format!(
                "{} is in the base but not in {env}: an overlay cannot delete it",
                b.id()
            )));
        }
    }
    for e in env_objects.iter_mut() {
        let Some(b) = base_objects.iter().find(|b| b.same_id(e)) else {
            extra.push(e.clone());
            continue;
        };
        // The overlay's `labels:` adds the environment label to every object's metadata,
        // so the patches leave it out there (pod templates keep theirs in the patch): the
        // label is taken out for the diff, and the labels put back as they were.
        let mut labels_before = None;
        if b.body()["metadata"]["labels"][ENVIRONMENT_LABEL].is_null()
            && let Some(labels) = e.labels_mut()
        {
            labels_before = Some(labels.clone());
            labels.remove(ENVIRONMENT_LABEL);
        }
        let diff = strategic_patch(b.body(), e.body(), is_built_in(b));
        if let (Some(before), Some(labels)) = (labels_before, e.labels_mut()) {
            *labels = before;
        }
        if let Some(diff) = diff {
            // Target first, as a reviewer reads it: apiVersion, kind, metadata.name.
            let mut patch = serde_json::Map::new();
            patch.insert("apiVersion".into(), b.api_version().into());
            patch.insert("kind".into(), b.kind().into());
            let mut meta = serde_json::Map::new();
            meta.insert("name".into(), b.name().into());
            if let Some(m) = diff["metadata"].as_object() {
                meta.extend(
                    m.iter()
                        .filter(|(k, _)| *k != "name")
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            patch.insert("metadata".into(), Value::Object(meta));
            if let Some(d) = diff.as_object() {
                patch.extend(
                    d.iter()
                        .filter(|(k, _)| *k != "metadata")
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            let patch = Value::Object(patch);
            let file = format!("patches/{}-{}.yaml", b.kind().to_lowercase(), b.name());
            // Audited once applied (below), so nothing but the findings of that is kept.
            tree.insert_audited(
                format!("{dir}/{file}"),
                crate::tree::to_yaml(&[&patch])?,
                &[patch],
                |_, _| Vec::new(),
            )?;
            patches.push(Patch {
                path: file,
                target: target(b),
            });
        }
    }
    let mut folder = Folder::new(&dir).resource("../../base");
    // Objects only this environment has (the restore test and its policy), as resources.
    if !extra.is_empty() {
        let extra: Vec<Value> = extra.into_iter().map(Object::into_body).collect();
        tree.insert_audited(
            format!("{dir}/{ENV_ONLY_FILE}"),
            crate::tree::to_yaml(&extra.iter().collect::<Vec<_>>())?,
            &extra,
            |path, objects| crate::policy::audit_objects(path, objects, level, allowed_registries),
        )?;
        folder = folder.resource(ENV_ONLY_FILE);
    }
    for f in settings.secret_files_in(env.name()) {
        let name = &f.file_name;
        tree.insert_audited(
            format!("{dir}/secrets/{name}"),
            f.bytes.clone(),
            std::slice::from_ref(&f.object),
            |path, objects| crate::policy::audit_objects(path, objects, level, allowed_registries),
        )?;
        folder = folder.resource(format!("secrets/{name}"));
    }
    let generated: Vec<&Value> = env_objects.iter().map(Object::body).collect();
    folder = super::extra::add_env(tree, folder, &dir, settings, env, &generated)?;
    tree.add_folder(folder.kustomization(|k| {
        k.namespace = Some(env.name().to_string());
        k.labels = vec![environment_label(env)];
        k.patches = patches;
    }))?;
    // Audited now and freed: only the findings are kept.
    let cfg = crate::policy::AuditConfig {
        level: level(Some(env.name())),
        version: crate::policy::PssVersion::Latest,
        allowed_registries: allowed_registries.to_vec(),
    };
    for object in final_objects_from(settings, env, env_objects) {
        violations.extend(
            crate::policy::audit_object(&object, &cfg)
                .into_iter()
                .map(|mut v| {
                    v.object = format!("{dir}: {}", v.object);
                    v
                }),
        );
    }
    Ok((files, violations))
}

/// The applications: the base, one overlay per environment, and the Secrets each reads.
pub struct Apps;

impl super::contribution::Component for Apps {
    fn name(&self) -> &'static str {
        "apps"
    }
    fn contribute(&self, plan: &Plan<'_>) -> Result<super::contribution::Contribution, Error> {
        let mut tree = Tree::new();
        let environment_violations = add_to_tree(&mut tree, plan)?;
        Ok(super::contribution::Contribution {
            tree,
            environment_violations,
            secrets: required_secrets(plan),
            ..Default::default()
        })
    }
}

/// The Secrets every environment's workloads read (keys sorted), and the restore test's
/// source where an environment runs one.
fn required_secrets(plan: &Plan<'_>) -> Vec<crate::secrets::RequiredSecret> {
    let mut out = Vec::new();
    for (env, p) in plan.environments() {
        let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in secret_refs() {
            let keys = by_name.entry(r.secret).or_default();
            if !keys.iter().any(|k| k == r.key) {
                keys.push(r.key.to_string());
            }
        }
        if p.backup.restore_test.is_some() {
            by_name.insert(
                super::backup::RESTORE_SOURCE_SECRET,
                super::backup::restore_source_keys(),
            );
        }
        for (name, mut keys) in by_name {
            keys.sort();
            out.push(crate::secrets::RequiredSecret {
                scope: env.name().into(),
                namespace: env.name().into(),
                name: name.into(),
                keys,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_is_equality_whatever_the_key_order() {
        let a = json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}});
        let reordered = json!({"b": {"c": [1, {"e": 3, "d": 2}]}, "a": 1});
        let other_value = json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 4}]}});
        let other_key = json!({"a": 1, "b": {"c": [1, {"d": 2, "f": 3}]}});
        for (x, y) in [(&a, &reordered), (&a, &other_value), (&a, &other_key)] {
            assert_eq!(same(x, y), x == y, "{x} vs {y}");
        }
    }

    #[test]
    fn the_patch_does_not_depend_on_key_order() {
        let base = json!({"a": 1, "b": 2, "c": {"x": 1, "y": 2}, "gone": true});
        let env = json!({"new": 0, "c": {"y": 3, "x": 1}, "b": 2, "a": 1});
        assert_eq!(
            strategic_patch(&base, &env, false),
            Some(json!({"new": 0, "c": {"y": 3}, "gone": null}))
        );
        assert_eq!(strategic_patch(&base, &base, false), None);
        let reordered = json!({"gone": true, "c": {"y": 2, "x": 1}, "b": 2, "a": 1});
        assert_eq!(strategic_patch(&base, &reordered, false), None);
    }
}
