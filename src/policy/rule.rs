//! What every rule speaks in: Pod Security levels and versions, and a finding inside a pod.

use serde::Serialize;

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
/// follow k8s.io/pod-security-admission v0.36.2 (Kubernetes 1.36) and the one v1.37 change,
/// the two sysctls `sysctlsAllowedV1Dot37` adds (`pss/sysctls.rs`). Upstream's `latest` is
/// likewise the newest `MinimumVersion` any check registers.
pub const LATEST_MINOR: u32 = 37;

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

impl PssVersion {
    /// What `--pss-version` accepts, naming the version `latest` stands for.
    pub fn help() -> String {
        format!(
            "Pod Security policy version: `v1.N`, or `latest` = v1.{LATEST_MINOR}, the newest the checks know \
             (k8s.io/pod-security-admission v0.36.2 and v1.37's sysctls); newer versions are checked as v1.{LATEST_MINOR}"
        )
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
