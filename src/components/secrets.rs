//! Secrets: which ones the platform needs, where the encrypted files go, and `.sops.yaml`.

use std::collections::BTreeMap;

use crate::Error;
use crate::secrets::RequiredSecret;
use crate::settings::{PLATFORM_SCOPE, Settings};
use crate::tree::{Folder, Tree};

/// Where cluster-wide Secrets are applied (with the controllers, decrypted by Flux).
pub const PLATFORM_SECRETS: &str = "platform-secrets";

/// Every Secret the platform reads, per scope, derived from the workloads and chart values.
pub fn required(settings: &Settings) -> Vec<RequiredSecret> {
    let mut out = Vec::new();
    for (env, _) in settings.envs() {
        let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in super::apps::secret_refs() {
            let keys = by_name.entry(r.secret).or_default();
            if !keys.iter().any(|k| k == r.key) {
                keys.push(r.key.to_string());
            }
        }
        if settings.env(env).backup.restore_test.is_some() {
            by_name.insert(
                super::backup::RESTORE_SOURCE_SECRET,
                super::backup::restore_source_keys(),
            );
        }
        for (name, mut keys) in by_name {
            keys.sort();
            out.push(RequiredSecret {
                scope: env.name().into(),
                namespace: env.name().into(),
                name: name.into(),
                keys,
            });
        }
    }
    out.push(RequiredSecret {
        scope: PLATFORM_SCOPE.into(),
        namespace: super::longhorn::namespace().name.into(),
        name: super::longhorn::BACKUP_SECRET.into(),
        keys: super::longhorn::BACKUP_SECRET_KEYS
            .map(String::from)
            .to_vec(),
    });
    out.push(RequiredSecret {
        scope: PLATFORM_SCOPE.into(),
        namespace: super::monitoring::NAMESPACE.into(),
        name: super::monitoring::GRAFANA_ADMIN_SECRET.into(),
        keys: vec!["admin-password".into(), "admin-user".into()],
    });
    out.push(RequiredSecret {
        scope: PLATFORM_SCOPE.into(),
        namespace: super::monitoring::NAMESPACE.into(),
        name: super::monitoring::ALERTMANAGER_SMTP_SECRET.into(),
        keys: vec!["password".into()],
    });
    let mut keys: Vec<String> = super::runner::GITHUB_APP_KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    keys.sort();
    out.push(RequiredSecret {
        scope: PLATFORM_SCOPE.into(),
        namespace: super::runner::RUNNER_NAMESPACE.into(),
        name: super::runner::GITHUB_APP_SECRET.into(),
        keys,
    });
    out
}

/// The namespace a platform-scope Secret belongs in, if the platform reads one of that name.
pub fn platform_namespace(name: &str) -> Option<&'static str> {
    if name == super::runner::GITHUB_APP_SECRET {
        return Some(super::runner::RUNNER_NAMESPACE);
    }
    if name == super::longhorn::BACKUP_SECRET {
        return Some(super::longhorn::namespace().name);
    }
    [
        super::monitoring::GRAFANA_ADMIN_SECRET,
        super::monitoring::ALERTMANAGER_SMTP_SECRET,
    ]
    .contains(&name)
    .then_some(super::monitoring::NAMESPACE)
}

/// Rules on Secret values that an upstream program mishandles (checked after decryption).
pub fn value_rules() -> Vec<crate::secrets::ValueRule> {
    vec![crate::secrets::ValueRule {
        secret: super::mysql::SECRET,
        key: "xwiki-password",
        problem: super::xwiki::db_password_problem,
    }]
}

/// Required Secrets that have no encrypted file, or lack keys.
pub fn missing(settings: &Settings) -> Vec<(RequiredSecret, Vec<String>)> {
    required(settings)
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

/// The encrypted files of `scope`, as (file name, bytes).
pub fn files_of<'a>(settings: &'a Settings, scope: &str) -> Vec<(&'a str, &'a [u8])> {
    settings
        .secret_files()
        .iter()
        .filter(|f| f.scope == scope)
        .map(|f| (f.file_name.as_str(), f.bytes.as_slice()))
        .collect()
}

/// `.sops.yaml` and the platform Secrets folder.
pub fn add_to_tree(tree: &mut Tree, settings: &Settings) -> Result<bool, Error> {
    tree.insert(
        ".sops.yaml",
        crate::tree::to_yaml(&[&crate::secrets::sops_config(&settings.recipients())])?,
    )?;
    let platform = files_of(settings, PLATFORM_SCOPE);
    if platform.is_empty() {
        return Ok(false);
    }
    let dir = format!("{}/{PLATFORM_SECRETS}", super::layout::CONTROLLERS);
    let mut folder = Folder::new(&dir);
    for (name, bytes) in platform {
        tree.insert(format!("{dir}/{name}"), bytes.to_vec())?;
        folder = folder.resource(name);
    }
    tree.add_folder(folder)?;
    Ok(true)
}
