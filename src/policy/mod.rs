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
mod rule;
mod view;

use serde_json::Value;

pub use view::PodView;

pub use crate::error::Violation;
pub use rule::{Finding, LATEST_MINOR, Level, PssVersion};

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
        // Files audited when added: their findings.
        if let Some(found) = tree.audited(path) {
            out.extend_from_slice(found);
            continue;
        }
        // Files built from typed objects are audited on those objects, not re-parsed.
        let parsed;
        let objects = match tree.objects_of(path) {
            Some(objects) => objects,
            None => {
                let text = String::from_utf8_lossy(bytes);
                parsed = crate::yaml_read::parse_documents(std::path::Path::new(path), &text)
                    .map_err(|e| crate::Error::Build(e.to_string()))?;
                &parsed
            }
        };
        out.extend(audit_objects(path, objects, &level_of, allowed_registries));
    }
    out.sort();
    Ok(out)
}

/// Audits the objects of the file at `path`, each at the level `level_of` gives its namespace;
/// each finding is named with the file.
pub fn audit_objects(
    path: &str,
    objects: &[Value],
    level_of: impl Fn(Option<&str>) -> Level,
    allowed_registries: &[String],
) -> Vec<Violation> {
    let mut out = Vec::new();
    for object in objects {
        let cfg = AuditConfig {
            level: level_of(object["metadata"]["namespace"].as_str()),
            version: PssVersion::Latest,
            allowed_registries: allowed_registries.to_vec(),
        };
        out.extend(audit_object(object, &cfg).into_iter().map(|mut v| {
            v.object = format!("{path}: {}", v.object);
            v
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A file audited when added reports what `audit_tree` finds in the same file kept with
    /// its objects; a Flux object is kept.
    #[test]
    fn a_file_audited_when_added_has_the_findings_of_a_kept_one() {
        let plain_secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "a"}, "stringData": {"k": "plain"}});
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}});
        let objects = vec![plain_secret, pod];
        let level_of = |ns: Option<&str>| {
            if ns == Some("a") {
                Level::Privileged
            } else {
                Level::Restricted
            }
        };
        let registries = vec!["docker.io".to_string()];
        let mut kept = crate::tree::Tree::new();
        kept.insert_with_objects("out/x.yaml", b"x".to_vec(), objects.clone())
            .unwrap();
        let mut audited = crate::tree::Tree::new();
        audited
            .insert_audited("out/x.yaml", b"x".to_vec(), &objects, |p, o| {
                audit_objects(p, o, level_of, &registries)
            })
            .unwrap();
        assert!(audited.objects_of("out/x.yaml").is_none());
        let expected = audit_tree(&kept, &registries, level_of).unwrap();
        assert!(expected.iter().any(|v| v.rule == "sops-encrypted"));
        assert!(
            expected
                .iter()
                .any(|v| v.object.starts_with("out/x.yaml: Pod/a/p"))
        );
        assert_eq!(
            audit_tree(&audited, &registries, level_of).unwrap(),
            expected
        );

        let flux = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization", "metadata": {"name": "k", "namespace": "flux-system"}});
        let mut t = crate::tree::Tree::new();
        t.insert_audited(
            "out/f.yaml",
            b"f".to_vec(),
            std::slice::from_ref(&flux),
            |_, _| Vec::new(),
        )
        .unwrap();
        assert_eq!(t.objects_of("out/f.yaml"), Some(&[flux][..]));
    }
}
