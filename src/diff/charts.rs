//! A HelmRelease change as what its chart renders: for each HelmRelease whose chart, version,
//! values, release name, namespace or CRD policy differ between the two sides, the chart is
//! rendered at both with Helm's own library and the rendered objects are compared like the
//! rest of the report (added, removed, changed fields; Secrets by key name only).
//!
//! `o4g` holds no Helm: it runs a renderer, `python3 RENDERER` (default
//! `tests/helm/render.py`, the script the tests render the charts with: PyPI
//! `helm-python-sdk`, the Helm v4 Go library), with the protocol that script documents, on the
//! chart sources of a chart cache (`<cache>/<chart>-<version>/`, filled from
//! `.ci/upstream.toml` by `.ci/upstream.py fetch`). A chart that is not in the cache, or a
//! renderer that fails, leaves the values diff with a note saying why.
//!
//! The mapping of a HelmRelease to a Helm install is helm-controller's, as its CRD documents it
//! (`../shared/schemas/helm.toolkit.fluxcd.io/helmrelease_v2.json`, datreeio/CRDs-catalog@7b1e26ef):
//! `releaseName` defaults to `[targetNamespace-]name`, the install namespace is
//! `targetNamespace`, else the HelmRelease's; `upgrade.crds` (default `Skip`) decides what of
//! the chart's `crds/` an upgrade applies: `Create` creates new CRDs only, `CreateReplace`
//! also replaces changed ones, and neither deletes a CRD. A `chartRef` names an OCIRepository:
//! the chart is the last segment of its URL, the version its `ref.tag`.
//!
//! A HelmRelease on both sides is an upgrade: helm-controller runs Helm's upgrade action, which
//! renders with `.Release.IsUpgrade` true, `IsInstall` false and the next revision
//! (helm/helm@v4.2.3 pkg/action/upgrade.go:284-292), so both sides render that way. The
//! renderer gets the API versions each side's `out/` uses (`.Capabilities.APIVersions`, as
//! `helm template --api-versions`; Helm adds them to its defaults, pkg/action/install.go:336).
//! An object with a `helm.sh/hook` annotation is a hook, not a release object: Helm sorts hooks
//! out of the release's manifest (pkg/action/action.go:464, `SortManifests`) and an upgrade
//! deletes only what the old manifest holds and the new one does not (pkg/action/upgrade.go:347
//! and :358, `current` and `target` built from the two manifests), so a removed hook is never
//! reported as deleted and a changed one gets no danger notes (its delete policy recreates it).
//! The renderer runs under a deadline ([`ChartCache::timeout`]); past it, it is killed and the
//! section says so.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::model::{Danger, ImageChange, Key, ObjectDiff, fields, key, label};

/// Where the charts come from and what renders them.
#[derive(Debug, Clone)]
pub struct ChartCache {
    /// The chart cache of the working tree's side (`$O4G_SHARED/charts`, `../shared/charts`).
    pub head: PathBuf,
    /// The chart cache of the base's side (its `.ci/upstream.toml` may pin other versions).
    pub base: PathBuf,
    /// The renderer script, run as `python3 RENDERER`.
    pub renderer: PathBuf,
    /// How long one run of the renderer may take before it is killed.
    pub timeout: Duration,
}

/// The annotation that makes a rendered object a Helm hook.
const HOOK: &str = "helm.sh/hook";

/// The hook events of a Helm hook (`pre-upgrade,post-install`), or None for a release object.
fn hook(o: &Value) -> Option<&str> {
    o["metadata"]["annotations"][HOOK].as_str()
}

/// One HelmRelease's change as the objects its chart renders.
#[derive(Debug, Serialize)]
pub struct ChartDiff {
    /// The Flux Kustomization that applies the HelmRelease.
    pub kustomization: String,
    /// `HelmRelease namespace/name`.
    pub helm_release: String,
    /// `chart version`, or `chart old → chart new`.
    pub chart: String,
    /// The chart was rendered at both sides; `objects` is what changes.
    pub rendered: bool,
    /// Why it was not rendered, or what was left out of a render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The rendered objects that change.
    pub objects: Vec<ObjectDiff>,
    /// The objects of `objects` that are Helm hooks (not release objects), with their events.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hooks: BTreeMap<String, String>,
}

/// What helm-controller hands to Helm for one HelmRelease.
#[derive(Debug, Clone, PartialEq)]
struct Inputs {
    chart: String,
    version: String,
    name: String,
    namespace: String,
    values: Value,
    /// `spec.upgrade.crds`: `Skip`, `Create` or `CreateReplace`.
    crds: String,
}

impl Inputs {
    fn chart(&self) -> String {
        format!("{} {}", self.chart, self.version)
    }
}

fn inputs(hr: &Value, objects: &BTreeMap<Key, Value>) -> Result<Inputs, String> {
    let spec = &hr["spec"];
    let hr_ns = hr["metadata"]["namespace"].as_str().unwrap_or_default();
    let hr_name = hr["metadata"]["name"].as_str().unwrap_or_default();
    let (chart, version) = if let Some(c) = spec["chart"]["spec"].as_object() {
        (
            c.get("chart").and_then(Value::as_str),
            c.get("version").and_then(Value::as_str),
        )
    } else if spec["chartRef"]["kind"] == "OCIRepository" {
        let name = spec["chartRef"]["name"].as_str().unwrap_or_default();
        let ns = spec["chartRef"]["namespace"].as_str().unwrap_or(hr_ns);
        let repo = objects
            .get(&("OCIRepository".into(), ns.into(), name.into()))
            .ok_or_else(|| format!("its OCIRepository {ns}/{name} is not in out/"))?;
        (
            repo["spec"]["url"]
                .as_str()
                .and_then(|u| u.rsplit('/').next()),
            repo["spec"]["ref"]["tag"].as_str(),
        )
    } else {
        (None, None)
    };
    let (Some(chart), Some(version)) = (chart, version) else {
        return Err(
            "its chart and version are not named by a chart.spec or an OCIRepository tag".into(),
        );
    };
    let target = spec["targetNamespace"].as_str();
    Ok(Inputs {
        chart: chart.to_string(),
        version: version.to_string(),
        name: spec["releaseName"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| match target {
                Some(t) => format!("{t}-{hr_name}"),
                None => hr_name.to_string(),
            }),
        namespace: target.unwrap_or(hr_ns).to_string(),
        values: if spec["values"].is_null() {
            json!({})
        } else {
            spec["values"].clone()
        },
        crds: spec["upgrade"]["crds"]
            .as_str()
            .unwrap_or("Skip")
            .to_string(),
    })
}

/// The chart folder in a cache: a real folder (a symlink is not followed).
fn chart_dir(cache: &Path, i: &Inputs) -> Result<PathBuf, String> {
    let dir = cache.join(format!("{}-{}", i.chart, i.version));
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(dir),
        _ => Err(format!(
            "chart {} is not in the chart cache {}",
            i.chart(),
            cache.display()
        )),
    }
}

/// One render: (template objects, CRDs), each by key.
type Rendered = (BTreeMap<Key, Value>, BTreeMap<Key, Value>);

/// The API versions a side's objects use (`group/version` and `group/version/Kind`, Helm's
/// two forms), with the versions its CustomResourceDefinitions serve: what the cluster serves
/// beyond Helm's built-in set, as far as `out/` tells.
fn api_versions(objects: &BTreeMap<Key, Value>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for o in objects.values() {
        if let (Some(v), Some(k)) = (o["apiVersion"].as_str(), o["kind"].as_str()) {
            out.insert(v.to_string());
            out.insert(format!("{v}/{k}"));
        }
        if o["kind"] == "CustomResourceDefinition" {
            let (group, kind) = (&o["spec"]["group"], &o["spec"]["names"]["kind"]);
            for v in o["spec"]["versions"].as_array().into_iter().flatten() {
                if let (Some(g), Some(k), Some(n)) =
                    (group.as_str(), kind.as_str(), v["name"].as_str())
                    && v["served"] != false
                {
                    out.insert(format!("{g}/{n}"));
                    out.insert(format!("{g}/{n}/{k}"));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// One release to render: its inputs, its chart folder, the cluster's API versions.
type Release<'a> = (&'a Inputs, &'a Path, &'a [String]);

/// Renders `releases` in one run of the renderer, as upgrades, killed after `timeout`.
fn render(
    renderer: &Path,
    timeout: Duration,
    releases: &[Release],
) -> Result<Vec<Rendered>, String> {
    let request = json!({
        "kube_version": format!("{}.0", crate::components::namespaces::ENFORCE_VERSION),
        "api_versions": [],
        "releases": releases.iter().map(|(i, dir, apis)| json!({
            "name": i.name,
            "namespace": i.namespace,
            "chart_dir": dir,
            "values": i.values,
            "crds": true,
            "upgrade": true,
            "api_versions": apis,
        })).collect::<Vec<_>>(),
    });
    let failed = |e: std::io::Error| format!("python3 {}: {e}", renderer.display());
    let mut child = Command::new("python3")
        .arg(renderer)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let mut stdin = child.stdin.take().expect("piped");
    let body = request.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(failed)? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the Helm render timed out: python3 {} was killed after {} s",
                renderer.display(),
                timeout.as_secs_f32()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "the Helm render failed (python3 {}): {last}",
            renderer.display()
        ));
    }
    let answer: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the Helm render's answer: {e}"))?;
    let mut rendered = Vec::new();
    for (r, (i, ..)) in answer["releases"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(releases)
    {
        let objects = |texts: &Value, ns: Option<&str>| -> Result<BTreeMap<Key, Value>, String> {
            let mut out = BTreeMap::new();
            for t in texts.as_array().into_iter().flatten() {
                let docs = crate::yaml_read::parse_documents(
                    Path::new(&i.chart()),
                    t.as_str().unwrap_or(""),
                )
                .map_err(|e| format!("{} renders YAML that does not parse: {e}", i.chart()))?;
                for mut d in docs {
                    if !d.is_object() {
                        continue;
                    }
                    let kind = d["kind"].as_str().unwrap_or_default();
                    if let Some(ns) = ns
                        && d["metadata"]["namespace"].is_null()
                        && !crate::settings::extra::CLUSTER_SCOPED_KINDS.contains(&kind)
                    {
                        d["metadata"]["namespace"] = json!(ns);
                    }
                    out.insert(key(&d), d);
                }
            }
            Ok(out)
        };
        rendered.push((
            objects(&r["manifests"], Some(&i.namespace))?,
            objects(&r["crds"], None)?,
        ));
    }
    if rendered.len() != releases.len() {
        return Err("the Helm render answered for fewer releases than asked".into());
    }
    Ok(rendered)
}

/// Field paths that differ between two renders of the same inputs (random values: generated
/// passwords, certificates, and the checksums of them).
fn unstable(a: &BTreeMap<Key, Value>, b: &BTreeMap<Key, Value>) -> BTreeSet<(Key, String)> {
    let mut out = BTreeSet::new();
    for (k, x) in a {
        if let Some(y) = b.get(k) {
            for f in fields(x, y) {
                out.insert((k.clone(), f.path));
            }
        }
    }
    out
}

/// The objects of a chart that an upgrade from `old` to `new` changes.
fn object_changes(
    old: &Rendered,
    new: &Rendered,
    crds: &str,
    skip: &BTreeSet<(Key, String)>,
) -> Vec<ObjectDiff> {
    const KEEP: &str = "helm.sh/resource-policy";
    let mut out = Vec::new();
    let mut compare = |before: &BTreeMap<Key, Value>, after: &BTreeMap<Key, Value>, is_crd| {
        for k in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let object = label(k);
            match (before.get(k), after.get(k)) {
                (None, Some(_)) => out.push(ObjectDiff {
                    object,
                    change: "added",
                    pruned: None,
                    why: None,
                    fields: Vec::new(),
                }),
                (Some(_), None) if is_crd => {}
                (Some(o), None) if hook(o).is_some() => out.push(ObjectDiff {
                    object,
                    change: "removed",
                    pruned: None,
                    why: Some(format!(
                        "a Helm hook ({}), not in the release's manifest: an upgrade does not delete it",
                        hook(o).unwrap_or_default()
                    )),
                    fields: Vec::new(),
                }),
                (Some(o), None) => {
                    let keep = o["metadata"]["annotations"][KEEP] == "keep";
                    out.push(ObjectDiff {
                        object,
                        change: "removed",
                        pruned: Some(!keep),
                        why: Some(if keep {
                            format!("{KEEP}: keep on the object")
                        } else {
                            "Helm deletes it on upgrade".into()
                        }),
                        fields: Vec::new(),
                    });
                }
                (Some(o), Some(n)) if o != n && !(is_crd && crds != "CreateReplace") => {
                    let f: Vec<_> = fields(o, n)
                        .into_iter()
                        .filter(|f| !skip.contains(&(k.clone(), f.path.clone())))
                        .collect();
                    if !f.is_empty() {
                        out.push(ObjectDiff {
                            object,
                            change: "changed",
                            pruned: None,
                            why: None,
                            fields: f,
                        });
                    }
                }
                _ => {}
            }
        }
    };
    compare(&old.0, &new.0, false);
    if crds != "Skip" {
        compare(&old.1, &new.1, true);
    }
    out
}

/// The report's checks of one object's change, which the rendered objects get too.
pub(super) struct Checks {
    /// Pushes the image changes of `object` (under the Kustomization `ks`): `(out, ks, object,
    /// old, new)`.
    pub images: fn(&mut Vec<ImageChange>, &str, &str, &Value, &Value),
    /// Pushes the danger notes of a changed `object`: `(out, object, old, new)`.
    pub dangers: fn(&mut Vec<Danger>, &str, &Value, &Value),
}

/// What one changed HelmRelease gives the report.
pub(super) struct Found {
    /// The chart's section.
    pub chart: ChartDiff,
    /// The image changes of its rendered objects.
    pub images: Vec<ImageChange>,
    /// The danger notes of its rendered objects.
    pub dangers: Vec<Danger>,
    /// What completes the HelmRelease's `helm` values note: what the chart renders, or why it
    /// was not rendered.
    pub values_note: String,
}

/// A [`Found`] for each HelmRelease whose inputs differ, in key order.
pub(super) fn add(
    old: &BTreeMap<Key, Value>,
    new: &BTreeMap<Key, Value>,
    kustomization_of: &BTreeMap<Key, String>,
    cache: Option<&ChartCache>,
    checks: &Checks,
) -> Vec<Found> {
    let mut found = Vec::new();
    let (apis_old, apis_new) = (api_versions(old), api_versions(new));
    for (k, n) in new.iter().filter(|(k, _)| k.0 == "HelmRelease") {
        let Some(o) = old.get(k) else { continue };
        let ks = kustomization_of.get(k).cloned().unwrap_or_default();
        let helm_release = label(k);
        let (io, inew) = (inputs(o, old), inputs(n, new));
        if io == inew {
            continue;
        }
        let chart = match (&io, &inew) {
            (Ok(a), Ok(b)) if a.chart() == b.chart() => b.chart(),
            (Ok(a), Ok(b)) => format!("{} → {}", a.chart(), b.chart()),
            _ => "(unknown)".into(),
        };
        let result = (|| {
            let (io, inew) = (io?, inew?);
            let cache = cache.ok_or("no chart cache was given: o4g diff --charts DIR")?;
            let (dir_o, dir_n) = (chart_dir(&cache.base, &io)?, chart_dir(&cache.head, &inew)?);
            let (apis_o, apis_n) = (&apis_old, &apis_new);
            let r = render(
                &cache.renderer,
                cache.timeout,
                &[
                    (&io, &dir_o, apis_o),
                    (&io, &dir_o, apis_o),
                    (&inew, &dir_n, apis_n),
                    (&inew, &dir_n, apis_n),
                ],
            )?;
            let mut skip = unstable(&r[0].0, &r[1].0);
            skip.extend(unstable(&r[2].0, &r[3].0));
            skip.extend(unstable(&r[0].1, &r[1].1));
            skip.extend(unstable(&r[2].1, &r[3].1));
            let objects = object_changes(&r[0], &r[2], &inew.crds, &skip);
            Ok::<_, String>((objects, skip.len(), r))
        })();
        let mut diff = ChartDiff {
            kustomization: ks.clone(),
            helm_release: helm_release.clone(),
            chart,
            rendered: false,
            note: None,
            objects: Vec::new(),
            hooks: BTreeMap::new(),
        };
        let (mut images, mut dangers) = (Vec::new(), Vec::new());
        let suffix = match result {
            Ok((objects, skipped, r)) => {
                let count = |c: &str| objects.iter().filter(|o| o.change == c).count();
                let suffix = format!(
                    "; the chart renders {} changed, {} added, {} removed objects (under {helm_release} below)",
                    count("changed"),
                    count("added"),
                    count("removed")
                );
                for object in &objects {
                    let k = r[0]
                        .0
                        .keys()
                        .chain(r[2].0.keys())
                        .find(|k| label(k) == object.object);
                    if let Some(k) = k {
                        let (before, after) = (
                            r[0].0.get(k).unwrap_or(&Value::Null),
                            r[2].0.get(k).unwrap_or(&Value::Null),
                        );
                        (checks.images)(&mut images, &ks, &object.object, before, after);
                        if let Some(events) = hook(after).or(hook(before)) {
                            diff.hooks.insert(object.object.clone(), events.to_string());
                            continue;
                        }
                        if object.change == "changed" {
                            (checks.dangers)(&mut dangers, &object.object, before, after);
                        }
                        if object.pruned == Some(true)
                            && matches!(
                                k.0.as_str(),
                                "PersistentVolumeClaim" | "StatefulSet" | "Namespace"
                            )
                        {
                            dangers.push(Danger {
                                kind: "prune",
                                object: object.object.clone(),
                                message: format!("{helm_release}: Helm deletes it on upgrade"),
                            });
                        }
                    }
                }
                diff.rendered = true;
                diff.objects = objects;
                if skipped > 0 {
                    diff.note = Some(format!(
                        "{skipped} field(s) differ between two renders of the same values (random values such as generated passwords, and their checksums) and are left out"
                    ));
                }
                suffix
            }
            Err(why) => {
                let suffix = format!(
                    "; the chart's rendered objects are not shown ({why}): review the values diff"
                );
                diff.note = Some(why);
                suffix
            }
        };
        found.push(Found {
            chart: diff,
            images,
            dangers,
            values_note: suffix,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(list: &[Value]) -> BTreeMap<Key, Value> {
        list.iter().map(|o| (key(o), o.clone())).collect()
    }

    #[test]
    fn random_fields_are_left_out_and_the_crd_policy_is_followed() {
        let secret = |pw: &str, user: &str| {
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                "data": {"password": pw, "user": user}})
        };
        let crd = |v: &str| json!({"kind": "CustomResourceDefinition", "metadata": {"name": "c"}, "spec": {"v": v}});
        let kept = json!({"kind": "ConfigMap", "metadata": {"name": "k", "namespace": "n",
            "annotations": {"helm.sh/resource-policy": "keep"}}});
        let gone = json!({"kind": "StatefulSet", "metadata": {"name": "g", "namespace": "n"}});
        // Two renders of the same values differ in the generated password only.
        let (a, b) = (
            objects(&[secret("r1", "u"), kept.clone(), gone.clone()]),
            objects(&[secret("r2", "u"), kept, gone]),
        );
        let skip = unstable(&a, &b);
        assert_eq!(skip.len(), 1, "{skip:?}");
        let old = (a, objects(&[crd("1")]));
        let new = (
            objects(&[secret("r3", "v")]),
            objects(&[
                crd("2"),
                json!({"kind": "CustomResourceDefinition", "metadata": {"name": "d"}}),
            ]),
        );
        let changes = |crds: &str| {
            object_changes(&old, &new, crds, &skip)
                .into_iter()
                .map(|o| {
                    let f: Vec<String> = o.fields.iter().map(|f| f.path.clone()).collect();
                    (o.object, o.change, o.pruned, f)
                })
                .collect::<Vec<_>>()
        };
        let templates = vec![
            ("ConfigMap n/k".to_string(), "removed", Some(false), vec![]),
            (
                "Secret n/s".to_string(),
                "changed",
                None,
                vec!["data.user".to_string()],
            ),
            ("StatefulSet n/g".to_string(), "removed", Some(true), vec![]),
        ];
        assert_eq!(changes("Skip"), templates);
        let mut create = templates.clone();
        create.push(("CustomResourceDefinition d".into(), "added", None, vec![]));
        assert_eq!(changes("Create"), create);
        let mut replace = create.clone();
        replace.insert(
            3,
            (
                "CustomResourceDefinition c".into(),
                "changed",
                None,
                vec!["spec.v".into()],
            ),
        );
        assert_eq!(changes("CreateReplace"), replace);
    }
}
