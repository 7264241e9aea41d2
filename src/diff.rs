//! `o4g diff BASE`: what the cluster gets from a change, for the review of a pull request.
//!
//! Compares the committed `out/` of `BASE` (a git ref, read with `git ls-tree` and
//! `git cat-file`, nothing checked out) with the working tree's `out/` (regular files only, no
//! symlink followed). Each side's objects are built per Flux Kustomization the way
//! kustomize builds our generated folders ([`crate::immutable::build`]), then compared per
//! object: added, removed (and whether Flux prunes it: `prune`, the object's
//! `kustomize.toolkit.fluxcd.io/prune: disabled`, a removed Kustomization's `deletionPolicy`),
//! changed fields. Secrets show key names
//! only, never a value. Computed danger notes: immutable-field changes
//! ([`crate::immutable::changes`]), prunes of stateful objects, storage class or size changes,
//! NetworkPolicy reachability gained and lost (the evaluator of [`crate::netpol::eval`] over
//! the pods of our workloads), Pod Security level changes, Kyverno Audit/Deny changes, and
//! HelmRelease chart version or values changes. With a chart cache ([`ChartCache`]), a
//! HelmRelease change is also shown as the objects its chart renders before and after
//! ([`charts`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;
use serde_json::Value;

mod charts;
mod model;
pub use charts::{ChartCache, ChartDiff};
pub use model::{Danger, FieldChange, ImageChange, ObjectDiff};
use model::{Key, fields, key, label, leaves, short};

/// GitHub's limit on the body of an issue comment (characters).
pub const COMMENT_LIMIT: usize = 65536;

/// The first line of the markdown report: the workflow finds its own comment by it.
pub const MARKER: &str = "<!-- o4g-diff -->";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A pull-request comment, collapsed per Flux Kustomization, within GitHub's size limit.
    Markdown,
    /// Everything, for tools.
    Json,
}

/// Why a diff could not be made (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DiffError(String);

/// The files of `out/` on one side, by repository-relative path.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The base ref as given and the commit it names.
    pub base: String,
    /// The commit the working tree is checked out at (`HEAD (sha)`; in CI the pull request's
    /// merge commit), so a comment names what it reviewed.
    pub head: String,
    /// Files of the change that make this report (the renderer, `o4g diff` itself, the chart
    /// sources, the workflow): a pull request that changes them can write its own review.
    pub warnings: Vec<String>,
    /// Per Flux Kustomization, in name order.
    pub kustomizations: Vec<KustomizationDiff>,
    /// Image changes (tag and digest), per Kustomization (for the apps: per environment).
    pub images: Vec<ImageChange>,
    /// Per changed HelmRelease: what its chart renders differently (or why it was not rendered).
    pub charts: Vec<ChartDiff>,
    /// Computed danger notes.
    pub dangers: Vec<Danger>,
}

/// The changes under one Flux Kustomization.
#[derive(Debug, Serialize)]
pub struct KustomizationDiff {
    /// Its name (`apps-prod`, `infra-controllers`, …).
    pub name: String,
    /// The folder it applies.
    pub path: String,
    /// `spec.prune`: removed objects are deleted from the cluster.
    pub prune: bool,
    /// Changed objects.
    pub objects: Vec<ObjectDiff>,
}

fn err(msg: impl Into<String>) -> DiffError {
    DiffError(msg.into())
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, DiffError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| err(format!("git: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// The default base: the merge base of `HEAD` with `main` (or `origin/main`).
pub fn default_base(root: &Path) -> Result<String, DiffError> {
    for main in ["main", "origin/main"] {
        if let Ok(b) = git(root, &["merge-base", "HEAD", main]) {
            return Ok(String::from_utf8_lossy(&b).trim().to_string());
        }
    }
    Err(err(
        "no merge base with main or origin/main: name the base (o4g diff BASE)",
    ))
}

/// The regular files of `out/` at `rev` (symlinks and submodules are skipped).
pub fn files_at(root: &Path, rev: &str) -> Result<(String, Files), DiffError> {
    if rev.starts_with('-') {
        return Err(err(format!("{rev}: not a git revision")));
    }
    let commit = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|e| err(format!("{rev}: not a commit of this repository ({e})")))?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    let listing = git(
        root,
        &["ls-tree", "-r", "-z", &commit, "--", crate::OUT_DIR],
    )?;
    let mut wanted = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (mode, kind, sha) = (meta.next(), meta.next(), meta.next());
        if kind == Some("blob")
            && mode != Some("120000")
            && let Some(sha) = sha
        {
            wanted.push((path.to_string(), sha.to_string()));
        }
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("git cat-file: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    let shas: Vec<String> = wanted.iter().map(|(_, s)| s.clone()).collect();
    let writer = std::thread::spawn(move || {
        for s in shas {
            if writeln!(stdin, "{s}").is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut files = Files::new();
    for (path, _) in &wanted {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| err(format!("git cat-file: {e}")))?;
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err(format!("git cat-file: {header}")))?;
        let mut buf = vec![0; size + 1];
        reader
            .read_exact(&mut buf)
            .map_err(|e| err(format!("git cat-file: {e}")))?;
        buf.pop();
        files.insert(path.clone(), buf);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok((commit, files))
}

/// The regular files of the working tree's `out/` (symlinks are neither followed nor read).
pub fn files_of_worktree(root: &Path) -> Result<Files, DiffError> {
    let mut files = Files::new();
    let out = root.join(crate::OUT_DIR);
    for entry in walkdir::WalkDir::new(&out).follow_links(false) {
        let entry = entry.map_err(|e| err(format!("{}: {e}", out.display())))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(entry.path())
            .map_err(|e| err(format!("{}: {e}", entry.path().display())))?;
        files.insert(rel, bytes);
    }
    Ok(files)
}

fn docs(files: &Files, path: &str) -> Vec<Value> {
    files
        .get(path)
        .and_then(|b| {
            crate::yaml_read::parse_documents(Path::new(path), &String::from_utf8_lossy(b)).ok()
        })
        .unwrap_or_default()
}

/// One Flux Kustomization: the folder it applies, `spec.prune`, `spec.deletionPolicy`.
type FluxKs = (String, bool, Option<String>);

/// The Flux Kustomizations of one side, by name.
fn flux_kustomizations(files: &Files) -> BTreeMap<String, FluxKs> {
    let mut out = BTreeMap::new();
    for path in files
        .keys()
        .filter(|p| p.starts_with(crate::components::layout::CLUSTER) && p.ends_with(".yaml"))
    {
        for d in docs(files, path) {
            if d["kind"] == "Kustomization"
                && d["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("kustomize.toolkit.fluxcd.io/"))
                && let (Some(name), Some(p)) =
                    (d["metadata"]["name"].as_str(), d["spec"]["path"].as_str())
            {
                out.insert(
                    name.to_string(),
                    (
                        p.trim_start_matches("./").to_string(),
                        d["spec"]["prune"].as_bool().unwrap_or(false),
                        d["spec"]["deletionPolicy"].as_str().map(str::to_string),
                    ),
                );
            }
        }
    }
    out
}

fn build(files: &Files, path: &str) -> BTreeMap<Key, Value> {
    let read = |p: &str, _| files.get(p).map(|b| crate::immutable::parse(p, b));
    crate::immutable::build(&read, path, false)
        .into_iter()
        .map(|o| (key(&o), o))
        .collect()
}

/// The pod spec of a workload object, with the pod template's metadata.
fn pod_template(o: &Value) -> Option<&Value> {
    match o["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some(&o["spec"]["template"])
        }
        "CronJob" => Some(&o["spec"]["jobTemplate"]["spec"]["template"]),
        "Pod" => Some(o),
        _ => None,
    }
}

fn images(o: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(t) = pod_template(o) {
        for list in ["initContainers", "containers"] {
            for c in t["spec"][list].as_array().into_iter().flatten() {
                if let (Some(n), Some(i)) = (c["name"].as_str(), c["image"].as_str()) {
                    out.insert(n.to_string(), i.to_string());
                }
            }
        }
    }
    out
}

/// Storage requests and classes of a PVC or a StatefulSet's claim templates.
fn storage(o: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut claim = |prefix: String, spec: &Value| {
        if let Some(s) = spec["resources"]["requests"]["storage"].as_str() {
            out.insert(format!("{prefix}size"), s.to_string());
        }
        if let Some(c) = spec["storageClassName"].as_str() {
            out.insert(format!("{prefix}storageClassName"), c.to_string());
        }
    };
    match o["kind"].as_str() {
        Some("PersistentVolumeClaim") => claim(String::new(), &o["spec"]),
        Some("StatefulSet") => {
            for t in o["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let n = t["metadata"]["name"].as_str().unwrap_or("?");
                claim(format!("claim {n} "), &t["spec"]);
            }
        }
        _ => {}
    }
    out
}

/// Pod Security labels of a Namespace.
fn pod_security(o: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if o["kind"] == "Namespace" {
        for (k, v) in o["metadata"]["labels"].as_object().into_iter().flatten() {
            if k.starts_with("pod-security.kubernetes.io/") {
                out.insert(k.clone(), short(v));
            }
        }
    }
    out
}

/// The Kyverno enforcement of a policy: `validationActions` (ValidatingPolicy),
/// `validationFailureAction` (ClusterPolicy, Policy) or, since Kyverno 1.13, a rule's
/// `validate.failureAction` and `verifyImages[].failureAction`, each with its overrides (field
/// names from the CRD: `../shared/schemas/kyverno.io/clusterpolicy_v1.json`,
/// datreeio/CRDs-catalog@7b1e26ef).
fn kyverno_action(o: &Value) -> Option<String> {
    const FIELDS: [&str; 5] = [
        "validationActions",
        "validationFailureAction",
        "validationFailureActionOverrides",
        "failureAction",
        "failureActionOverrides",
    ];
    let api = o["apiVersion"].as_str()?;
    if !api.contains("kyverno.io") {
        return None;
    }
    let mut acts = BTreeMap::new();
    leaves(&o["spec"], String::new(), &mut acts);
    let picked: Vec<String> = acts
        .into_iter()
        .filter(|(p, _)| p.split(['.', '[']).any(|segment| FIELDS.contains(&segment)))
        .map(|(p, v)| {
            // `validationFailureAction` takes `audit` and `Audit` alike (the CRD's enum).
            let v = short(&v);
            let mut c = v.chars();
            let v = c
                .next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default();
            format!("{p}={v}")
        })
        .collect();
    (!picked.is_empty()).then(|| picked.join(", "))
}

fn namespace_key(ns: &str) -> Key {
    ("Namespace".into(), String::new(), ns.into())
}

/// Per (policy title, namespace): the `validationActions` of the ValidatingPolicies and
/// ImageValidatingPolicies (both have the field and `spec.matchConstraints`, per
/// `../shared/schemas/policies.kyverno.io/*validatingpolicy_v1.json`; one
/// title may be a Deny and an Audit policy with complementary selectors) whose
/// `spec.matchConstraints.namespaceSelector` selects the namespace. Namespaces: those of the
/// objects and those the selectors name by `kubernetes.io/metadata.name` (the label the API
/// server sets on every namespace). `matchConditions` (CEL) are not evaluated.
fn kyverno_scope(objects: &BTreeMap<Key, Value>) -> BTreeMap<(String, String), BTreeSet<String>> {
    const NAME: &str = "kubernetes.io/metadata.name";
    let policies: Vec<&Value> = objects
        .values()
        .filter(|o| {
            (o["kind"] == "ValidatingPolicy" || o["kind"] == "ImageValidatingPolicy")
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("policies.kyverno.io/"))
        })
        .collect();
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for ((kind, _, name), o) in objects {
        if kind == "Namespace" {
            let labels = o["metadata"]["labels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), short(v))).collect())
                .unwrap_or_default();
            namespaces.insert(name.clone(), labels);
        }
    }
    for p in &policies {
        for e in p["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["key"] == NAME)
        {
            for v in e["values"].as_array().into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    namespaces.entry(v.to_string()).or_default();
                }
            }
        }
    }
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for p in policies {
        let title = p["metadata"]["annotations"]["policies.kyverno.io/title"]
            .as_str()
            .or(p["metadata"]["name"].as_str())
            .unwrap_or("?")
            .to_string();
        let selector = &p["spec"]["matchConstraints"]["namespaceSelector"];
        let selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            if selector.is_null() {
                Default::default()
            } else {
                match serde_json::from_value(selector.clone()) {
                    Ok(s) => s,
                    Err(_) => continue,
                }
            };
        let actions: BTreeSet<String> = p["spec"]["validationActions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        for (ns, labels) in &namespaces {
            let mut labels = labels.clone();
            labels.insert(NAME.into(), ns.clone());
            if crate::netpol::eval::selector_matches(&selector, &labels) {
                out.entry((title.clone(), ns.clone()))
                    .or_default()
                    .extend(actions.iter().cloned());
            }
        }
    }
    out
}

/// The pods our workloads run, for the reachability check.
fn pods(objects: &BTreeMap<Key, Value>) -> Vec<crate::netpol::eval::Pod> {
    let mut out = Vec::new();
    for ((_, ns, name), o) in objects {
        let Some(t) = pod_template(o) else { continue };
        let labels = t["metadata"]["labels"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), short(v))).collect())
            .unwrap_or_default();
        let mut ports = Vec::new();
        for c in t["spec"]["containers"].as_array().into_iter().flatten() {
            for p in c["ports"].as_array().into_iter().flatten() {
                if let Some(n) = p["containerPort"]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                {
                    ports.push((
                        p["name"].as_str().unwrap_or("").to_string(),
                        n,
                        p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    ));
                }
            }
        }
        out.push(crate::netpol::eval::Pod {
            namespace: ns.clone(),
            name: name.clone(),
            labels,
            ports,
        });
    }
    out
}

fn cluster(objects: &BTreeMap<Key, Value>) -> crate::netpol::eval::Cluster {
    let mut c = crate::netpol::eval::Cluster::default();
    for ((kind, _, name), o) in objects {
        if kind == "Namespace" {
            let labels = o["metadata"]["labels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), short(v))).collect())
                .unwrap_or_default();
            c.namespaces.insert(name.clone(), labels);
        } else if kind == "NetworkPolicy"
            && let Ok(p) = serde_json::from_value(o.clone())
        {
            c.policies.push(p);
        }
    }
    c
}

/// Flows (`src → dst:port/proto`) allowed among `pods`.
fn flows(c: &crate::netpol::eval::Cluster, pods: &[crate::netpol::eval::Pod]) -> BTreeSet<String> {
    use crate::netpol::eval::Endpoint;
    let mut out = BTreeSet::new();
    for src in pods {
        for dst in pods {
            if src == dst {
                continue;
            }
            for (_, port, proto) in &dst.ports {
                if c.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), *port, proto) {
                    out.insert(format!(
                        "{}/{} → {}/{}:{port}/{proto}",
                        src.namespace, src.name, dst.namespace, dst.name
                    ));
                }
            }
        }
    }
    out
}

/// Whether Flux deletes an object removed from the Kustomization `name` (`old`: the object as
/// last applied), and why, in kustomize-controller's terms: `spec.prune` garbage-collects
/// what a new revision no longer has, a label or annotation
/// `kustomize.toolkit.fluxcd.io/prune: disabled` (any case) exempts an object, and a deleted
/// Kustomization deletes its objects as `spec.deletionPolicy` says (`MirrorPrune`, the default,
/// follows `prune`; `Delete`, `WaitForTermination`; `Orphan`). Sources:
/// fluxcd/kustomize-controller@00852088 `docs/spec/v1/kustomizations.md` ("Prune", "Deletion
/// policy"); fluxcd/pkg@f3cc2d70 `ssa/utils/meta.go` `AnyInMetadata` (`strings.EqualFold`).
/// When one commit both removes the object and changes `prune`, the Kustomization may
/// reconcile the revision under either setting, so it may be deleted.
fn flux_deletes(
    name: &str,
    before: Option<&FluxKs>,
    after: Option<&FluxKs>,
    old: &Value,
) -> (bool, String) {
    const PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
    let exempt = ["labels", "annotations"].iter().any(|m| {
        old["metadata"][m][PRUNE]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    });
    if exempt {
        return (false, format!("{PRUNE}: disabled on the object"));
    }
    match (before, after) {
        (Some((_, a, _)), Some((_, b, _))) if a != b => (
            true,
            format!(
                "Flux ({name}) may delete it from the cluster: prune changes {a} → {b} in the same commit, and the revision may be reconciled under either"
            ),
        ),
        (_, Some((_, true, _))) => (
            true,
            format!("Flux ({name}, prune: true) deletes it from the cluster"),
        ),
        (_, Some((_, false, _))) => (false, "prune is off".into()),
        (Some((_, prune, policy)), None) => {
            let policy = policy.as_deref().unwrap_or("MirrorPrune");
            let deletes = match policy {
                "Delete" | "WaitForTermination" => true,
                "Orphan" => false,
                _ => *prune,
            };
            let why = format!(
                "the Flux Kustomization {name} is removed (deletionPolicy: {policy}, prune: {prune})"
            );
            if deletes {
                (true, format!("{why}: Flux deletes it from the cluster"))
            } else {
                (false, why)
            }
        }
        (None, None) => (false, "not applied by Flux".into()),
    }
}

/// Compares two sides' `out/` files; HelmRelease changes are rendered from `charts` when given.
pub fn compare(base: &str, old: &Files, new: &Files, charts: Option<&ChartCache>) -> Report {
    let (ko, kn) = (flux_kustomizations(old), flux_kustomizations(new));
    let names: BTreeSet<&String> = ko.keys().chain(kn.keys()).collect();
    let mut report = Report {
        base: base.to_string(),
        head: "the working tree".into(),
        warnings: Vec::new(),
        kustomizations: Vec::new(),
        images: Vec::new(),
        charts: Vec::new(),
        dangers: Vec::new(),
    };
    let (mut all_old, mut all_new) = (BTreeMap::new(), BTreeMap::new());
    let mut kustomization_of = BTreeMap::new();
    for name in names {
        let (po, pn) = (ko.get(name), kn.get(name));
        let path = pn.or(po).map(|(p, ..)| p.clone()).unwrap_or_default();
        let prune = pn.or(po).is_some_and(|(_, p, _)| *p);
        let before = po.map(|(p, ..)| build(old, p)).unwrap_or_default();
        let after = pn.map(|(p, ..)| build(new, p)).unwrap_or_default();
        let keys: BTreeSet<&Key> = before.keys().chain(after.keys()).collect();
        let mut objects = Vec::new();
        for k in keys {
            let object = label(k);
            match (before.get(k), after.get(k)) {
                (None, Some(n)) => {
                    objects.push(ObjectDiff {
                        object: object.clone(),
                        change: "added",
                        pruned: None,
                        why: None,
                        fields: Vec::new(),
                    });
                    image_changes(&mut report.images, name, &object, &Value::Null, n);
                }
                (Some(o), None) => {
                    let (pruned, why) = flux_deletes(name, po, pn, o);
                    if pruned
                        && matches!(
                            k.0.as_str(),
                            "PersistentVolumeClaim" | "StatefulSet" | "Namespace"
                        )
                    {
                        report.dangers.push(Danger {
                            kind: "prune",
                            object: object.clone(),
                            message: why.clone(),
                        });
                    }
                    objects.push(ObjectDiff {
                        object: object.clone(),
                        change: "removed",
                        pruned: Some(pruned),
                        why: Some(why),
                        fields: Vec::new(),
                    });
                    image_changes(&mut report.images, name, &object, o, &Value::Null);
                }
                (Some(o), Some(n)) if o != n => {
                    let f = fields(o, n);
                    dangers_of_change(&mut report.dangers, &object, o, n);
                    image_changes(&mut report.images, name, &object, o, n);
                    objects.push(ObjectDiff {
                        object,
                        change: "changed",
                        pruned: None,
                        why: None,
                        fields: f,
                    });
                }
                _ => {}
            }
        }
        for c in po
            .zip(pn)
            .map(|((a, ..), (b, ..))| {
                let ro = |p: &str, _| old.get(p).map(|b| crate::immutable::parse(p, b));
                let rn = |p: &str, _| new.get(p).map(|b| crate::immutable::parse(p, b));
                if a == b {
                    crate::immutable::changes(&ro, &rn, &[(name.clone(), a.clone())])
                } else {
                    Vec::new()
                }
            })
            .unwrap_or_default()
        {
            report.dangers.push(Danger {
                kind: "immutable",
                object: c.object.clone(),
                message: format!(
                    "{}: {} (the API server refuses it; render needs --allow-immutable-change). {}",
                    c.field, c.change, c.procedure
                ),
            });
        }
        kustomization_of.extend(after.keys().map(|k| (k.clone(), name.clone())));
        all_old.extend(before);
        all_new.extend(after);
        if !objects.is_empty() {
            report.kustomizations.push(KustomizationDiff {
                name: name.clone(),
                path,
                prune,
                objects,
            });
        }
    }
    // Kyverno enforcement per namespace: a selector change moves a namespace between the Deny
    // and the Audit policy of a pair without any policy's action changing.
    let (eo, en) = (kyverno_scope(&all_old), kyverno_scope(&all_new));
    let external = |ns: &String| {
        !all_old.contains_key(&namespace_key(ns)) && !all_new.contains_key(&namespace_key(ns))
    };
    let on_both = |ns: &String| {
        external(ns)
            || (all_old.contains_key(&namespace_key(ns))
                && all_new.contains_key(&namespace_key(ns)))
    };
    for key @ (title, ns) in eo.keys().chain(en.keys()).collect::<BTreeSet<_>>() {
        let (a, b) = (eo.get(key), en.get(key));
        if a != b && on_both(ns) {
            let join = |s: Option<&BTreeSet<String>>| {
                s.map(|s| s.iter().cloned().collect::<Vec<_>>().join("+"))
                    .unwrap_or_else(|| "(none)".into())
            };
            report.dangers.push(Danger {
                kind: "kyverno",
                object: format!("{title} in namespace {ns}"),
                message: format!("enforcement {} → {}", join(a), join(b)),
            });
        }
    }
    let checks = charts::Checks {
        images: image_changes,
        dangers: dangers_of_change,
    };
    for found in charts::add(&all_old, &all_new, &kustomization_of, charts, &checks) {
        report.images.extend(found.images);
        report.dangers.extend(found.dangers);
        // The HelmRelease's values note, completed with what its chart renders.
        if let Some(d) = report.dangers.iter_mut().find(|d| {
            d.kind == "helm"
                && d.object == found.chart.helm_release
                && d.message.starts_with("values change (")
        }) {
            d.message.push_str(&found.values_note);
        }
        report.charts.push(found.chart);
    }
    // Reachability among the pods that run on both sides (same namespace and workload), each
    // side's pods (their labels and ports) under that side's policies: a pod that is added or
    // removed gains or loses no flow, its workload is listed as added or removed.
    let (po, pn) = (pods(&all_old), pods(&all_new));
    let id = |p: &crate::netpol::eval::Pod| (p.namespace.clone(), p.name.clone());
    let (io, inew): (BTreeSet<_>, BTreeSet<_>) =
        (po.iter().map(id).collect(), pn.iter().map(id).collect());
    let po: Vec<_> = po.into_iter().filter(|p| inew.contains(&id(p))).collect();
    let pn: Vec<_> = pn.into_iter().filter(|p| io.contains(&id(p))).collect();
    let (fo, fnew) = (
        flows(&cluster(&all_old), &po),
        flows(&cluster(&all_new), &pn),
    );
    for f in fo.difference(&fnew) {
        report.dangers.push(Danger {
            kind: "reachability",
            object: f.clone(),
            message: "flow lost: the NetworkPolicies no longer allow it".into(),
        });
    }
    for f in fnew.difference(&fo) {
        report.dangers.push(Danger {
            kind: "reachability",
            object: f.clone(),
            message: "flow gained: the NetworkPolicies now allow it".into(),
        });
    }
    report.dangers.sort();
    report.dangers.dedup();
    report
}

fn image_changes(out: &mut Vec<ImageChange>, ks: &str, object: &str, old: &Value, new: &Value) {
    let (a, b) = (images(old), images(new));
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for c in names {
        if a.get(c) != b.get(c) {
            out.push(ImageChange {
                kustomization: ks.to_string(),
                object: object.to_string(),
                container: c.clone(),
                old: a.get(c).cloned(),
                new: b.get(c).cloned(),
            });
        }
    }
}

fn dangers_of_change(out: &mut Vec<Danger>, object: &str, o: &Value, n: &Value) {
    let mut push = |kind, message: String| {
        out.push(Danger {
            kind,
            object: object.to_string(),
            message,
        })
    };
    let (so, sn) = (storage(o), storage(n));
    for k in so.keys().chain(sn.keys()).collect::<BTreeSet<_>>() {
        if so.get(k) != sn.get(k) {
            push(
                "storage",
                format!("{k}: {} → {}", show(so.get(k)), show(sn.get(k))),
            );
        }
    }
    let (po, pn) = (pod_security(o), pod_security(n));
    for k in po.keys().chain(pn.keys()).collect::<BTreeSet<_>>() {
        if po.get(k) != pn.get(k) {
            let rank = |v: Option<&String>| {
                ["privileged", "baseline", "restricted"]
                    .iter()
                    .position(|l| v.is_some_and(|v| v == l))
            };
            let mode = k.trim_start_matches("pod-security.kubernetes.io/");
            let effect = match (rank(po.get(k)), rank(pn.get(k))) {
                (Some(a), Some(b)) if b < a && mode == "enforce" => {
                    ": looser, pods the old level refused are admitted"
                }
                (Some(a), Some(b)) if b > a && mode == "enforce" => {
                    ": stricter, pods that break it are refused when next created"
                }
                (Some(a), Some(b)) if b < a => ": looser",
                (Some(a), Some(b)) if b > a => ": stricter",
                _ if !pn.contains_key(k) => ": the cluster's default applies",
                _ => "",
            };
            push(
                "pod-security",
                format!("{k}: {} → {}{effect}", show(po.get(k)), show(pn.get(k))),
            );
        }
    }
    let (ka, kb) = (kyverno_action(o), kyverno_action(n));
    if ka != kb {
        push(
            "kyverno",
            format!("enforcement {} → {}", show(ka.as_ref()), show(kb.as_ref())),
        );
    }
    if o["kind"] == "StorageClass" && o["parameters"] != n["parameters"] {
        push("storage", "StorageClass parameters change".into());
    }
    if o["kind"] == "HelmRelease" {
        let version = |v: &Value| {
            v["spec"]["chart"]["spec"]["version"]
                .as_str()
                .map(str::to_string)
        };
        if version(o) != version(n) {
            push(
                "helm",
                format!(
                    "chart version {} → {}",
                    show(version(o).as_ref()),
                    show(version(n).as_ref())
                ),
            );
        }
        if o["spec"]["values"] != n["spec"]["values"] {
            let changed: Vec<String> = fields(&o["spec"]["values"], &n["spec"]["values"])
                .into_iter()
                .map(|f| f.path)
                .collect();
            // Completed in `compare` with what the chart renders, or why it was not rendered.
            push("helm", format!("values change ({})", changed.join(", ")));
        }
    }
    if o["kind"] == "OCIRepository" && o["spec"]["ref"] != n["spec"]["ref"] {
        push(
            "helm",
            format!(
                "chart reference {} → {}",
                short(&o["spec"]["ref"]),
                short(&n["spec"]["ref"])
            ),
        );
    }
}

fn show(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "(none)".into())
}

/// `o4g diff`: the report of `base` (default: the merge base with main) against the working
/// tree, in `format`; HelmRelease changes rendered from `charts` when given.
pub fn run(
    root: &Path,
    base: Option<&str>,
    format: Format,
    charts: Option<&ChartCache>,
) -> Result<String, DiffError> {
    let base = match base {
        Some(b) => b.to_string(),
        None => default_base(root)?,
    };
    let (commit, old) = files_at(root, &base)?;
    let new = files_of_worktree(root)?;
    let mut report = compare(
        &format!("{base} ({})", &commit[..commit.len().min(12)]),
        &old,
        &new,
        charts,
    );
    if let Ok(head) = git(root, &["rev-parse", "--verify", "HEAD"]) {
        report.head = format!("HEAD ({})", String::from_utf8_lossy(&head).trim());
    }
    let changed = git(
        root,
        &[
            "diff",
            "--name-only",
            &commit,
            "--",
            "tests/helm/render.py",
            "src/diff.rs",
            "src/diff",
            "src/cli/diff.rs",
            ".ci/upstream.py",
            ".ci/upstream.toml",
            ".github/workflows/ci.yml",
        ],
    )?;
    report.warnings = String::from_utf8_lossy(&changed)
        .lines()
        .map(|f| format!("this change edits {f}, which makes this report: the report may not be what main's code says; read that file's diff"))
        .collect();
    Ok(match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        ),
        Format::Markdown => markdown(&report, COMMENT_LIMIT),
    })
}

/// Fields shown per rendered object in the comment (a chart bump can change thousands of a
/// CRD's schema fields); the JSON keeps them all.
const CHART_FIELDS: usize = 20;

/// The markdown lines of an object's changed fields, at most `max` of them.
fn object_fields(fields: &[FieldChange], max: usize, lines: &mut Vec<String>) {
    let show = |v: &Option<String>| v.as_deref().map(code).unwrap_or_else(|| "(none)".into());
    for f in fields.iter().take(max) {
        lines.push(format!(
            "  - {}: {} → {}\n",
            code(&f.path),
            show(&f.old),
            show(&f.new)
        ));
    }
    if fields.len() > max {
        lines.push(format!(
            "  - … and {} more fields (`o4g diff --format json`)\n",
            fields.len() - max
        ));
    }
}

/// Inline code on one line: a backquote becomes `'`, a line break `⏎`.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('\n', "⏎"))
}

/// Text of the change (names, paths, messages) in markdown or HTML outside code: `&`, `<`, `>`
/// as entities (no tag of the change is rendered), and `@` followed by a zero-width space (no
/// `@mention` notifies anyone).
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@\u{200B}")
        .replace('\n', " ")
}

/// A table cell: a `|` (even in inline code) would end the cell in GitHub's tables.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report as a PR comment: dangers and images first, then one collapsed section per
/// Kustomization. Longer than `limit` bytes (GitHub counts characters; a character is at least
/// one byte, so bytes never undercount), it is cut between lines, every open section closed,
/// with a note.
pub fn markdown(r: &Report, limit: usize) -> String {
    let mut out = format!(
        "{MARKER}\n### o4g diff of {} against {}\n\n",
        code(&r.head),
        code(&r.base)
    );
    for w in &r.warnings {
        out.push_str(&format!("> ⚠️ {}\n\n", text(w)));
    }
    if r.kustomizations.is_empty() && r.charts.is_empty() {
        out.push_str("No change to what Flux applies.\n");
        return out;
    }
    // Blocks of (opening, lines, closing): a cut falls between two lines.
    let mut blocks: Vec<(String, Vec<String>, &str)> = Vec::new();
    if !r.dangers.is_empty() {
        let lines = r
            .dangers
            .iter()
            .map(|d| {
                format!(
                    "- ⚠️ **{}** {}: {}\n",
                    d.kind,
                    code(&d.object),
                    text(&d.message)
                )
            })
            .collect();
        blocks.push(("**Danger notes**\n\n".into(), lines, "\n"));
    }
    if !r.images.is_empty() {
        let lines = r
            .images
            .iter()
            .map(|i| {
                format!(
                    "| {} | {} | {} | {} | {} |\n",
                    cell(&text(&i.kustomization)),
                    cell(&code(&i.object)),
                    cell(&text(&i.container)),
                    cell(&i.old.as_deref().map(code).unwrap_or_default()),
                    cell(&i.new.as_deref().map(code).unwrap_or_default())
                )
            })
            .collect();
        blocks.push((
            "**Images**\n\n| Kustomization | object | container | before | after |\n| --- | --- | --- | --- | --- |\n".into(),
            lines,
            "\n",
        ));
    }
    for c in &r.charts {
        let head = format!(
            "<b>{}</b> (chart <code>{}</code>)",
            text(&c.helm_release),
            text(&c.chart)
        );
        if !c.rendered {
            let why = c.note.as_deref().unwrap_or("");
            blocks.push((
                String::new(),
                vec![format!(
                    "{head}: not rendered ({}): review the values diff\n",
                    code(why)
                )],
                "\n",
            ));
            continue;
        }
        let count = |x: &str| c.objects.iter().filter(|o| o.change == x).count();
        let open = format!(
            "<details><summary>{head}, rendered by Helm: {} changed, {} added, {} removed</summary>\n\n",
            count("changed"),
            count("added"),
            count("removed")
        );
        let mut lines = Vec::new();
        if let Some(note) = &c.note {
            lines.push(format!("_{}._\n\n", text(note)));
        }
        for o in &c.objects {
            let extra = match (o.pruned, &o.why, c.hooks.get(&o.object)) {
                (_, Some(why), Some(_)) => format!(" ({})", text(why)),
                (_, None, Some(events)) => {
                    format!(" (Helm hook: {}, not a release object)", text(events))
                }
                (Some(true), Some(why), _) => format!(" ({})", text(why)),
                (Some(false), Some(why), _) => format!(" (left in the cluster: {})", text(why)),
                _ => String::new(),
            };
            lines.push(format!("- {} {}{extra}\n", o.change, code(&o.object)));
            object_fields(&o.fields, CHART_FIELDS, &mut lines);
        }
        blocks.push((open, lines, "\n</details>\n"));
    }
    for k in &r.kustomizations {
        let count = |c: &str| k.objects.iter().filter(|o| o.change == c).count();
        let open = format!(
            "<details><summary><b>{}</b> (<code>{}</code>): {} changed, {} added, {} removed</summary>\n\n",
            text(&k.name),
            text(&k.path),
            count("changed"),
            count("added"),
            count("removed")
        );
        let mut lines = Vec::new();
        for o in &k.objects {
            let plain = format!("Flux ({}, prune: true) deletes it from the cluster", k.name);
            let extra = match (o.pruned, &o.why) {
                (Some(true), Some(why)) if *why != plain => format!(" ({})", text(why)),
                (Some(true), _) => " (Flux prunes it)".to_string(),
                (Some(false), Some(why)) => format!(" (left in the cluster: {})", text(why)),
                _ => String::new(),
            };
            lines.push(format!("- {} {}{extra}\n", o.change, code(&o.object)));
            object_fields(&o.fields, usize::MAX, &mut lines);
        }
        blocks.push((open, lines, "\n</details>\n"));
    }
    let whole: usize = blocks
        .iter()
        .map(|(o, l, c)| o.len() + l.iter().map(String::len).sum::<usize>() + c.len())
        .sum();
    if out.len() + whole <= limit {
        for (open, lines, close) in blocks {
            out.push_str(&open);
            lines.iter().for_each(|l| out.push_str(l));
            out.push_str(close);
        }
        return out;
    }
    let note = "\n_Cut to fit GitHub's comment size: run `o4g diff` locally for the rest._\n";
    let fits = |out: &str, more: usize| out.len() + more + note.len() <= limit;
    for (open, lines, close) in blocks {
        if !fits(&out, open.len() + close.len()) {
            break;
        }
        out.push_str(&open);
        let mut cut = false;
        for l in &lines {
            if !fits(&out, l.len() + close.len()) {
                cut = true;
                break;
            }
            out.push_str(l);
        }
        out.push_str(close);
        if cut {
            break;
        }
    }
    out.push_str(note);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_shows_key_names_never_values() {
        let s = |v: &str| json!({"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": v}, "sops": {"mac": v}});
        let f = fields(&s("ENC[old]"), &s("ENC[new]"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "stringData.password");
        let text = serde_json::to_string(&f).unwrap();
        assert!(!text.contains("ENC["), "{text}");
    }

    #[test]
    fn kyverno_scope_reads_image_validating_policies_and_selectors() {
        let policy = |kind: &str, op: &str, action: &str| {
            json!({"apiVersion": "policies.kyverno.io/v1", "kind": kind,
                "metadata": {"name": format!("{kind}-{action}"),
                    "annotations": {"policies.kyverno.io/title": "signed"}},
                "spec": {"validationActions": [action], "matchConstraints": {"namespaceSelector":
                    {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": op,
                        "values": ["prod"]}]}}}})
        };
        let objects: BTreeMap<Key, Value> = [
            policy("ImageValidatingPolicy", "In", "Deny"),
            policy("ImageValidatingPolicy", "NotIn", "Audit"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}),
        ]
        .into_iter()
        .map(|o| (key(&o), o))
        .collect();
        let scope = kyverno_scope(&objects);
        let at = |ns: &str| scope[&("signed".to_string(), ns.to_string())].clone();
        assert_eq!(at("prod"), BTreeSet::from(["Deny".to_string()]));
        assert_eq!(at("web"), BTreeSet::from(["Audit".to_string()]));
    }

    #[test]
    fn a_rendered_chart_fits_the_comment_limit_with_its_fields_capped() {
        let field = |i: usize| FieldChange {
            path: format!("spec.f{i:03}"),
            old: Some("a\nb".into()),
            new: None,
        };
        let objects = (0..3000)
            .map(|i| ObjectDiff {
                object: format!("ConfigMap p/c{i}"),
                change: "changed",
                pruned: None,
                why: None,
                fields: (0..CHART_FIELDS + 5).map(field).collect(),
            })
            .collect();
        let r = Report {
            head: "HEAD (1234)".into(),
            warnings: Vec::new(),
            base: "main".into(),
            kustomizations: vec![KustomizationDiff {
                name: "a".into(),
                path: "out/a".into(),
                prune: true,
                objects: Vec::new(),
            }],
            images: Vec::new(),
            charts: vec![ChartDiff {
                kustomization: "a".into(),
                helm_release: "HelmRelease p/x".into(),
                chart: "x 1.0.0".into(),
                rendered: true,
                note: None,
                objects,
                hooks: Default::default(),
            }],
            dangers: Vec::new(),
        };
        let m = markdown(&r, COMMENT_LIMIT);
        assert!(
            m.len() <= COMMENT_LIMIT && m.contains("Cut to fit"),
            "{}",
            m.len()
        );
        assert_eq!(
            m.matches("<details>").count(),
            m.matches("</details>").count()
        );
        let first = m.split("- changed `ConfigMap p/c1`").next().unwrap();
        assert!(
            first.contains("  - `spec.f000`: `a⏎b` → (none)\n"),
            "{first}"
        );
        assert!(
            !first.contains(&format!("spec.f{CHART_FIELDS:03}")),
            "{first}"
        );
        assert!(first.contains("  - … and 5 more fields"), "{first}");
    }

    #[test]
    fn text_of_the_change_cannot_break_out_of_the_markdown() {
        let hostile = "a|b <img src=x onerror=alert(1)> & @octocat";
        let r = Report {
            head: "HEAD (1234)".into(),
            warnings: vec![format!("edits {hostile}")],
            base: "main".into(),
            kustomizations: vec![KustomizationDiff {
                name: hostile.into(),
                path: format!("out/{hostile}"),
                prune: true,
                objects: vec![ObjectDiff {
                    object: "ConfigMap p/c".into(),
                    change: "removed",
                    pruned: Some(true),
                    why: Some(hostile.into()),
                    fields: Vec::new(),
                }],
            }],
            images: vec![ImageChange {
                kustomization: hostile.into(),
                object: "Deployment p/|x".into(),
                container: hostile.into(),
                old: Some("i:1|2".into()),
                new: None,
            }],
            charts: vec![ChartDiff {
                kustomization: "a".into(),
                helm_release: format!("HelmRelease p/{hostile}"),
                chart: hostile.into(),
                rendered: false,
                note: Some(hostile.into()),
                objects: Vec::new(),
                hooks: Default::default(),
            }],
            dangers: vec![Danger {
                kind: "helm",
                object: "HelmRelease p/x".into(),
                message: hostile.into(),
            }],
        };
        let m = markdown(&r, COMMENT_LIMIT);
        // Outside inline code (shown as typed: no tag, no mention), nothing of it is live.
        let outside = regex::Regex::new("`[^`]*`").unwrap().replace_all(&m, "");
        assert!(!outside.contains("<img"), "{m}");
        assert!(!outside.contains("@octocat"), "{m}");
        assert!(!outside.contains(" & "), "{m}");
        assert!(
            m.contains("@\u{200B}octocat") && m.contains("&lt;img"),
            "{m}"
        );
        // Each image row keeps its five cells: every `|` of the change is escaped.
        let row = m.lines().find(|l| l.contains("Deployment")).unwrap();
        assert_eq!(row.replace("\\|", "").matches('|').count(), 6, "{row}");
    }

    #[test]
    fn the_markdown_fits_the_comment_limit() {
        let objects = (0..4000)
            .map(|i| ObjectDiff {
                object: format!("ConfigMap p/c{i}"),
                change: "added",
                pruned: None,
                why: None,
                fields: Vec::new(),
            })
            .collect();
        let r = Report {
            head: "HEAD (1234)".into(),
            warnings: Vec::new(),
            base: "main".into(),
            kustomizations: vec![
                KustomizationDiff {
                    name: "a".into(),
                    path: "out/a".into(),
                    prune: true,
                    objects,
                },
                KustomizationDiff {
                    name: "b".into(),
                    path: "out/b".into(),
                    prune: true,
                    objects: vec![ObjectDiff {
                        object: "x".into(),
                        change: "added",
                        pruned: None,
                        why: None,
                        fields: vec![],
                    }],
                },
            ],
            images: Vec::new(),
            charts: Vec::new(),
            dangers: Vec::new(),
        };
        let m = markdown(&r, COMMENT_LIMIT);
        assert!(m.len() <= COMMENT_LIMIT, "{} bytes", m.len());
        assert!(m.starts_with(MARKER) && m.contains("Cut to fit"));
        // The long section is cut between its lines, not dropped, and closed.
        assert!(m.contains("- added `ConfigMap p/c0`\n"), "{m}");
        assert!(!m.contains("`ConfigMap p/c3999`"));
        assert_eq!(
            m.matches("<details>").count(),
            m.matches("</details>").count()
        );
        // Within the limit, nothing is cut.
        let whole = markdown(&r, usize::MAX);
        assert!(whole.contains("`ConfigMap p/c3999`") && !whole.contains("Cut to fit"));
    }
}
