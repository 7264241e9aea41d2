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

/// One place sops would read age identities from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// The variable or file, as a person would name it.
    pub name: String,
    /// Set on purpose (an environment variable), rather than a default file that exists.
    pub explicit: bool,
}

/// Where sops v3.11.0 looks for age identities, in its order, keeping those present:
/// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`, `SOPS_AGE_KEY`,
/// `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`, then `<user config dir>/sops/age/keys.txt`
/// (getsops/sops@v3.11.0 age/keysource.go:34-40 names, `loadAgeSSHIdentities` and
/// `loadIdentities` at ~300-330; Go's `os.UserConfigDir` is `$XDG_CONFIG_HOME`, else
/// `$HOME/.config`). An environment variable counts when set, as sops's `os.LookupEnv` does.
pub fn key_sources() -> Vec<KeySource> {
    let var = |name: &str| {
        std::env::var_os(name).map(|_| KeySource {
            name: name.to_string(),
            explicit: true,
        })
    };
    let file = |path: PathBuf| {
        path.is_file().then(|| KeySource {
            name: path.display().to_string(),
            explicit: false,
        })
    };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    [
        var("SOPS_AGE_SSH_PRIVATE_KEY_FILE"),
        home.as_ref().and_then(|h| file(h.join(".ssh/id_ed25519"))),
        home.as_ref().and_then(|h| file(h.join(".ssh/id_rsa"))),
        var("SOPS_AGE_KEY"),
        var("SOPS_AGE_KEY_FILE"),
        var("SOPS_AGE_KEY_CMD"),
        config.and_then(|c| file(c.join("sops/age/keys.txt"))),
    ]
    .into_iter()
    .flatten()
    .collect()
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
