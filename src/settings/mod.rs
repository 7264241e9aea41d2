//! Settings: `overlays/cluster.toml` (cluster-wide) and `overlays/<env>/env.toml`.
//!
//! Parsed into typed structs with unknown keys rejected. Every error, syntactic or semantic,
//! is a [`SettingsError`] naming the file, the line and column, the key and what is allowed.

pub mod extra;
pub mod image_pins;
pub mod ingress;
pub mod values;
mod zone;

mod backup;
mod cluster;
mod cutover;
mod environment;
mod monitoring;
mod mysql;
mod network;
mod resources;
mod sops;
mod xwiki;

pub use backup::{BackupSettings, RestoreTestSettings, S3Settings, VolumeBackupSettings};
pub use cluster::{AcmeSettings, ClusterSettings, FluxSettings, GitSettings, RegistrySettings};
pub use cutover::CutoverSettings;
pub use environment::{EnvSettings, Environment, EnvironmentsSettings, MAX_ENVIRONMENT_NAME};
pub use monitoring::{AlertingSettings, MonitoringSettings};
pub use mysql::{DATABASE as XWIKI_DATABASE, MysqlSettings, MysqlVersion};
pub use network::NetworkSettings;
pub use resources::{ComputeSettings, ResourceSettings};
pub use sops::{AgeRecipients, PLATFORM_SCOPE, SecretFile, SopsSettings};
pub use xwiki::{ClusterIssuer, XwikiSettings};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;

pub use crate::diagnostic::SettingsError;
pub use ingress::{IngressController, IngressSettings};
use values::DnsName;
pub use values::SmtpHost;

pub use crate::input::{OVERLAYS_DIR, read_input};

/// All settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cluster-wide settings.
    pub cluster: ClusterSettings,
    /// Every environment with its settings, in listing order.
    envs: Vec<(Environment, EnvSettings)>,
    production: Environment,
    rehearsal: Environment,
    secrets: Vec<SecretFile>,
    extras: Vec<extra::ExtraFile>,
}

impl Settings {
    /// Reads and validates `overlays/` under `root`. File names in errors are relative to `root`.
    pub fn load(root: &Path) -> Result<Self, SettingsError> {
        let found = discover_environments(root)?;
        let cluster_file = PathBuf::from(OVERLAYS_DIR).join("cluster.toml");
        let (cluster, cluster_src) = read_toml::<ClusterSettings>(root, &cluster_file)?;
        let roles = Roles::check(&cluster, &cluster_file, &cluster_src, found)?;
        check_registries(&cluster, &cluster_file, &cluster_src)?;
        check_recipients(&cluster, &cluster_file, &cluster_src, &roles.order)?;
        let legacy_db = &cluster.cutover.legacy_database;
        if legacy_db.get_ref() != mysql::DATABASE {
            return Err(SettingsError::at(
                &cluster_file,
                &cluster_src,
                Some(legacy_db.span()),
                Some("cutover.legacy_database".into()),
                format!(
                    "the legacy schema `{}` is not `{}`, the one the cluster's XWiki uses: the dump \
                     restores it under its own name, so XWiki would start on an empty database; \
                     rename it on the legacy server first (docs/runbooks/cutover-*.md, \"The schema\")",
                    legacy_db.get_ref(),
                    mysql::DATABASE
                ),
            ));
        }
        let retain = &cluster.s3.volume_backups.retain;
        check_range(
            &cluster_file,
            &cluster_src,
            "s3.volume_backups.retain",
            retain,
            1..=100,
        )?;
        let mut envs = Vec::new();
        let mut hosts: Vec<(DnsName, Environment)> = Vec::new();
        // Every env.toml read and parsed on the cores there are, then checked in listing
        // order (the first error is the one a loop over them meets).
        let parsed = crate::parallel::map(&roles.order, |&env| {
            read_toml::<EnvSettings>(root, &env_file(env))
        });
        for (&env, parsed) in roles.order.iter().zip(parsed) {
            let file = env_file(env);
            let (settings, src) = parsed?;
            let host = settings.xwiki.host.get_ref();
            if let Some((_, other)) = hosts.iter().find(|(h, _)| h == host) {
                return Err(SettingsError::at(
                    &file,
                    &src,
                    Some(settings.xwiki.host.span()),
                    Some("xwiki.host".into()),
                    format!(
                        "`{host}` is already the host of `{other}`: each environment needs its own host"
                    ),
                ));
            }
            zone::check_host_in_zone(&file, &src, &settings.xwiki.host, &cluster.cutover.dns_zone)?;
            let pins = &settings.images;
            image_pins::resolve(
                &file,
                &src,
                "images.xwiki",
                pins.xwiki.as_ref(),
                crate::images::XWIKI,
                None,
            )?;
            let mysql = settings.mysql.version.image();
            let line = mysql.tag().rsplit_once('.').map(|(line, _)| line);
            image_pins::resolve(
                &file,
                &src,
                "images.mysql",
                pins.mysql.as_ref(),
                mysql,
                line,
            )?;
            for (key, res) in [
                ("xwiki.resources", &settings.xwiki.resources),
                ("mysql.resources", &settings.mysql.resources),
            ] {
                if let Err(message) = res.get_ref().check() {
                    return Err(SettingsError::at(
                        &file,
                        &src,
                        Some(res.span()),
                        Some(key.into()),
                        message,
                    ));
                }
            }
            let b = &settings.backup;
            check_range(
                &file,
                &src,
                "backup.retention_days",
                &b.retention_days,
                1..=3650,
            )?;
            check_range(&file, &src, "backup.keep_copies", &b.keep_copies, 1..=1000)?;
            if let Some(t) = &b.restore_test {
                let source = t.source.get_ref();
                let known = roles.order.iter().any(|e| e.name() == source);
                if !known || source == env.name() {
                    let names: Vec<&str> = roles
                        .order
                        .iter()
                        .map(|e| e.name())
                        .filter(|n| *n != env.name())
                        .collect();
                    return Err(SettingsError::at(
                        &file,
                        &src,
                        Some(t.source.span()),
                        Some("backup.restore_test.source".into()),
                        format!(
                            "`{source}` is not another environment: expected one of {}",
                            names.join(", ")
                        ),
                    ));
                }
            }
            hosts.push((host.clone(), env));
            envs.push((env, settings));
        }
        let mut settings = Self {
            cluster,
            envs,
            production: roles.production,
            rehearsal: roles.rehearsal,
            secrets: Vec::new(),
            extras: Vec::new(),
        };
        (settings.secrets, settings.extras) = load_secrets(root, &settings)?;
        Ok(settings)
    }

    /// Like [`Settings::load`] without reading the Secret files (for commands that create them).
    pub fn load_without_secrets(root: &Path) -> Result<Self, SettingsError> {
        let found = discover_environments(root)?;
        let cluster_file = PathBuf::from(OVERLAYS_DIR).join("cluster.toml");
        let (cluster, src) = read_toml::<ClusterSettings>(root, &cluster_file)?;
        let roles = Roles::check(&cluster, &cluster_file, &src, found)?;
        let mut envs = Vec::new();
        for &env in &roles.order {
            envs.push((env, read_toml::<EnvSettings>(root, &env_file(env))?.0));
        }
        Ok(Self {
            cluster,
            envs,
            production: roles.production,
            rehearsal: roles.rehearsal,
            secrets: Vec::new(),
            extras: Vec::new(),
        })
    }

    /// age recipients per scope: one per environment, and `platform`.
    pub fn recipients(&self) -> BTreeMap<String, Vec<String>> {
        self.cluster
            .sops
            .age_recipients
            .get_ref()
            .iter()
            .map(|(scope, keys)| {
                let keys = keys.iter().map(|a| a.as_str().to_string()).collect();
                (scope.clone(), keys)
            })
            .collect()
    }

    /// The secret scopes: every environment, then [`PLATFORM_SCOPE`].
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.environments().map(Environment::name).collect();
        out.push(PLATFORM_SCOPE);
        out
    }

    /// The encrypted Secret files of one scope, in file name order.
    pub fn secret_files_in(&self, scope: &str) -> impl Iterator<Item = &SecretFile> {
        self.secrets.iter().filter(move |f| f.scope == scope)
    }

    /// The checked hand-written manifests of `scope` (`overlays/<scope>/extra/`), in file
    /// name order.
    pub fn extra_files_of(&self, scope: &str) -> impl Iterator<Item = &extra::ExtraFile> {
        self.extras.iter().filter(move |f| f.scope == scope)
    }

    /// The encrypted Secret files found under `overlays/`.
    pub fn secret_files(&self) -> &[SecretFile] {
        &self.secrets
    }

    /// Settings of one environment.
    ///
    /// # Panics
    /// If `env` is not one of [`Settings::environments`] (every handle a caller holds comes
    /// from there or from [`Settings::environment`]).
    pub fn env(&self, env: Environment) -> &EnvSettings {
        &self
            .envs
            .iter()
            .find(|(e, _)| *e == env)
            .unwrap_or_else(|| panic!("`{env}` is not an environment of these settings"))
            .1
    }

    /// The environment called `name`, if the checkout has one.
    pub fn environment(&self, name: &str) -> Option<Environment> {
        self.environments().find(|e| e.name() == name)
    }

    /// The environment called `name`, or an error listing the ones there are (for CLI
    /// arguments such as `--env`).
    pub fn environment_arg(&self, flag: &str, name: &str) -> Result<Environment, String> {
        self.environment(name).ok_or_else(|| {
            format!(
                "{flag} `{}` is not an environment: expected one of {}",
                name.escape_default(),
                self.environment_names().join(", ")
            )
        })
    }

    /// Every environment, in listing order.
    pub fn environments(&self) -> impl Iterator<Item = Environment> + '_ {
        self.envs.iter().map(|(e, _)| *e)
    }

    /// The environments' names, in listing order.
    pub fn environment_names(&self) -> Vec<&'static str> {
        self.environments().map(Environment::name).collect()
    }

    /// The production environment (`[environments] production`).
    pub fn production(&self) -> Environment {
        self.production
    }

    /// Where the cutover is rehearsed (`[environments] rehearsal`).
    pub fn rehearsal(&self) -> Environment {
        self.rehearsal
    }

    /// The registry allow-list as plain strings.
    pub fn allowed_registries(&self) -> Vec<String> {
        self.cluster
            .registries
            .allowed
            .get_ref()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect()
    }

    /// Every environment with its settings, in listing order.
    pub fn envs(&self) -> impl Iterator<Item = (Environment, &EnvSettings)> {
        self.envs.iter().map(|(e, s)| (*e, s))
    }
}

/// `overlays/<env>/env.toml`.
fn env_file(env: Environment) -> PathBuf {
    PathBuf::from(OVERLAYS_DIR)
        .join(env.name())
        .join("env.toml")
}

/// The environments of the checkout: the folders of `overlays/` that hold an `env.toml`, in
/// name order. Any other folder but the platform scope is an error naming it, rather than
/// silently ignored (a typo'd `overlays/stagign/` would otherwise deploy nothing).
fn discover_environments(root: &Path) -> Result<Vec<Environment>, SettingsError> {
    let dir = root.join(OVERLAYS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new()); // reading cluster.toml reports the missing folder
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        // `file_type` does not follow links: a linked folder is refused by the secrets walk.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let folder = PathBuf::from(OVERLAYS_DIR).join(&name);
        let has_settings = std::fs::symlink_metadata(root.join(&folder).join("env.toml")).is_ok();
        if name == PLATFORM_SCOPE {
            if has_settings {
                return Err(SettingsError::unreadable(
                    folder.join("env.toml"),
                    format!(
                        "`{PLATFORM_SCOPE}` is the scope of cluster-wide Secrets and cannot be an environment"
                    ),
                ));
            }
            continue;
        }
        if !has_settings {
            return Err(SettingsError::unreadable(
                folder,
                format!(
                    "is neither an environment (it has no env.toml) nor the `{PLATFORM_SCOPE}` secret scope: an environment is a folder overlays/<name>/ with an env.toml (copy one of another environment)"
                ),
            ));
        }
        let env = Environment::new(&name)
            .map_err(|message| SettingsError::unreadable(&folder, message))?;
        out.push(env);
    }
    Ok(out)
}

/// The environments in listing order, with the production and rehearsal ones.
struct Roles {
    order: Vec<Environment>,
    production: Environment,
    rehearsal: Environment,
}

impl Roles {
    /// Checks `[environments]` against the folders found.
    fn check(
        cluster: &ClusterSettings,
        file: &Path,
        src: &str,
        found: Vec<Environment>,
    ) -> Result<Self, SettingsError> {
        let e = &cluster.environments;
        let names =
            |list: &[Environment]| list.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ");
        if found.is_empty() {
            return Err(SettingsError::unreadable(
                OVERLAYS_DIR,
                "has no environment: create overlays/<name>/env.toml",
            ));
        }
        let lookup = |key: &str, value: &Spanned<String>| {
            found
                .iter()
                .copied()
                .find(|e| e.name() == value.get_ref())
                .ok_or_else(|| {
                    SettingsError::at(
                        file,
                        src,
                        Some(value.span()),
                        Some(key.into()),
                        format!(
                            "`{}` is not an environment (a folder overlays/<name>/ with an env.toml): expected one of {}",
                            value.get_ref().escape_default(),
                            names(&found)
                        ),
                    )
                })
        };
        let mut order = Vec::new();
        if let Some(listed) = &e.order {
            for name in listed.get_ref() {
                let item = Spanned::new(listed.span(), name.clone());
                let env = lookup("environments.order", &item)?;
                if order.contains(&env) {
                    return Err(SettingsError::at(
                        file,
                        src,
                        Some(listed.span()),
                        Some("environments.order".into()),
                        format!("lists `{env}` twice"),
                    ));
                }
                order.push(env);
            }
        }
        for env in &found {
            if !order.contains(env) {
                order.push(*env);
            }
        }
        let production = match &e.production {
            Some(p) => lookup("environments.production", p)?,
            None => found
                .iter()
                .copied()
                .find(|e| e.name() == "prod")
                .ok_or_else(|| {
                    SettingsError::unreadable(
                        file,
                        format!(
                            "there is no `prod` environment, so `[environments] production` must name one of {}",
                            names(&found)
                        ),
                    )
                })?,
        };
        let rehearsal = match &e.rehearsal {
            Some(r) => {
                let env = lookup("environments.rehearsal", r)?;
                if env == production {
                    return Err(SettingsError::at(
                        file,
                        src,
                        Some(r.span()),
                        Some("environments.rehearsal".into()),
                        format!(
                            "`{env}` is the production environment: the cutover is rehearsed elsewhere first"
                        ),
                    ));
                }
                env
            }
            None => order
                .iter()
                .copied()
                .find(|e| *e != production)
                .ok_or_else(|| {
                    SettingsError::unreadable(
                        file,
                        format!(
                            "`{production}` is the only environment: the cutover needs another one to rehearse in"
                        ),
                    )
                })?,
        };
        Ok(Self {
            order,
            production,
            rehearsal,
        })
    }
}

/// `[sops.age_recipients]` has exactly one non-empty key list per scope: each environment
/// and `platform`. A missing scope would leave `.sops.yaml` without a rule for its Secrets; an
/// extra one is a typo or a removed environment.
fn check_recipients(
    cluster: &ClusterSettings,
    file: &Path,
    src: &str,
    envs: &[Environment],
) -> Result<(), SettingsError> {
    let table = &cluster.sops.age_recipients;
    let mut scopes: Vec<&str> = envs.iter().map(|e| e.name()).collect();
    scopes.push(PLATFORM_SCOPE);
    let at = |key: String, message: String| {
        SettingsError::at(file, src, Some(table.span()), Some(key), message)
    };
    for scope in &scopes {
        match table.get_ref().get(*scope) {
            None => {
                return Err(at(
                    format!("sops.age_recipients.{scope}"),
                    format!(
                        "is missing: every scope ({}) needs its age public keys, so that .sops.yaml has a rule for its Secrets",
                        scopes.join(", ")
                    ),
                ));
            }
            Some(keys) if keys.is_empty() => {
                return Err(at(
                    format!("sops.age_recipients.{scope}"),
                    "is empty: nobody could decrypt this scope's Secrets".into(),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = table
        .get_ref()
        .keys()
        .find(|k| !scopes.contains(&k.as_str()))
    {
        return Err(at(
            format!("sops.age_recipients.{extra}"),
            format!(
                "is not a scope: the scopes are the environments (folders overlays/<name>/ with an env.toml) and `{PLATFORM_SCOPE}`: {}",
                scopes.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A number setting outside `range` is an error at its span.
fn check_range(
    file: &Path,
    src: &str,
    key: &str,
    value: &Spanned<u32>,
    range: std::ops::RangeInclusive<u32>,
) -> Result<(), SettingsError> {
    if range.contains(value.get_ref()) {
        return Ok(());
    }
    Err(SettingsError::at(
        file,
        src,
        Some(value.span()),
        Some(key.into()),
        format!(
            "{} is out of range: expected {} to {}",
            value.get_ref(),
            range.start(),
            range.end()
        ),
    ))
}

/// Checks every YAML file under `overlays/`: a Secret anywhere must be SOPS-encrypted; the
/// files of `overlays/<scope>/secrets/` must be `*.sops.yaml` Secrets encrypted for exactly the
/// scope's recipients.
fn load_secrets(
    root: &Path,
    settings: &Settings,
) -> Result<(Vec<SecretFile>, Vec<extra::ExtraFile>), SettingsError> {
    let recipients = settings.recipients();
    let walk: Vec<_> = walkdir::WalkDir::new(root.join(OVERLAYS_DIR))
        .sort_by_file_name()
        .into_iter()
        .collect();
    // Each file is read and checked on its own, on the cores there are; then, in walk order,
    // the first error is returned (as one loop over the walk would) and no Secret may be
    // defined twice in a scope.
    let read = crate::parallel::map(&walk, |entry| read_overlay_file(root, &recipients, entry));
    let mut out: Vec<SecretFile> = Vec::new();
    let mut extras = Vec::new();
    for file in read {
        match file? {
            OverlayFile::Other => {}
            OverlayFile::Extra(e) => extras.push(e),
            OverlayFile::Secret(file) => {
                if let Some(other) = out
                    .iter()
                    .find(|f| f.scope == file.scope && f.secret.name == file.secret.name)
                {
                    return Err(SettingsError::unreadable(
                        &file.secret.file,
                        format!(
                            "defines Secret `{}`, which {} defines already: one file per Secret (kustomize would refuse the duplicate)",
                            file.secret.name,
                            other.secret.file.display()
                        ),
                    ));
                }
                out.push(file);
            }
        }
    }
    Ok((out, extras))
}

/// One entry of the walk of `overlays/`, read and checked by [`read_overlay_file`].
enum OverlayFile {
    /// A folder, a file that is not YAML, or YAML holding no Secret or only encrypted ones.
    Other,
    /// A hand-written manifest of `overlays/<scope>/extra/`.
    Extra(extra::ExtraFile),
    /// A Secret file of `overlays/<scope>/secrets/`.
    Secret(SecretFile),
}

/// Reads and checks one entry of the walk of `overlays/` (see [`load_secrets`]).
fn read_overlay_file(
    root: &Path,
    recipients: &BTreeMap<String, Vec<String>>,
    entry: &walkdir::Result<walkdir::DirEntry>,
) -> Result<OverlayFile, SettingsError> {
    let entry = entry
        .as_ref()
        .map_err(|e| SettingsError::unreadable(OVERLAYS_DIR, e.to_string()))?;
    let rel = entry
        .path()
        .strip_prefix(root)
        .unwrap_or(entry.path())
        .to_path_buf();
    let name = entry.file_name().to_string_lossy().into_owned();
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    if entry.file_type().is_symlink() {
        return Err(SettingsError::unreadable(
            &rel,
            "is a symlink: files under overlays/ must be regular files (the link is not followed)",
        ));
    }
    if !entry.file_type().is_file() || !yaml {
        return Ok(OverlayFile::Other);
    }
    let text = read_input(root, &rel)?;
    // overlays/<scope>/secrets/<file>
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.len() >= 4 && parts[2] == extra::EXTRA_DIR {
        if parts.len() > 4 || !recipients.contains_key(&parts[1]) {
            return Err(SettingsError::unreadable(
                &rel,
                format!(
                    "is not read: hand-written manifests go directly in overlays/<scope>/{}/ of a scope ({})",
                    extra::EXTRA_DIR,
                    recipients.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let scope = &parts[1];
        return Ok(OverlayFile::Extra(extra::check(
            scope,
            scope != PLATFORM_SCOPE,
            &rel,
            &text,
        )?));
    }
    let scope = (parts.len() == 4 && parts[2] == "secrets").then(|| parts[1].clone());
    match scope {
        Some(scope) => {
            let Some(expected) = recipients.get(&scope) else {
                return Err(SettingsError::unreadable(
                    &rel,
                    format!(
                        "`{scope}` is not a scope: secrets live in overlays/<scope>/secrets/ for the scopes {}",
                        recipients.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            if !name.ends_with(".sops.yaml") {
                return Err(SettingsError::unreadable(
                    &rel,
                    "secret files are named *.sops.yaml, so that the creation rule of .sops.yaml applies to them",
                ));
            }
            let (secret, object) = crate::secrets::read_file(&rel, &text, Some(expected))
                .map_err(SettingsError::secret)?;
            Ok(OverlayFile::Secret(SecretFile {
                scope,
                file_name: name,
                secret,
                object,
                bytes: text.into_bytes(),
            }))
        }
        None => {
            // Any other YAML: a Secret in it is checked all the same.
            let docs = crate::yaml_read::parse_documents(&rel, &text)
                .map_err(|e| SettingsError::unreadable(&rel, e.to_string()))?;
            for doc in docs.iter().filter(|d| crate::secrets::is_secret(d)) {
                crate::secrets::check_secret(&rel, doc, None).map_err(SettingsError::secret)?;
            }
            Ok(OverlayFile::Other)
        }
    }
}

/// The compile-time image list must be allowed by the runtime allow-list.
fn check_registries(
    cluster: &ClusterSettings,
    file: &Path,
    src: &str,
) -> Result<(), SettingsError> {
    let allowed = &cluster.registries.allowed;
    for image in crate::images::ALL {
        if !allowed
            .get_ref()
            .iter()
            .any(|r| r.as_str() == image.registry())
        {
            return Err(SettingsError::at(
                file,
                src,
                Some(allowed.span()),
                Some("registries.allowed".into()),
                format!(
                    "must include `{}`, the registry of {image} (src/images.rs)",
                    image.registry()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads `root/file` and deserializes it, mapping every failure to a [`SettingsError`].
fn read_toml<T: DeserializeOwned>(root: &Path, file: &Path) -> Result<(T, String), SettingsError> {
    let src = read_input(root, file)?;
    let value = parse_toml(file, &src)?;
    Ok((value, src))
}

/// Parses TOML text into `T`; errors carry the key path and the span of the offending text.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, src: &str) -> Result<T, SettingsError> {
    let de = toml::de::Deserializer::parse(src).map_err(|e| {
        SettingsError::at(
            file,
            src,
            e.span(),
            None,
            format!("TOML syntax error: {}", e.message().trim()),
        )
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        // `Spanned` values add a private segment to the path; the key is the field itself.
        let path = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let message = inner.message().trim().to_string();
        let parent = (path != ".").then_some(path);
        // For unknown or missing fields the key is the field named in the message.
        let field = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next());
        let key = match (parent, field) {
            (Some(p), Some(f)) if !p.ends_with(f) => Some(format!("{p}.{f}")),
            (None, Some(f)) => Some(f.to_string()),
            (p, _) => p,
        };
        SettingsError::at(file, src, inner.span(), key, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::Bytes;

    fn env_toml(extra: &str) -> String {
        format!(
            "[xwiki]\nhost = \"xwiki.example.org\"\ncluster_issuer = \"letsencrypt-staging\"\nstorage_size = \"20Gi\"\nstorage_class = \"longhorn-db\"\nresources = {{ requests = {{ cpu = \"500m\", memory = \"2Gi\" }}, limits = {{ cpu = \"2\", memory = \"3Gi\" }} }}\ninternet_egress = true\n\n[mysql]\nversion = \"8.0\"\nstorage_size = \"50Gi\"\nresources = {{ requests = {{ cpu = \"250m\", memory = \"1Gi\" }}, limits = {{ cpu = \"1\", memory = \"2Gi\" }} }}\n\n[backup]\nschedule = \"15 2 * * *\"\n{extra}"
        )
    }

    /// 1-based line of the first line of `src` that starts with `prefix`.
    fn line_of(src: &str, prefix: &str) -> usize {
        src.lines()
            .position(|l| l.starts_with(prefix))
            .expect("line present")
            + 1
    }

    fn err(src: &str) -> SettingsError {
        parse_toml::<EnvSettings>(Path::new("overlays/prod/env.toml"), src).unwrap_err()
    }

    #[test]
    fn every_environment_gets_the_trusted_issuer_unless_it_asks_otherwise() {
        let without = env_toml("").replace("cluster_issuer = \"letsencrypt-staging\"\n", "");
        assert!(!without.contains("cluster_issuer"));
        let s: EnvSettings = parse_toml(Path::new("x.toml"), &without).unwrap();
        assert_eq!(s.xwiki.cluster_issuer, ClusterIssuer::LetsEncryptProd);
    }

    #[test]
    fn valid_env_settings_parse() {
        let s: EnvSettings = parse_toml(Path::new("x.toml"), &env_toml("")).unwrap();
        assert_eq!(s.mysql.storage_size, Bytes::gibi(50));
        assert_eq!(s.xwiki.cluster_issuer, ClusterIssuer::LetsEncryptStaging);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        // Appended at the end, the key belongs to the last table.
        let e = err(&env_toml("bogus_key = 1\n"));
        assert_eq!(e.key.as_deref(), Some("backup.bogus_key"));
        assert_eq!(
            e.line,
            line_of(&env_toml("bogus_key = 1\n"), "bogus_key"),
            "{e}"
        );
        let shown = e.to_string();
        let at = format!("overlays/prod/env.toml:{}:1", e.line);
        assert!(shown.contains(&at), "{shown}");
        assert!(
            shown.contains("expected one of `schedule`, `retention_days`"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_top_level_key_is_named_alone() {
        let e = err(&format!("bogus_key = 1\n{}", env_toml("")));
        assert_eq!((e.key.as_deref(), e.line), (Some("bogus_key"), 1), "{e}");
    }

    #[test]
    fn unknown_nested_key_names_its_table() {
        let e = err(&env_toml("").replace("[mysql]\n", "[mysql]\nsize = 3\n"));
        assert_eq!(e.key.as_deref(), Some("mysql.size"), "{e}");
        assert_eq!(e.line, line_of(&env_toml(""), "[mysql]") + 1);
    }

    #[test]
    fn invalid_values_point_at_the_value() {
        let e = err(&env_toml("").replace("xwiki.example.org", "Not_A_Host"));
        assert_eq!(e.key.as_deref(), Some("xwiki.host"));
        assert_eq!((e.line, e.column), (2, 8), "{e}");
        assert!(e.message.contains("not a valid host name"));

        let e = err(&env_toml("").replace("50Gi", "50GB"));
        assert_eq!(e.key.as_deref(), Some("mysql.storage_size"));
        assert_eq!(e.line, line_of(&env_toml(""), "storage_size = \"50Gi\""));

        let e = err(&env_toml("").replace("15 2 * * *", "every night"));
        assert_eq!(e.key.as_deref(), Some("backup.schedule"));

        let e = err(&env_toml("").replace("letsencrypt-staging", "letsencrypt"));
        assert_eq!(e.key.as_deref(), Some("xwiki.cluster_issuer"));
        assert!(e.message.contains("letsencrypt-prod"), "{}", e.message);
    }

    #[test]
    fn environment_names_are_namespaces_of_their_own() {
        for good in ["prod", "staging", "qa-2", &"a".repeat(MAX_ENVIRONMENT_NAME)] {
            assert_eq!(Environment::new(good).unwrap().name(), good);
        }
        let long = "a".repeat(MAX_ENVIRONMENT_NAME + 1);
        for bad in [
            "",
            "Prod",
            "2prod",
            "pro_d",
            "prod-",
            "pro.d",
            &long,
            PLATFORM_SCOPE,
        ] {
            assert!(Environment::new(bad).is_err(), "{bad:?} accepted");
        }
        // Interned: one handle per name.
        assert_eq!(Environment::new("qa-2"), Environment::new("qa-2"));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = err(&env_toml("").replace("[mysql]", "[mysql"));
        assert_eq!(e.line, line_of(&env_toml(""), "[mysql]"), "{e}");
        assert!(e.message.starts_with("TOML syntax error"));
    }

    #[test]
    fn missing_key_is_named() {
        let e = err(&env_toml("").replace("schedule = \"15 2 * * *\"\n", ""));
        assert_eq!(e.key.as_deref(), Some("backup.schedule"), "{e}");
    }
}
