//! What a check is, and the helpers every check file uses (`use super::check::*`).

pub(super) use serde_json::Value;

pub(super) use crate::policy::rule::{Finding, Level, PssVersion};
pub(super) use crate::policy::view::{ContainerRef, PodView};

/// One Pod Security check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Upstream check id (`privileged`, `runAsNonRoot`, …).
    pub id: &'static str,
    /// The lowest level that includes it.
    pub level: Level,
    /// First policy minor version (`1.N`) that has it.
    pub since: u32,
    /// What it forbids.
    pub description: &'static str,
    pub(super) eval: fn(&PodView<'_>, u32) -> Vec<Finding>,
}

pub(super) fn finding(
    id: &str,
    path: String,
    container: Option<String>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        rule: format!("pss:{id}"),
        path,
        container,
        message: message.into(),
    }
}

pub(super) fn on_container(
    id: &str,
    pod: &PodView<'_>,
    c: &ContainerRef<'_>,
    field: &str,
    message: impl Into<String>,
) -> Finding {
    finding(id, c.path(pod.prefix, field), Some(c.name()), message)
}

pub(super) fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// A pod in a user namespace (`hostUsers: false`): from v1.35 the baseline procMount and the
/// restricted runAsNonRoot and runAsUser checks allow it (upstream `relaxPolicyForUserNamespacePod`,
/// k8s.io/pod-security-admission v0.36.2 `policy/helpers.go:41-43`).
pub(super) fn in_user_namespace(pod: &PodView<'_>) -> bool {
    pod.spec["hostUsers"].as_bool() == Some(false)
}
