//! The namespaces the platform owns, with their labels and Pod Security levels.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Error;
use crate::object::Object;
use crate::settings::Environment;

/// Label carrying the environment (its name, or `platform`).
pub const ENVIRONMENT_LABEL: &str = "open4goods.org/environment";

/// Pod Security Standard version the namespaces enforce. Default: `v1.33`, the API level the
/// platform is built for, so that a cluster upgrade never tightens enforcement by surprise;
/// `audit` and `warn` use `latest` so new checks show up as warnings first.
pub const ENFORCE_VERSION: &str = "v1.33";

pub use crate::policy::Level;

/// The Pod Security a namespace enforces; anything below `restricted` carries its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodSecurity {
    level: Level,
    reason: Option<&'static str>,
}

impl PodSecurity {
    /// `restricted`, the default for everything the platform runs itself.
    pub const RESTRICTED: Self = Self {
        level: Level::Restricted,
        reason: None,
    };
    /// A lower level; the reason is written in code and in the generated docs.
    pub const fn relaxed(level: Level, reason: &'static str) -> Self {
        assert!(
            !reason.is_empty(),
            "a relaxed Pod Security level needs a reason"
        );
        Self {
            level,
            reason: Some(reason),
        }
    }
    /// The level.
    pub const fn level(self) -> Level {
        self.level
    }
    /// Why it is not `restricted`, if it is not.
    pub const fn reason(self) -> Option<&'static str> {
        self.reason
    }
}

/// A namespace of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformNamespace {
    /// Name.
    pub name: &'static str,
    /// Value of [`ENVIRONMENT_LABEL`].
    pub environment: &'static str,
    /// Pod Security.
    pub pod_security: PodSecurity,
    /// What runs there, for the docs.
    pub purpose: &'static str,
    /// Why the namespace has no default-deny NetworkPolicy of ours, if it has none (written on
    /// the Namespace as `open4goods.org/network-policy-reason`). `None`: default deny plus the
    /// declared flows, proven by the evaluator.
    pub network_policy_reason: Option<&'static str>,
}

impl PlatformNamespace {
    /// Its row in the generated docs.
    pub fn doc_row(&self) -> super::docs::NamespaceRow {
        super::docs::NamespaceRow {
            name: self.name,
            environment: self.environment,
            level: self.pod_security.level().as_str(),
            pod_security_reason: self.pod_security.reason(),
            network_policy_reason: self.network_policy_reason,
            purpose: self.purpose,
        }
    }
}

/// The application namespaces, one per environment, all `restricted`.
pub fn applications(envs: impl IntoIterator<Item = Environment>) -> Vec<PlatformNamespace> {
    envs.into_iter()
        .map(|env| PlatformNamespace {
            name: env.name(),
            environment: env.name(),
            pod_security: PodSecurity::RESTRICTED,
            purpose: "XWiki, MySQL and their backups",
            network_policy_reason: None,
        })
        .collect()
}

/// The Pod Security level of a namespace of `namespaces` (`restricted` for any other), as
/// `components::audit` gives it.
pub fn level_of(
    namespaces: &[PlatformNamespace],
) -> impl Fn(Option<&str>) -> crate::policy::Level + '_ {
    move |ns| {
        namespaces
            .iter()
            .find(|n| Some(n.name) == ns)
            .map_or(crate::policy::Level::Restricted, |n| n.pod_security.level())
    }
}

/// `observability`: `restricted`, because node-exporter (which needs the host) lives in a
/// namespace of its own.
pub fn observability() -> PlatformNamespace {
    PlatformNamespace {
        name: "observability",
        environment: "platform",
        pod_security: PodSecurity::RESTRICTED,
        purpose: "Prometheus, Alertmanager and Grafana (node-exporter lives in its own namespace)",
        network_policy_reason: None,
    }
}

/// The Namespace objects.
pub fn objects(namespaces: &[PlatformNamespace]) -> Result<Vec<Object>, Error> {
    namespaces
        .iter()
        .map(|ns| Object::new(&namespace(ns)))
        .collect()
}

/// One Namespace with part-of, environment and Pod Security labels.
pub fn namespace(ns: &PlatformNamespace) -> Namespace {
    let level = ns.pod_security.level.as_str();
    let pss = "pod-security.kubernetes.io";
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/part-of".to_string(),
            crate::PART_OF.to_string(),
        ),
        (ENVIRONMENT_LABEL.to_string(), ns.environment.to_string()),
        (format!("{pss}/enforce"), level.to_string()),
        (
            format!("{pss}/enforce-version"),
            ENFORCE_VERSION.to_string(),
        ),
        (format!("{pss}/audit"), level.to_string()),
        (format!("{pss}/audit-version"), "latest".to_string()),
        (format!("{pss}/warn"), level.to_string()),
        (format!("{pss}/warn-version"), "latest".to_string()),
    ]);
    let mut notes = BTreeMap::new();
    if let Some(r) = ns.pod_security.reason {
        notes.insert(
            "open4goods.org/pod-security-reason".to_string(),
            r.to_string(),
        );
    }
    if let Some(r) = ns.network_policy_reason {
        notes.insert(
            "open4goods.org/network-policy-reason".to_string(),
            r.to_string(),
        );
    }
    let annotations = (!notes.is_empty()).then_some(notes);
    Namespace {
        metadata: ObjectMeta {
            name: Some(ns.name.to_string()),
            labels: Some(labels),
            annotations,
            ..Default::default()
        },
        ..Default::default()
    }
}
