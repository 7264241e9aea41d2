//! `o4g lint`: the policy rules on any YAML files or folders.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::policy::{self, AuditConfig, Violation};

/// A file that cannot be read or parsed (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LintInputError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A violation with the file it was found in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileViolation {
    /// The file.
    pub file: String,
    /// The violation.
    #[serde(flatten)]
    pub violation: Violation,
}

/// The YAML files under `paths` (files as given, folders walked in name order).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LintInputError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p).sort_by_file_name() {
                let e = e.map_err(|e| input_error(p, 0, 0, e.to_string()))?;
                let yaml = e
                    .path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml");
                if e.file_type().is_file() && yaml {
                    files.push(e.into_path());
                }
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(input_error(p, 0, 0, "no such file or folder".into()));
        }
    }
    Ok(files)
}

/// Symlinks inside the folders of `paths`: never followed by [`collect_files`], reported by
/// the command so that nothing is skipped silently.
pub fn symlinks_in(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| p.is_dir())
        .flat_map(|p| {
            walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.path_is_symlink())
                .map(walkdir::DirEntry::into_path)
        })
        .collect()
}

fn input_error(file: &Path, line: usize, column: usize, message: String) -> LintInputError {
    LintInputError {
        file: file.display().to_string(),
        line,
        column,
        message,
    }
}

/// Parses one YAML text into its objects (multi-document, `List` items flattened), through
/// the one hardened reader ([`crate::yaml_read`]).
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<serde_json::Value>, LintInputError> {
    let docs = crate::yaml_read::read_documents(text)
        .map_err(|e| input_error(file, e.line, e.column, e.message))?;
    Ok(docs.into_iter().flat_map(policy::flatten).collect())
}

/// Lints files and folders; violations sorted by file, object, rule and path.
pub fn lint(paths: &[PathBuf], cfg: &AuditConfig) -> Result<Vec<FileViolation>, LintInputError> {
    let mut out = Vec::new();
    for file in collect_files(paths)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| input_error(&file, 0, 0, format!("cannot read: {e}")))?;
        for object in parse_documents(&file, &text)? {
            for violation in policy::audit_object(&object, cfg) {
                out.push(FileViolation {
                    file: file.display().to_string(),
                    violation,
                });
            }
        }
    }
    out.sort();
    Ok(out)
}
