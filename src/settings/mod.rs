//! Settings: `overlays/cluster.toml` (cluster-wide) and `overlays/<env>/env.toml`.
//!
//! Parsed into typed structs with unknown keys rejected. Every error, syntactic or semantic,
//! is a [`SettingsError`] naming the file, the line and column, the key and what is allowed.

pub mod extra;
pub mod image_pins;
pub mod ingress;
pub mod values;
mod zone;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

pub use crate::diagnostic::SettingsError;
pub use ingress::{IngressController, IngressSettings};
pub use values::SmtpHost;
use values::{
    AgeRecipient, BucketName, Cidr, CronSchedule, DnsName, Email, GitBranch, GitUrl, RegistryHost,
    Retention, S3Endpoint, StorageClassName,
};

use crate::quantity::{Bytes, Duration};

pub use crate::input::{OVERLAYS_DIR, read_input};

/// An application environment: a folder `overlays/<name>/` holding an `env.toml`. Its name
/// is also its namespace, its secret scope and the suffix of its Flux Kustomization, so
/// adding one is adding a folder (see docs/ARCHITECTURE.md), not Rust.
///
/// Names are interned, so an `Environment` is a `Copy` handle; the set of environments
/// of a checkout is [`Settings::environments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Environment(&'static str);

/// Longest environment name: names derived from it (`apps-<env>`, `restore-test-<env>`,
/// `<env>-secrets`) must stay within the 63 characters of a DNS label.
pub const MAX_ENVIRONMENT_NAME: usize = 40;

impl Environment {
    /// The environment called `name`, which must be a lowercase RFC 1123 DNS label of at most
    /// [`MAX_ENVIRONMENT_NAME`] characters (it becomes a namespace) and not the platform scope.
    /// Whether such an environment exists is for [`Settings`] to say.
    pub fn new(name: &str) -> Result<Self, String> {
        let label = !name.is_empty()
            && name.len() <= MAX_ENVIRONMENT_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.as_bytes()[0].is_ascii_lowercase()
            && !name.ends_with('-');
        if !label {
            return Err(format!(
                "`{}` is not an environment name: a namespace name of 1-{MAX_ENVIRONMENT_NAME} characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'",
                name.escape_default()
            ));
        }
        if name == PLATFORM_SCOPE {
            return Err(format!(
                "`{PLATFORM_SCOPE}` is the scope of cluster-wide Secrets, not an environment"
            ));
        }
        Ok(Self(intern(name)))
    }

    /// The environment's name, which is also its namespace and its folder name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// One `'static` copy of each distinct name, so that [`Environment`] can be `Copy`: the set
/// of names a process sees is the folders of a checkout, a handful.
fn intern(name: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::{Mutex, PoisonError};
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[environments]` of `cluster.toml`: the order and the roles of the environments. The set
/// itself is not listed: it is the folders `overlays/<name>/env.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentsSettings {
    /// Listing order (docs, Flux Kustomizations, help texts); environments not named here
    /// follow in name order. Default: name order.
    pub order: Option<Spanned<Vec<String>>>,
    /// The environment the cutover moves the legacy XWiki into and whose host the smoke test
    /// checks. Default: `prod`.
    pub production: Option<Spanned<String>>,
    /// Where the cutover is rehearsed first. Default: the first environment after
    /// `production` in the listing order.
    pub rehearsal: Option<Spanned<String>>,
}

/// `overlays/cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Order and roles of the environments (optional).
    #[serde(default)]
    pub environments: EnvironmentsSettings,
    /// Where Flux reads this repository from.
    pub git: GitSettings,
    /// Reconciliation timings of the Flux Kustomizations.
    pub flux: FluxSettings,
    /// Let's Encrypt account.
    pub acme: AcmeSettings,
    /// Registries images may come from.
    pub registries: RegistrySettings,
    /// Prometheus and Alertmanager.
    pub monitoring: MonitoringSettings,
    /// The ingress controller (optional; default ingress-nginx).
    #[serde(default)]
    pub ingress: IngressSettings,
    /// Addresses NetworkPolicies need.
    pub network: NetworkSettings,
    /// The S3-compatible store backups go to.
    pub s3: S3Settings,
    /// Who can decrypt each scope's Secrets.
    pub sops: SopsSettings,
    /// The migration from the legacy host (out/docs/runbooks/cutover.md).
    pub cutover: CutoverSettings,
}

/// `[cutover]` of `cluster.toml`: the legacy XWiki host and the DNS switch to the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutoverSettings {
    /// SSH login of the legacy host (XWiki and MySQL on one machine).
    pub legacy_ssh_host: DnsName,
    /// Its SSH user.
    pub legacy_ssh_user: String,
    /// Its public address: where the XWiki record points until the switch.
    pub legacy_address: std::net::Ipv4Addr,
    /// The legacy wiki's base URL with its context path (`https://host/xwiki` when the wiki is
    /// not at `/`): the smoke test and the legacy XAR export reach it there.
    pub legacy_url: values::WikiUrl,
    /// The MySQL schema of the legacy XWiki.
    pub legacy_database: String,
    /// Public addresses of the ingress nodes: the record's new A values.
    pub ingress_addresses: Vec<std::net::Ipv4Addr>,
    /// The DNS zone at Hostinger.
    pub dns_zone: DnsName,
    /// Its authoritative name servers (checked with `dig @server`).
    pub authoritative_servers: Vec<DnsName>,
    /// The record's TTL before the cutover, in seconds (how long to wait after lowering it).
    pub current_ttl_seconds: u32,
    /// A page whose content the smoke test checks (`Space.Page`).
    pub known_page: String,
    /// Text that page must contain.
    pub known_text: String,
    /// An attachment the smoke test downloads (`Space.Page/file.ext`).
    pub known_attachment: String,
}

/// `[sops]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SopsSettings {
    /// age public keys per scope: one creation rule each in `.sops.yaml`, so a scope's
    /// Secrets cannot be read with another scope's key.
    pub age_recipients: AgeRecipients,
}

/// `[sops.age_recipients]`: age public keys per scope, one key per environment plus
/// [`PLATFORM_SCOPE`] (cluster-wide Secrets, e.g. Grafana's admin).
pub type AgeRecipients = Spanned<BTreeMap<String, Vec<AgeRecipient>>>;

/// The scope of cluster-wide Secrets.
pub const PLATFORM_SCOPE: &str = "platform";

/// An encrypted Secret file of `overlays/<scope>/secrets/`, checked, with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// An environment, or `platform`.
    pub scope: String,
    /// File name.
    pub file_name: String,
    /// What the check found.
    pub secret: crate::secrets::EncryptedSecret,
    /// The file, copied unchanged into `out/`.
    pub bytes: Vec<u8>,
}

/// `[network]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// The nodes' addresses: ingress-nginx runs on the host network, so its traffic comes from
    /// here, and so does the API server's.
    pub node_cidr: Cidr,
    /// Port of the Kubernetes API server on the nodes (6443 for kubeadm and k3s).
    pub api_server_port: std::num::NonZeroU16,
}

/// `[s3]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Addresses of the S3 endpoint (NetworkPolicies cannot name hosts).
    pub cidr: Cidr,
    /// Its port.
    pub port: std::num::NonZeroU16,
    /// The endpoint URL the backup jobs and Longhorn use.
    pub endpoint: S3Endpoint,
    /// The bucket: each environment writes under `<env>/`, Longhorn under `longhorn/`.
    pub bucket: BucketName,
    /// The region name the store expects in signatures (`us-east-1` for most S3-compatible
    /// stores that have none).
    #[serde(default = "default_region")]
    pub region: String,
    /// Longhorn volume backups (every Longhorn volume of the cluster).
    pub volume_backups: VolumeBackupSettings,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// `[s3.volume_backups]` of `cluster.toml`: Longhorn's recurring backup of its volumes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeBackupSettings {
    /// When Longhorn backs every volume up (cron, UTC).
    pub schedule: CronSchedule,
    /// How many backups of each volume Longhorn keeps (1-100).
    pub retain: Spanned<u32>,
}

/// `[monitoring]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// How long Prometheus keeps samples.
    pub retention: Retention,
    /// Prometheus volume on Longhorn.
    pub prometheus_storage: Bytes,
    /// Alertmanager volume on Longhorn.
    pub alertmanager_storage: Bytes,
    /// Where Alertmanager sends notifications.
    pub alerting: AlertingSettings,
}

/// `[monitoring.alerting]` of `cluster.toml`: the e-mail receiver every alert reaches (the
/// SMTP password comes from the SOPS Secret `alertmanager-smtp`, key `password`, of the
/// `platform` scope; never from settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingSettings {
    /// Recipient of every notification.
    pub email_to: Email,
    /// Sender address.
    pub email_from: Email,
    /// SMTP server, `host:port` (submission port 587 with STARTTLS, or 465).
    pub smtp_smarthost: SmtpHost,
    /// SMTP login.
    pub smtp_username: String,
}

/// `[git]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSettings {
    /// Repository URL given to `flux bootstrap git --url`.
    pub url: GitUrl,
    /// Branch Flux follows.
    pub branch: GitBranch,
}

/// `[flux]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSettings {
    /// Drift-correction period. Default in the committed file: `1h`, as in Flux's examples.
    pub interval: Duration,
    /// Retry period after a failure. Default in the committed file: `2m`.
    pub retry_interval: Duration,
    /// Timeout for apply and health checks. Default in the committed file: `5m`.
    pub timeout: Duration,
}

/// `[acme]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSettings {
    /// Contact address of the Let's Encrypt account (expiry warnings go there).
    pub email: Email,
}

/// `[registries]` of `cluster.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Registry hosts allowed by the audit and by Kyverno; must include every registry of
    /// [`crate::images`].
    pub allowed: Spanned<Vec<RegistryHost>>,
}

/// `overlays/<env>/env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSettings {
    /// XWiki exposure and storage.
    pub xwiki: XwikiSettings,
    /// MySQL storage.
    pub mysql: MysqlSettings,
    /// Backup schedule.
    pub backup: BackupSettings,
    /// This environment's own XWiki and MySQL images (default: `src/images.rs`).
    #[serde(default)]
    pub images: image_pins::ImageSettings,
}

impl EnvSettings {
    /// XWiki's image: the `[images] xwiki` pin, or `src/images.rs`.
    pub fn xwiki_image(&self) -> crate::image::PinnedImage {
        self.images
            .xwiki
            .as_ref()
            .map_or(crate::images::XWIKI, |p| p.get_ref().0)
    }

    /// MySQL's image: the `[images] mysql` pin, or the `[mysql] version` line's image.
    pub fn mysql_image(&self) -> crate::image::PinnedImage {
        self.images
            .mysql
            .as_ref()
            .map_or(self.mysql.version.image(), |p| p.get_ref().0)
    }
}

/// Which Let's Encrypt ClusterIssuer signs an environment's certificate.
///
/// Default: `letsencrypt-prod` for every environment, because each host is public and testers
/// of integration and recette need a certificate their browser trusts; staging stays
/// available for trials (`cluster_issuer = "letsencrypt-staging"`). Let's Encrypt's production
/// limits (50 certificates per registered domain per week) are far above three hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClusterIssuer {
    /// Trusted certificates, strict rate limits (ample for a few hosts).
    #[default]
    #[serde(rename = "letsencrypt-prod")]
    LetsEncryptProd,
    /// Untrusted test certificates, generous rate limits: for trials only.
    #[serde(rename = "letsencrypt-staging")]
    LetsEncryptStaging,
}

impl ClusterIssuer {
    /// Name of the ClusterIssuer object.
    pub const fn name(self) -> &'static str {
        match self {
            Self::LetsEncryptProd => "letsencrypt-prod",
            Self::LetsEncryptStaging => "letsencrypt-staging",
        }
    }
}

/// `[xwiki]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XwikiSettings {
    /// Public host name of the wiki (Ingress host and TLS certificate).
    pub host: Spanned<DnsName>,
    /// ClusterIssuer of the certificate. Default: `letsencrypt-prod` (see [`ClusterIssuer`]).
    #[serde(default)]
    pub cluster_issuer: ClusterIssuer,
    /// Size of the `xwiki-data` volume (permanent directory: attachments, extensions, index).
    pub storage_size: Bytes,
    /// StorageClass of the `xwiki-data` volume.
    pub storage_class: StorageClassName,
    /// Requests and limits of the XWiki container (the JVM heap is sized from the limit).
    pub resources: Spanned<ResourceSettings>,
    /// Allow XWiki to reach the internet on 443: the first start installs the Standard flavor
    /// and extensions from extensions.xwiki.org.
    pub internet_egress: bool,
}

/// MySQL major line; the image of each is in `src/images.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MysqlVersion {
    /// 8.0.46, the final 8.0 release (EOL April 2026).
    #[serde(rename = "8.0")]
    V8_0,
    /// 8.4 LTS, the upgrade path.
    #[serde(rename = "8.4")]
    V8_4,
}

impl MysqlVersion {
    /// The pinned image of this line.
    pub const fn image(self) -> crate::image::PinnedImage {
        match self {
            Self::V8_0 => crate::images::MYSQL_8_0,
            Self::V8_4 => crate::images::MYSQL_8_4,
        }
    }
}

/// `[mysql]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSettings {
    /// MySQL line (`8.0` or `8.4`): switching to 8.4 LTS is this one line.
    pub version: MysqlVersion,
    /// Size of the data volume on `longhorn-db`.
    pub storage_size: Bytes,
    /// Requests and limits of the MySQL container (the InnoDB buffer pool is sized from the limit).
    pub resources: Spanned<ResourceSettings>,
}

/// CPU and memory, as in `{ cpu = "500m", memory = "2Gi" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeSettings {
    /// CPU.
    pub cpu: crate::quantity::Cpu,
    /// Memory.
    pub memory: Bytes,
}

/// `requests` and `limits` of a container.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSettings {
    /// Reserved by the scheduler.
    pub requests: ComputeSettings,
    /// Upper bound.
    pub limits: ComputeSettings,
}

impl ResourceSettings {
    /// As the workload builders' value (checked: requests never exceed limits).
    pub fn to_resources(self) -> crate::workload::Resources {
        let c = |x: ComputeSettings| crate::workload::Compute::new(x.cpu, x.memory);
        crate::workload::Resources::new(c(self.requests), c(self.limits))
    }

    fn check(&self) -> Result<(), String> {
        let (r, l) = (self.requests, self.limits);
        if r.cpu > l.cpu || r.memory > l.memory {
            return Err(format!(
                "requests ({} CPU, {} memory) must not exceed limits ({} CPU, {} memory)",
                r.cpu, r.memory, l.cpu, l.memory
            ));
        }
        Ok(())
    }
}

/// `[backup]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// When the nightly export and dump run (cron, cluster time zone); the XAR export runs
    /// on the same schedule.
    pub schedule: CronSchedule,
    /// Dumps and exports older than this many days are pruned by the backup job (1-3650).
    #[serde(default = "default_retention_days")]
    pub retention_days: Spanned<u32>,
    /// The newest this many dumps and exports are kept whatever their age (1-1000), so a
    /// backup job that stopped running for weeks never prunes the last good copies.
    #[serde(default = "default_keep_copies")]
    pub keep_copies: Spanned<u32>,
    /// The monthly restore test: restore another environment's latest dump into a
    /// throwaway MySQL in this environment.
    pub restore_test: Option<RestoreTestSettings>,
}

fn default_retention_days() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}

fn default_keep_copies() -> Spanned<u32> {
    Spanned::new(0..0, 7)
}

/// `[backup.restore_test]` of `env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreTestSettings {
    /// The environment whose dumps are restored (`prod`).
    pub source: Spanned<String>,
    /// When it runs (cron; monthly, e.g. `0 5 1 * *`).
    pub schedule: CronSchedule,
}

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
        for &env in &roles.order {
            let file = env_file(env);
            let (settings, src) = read_toml::<EnvSettings>(root, &file)?;
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

    /// The encrypted files of `scope`, as (file name, bytes), in file name order.
    pub fn secret_files_of(&self, scope: &str) -> Vec<(&str, &[u8])> {
        self.secrets
            .iter()
            .filter(|f| f.scope == scope)
            .map(|f| (f.file_name.as_str(), f.bytes.as_slice()))
            .collect()
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
    let mut out = Vec::new();
    let mut extras = Vec::new();
    let base = root.join(OVERLAYS_DIR);
    for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let entry = entry.map_err(|e| SettingsError::unreadable(OVERLAYS_DIR, e.to_string()))?;
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
            continue;
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
            extras.push(extra::check(scope, scope != PLATFORM_SCOPE, &rel, &text)?);
            continue;
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
                let secret = crate::secrets::check_file(&rel, &text, Some(expected))
                    .map_err(SettingsError::secret)?;
                if let Some(other) = out
                    .iter()
                    .find(|f: &&SecretFile| f.scope == scope && f.secret.name == secret.name)
                {
                    return Err(SettingsError::unreadable(
                        &rel,
                        format!(
                            "defines Secret `{}`, which {} defines already: one file per Secret (kustomize would refuse the duplicate)",
                            secret.name,
                            other.secret.file.display()
                        ),
                    ));
                }
                out.push(SecretFile {
                    scope,
                    file_name: name,
                    secret,
                    bytes: text.into_bytes(),
                });
            }
            None => {
                // Any other YAML: a Secret in it is checked all the same.
                let docs = crate::yaml_read::parse_documents(&rel, &text)
                    .map_err(|e| SettingsError::unreadable(&rel, e.to_string()))?;
                for doc in docs.iter().filter(|d| crate::secrets::is_secret(d)) {
                    crate::secrets::check_secret(&rel, doc, None).map_err(SettingsError::secret)?;
                }
            }
        }
    }
    Ok((out, extras))
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
