//! Turning a parse or validation failure into a diagnostic with file, line, column and key.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// A Secret file that fails the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), key.as_ref().map(|k| format!(": key `{k}`")).unwrap_or_default())]
pub struct SecretError {
    /// The file.
    pub file: PathBuf,
    /// The key of `data`/`stringData` (or of `sops`) involved.
    pub key: Option<String>,
    /// What is wrong (never the value).
    pub message: String,
}

/// A bad setting: where it is, which key, and what is wrong (with what is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The file, as given (relative to the repository root when loaded by [`crate::settings::Settings::load`]).
    pub file: PathBuf,
    /// 1-based line of the offending text (0 when the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted key path, e.g. `xwiki.host`, when the error belongs to a key.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
    rendered: String,
}

impl SettingsError {
    /// An error at `span` (byte offsets) of `source`.
    pub fn at(
        file: impl Into<PathBuf>,
        source: &str,
        span: Option<Range<usize>>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let file = file.into();
        let message = message.into();
        let masked = mask_userinfo(source);
        let source = masked.as_str();
        let span = span.unwrap_or(0..0);
        let start = span.start.min(source.len());
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        let name = file.display().to_string();
        let headline = match &key {
            Some(k) => format!("{name}:{line}:{column}: invalid setting `{k}`: {message}"),
            None => format!("{name}:{line}:{column}: {message}"),
        };
        let snippet = SimpleFile::new(name, source);
        let label = Label::primary((), start..span.end.clamp(start, source.len())).with_message(
            key.as_deref()
                .map_or_else(String::new, |k| format!("key `{k}`")),
        );
        let diagnostic = Diagnostic::error()
            .with_message(headline)
            .with_labels(vec![label]);
        let config = term::Config::default();
        let rendered = term::emit_into_string(&config, &snippet, &diagnostic)
            .unwrap_or_else(|_| diagnostic.message.clone());
        Self {
            file,
            line,
            column,
            key,
            message,
            rendered,
        }
    }

    /// An error in a Secret file: file and key only, never a snippet (it could show a value).
    pub fn secret(err: SecretError) -> Self {
        let rendered = format!("error: {err}\n");
        Self {
            file: err.file,
            line: 0,
            column: 0,
            key: err.key,
            message: err.message,
            rendered,
        }
    }

    /// An error at a known line and column of `file`, shown as `shown` (no snippet).
    pub fn positioned(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        key: Option<&str>,
        message: String,
        shown: String,
    ) -> Self {
        Self {
            file: file.into(),
            line,
            column,
            key: key.map(String::from),
            message,
            rendered: shown,
        }
    }

    /// An error that has no position (a file that cannot be read).
    pub fn unreadable(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        let file = file.into();
        let message = message.into();
        let rendered = format!("error: {}: {message}\n", file.display());
        Self {
            file,
            line: 0,
            column: 0,
            key: None,
            message,
            rendered,
        }
    }
}

/// The source with the user-info part of every URL (`https://user:password@host`) replaced by
/// as many `*`, so a quoted line never shows credentials and spans keep their offsets.
fn mask_userinfo(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str(&"*".repeat(tail[..at].len()));
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User text (values, file names, the quoted source) never reaches the terminal raw:
        // control characters other than newline are escaped.
        let safe: String = self
            .rendered
            .trim_end()
            .chars()
            .flat_map(|c| {
                if c.is_control() && c != '\n' {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect();
        f.write_str(&safe)
    }
}

impl std::error::Error for SettingsError {}
