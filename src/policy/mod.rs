//! One rule set, enforced at three points: `render` (audit of the in-memory tree), the cluster
//! (Kyverno `ValidatingPolicy` objects emitted from [`kyverno`]) and `o4g lint` (any YAML).
//!
//! Rules:
//! - Pod Security Standards `baseline` and `restricted`, every check, versioned as the
//!   Kubernetes admission controller evaluates them ([`pss`]);
//! - image digest required, no `latest` and no tagless image, allowed registries ([`images`]);
//! - `runAsNonRoot`, CPU and memory requests and limits ([`containers`]).
//!
//! Rules read objects as JSON values, not typed structs, so that fields newer than the
//! k8s-openapi API level (`ulimits`, `cgroupOptions`) and hand-written YAML are seen as they are.

pub mod containers;
pub mod images;
pub mod kyverno;
pub mod pss;
mod view;

use std::fmt;

use serde::Serialize;
use serde_json::Value;

pub use view::PodView;

/// A Pod Security Standards level, ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Unrestricted: only for node-level agents that need it.
    Privileged,
    /// Blocks known privilege escalations only.
    Baseline,
    /// Hardened: what every workload of ours meets by construction.
    Restricted,
}

impl Level {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::Baseline => "baseline",
            Self::Privileged => "privileged",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "restricted" => Ok(Self::Restricted),
            "baseline" => Ok(Self::Baseline),
            "privileged" => Ok(Self::Privileged),
            _ => Err(format!(
                "`{s}` is not a level: expected restricted, baseline or privileged"
            )),
        }
    }
}

/// The newest Pod Security policy version the checks know (`latest` means this): the checks
/// follow k8s.io/pod-security-admission v0.36.2 (Kubernetes 1.36), its newest release.
pub const LATEST_MINOR: u32 = 36;

/// A Pod Security policy version: `latest` or `v1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PssVersion {
    /// The newest checks.
    Latest,
    /// The checks as of Kubernetes `v1.N`.
    Minor(u32),
}

impl PssVersion {
    /// The minor version the checks run at.
    pub const fn minor(self) -> u32 {
        match self {
            Self::Latest => LATEST_MINOR,
            // Versions newer than the checks behave as the newest, as upstream does.
            Self::Minor(n) if n > LATEST_MINOR => LATEST_MINOR,
            Self::Minor(n) => n,
        }
    }
}

impl std::str::FromStr for PssVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "latest" {
            return Ok(Self::Latest);
        }
        s.strip_prefix("v1.")
            .and_then(|n| n.parse::<u32>().ok())
            .map(Self::Minor)
            .ok_or_else(|| {
                format!("`{s}` is not a policy version: expected `latest` or `v1.N` (e.g. v1.33)")
            })
    }
}

/// One broken rule: which object, which container, which rule, which field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Violation {
    /// `Kind/namespace/name` or `Kind/name`.
    pub object: String,
    /// The rule, e.g. `pss:privileged` or `image-digest`.
    pub rule: String,
    /// Field path, e.g. `spec.template.spec.containers[0].securityContext.privileged`.
    pub path: String,
    /// The container involved, if any.
    pub container: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.object, self.rule, self.path)?;
        if let Some(c) = &self.container {
            write!(f, " (container {c})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Pod Security level. `Privileged` skips the PSS checks.
    pub level: Level,
    /// Pod Security policy version.
    pub version: PssVersion,
    /// Registry hosts images may come from.
    pub allowed_registries: Vec<String>,
}

impl AuditConfig {
    /// `restricted` at `latest` with the given registries: what app namespaces get.
    pub fn strict(allowed_registries: Vec<String>) -> Self {
        Self {
            level: Level::Restricted,
            version: PssVersion::Latest,
            allowed_registries,
        }
    }
}

/// A finding inside one pod, before it is attached to its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id.
    pub rule: String,
    /// Path relative to the object.
    pub path: String,
    /// Container name, if any.
    pub container: Option<String>,
    /// Message.
    pub message: String,
}

/// Audits one object (any kind; only pods and pod controllers have rules).
pub fn audit_object(object: &Value, cfg: &AuditConfig) -> Vec<Violation> {
    if crate::secrets::is_secret(object) {
        return match crate::secrets::check_secret(std::path::Path::new(""), object, None) {
            Ok(_) => Vec::new(),
            Err(e) => vec![Violation {
                object: object_id(object),
                rule: "sops-encrypted".into(),
                path: e.key.unwrap_or_default(),
                container: None,
                message: e.message,
            }],
        };
    }
    let Some(pod) = PodView::of(object) else {
        return Vec::new();
    };
    let id = object_id(object);
    let mut findings = Vec::new();
    if cfg.level != Level::Privileged {
        findings.extend(pss::check(&pod, cfg.level, cfg.version));
    }
    findings.extend(images::check(&pod, &cfg.allowed_registries));
    findings.extend(containers::check(&pod));
    let mut out: Vec<Violation> = findings
        .into_iter()
        .map(|f| Violation {
            object: id.clone(),
            rule: f.rule,
            path: f.path,
            container: f.container,
            message: f.message,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `Kind/namespace/name` of any object value.
pub fn object_id(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("?");
    let name = v["metadata"]["name"].as_str().unwrap_or("?");
    match v["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Objects in a value: the value itself, or the items of a `List`.
pub fn flatten(v: Value) -> Vec<Value> {
    let is_list = v["kind"]
        .as_str()
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && v["items"].is_array();
    if is_list {
        match v {
            Value::Object(mut m) => match m.remove("items") {
                Some(Value::Array(items)) => items.into_iter().flat_map(flatten).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    } else {
        vec![v]
    }
}

/// Audits every YAML object of a tree. `level_of` gives the Pod Security level for an object's
/// namespace (`None` when the object carries none).
pub fn audit_tree(
    tree: &crate::tree::Tree,
    allowed_registries: &[String],
    level_of: impl Fn(Option<&str>) -> Level,
) -> Result<Vec<Violation>, crate::Error> {
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        // Overlay patches are fragments, audited once applied (components::audit).
        if !path.ends_with(".yaml") || path.contains("/patches/") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let objects = crate::lint::parse_documents(std::path::Path::new(path), &text)
            .map_err(|e| crate::Error::Build(e.to_string()))?;
        for object in objects {
            let cfg = AuditConfig {
                level: level_of(object["metadata"]["namespace"].as_str()),
                version: PssVersion::Latest,
                allowed_registries: allowed_registries.to_vec(),
            };
            out.extend(audit_object(&object, &cfg).into_iter().map(|mut v| {
                v.object = format!("{path}: {}", v.object);
                v
            }));
        }
    }
    out.sort();
    Ok(out)
}
