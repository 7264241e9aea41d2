//! The plain model of the report, shared by `diff` and `diff::charts`: an object's key and
//! label, its changed fields, and the changes the report lists. It uses neither of them, so
//! the two do not depend on each other (tests/modules.rs).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// One object's change.
#[derive(Debug, Serialize)]
pub struct ObjectDiff {
    /// `Kind namespace/name` (or `Kind name`).
    pub object: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// For a removed object: Flux deletes it from the cluster (or may: see `why`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<bool>,
    /// For a removed object: why Flux deletes it or leaves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Changed fields (for a Secret: key names only).
    pub fields: Vec<FieldChange>,
}

/// One changed field.
#[derive(Debug, Serialize)]
pub struct FieldChange {
    /// `spec.template.spec.containers[0].image`.
    pub path: String,
    /// Old value (absent: the field is new; never set for a Secret's data).
    pub old: Option<String>,
    /// New value (absent: the field is gone; never set for a Secret's data).
    pub new: Option<String>,
}

/// An image that changes.
#[derive(Debug, Serialize)]
pub struct ImageChange {
    /// The Flux Kustomization (environment for `apps-<env>`).
    pub kustomization: String,
    /// The workload.
    pub object: String,
    /// The container.
    pub container: String,
    /// Before (absent: new container).
    pub old: Option<String>,
    /// After (absent: container gone).
    pub new: Option<String>,
}

/// A change a reviewer must look at twice.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Danger {
    /// `immutable`, `prune`, `storage`, `reachability`, `pod-security`, `kyverno`, `helm`.
    pub kind: &'static str,
    /// The object (or the flow).
    pub object: String,
    /// What happens.
    pub message: String,
}

pub(super) type Key = (String, String, String);

pub(super) fn key(o: &Value) -> Key {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    (
        s(&o["kind"]),
        s(&o["metadata"]["namespace"]),
        s(&o["metadata"]["name"]),
    )
}

pub(super) fn label((kind, ns, name): &Key) -> String {
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// Leaves of a JSON value by path (`a.b[0].c`).
pub(super) fn leaves(v: &Value, prefix: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else if k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    format!("{prefix}.{k}")
                } else {
                    format!("{prefix}[{k:?}]")
                };
                leaves(x, p, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{prefix}[{i}]"), out);
            }
        }
        _ => {
            out.insert(prefix, v.clone());
        }
    }
}

pub(super) fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Field changes of one object; a Secret's `data`/`stringData` by key name only, its SOPS
/// metadata left out.
pub(super) fn fields(old: &Value, new: &Value) -> Vec<FieldChange> {
    let secret = old["kind"] == "Secret" || new["kind"] == "Secret";
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(old, String::new(), &mut a);
    leaves(new, String::new(), &mut b);
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for p in names {
        let (x, y) = (a.get(p), b.get(p));
        if x == y {
            continue;
        }
        if secret && (p == "sops" || p.starts_with("sops.") || p.starts_with("sops[")) {
            continue;
        }
        if secret && (p.starts_with("data") || p.starts_with("stringData")) {
            // Key name only: the value is never printed.
            out.push(FieldChange {
                path: p.clone(),
                old: x.map(|_| "(value not shown)".to_string()),
                new: y.map(|_| "(value not shown)".to_string()),
            });
            continue;
        }
        if let (Some(Value::String(a)), Some(Value::String(b))) = (x, y)
            && (a.contains('\n') || b.contains('\n'))
        {
            // A text (a config file in a ConfigMap): the lines that change, not its first
            // 120 characters.
            let (gone, came) = changed_lines(a, b);
            out.push(FieldChange {
                path: p.clone(),
                old: Some(gone),
                new: Some(came),
            });
            continue;
        }
        out.push(FieldChange {
            path: p.clone(),
            old: x.map(short),
            new: y.map(short),
        });
    }
    out
}

/// The lines of `a` that `b` drops and the lines `b` adds, each joined with ` ⏎ `.
fn changed_lines(a: &str, b: &str) -> (String, String) {
    let (mut gone, mut came) = (Vec::new(), Vec::new());
    for c in similar::TextDiff::from_lines(a, b).iter_all_changes() {
        let line = c.value().trim_end_matches('\n').trim().to_string();
        match c.tag() {
            similar::ChangeTag::Delete => gone.push(line),
            similar::ChangeTag::Insert => came.push(line),
            similar::ChangeTag::Equal => {}
        }
    }
    let join = |v: Vec<String>| {
        let s = v.join(" ⏎ ");
        short(&Value::String(if s.is_empty() {
            "(no line)".into()
        } else {
            s
        }))
    };
    (join(gone), join(came))
}
