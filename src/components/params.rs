//! The values components are built from, computed once from the settings and handed on:
//! what one environment's applications, backups and NetworkPolicies depend on. A leaf module:
//! the components that read these values depend on it, never the other way round.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use crate::quantity::{Bytes, Cpu};
use crate::settings::values::CronSchedule;
use crate::settings::{ClusterIssuer, Environment, MysqlVersion, Settings};

/// StorageClass of the databases (one Longhorn replica, xfs).
pub const DB_STORAGE_CLASS: &str = "longhorn-db";

/// Everything the application objects depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct AppParams {
    /// The environment, `None` for the base.
    pub env: Option<Environment>,
    /// Public host of the wiki.
    pub host: String,
    /// Certificate issuer.
    pub issuer: ClusterIssuer,
    /// The ingress controller (how routes are written, who reaches XWiki).
    pub ingress: crate::settings::IngressController,
    /// XWiki volume size.
    pub xwiki_storage: Bytes,
    /// XWiki volume StorageClass.
    pub xwiki_storage_class: String,
    /// XWiki container resources.
    pub xwiki_resources: crate::workload::Resources,
    /// MySQL line.
    pub mysql_version: MysqlVersion,
    /// MySQL's image (of that line).
    pub mysql_image: crate::image::PinnedImage,
    /// XWiki's image.
    pub xwiki_image: crate::image::PinnedImage,
    /// MySQL volume size.
    pub mysql_storage: Bytes,
    /// MySQL container resources.
    pub mysql_resources: crate::workload::Resources,
    /// May XWiki reach the internet on 443.
    pub internet_egress: bool,
    /// Cluster addresses the NetworkPolicies need.
    pub network: NetworkParams,
    /// The backup jobs' schedule, retention and store.
    pub backup: BackupParams,
}

impl AppParams {
    /// The neutral values of the base, which every overlay patches. Default host
    /// `xwiki.invalid` (a reserved name that never resolves), staging certificates, the
    /// design card's 50Gi MySQL volume, the smallest resources XWiki starts with, and no
    /// internet access for XWiki (each environment opts in).
    pub fn base(settings: &Settings) -> Self {
        use crate::workload::{Compute, Resources};
        Self {
            env: None,
            host: "xwiki.invalid".into(),
            issuer: ClusterIssuer::LetsEncryptStaging,
            ingress: settings.cluster.ingress.controller,
            xwiki_storage: Bytes::gibi(10),
            xwiki_storage_class: DB_STORAGE_CLASS.into(),
            xwiki_resources: Resources::new(
                Compute::new(Cpu::millis(250), Bytes::mebi(1536)),
                Compute::new(Cpu::cores(1), Bytes::mebi(2560)),
            ),
            mysql_version: MysqlVersion::V8_0,
            mysql_image: MysqlVersion::V8_0.image(),
            xwiki_image: crate::images::XWIKI,
            mysql_storage: Bytes::gibi(50),
            mysql_resources: Resources::new(
                Compute::new(Cpu::millis(100), Bytes::mebi(768)),
                Compute::new(Cpu::millis(500), Bytes::gibi(1)),
            ),
            internet_egress: false,
            network: NetworkParams::from_settings(settings),
            backup: BackupParams::base(settings),
        }
    }

    /// The values of one environment.
    pub fn for_env(settings: &Settings, env: Environment) -> Self {
        let s = settings.env(env);
        Self {
            env: Some(env),
            host: s.xwiki.host.get_ref().to_string(),
            issuer: s.xwiki.cluster_issuer,
            ingress: settings.cluster.ingress.controller,
            xwiki_storage: s.xwiki.storage_size,
            xwiki_storage_class: s.xwiki.storage_class.as_str().to_string(),
            xwiki_resources: s.xwiki.resources.get_ref().to_resources(),
            mysql_version: s.mysql.version,
            mysql_image: s.mysql_image(),
            xwiki_image: s.xwiki_image(),
            mysql_storage: s.mysql.storage_size,
            mysql_resources: s.mysql.resources.get_ref().to_resources(),
            internet_egress: s.xwiki.internet_egress,
            network: NetworkParams::from_settings(settings),
            backup: BackupParams::for_env(settings, env),
        }
    }

    /// Labels every object of an environment carries besides `app.kubernetes.io/*`.
    pub fn extra_labels(&self) -> BTreeMap<String, String> {
        self.env
            .map(|e| {
                BTreeMap::from([(
                    super::namespaces::ENVIRONMENT_LABEL.to_string(),
                    e.name().to_string(),
                )])
            })
            .unwrap_or_default()
    }
}

/// A Secret key a workload reads, for the docs and the required-secrets list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    /// Secret name.
    pub secret: &'static str,
    /// Key.
    pub key: &'static str,
    /// Container that reads it.
    pub consumer: &'static str,
    /// How it is used.
    pub usage: &'static str,
}

impl SecretRef {
    /// A reference.
    pub const fn new(
        secret: &'static str,
        key: &'static str,
        consumer: &'static str,
        usage: &'static str,
    ) -> Self {
        Self {
            secret,
            key,
            consumer,
            usage,
        }
    }
}

/// Where one environment's backups go and how long they stay.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupParams {
    /// The environment's prefix in the bucket (its name).
    pub prefix: String,
    /// When the dump and the export run.
    pub schedule: CronSchedule,
    /// Objects older than this many days are pruned...
    pub retention_days: u32,
    /// ...except the newest this many.
    pub keep_copies: u32,
    /// S3 endpoint URL.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// The monthly restore test, where this environment runs one.
    pub restore_test: Option<RestoreTest>,
}

/// A restore test of another environment's dumps.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreTest {
    /// The environment whose dumps are restored.
    pub source: String,
    /// When.
    pub schedule: CronSchedule,
    /// The scratch datadir's limit: the source's MySQL volume size.
    pub scratch: Bytes,
}

impl BackupParams {
    /// The base's neutral values (prefix `base`, 03:00, 30 days, 7 copies, no restore test).
    pub fn base(settings: &Settings) -> Self {
        let s3 = &settings.cluster.s3;
        Self {
            prefix: "base".into(),
            schedule: "0 3 * * *".parse().expect("a valid schedule"),
            retention_days: 30,
            keep_copies: 7,
            endpoint: s3.endpoint.as_str().into(),
            bucket: s3.bucket.as_str().into(),
            region: s3.region.clone(),
            restore_test: None,
        }
    }

    /// One environment's values (the store's from the cluster settings, as in [`Self::base`],
    /// whose schedule is not parsed again for each environment).
    pub fn for_env(settings: &Settings, env: Environment) -> Self {
        let s3 = &settings.cluster.s3;
        let b = &settings.env(env).backup;
        let restore_test = b.restore_test.as_ref().map(|t| {
            let source = settings
                .environment(t.source.get_ref())
                .expect("settings check the source");
            RestoreTest {
                source: source.name().into(),
                schedule: t.schedule.clone(),
                scratch: settings.env(source).mysql.storage_size,
            }
        });
        Self {
            prefix: env.name().into(),
            schedule: b.schedule.clone(),
            retention_days: *b.retention_days.get_ref(),
            keep_copies: *b.keep_copies.get_ref(),
            endpoint: s3.endpoint.as_str().into(),
            bucket: s3.bucket.as_str().into(),
            region: s3.region.clone(),
            restore_test,
        }
    }
}

/// Where the cluster's special addresses are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkParams {
    /// The nodes (host-network pods and the API server).
    pub node_cidr: Ipv4Net,
    /// The API server's port on the nodes.
    pub api_server_port: u16,
    /// The S3 endpoint.
    pub s3_cidr: Ipv4Net,
    /// Its port.
    pub s3_port: u16,
}

impl NetworkParams {
    /// From `overlays/cluster.toml`.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            node_cidr: settings.cluster.network.node_cidr.0,
            api_server_port: settings.cluster.network.api_server_port.get(),
            s3_cidr: settings.cluster.s3.cidr.0,
            s3_port: settings.cluster.s3.port.get(),
        }
    }
}

/// Everything the components are built from, computed once per build from the settings and
/// handed to each of them (`components::build`), so no component derives its parameters
/// from [`Settings`] again.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// Cluster addresses the NetworkPolicies need.
    pub network: NetworkParams,
    /// The neutral values of the apps base.
    pub base: AppParams,
    /// Each environment's values, in listing order.
    pub envs: Vec<AppParams>,
    /// Every namespace's flows (`components::network::flows_of`), computed once per plan:
    /// the docs and two parts' NetworkPolicies read them.
    pub flows: std::sync::OnceLock<Vec<(String, Vec<crate::netpol::Flow>)>>,
}

impl<'a> Plan<'a> {
    /// The plan of `settings`.
    pub fn new(settings: &'a Settings) -> Self {
        Self {
            settings,
            network: NetworkParams::from_settings(settings),
            base: AppParams::base(settings),
            envs: settings
                .environments()
                .map(|env| AppParams::for_env(settings, env))
                .collect(),
            flows: std::sync::OnceLock::new(),
        }
    }

    /// One environment's values.
    ///
    /// # Panics
    /// If `env` is not an environment of the settings.
    pub fn env(&self, env: Environment) -> &AppParams {
        self.envs
            .iter()
            .find(|p| p.env == Some(env))
            .unwrap_or_else(|| panic!("`{env}` is not an environment of these settings"))
    }

    /// Each environment with its values, in listing order.
    pub fn environments(&self) -> impl Iterator<Item = (Environment, &AppParams)> {
        self.envs.iter().filter_map(|p| p.env.map(|e| (e, p)))
    }
}
