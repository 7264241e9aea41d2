//! Secrets: which ones the platform needs, where the encrypted files go, and `.sops.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::secrets::RequiredSecret;
use crate::settings::{PLATFORM_SCOPE, Settings, SettingsError};
use crate::tree::{Folder, Tree};

/// Where cluster-wide Secrets are applied (with the controllers, decrypted by Flux).
pub const PLATFORM_SECRETS: &str = "platform-secrets";

/// `secrets` ordered by scope: the environments in listing order, then `platform`; the order
/// within a scope is kept.
pub fn sorted(
    settings: &Settings,
    secrets: impl IntoIterator<Item = RequiredSecret>,
) -> Vec<RequiredSecret> {
    let scopes = settings.scopes();
    let mut out: Vec<RequiredSecret> = secrets.into_iter().collect();
    out.sort_by_key(|r| scopes.iter().position(|s| *s == r.scope));
    out
}

/// The namespace a platform-scope Secret belongs in, if the platform reads one of that name.
pub fn platform_namespace<'a>(required: &'a [RequiredSecret], name: &str) -> Option<&'a str> {
    required
        .iter()
        .find(|r| r.scope == PLATFORM_SCOPE && r.name == name)
        .map(|r| r.namespace.as_str())
}

/// Rules on Secret values that an upstream program mishandles (checked after decryption).
pub fn value_rules() -> Vec<crate::secrets::ValueRule> {
    let mut rules = vec![crate::secrets::ValueRule {
        secret: super::mysql::SECRET,
        key: "xwiki-password",
        problem: super::xwiki::db_password_problem,
    }];
    rules.push(crate::secrets::ValueRule {
        secret: super::alerts::ALERTMANAGER_HEARTBEAT_SECRET,
        key: "url",
        problem: super::alerts::heartbeat_url_problem,
    });
    rules.extend(
        super::backup::FILE_CREDENTIALS
            .iter()
            .map(|&(secret, key)| crate::secrets::ValueRule {
                secret,
                key,
                problem: super::backup::file_credential_problem,
            }),
    );
    rules
}

/// Required Secrets that have no encrypted file, or lack keys.
pub fn missing(
    settings: &Settings,
    required: Vec<RequiredSecret>,
) -> Vec<(RequiredSecret, Vec<String>)> {
    required
        .into_iter()
        .filter_map(|r| {
            let file = settings
                .secret_files()
                .iter()
                .find(|f| f.scope == r.scope && f.secret.name == r.name);
            let lacking: Vec<String> = match file {
                None => r.keys.clone(),
                Some(f) => r
                    .keys
                    .iter()
                    .filter(|k| !f.secret.keys.contains(k))
                    .cloned()
                    .collect(),
            };
            (!lacking.is_empty()).then_some((r, lacking))
        })
        .collect()
}

/// Each scope's row of `out/docs/secrets.md`: its recipients, where its Secrets land and
/// which Kustomization decrypts them.
pub fn doc_rows(settings: &Settings) -> Vec<super::docs::ScopeRow> {
    settings
        .recipients()
        .into_iter()
        .map(|(scope, recipients)| {
            let (target, kustomization) = if scope == PLATFORM_SCOPE {
                (
                    format!("{}/{PLATFORM_SECRETS}/", super::layout::CONTROLLERS),
                    super::flux::INFRA_CONTROLLERS.to_string(),
                )
            } else {
                (
                    format!("out/apps/overlays/{scope}/secrets/"),
                    format!("apps-{scope}"),
                )
            };
            super::docs::ScopeRow {
                scope,
                recipients,
                target,
                kustomization,
            }
        })
        .collect()
}

/// `.sops.yaml` and the platform Secrets folder.
pub fn add_to_tree(tree: &mut Tree, settings: &Settings) -> Result<bool, Error> {
    tree.insert(
        ".sops.yaml",
        crate::tree::to_yaml(&[&crate::secrets::sops_config(&settings.recipients())])?,
    )?;
    let mut platform = settings.secret_files_in(PLATFORM_SCOPE).peekable();
    if platform.peek().is_none() {
        return Ok(false);
    }
    let dir = format!("{}/{PLATFORM_SECRETS}", super::layout::CONTROLLERS);
    let mut folder = Folder::new(&dir);
    for f in platform {
        tree.insert_with_objects(
            format!("{dir}/{}", f.file_name),
            f.bytes.clone(),
            vec![f.object.clone()],
        )?;
        folder = folder.resource(f.file_name.as_str());
    }
    tree.add_folder(folder)?;
    Ok(true)
}

/// The Secrets (scope, name) that the committed `out/` holds, read without following
/// symlinks: `out/apps/overlays/<env>/secrets/` and the platform Secrets folder. A Secret
/// that is there and has gone from `overlays/` is not "missing": Flux would prune it.
pub fn previously_rendered(root: &Path, scopes: &[String]) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for scope in scopes {
        let dir = if scope == PLATFORM_SCOPE {
            PathBuf::from(format!(
                "{}/{}",
                super::layout::CONTROLLERS,
                PLATFORM_SECRETS
            ))
        } else {
            PathBuf::from(format!("out/apps/overlays/{scope}/secrets"))
        };
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            let Ok(text) = crate::input::read_input(root, &rel) else {
                continue;
            };
            let Ok(docs) = crate::yaml_read::parse_documents(&rel, &text) else {
                continue;
            };
            for d in docs.iter().filter(|d| crate::secrets::is_secret(d)) {
                if let Some(name) = d["metadata"]["name"].as_str() {
                    out.insert((scope.clone(), name.to_string()), rel.display().to_string());
                }
            }
        }
    }
    out
}

/// Every platform Secret file names the namespace the platform reads it in (see
/// [`check_platform_namespace`]); run by [`super::build`] and `o4g secrets`.
pub fn check_platform_files(
    settings: &Settings,
    required: &[RequiredSecret],
) -> Result<(), SettingsError> {
    for f in settings
        .secret_files()
        .iter()
        .filter(|f| f.scope == PLATFORM_SCOPE)
    {
        let rel = crate::secrets::secrets_dir(&f.scope).join(&f.file_name);
        let text = String::from_utf8_lossy(&f.bytes);
        check_platform_namespace(&rel, &text, &f.secret.name, required)?;
    }
    Ok(())
}

/// A platform Secret must go to the namespace the platform reads it in: Flux applies
/// `overlays/platform/secrets/` with cluster-wide rights, so a `metadata.namespace` of
/// `kube-system` would plant a Secret there.
fn check_platform_namespace(
    rel: &Path,
    text: &str,
    name: &str,
    required: &[RequiredSecret],
) -> Result<(), SettingsError> {
    let expected = platform_namespace(required, name);
    let docs = crate::yaml_read::parse_documents(rel, text)
        .map_err(|e| SettingsError::unreadable(rel, e.to_string()))?;
    let found = docs
        .first()
        .and_then(|d| d["metadata"]["namespace"].as_str());
    match expected {
        None => Err(SettingsError::unreadable(
            rel,
            format!("Secret `{name}` is not one the platform reads (see `o4g secrets list`)"),
        )),
        Some(ns) if found != Some(ns) => Err(SettingsError::unreadable(
            rel,
            format!(
                "Secret `{name}` must have metadata.namespace `{ns}` (found {})",
                found.map_or("none".to_string(), |f| format!("`{}`", f.escape_default()))
            ),
        )),
        Some(_) => Ok(()),
    }
}
