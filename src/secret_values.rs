//! The decrypting check of Secret values, wherever it runs: `secrets check --decrypt` (every
//! scope, or one with `--scope`) and `render` when the caller gives sops an age key. Values are
//! decrypted in memory by the real `sops` ([`crate::secrets::decrypt`]) and never printed; a
//! refused value is named by file, Secret and key.

use std::path::PathBuf;

use crate::settings::Settings;

/// What the check found.
#[derive(Debug, Default)]
pub struct Checked {
    /// One line per refused value: file, Secret, key and why (never the value).
    pub problems: Vec<String>,
    /// Files decrypted and checked.
    pub checked: Vec<PathBuf>,
    /// Files the caller's key could not decrypt, with sops's reason.
    pub not_decrypted: Vec<String>,
}

/// True when the caller gives sops an age key in its environment (`SOPS_AGE_KEY_FILE` or
/// `SOPS_AGE_KEY`, sops v3.11.0 `age/keysource.go`).
pub fn key_given() -> bool {
    ["SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Decrypts the Secret files of `scope` (every scope when `None`) and checks their values:
/// empty values and `secrets template` placeholders everywhere
/// ([`crate::secrets::unfilled`]), and the rules of
/// [`crate::components::secrets::value_rules`].
pub fn check(settings: &Settings, scope: Option<&str>) -> Checked {
    let rules = crate::components::secrets::value_rules();
    let mut out = Checked::default();
    for f in settings
        .secret_files()
        .iter()
        .filter(|f| scope.is_none_or(|s| f.scope == s))
    {
        let file = crate::secrets::secrets_dir(&f.scope).join(&f.file_name);
        match crate::secrets::decrypt(&f.bytes) {
            Ok(doc) => {
                out.problems
                    .extend(crate::secrets::check_values(&file, &doc, &rules));
                out.checked.push(file);
            }
            Err(e) => out.not_decrypted.push(format!("{}: {e}", file.display())),
        }
    }
    out
}
