//! The library's error type; `main` is the one place that reports it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Everything that can stop a build, a render or a check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad settings: the message is a full diagnostic naming file, line, column and key.
    #[error("{0}")]
    Settings(#[from] crate::diagnostic::SettingsError),
    /// A component produced something inconsistent (a bug in the code, not in the input).
    #[error("build error: {0}")]
    Build(String),
    /// The tree breaks policy rules; nothing is written.
    #[error("{} policy violation(s); nothing was written:\n{}", .0.len(), .0.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n"))]
    Violations(Vec<Violation>),
    /// The checkout holds something render must not touch (a symlink under `out/`, …);
    /// nothing was changed.
    #[error("{0}")]
    Unsafe(String),
    /// The render changes fields the API server will not patch; nothing was written.
    #[error("{} change(s) the API server would refuse; nothing was written ({}):\n{}", .0.len(), if .0.iter().all(|c| c.never) { "no flag allows them" } else { "render with --allow-immutable-change once the procedure is done" }, .0.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    Immutable(Vec<ImmutableChange>),
    /// Another render holds the checkout's lock.
    #[error("{0}")]
    Busy(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl Error {
    /// Process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Settings(_) => 2,
            Error::Build(_)
            | Error::Violations(_)
            | Error::Io { .. }
            | Error::Unsafe(_)
            | Error::Immutable(_)
            | Error::Busy(_) => 1,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
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

/// One refused change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImmutableChange {
    /// `Kind namespace/name`.
    pub object: String,
    /// The field.
    pub field: String,
    /// Old and new value, in full.
    pub change: String,
    /// What to do instead, with the environment's real names and sizes.
    pub procedure: String,
    /// No procedure makes it right: `--allow-immutable-change` does not write it either
    /// (a smaller claim template than the live claims).
    pub never: bool,
}

impl fmt::Display for ImmutableChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}` cannot change ({}); the API server refuses it and Flux's apply would fail. {}",
            self.object, self.field, self.change, self.procedure
        )
    }
}
