//! Backups: per environment, a nightly MySQL dump and a nightly XAR export to S3, both
//! encrypted client-side and pruned by the jobs; the monthly restore test (in the environment
//! whose settings ask for it); and Longhorn's recurring backup of every volume.
//!
//! Pod layout of the dump: one container of the MySQL image (it has `mysqldump`, `zstd`,
//! `gzip`, `sha256sum` and bash: docker-library/mysql@7cf11d53, the 8.0.46 update,
//! `8.0/Dockerfile.oracle:34-44` installs `bzip2 gzip openssl xz zstd findutils` on
//! oraclelinux:9-slim; the 8.4 image the same, docker-library/mysql@99f090f8
//! `8.4/Dockerfile.oracle:34-44`, and the pinned 8.4.11's package list, docker-library/repo-info@13ca4008
//! `repos/mysql/local/8.4.11.md`: zstd 1.5.5, gzip 1.12, gawk, coreutils-single) runs the whole pipeline
//! `mysqldump | zstd | tee (sha256) | rclone rcat`, with `pipefail`, so a failure anywhere
//! fails the job and nothing is staged on disk. rclone comes from its own pinned image: an
//! init container copies the static binary (rclone/rclone v1.75.0 `Dockerfile`: built with
//! `CGO_ENABLED=0`, installed at `/usr/local/bin/rclone`) into an emptyDir. Two containers
//! joined by a FIFO would need a hand-made exit-status handshake between them; one pipeline
//! gets it from the shell.

use std::collections::BTreeMap;

use askama::Template;
use k8s_openapi::api::core::v1::ConfigMap;

use super::params::{AppParams, SecretRef};
use crate::Error;
use crate::object::Object;
use crate::quantity::{Bytes, Cpu, Duration};
use crate::settings::Settings;
use crate::workload::*;

/// The ConfigMap holding the scripts.
pub const SCRIPTS: &str = "backup-scripts";
/// Where the scripts are mounted.
pub const SCRIPTS_DIR: &str = "/opt/o4g-backup";
/// The jobs' scratch folder (an emptyDir): option files, FIFOs, the staged XAR.
pub const WORK_DIR: &str = "/work";
/// Where the init container puts rclone.
pub const TOOLS_DIR: &str = "/tools";
/// S3 credentials of an environment (write access to its prefix).
pub const S3_SECRET: &str = "backup-s3";
/// The client-side encryption keys of an environment's backups.
pub const CRYPT_SECRET: &str = "backup-crypt";
/// The XWiki admin account the export uses.
pub const XWIKI_ADMIN_SECRET: &str = "xwiki-backup-admin";
/// Read-only S3 credentials and encryption keys of the restore test's source environment.
pub const RESTORE_SOURCE_SECRET: &str = "restore-test-source";
/// The MySQL user of the dump (created by MySQL's postStart hook).
pub const MYSQL_USER: &str = super::mysql::BACKUP_USER;
/// Name of the dump CronJob.
pub const MYSQL_JOB: &str = "mysql-backup";
/// Name of the XAR export CronJob.
pub const XWIKI_JOB: &str = "xwiki-export";
/// Name of the restore test CronJob.
pub const RESTORE_JOB: &str = "restore-test";
/// `app.kubernetes.io/component` of every backup CronJob and its Jobs: the backup alerts
/// select on it (through kube-state-metrics' label allowlist), so a new backup job is
/// covered by adding the label, not by editing a rule.
pub const BACKUP_COMPONENT: &str = "backup";
/// `app.kubernetes.io/component` of the restore test.
pub const RESTORE_COMPONENT: &str = "restore-test";
/// The mysqldump flags (`../shared/reference/workloads.md` §1): a consistent InnoDB read
/// without locks, routines, triggers and events, binary columns as hex, no tablespace
/// statements (which would need PROCESS).
pub const DUMP_FLAGS: &str = "--single-transaction --quick --routines --triggers --events --hex-blob --no-tablespaces --default-character-set=utf8mb4";
/// The XAR export of the whole main wiki with history, as a backup pack
/// (`../shared/reference/workloads.md` §4). xwiki-platform `ExportAction` (stable-17.3.x,
/// 2a73bfc2, `com/xpn/xwiki/web/ExportAction.java:225-255`) exports attachments, their content
/// and their history by default (`DocumentInstanceInputProperties.java:48-68`); with
/// `attachment_jrcs` left true, `XWikiAttachmentEventGenerator.java:99-106` builds each
/// attachment's whole history as one string in the XWiki pod's heap
/// (`ListAttachmentArchive.toRCS`). `attachment_jrcs=false` (since 12.0, XWIKI-16782) streams
/// it revision by revision instead, so the heap holds one revision at a time.
pub const EXPORT_PATH: &str = "/bin/export/XWiki/XWikiPreferences?format=xar&name=backup&history=true&backup=true&attachment_jrcs=false";
/// A XAR smaller than this is not a whole wiki (an empty wiki's export is larger).
pub const MIN_XAR_BYTES: u64 = 16 * 1024;
/// Tables every XWiki database has rows in (the Hibernate mapping of xwiki-platform oldcore
/// `xwiki.hbm.xml`: documents, their history, objects and properties).
pub const EXPECTED_TABLES: &[&str] = &[
    "xwiki.xwikidoc",
    "xwiki.xwikircs",
    "xwiki.xwikiobjects",
    "xwiki.xwikiproperties",
    "xwiki.xwikistrings",
];
/// The dump, upload and prune of a 50 GiB database take well under this (the drill's
/// figures are in the restore runbook).
pub const BACKUP_DEADLINE: Duration = Duration::hours(4);
/// The restore test gets the RTO.
pub const RESTORE_DEADLINE: Duration = Duration::hours(4);
/// The scratch MySQL's socket, shared by the sidecar and the test.
pub const SCRATCH_SOCKET: &str = "/var/run/mysqld/mysqld.sock";

const SMALL: Resources = Resources::new(
    Compute::new(Cpu::millis(50), Bytes::mebi(32)),
    Compute::new(Cpu::millis(200), Bytes::mebi(64)),
);
/// mysqldump, zstd and rclone's parts in flight (`DUMP_PEAK_BOUND_MIB` for the largest
/// process). CPU: with zstd the pipeline could use more than two cores on an idle node
/// (`MEASURED_DUMP_MAX_CORES`), and two keep a 50 GiB dump's CPU well within its deadline
/// (the drill checks it).
const DUMP_RESOURCES: Resources = Resources::new(
    Compute::new(Cpu::millis(200), Bytes::mebi(256)),
    Compute::new(Cpu::cores(2), Bytes::mebi(512)),
);
/// The client sessions of a restore's import (`o4g_import` in backup-lib.sh): two per core of
/// the restore pod's CPU limit. Each session has one statement in flight and spends most of
/// its time waiting for the server (the commit included), so more sessions than cores overlap:
/// in `backup_and_restore_speed_stage_by_stage_beside_the_stock_pipeline` (2 cores) the import
/// alone went from 12.2 s at one session to 9.8 s at 2, 7.0 s at 4 and 6.6 s at 6; past 4,
/// little more, for one more statement in memory per session: up to 4 MiB (mysqldump packs
/// rows into statements of `net_buffer_length`, 1 MiB, but a single row makes a statement of
/// its own size). A statement of more than 4 MiB (one big row) goes alone through one session, held
/// by awk and that client (about 4.3 times the row each): with four 30 MiB rows the Job's
/// processes held 271 MiB at once (665 MiB before that barrier), so `DUMP_RESOURCES`' 512 MiB
/// takes rows up to about 45 MiB
/// (`big_rows_go_alone_through_one_import_session_and_the_restore_job_fits_its_memory_limit`).
/// `IMPORT_SESSIONS` in the pod's environment overrides it; 1 is the plain `mysql` client.
pub const IMPORT_SESSIONS: u32 = 2 * DUMP_RESOURCES.limits.cpu.as_millis().div_ceil(1000);
const EXPORT_RESOURCES: Resources = Resources::new(
    Compute::new(Cpu::millis(100), Bytes::mebi(128)),
    Compute::new(Cpu::millis(500), Bytes::mebi(256)),
);
const SCRATCH_RESOURCES: Resources = Resources::new(
    Compute::new(Cpu::millis(250), Bytes::gibi(1)),
    Compute::new(Cpu::cores(2), Bytes::gibi(2)),
);
/// Room for the XAR beside the volume it is exported from: it holds the attachments and
/// their revisions (the bulk of `xwiki-data`'s `store/file`), zipped, plus the documents.
const XAR_STAGING_MARGIN: Bytes = Bytes::gibi(2);

pub use super::params::{BackupParams, RestoreTest};

/// rclone's part size for a stream of unknown size. At most 10,000 parts make an object
/// (rclone v1.75.0 `backend/s3/s3.go`, `maxUploadParts`), so this bounds a dump to
/// 156 GiB: `mysql_backup` refuses a MySQL volume larger than that.
pub const UPLOAD_CHUNK_MIB: u64 = 16;
/// Parts uploaded at once (each held in rclone's memory).
pub const UPLOAD_CONCURRENCY: u64 = 2;
/// rclone's read-ahead of the stream it copies (`--buffer-size`, its default): rcat reads
/// stdin, and cat the download, through it (rclone v1.75.0 `fs/accounting/accounting.go`,
/// `Account::WithBuffer`: a stream of unknown size takes all of it, in 1 MiB buffers).
pub const RCLONE_READ_AHEAD_MIB: u64 = 16;
/// Go's soft memory limit for rclone (`GOMEMLIMIT`): the parts in flight, the read-ahead and
/// rclone's own heap (about 10 MiB); it keeps the heap from growing with the length of the run.
pub const RCLONE_GO_MEM_LIMIT_MIB: u64 = 64;
/// The bound on the largest process of the dump's pipeline (rclone): its mapped binary
/// (about 65 MiB resident, measured with `rclone version`) plus `RCLONE_GO_MEM_LIMIT_MIB`
/// (parts in flight, read-ahead and heap).
/// tests/backup_drill.rs checks it at two sizes of data.
pub const DUMP_PEAK_BOUND_MIB: u64 = 128;
/// gzip's level, for a dump where zstd is missing (a legacy host): `-1` costs a third of
/// `-6`'s CPU for dumps 3 to 5 % larger (measured on the drill's data).
pub const GZIP_LEVEL: u8 = 1;
/// zstd's level in the dump (single-threaded, zstd's default). The drill measured zstd -1 at
/// a sixth of gzip -1's CPU for a smaller dump, and its decompression at a quarter of
/// gunzip's: gzip had been the backup's slowest stage.
pub const ZSTD_LEVEL: u8 = 1;
/// The dumps' extensions, newest format first: `.sql.zst` (zstd), `.sql.gz` (gzip: dumps made
/// before zstd, kept until the retention removes them, and a legacy host's without zstd). The
/// restore picks the codec by name; the newest dump, the prune and `o4g backups list` take
/// both as one series.
pub const DUMP_EXTS: [&str; 2] = ["sql.zst", "sql.gz"];

#[derive(Template)]
#[template(path = "scripts/backup-lib.sh", escape = "none")]
struct LibScript {
    chunk_mib: u64,
    upload_concurrency: u64,
    max_object_gib: u64,
    read_ahead_mib: u64,
    go_mem_limit_mib: u64,
}

const LIB: LibScript = LibScript {
    chunk_mib: UPLOAD_CHUNK_MIB,
    upload_concurrency: UPLOAD_CONCURRENCY,
    max_object_gib: max_object_bytes() >> 30,
    read_ahead_mib: RCLONE_READ_AHEAD_MIB,
    go_mem_limit_mib: RCLONE_GO_MEM_LIMIT_MIB,
};

/// The largest object a dump can be: 10,000 parts of `UPLOAD_CHUNK_MIB`.
pub const fn max_object_bytes() -> u64 {
    10_000 * UPLOAD_CHUNK_MIB * 1024 * 1024
}

#[derive(Template)]
#[template(path = "scripts/mysql-backup.sh", escape = "none")]
struct DumpScript<'a> {
    job: &'a str,
    scripts_dir: &'a str,
    dump_flags: &'a str,
    gzip_level: u8,
    zstd_level: u8,
    dump_exts: &'a str,
}

#[derive(Template)]
#[template(path = "scripts/mysql-restore.sh", escape = "none")]
struct RestoreScript<'a> {
    scripts_dir: &'a str,
    dump_exts: &'a str,
    import_sessions: u32,
}

#[derive(Template)]
#[template(path = "scripts/legacy-files.sh", escape = "none")]
struct LegacyFilesScript<'a> {
    job: &'a str,
    scripts_dir: &'a str,
    parts: &'a str,
}

#[derive(Template)]
#[template(path = "scripts/files-restore.sh", escape = "none")]
struct FilesRestoreScript<'a> {
    job: &'a str,
    scripts_dir: &'a str,
    data_dir: &'a str,
    parts: &'a str,
}

/// What of XWiki's permanent directory moves with the database (xwiki-platform stable-17.3.x,
/// 2a73bfc2): `store/file` (attachments, their history and deleted attachments since 10.5,
/// `xwiki.cfg.vm:100-112`; `FilesystemStoreTools.java:62-83`), `storage` (the same before 11.0,
/// moved by the R1100000XWIKI15620 migration), `store/solr` (the event stream, ratings and likes:
/// `DefaultSolrConfiguration.java:232`, `EventStreamConfiguration.java:49`) and `extension`
/// (installed extensions, xwiki-commons `DefaultExtensionManagerConfiguration.java:163`).
/// `cache/` is rebuilt at start.
pub const PERMANENT_PARTS: &str = "store/file storage store/solr extension";
/// Name of the Job that puts the legacy files into `xwiki-data`.
pub const FILES_RESTORE_JOB: &str = "xwiki-files-restore";
/// Where that Job mounts `xwiki-data`. XWiki mounts the claim at `/usr/local/xwiki` and its
/// permanent directory is `/usr/local/xwiki/data` (xwiki/xwiki-docker 17.3.0
/// `docker-entrypoint.sh:141`), so the permanent directory is the claim's `data/`.
const XWIKI_HOME: &str = "/xwiki-data";
/// The permanent directory inside it.
const PERMANENT_DIR: &str = "/xwiki-data/data";

#[derive(Template)]
#[template(path = "scripts/restore-test.sh", escape = "none")]
struct RestoreTestScript<'a> {
    job: &'a str,
    scripts_dir: &'a str,
}

#[derive(Template)]
#[template(path = "scripts/xwiki-export.sh", escape = "none")]
struct ExportScript<'a> {
    job: &'a str,
    scripts_dir: &'a str,
    export_path: &'a str,
    min_bytes: u64,
    max_seconds: u32,
}

/// The scripts, by file name (the keys of the `backup-scripts` ConfigMap).
pub fn scripts() -> Result<BTreeMap<String, String>, Error> {
    // The same text for every environment (only constants go in): rendered once a process,
    // not once per environment.
    static RENDERED: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    if let Some(done) = RENDERED.get() {
        return Ok(done.clone());
    }
    let rendered = render_scripts()?;
    Ok(RENDERED.get_or_init(|| rendered).clone())
}

/// [`scripts`], rendered.
fn render_scripts() -> Result<BTreeMap<String, String>, Error> {
    let dump_exts = DUMP_EXTS.join(" ");
    let render = |t: &dyn askama::DynTemplate| {
        t.dyn_render()
            .map_err(|e| Error::Build(format!("backup script: {e}")))
    };
    Ok(BTreeMap::from([
        ("backup-lib.sh".to_string(), render(&LIB)?),
        (
            "mysql-backup.sh".to_string(),
            render(&DumpScript {
                job: MYSQL_JOB,
                scripts_dir: SCRIPTS_DIR,
                dump_flags: DUMP_FLAGS,
                gzip_level: GZIP_LEVEL,
                zstd_level: ZSTD_LEVEL,
                dump_exts: &dump_exts,
            })?,
        ),
        (
            "mysql-restore.sh".to_string(),
            render(&RestoreScript {
                scripts_dir: SCRIPTS_DIR,
                dump_exts: &dump_exts,
                import_sessions: IMPORT_SESSIONS,
            })?,
        ),
        (
            "restore-test.sh".to_string(),
            render(&RestoreTestScript {
                job: RESTORE_JOB,
                scripts_dir: SCRIPTS_DIR,
            })?,
        ),
        (
            "xwiki-export.sh".to_string(),
            render(&ExportScript {
                job: XWIKI_JOB,
                scripts_dir: SCRIPTS_DIR,
                export_path: EXPORT_PATH,
                min_bytes: MIN_XAR_BYTES,
                max_seconds: 3 * 3600,
            })?,
        ),
        (
            "files-restore.sh".to_string(),
            render(&FilesRestoreScript {
                job: FILES_RESTORE_JOB,
                scripts_dir: SCRIPTS_DIR,
                data_dir: PERMANENT_DIR,
                parts: PERMANENT_PARTS,
            })?,
        ),
    ]))
}

/// Why a credential the scripts write into a MySQL option file or a curl config file cannot
/// be used: a line break inside it (trailing ones are dropped by `$(cat …)`), which
/// `o4g_quoted` of backup-lib.sh refuses at run time. Any other character works, in the MySQL
/// postStart hook's SQL literals too (`ensure_exporter_script`).
pub fn file_credential_problem(value: &str) -> Option<&'static str> {
    value
        .trim_end_matches('\n')
        .contains('\n')
        .then_some("holds a line break, which the backup scripts cannot write into an option file")
}

/// The Secret keys whose values the scripts write into option or config files.
pub const FILE_CREDENTIALS: &[(&str, &str)] = &[
    (super::mysql::SECRET, "root-password"),
    (super::mysql::SECRET, "backup-password"),
    (XWIKI_ADMIN_SECRET, "username"),
    (XWIKI_ADMIN_SECRET, "password"),
];

/// The Secret keys the backup jobs of every environment read.
pub fn secret_refs() -> Vec<SecretRef> {
    vec![
        SecretRef::new(
            S3_SECRET,
            "access-key-id",
            "backup jobs",
            "S3 access key (write access to the environment's prefix)",
        ),
        SecretRef::new(
            S3_SECRET,
            "secret-access-key",
            "backup jobs",
            "S3 secret key",
        ),
        SecretRef::new(
            CRYPT_SECRET,
            "password",
            "backup jobs",
            "rclone crypt key: backups are encrypted before upload",
        ),
        SecretRef::new(
            CRYPT_SECRET,
            "salt",
            "backup jobs",
            "rclone crypt salt (password2)",
        ),
        SecretRef::new(
            XWIKI_ADMIN_SECRET,
            "username",
            XWIKI_JOB,
            "XWiki admin account of the XAR export",
        ),
        SecretRef::new(
            XWIKI_ADMIN_SECRET,
            "password",
            XWIKI_JOB,
            "its password (no line break: it goes into a curl config file)",
        ),
        SecretRef::new(
            super::mysql::SECRET,
            "backup-password",
            MYSQL_JOB,
            "password of the `backup` MySQL user (created by MySQL's postStart hook)",
        ),
    ]
}

/// The Secret keys of the restore test (in the environment that runs it).
pub fn restore_source_refs() -> Vec<SecretRef> {
    let s = RESTORE_SOURCE_SECRET;
    vec![
        SecretRef::new(
            s,
            "access-key-id",
            RESTORE_JOB,
            "S3 access key, read-only on the source environment's prefix",
        ),
        SecretRef::new(s, "secret-access-key", RESTORE_JOB, "its secret key"),
        SecretRef::new(
            s,
            "crypt-password",
            RESTORE_JOB,
            "the source environment's `backup-crypt` password",
        ),
        SecretRef::new(
            s,
            "crypt-salt",
            RESTORE_JOB,
            "the source environment's `backup-crypt` salt",
        ),
    ]
}

/// The keys of the restore test's Secret, sorted.
pub fn restore_source_keys() -> Vec<String> {
    let mut keys: Vec<String> = restore_source_refs()
        .iter()
        .map(|r| r.key.to_string())
        .collect();
    keys.sort();
    keys
}

fn labels(p: &AppParams, name: &'static str, component: &'static str) -> AppLabels {
    AppLabels {
        name,
        instance: name,
        component,
        version: p.mysql_image.tag().to_string(),
        extra: p.extra_labels(),
    }
}

/// The pod labels selectors (NetworkPolicies) use for a backup job.
pub fn selector(name: &'static str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), name.to_string()),
        ("app.kubernetes.io/instance".to_string(), name.to_string()),
    ])
}

fn copy_rclone(tools: &Volume) -> Task {
    Container::new("copy-rclone", crate::images::RCLONE)
        .command([
            "cp",
            "/usr/local/bin/rclone",
            &format!("{TOOLS_DIR}/rclone"),
        ])
        .mount(tools, TOOLS_DIR)
        .resources(SMALL)
        .build_task()
}

/// Where the S3 keys are mounted (files `access-key-id`, `secret-access-key`).
pub const S3_CREDENTIALS_DIR: &str = "/secrets/s3";
/// Where the crypt keys are mounted (files `password`, `salt`).
pub const CRYPT_KEYS_DIR: &str = "/secrets/crypt";

/// The store settings every backup container gets, and the store's keys mounted as files
/// (`keys`: the S3 Secret with its access and secret key, then the crypt Secret with its
/// password and salt), not put in the environment: the scripts give them to rclone alone
/// (`o4g_rclone` of backup-lib.sh), while a variable of the container's environment would be
/// in every process's `/proc/<pid>/environ`, the shell's included.
fn store<R, P>(
    c: ContainerBuilder<R, P>,
    p: &AppParams,
    prefix: &str,
    keys: StoreKeys,
) -> ContainerBuilder<R, P> {
    let b = &p.backup;
    // What differs per environment first: the overlays' patches then name only these.
    let c = c
        .env("BACKUP_PREFIX", prefix)
        .env("WORK", WORK_DIR)
        .env("HOME", WORK_DIR)
        .env("O4G_TOOLS", TOOLS_DIR)
        .env("S3_ENDPOINT", &b.endpoint)
        .env("S3_BUCKET", &b.bucket)
        .env("S3_REGION", &b.region)
        .env("S3_CREDENTIALS_DIR", S3_CREDENTIALS_DIR)
        .env("CRYPT_KEYS_DIR", CRYPT_KEYS_DIR);
    let [(s3, [id, secret]), (crypt, [password, salt])] = keys;
    let s3 = Volume::secret_keys(
        "s3-credentials",
        s3,
        &[(id, "access-key-id"), (secret, "secret-access-key")],
    );
    let crypt = Volume::secret_keys(
        "crypt-keys",
        crypt,
        &[(password, "password"), (salt, "salt")],
    );
    c.mount_read_only(&s3, S3_CREDENTIALS_DIR)
        .mount_read_only(&crypt, CRYPT_KEYS_DIR)
}

/// The S3 Secret and its access and secret keys, then the crypt Secret and its password and
/// salt.
type StoreKeys<'a> = [(&'a str, [&'a str; 2]); 2];

const OWN_KEYS: StoreKeys = [
    (S3_SECRET, ["access-key-id", "secret-access-key"]),
    (CRYPT_SECRET, ["password", "salt"]),
];

fn scripts_config_map(p: &AppParams) -> Result<ConfigMap, Error> {
    let mut meta = labels(p, "backup-scripts", BACKUP_COMPONENT).meta(SCRIPTS);
    // The scripts hold `${…}`: Flux must not substitute in them.
    meta.annotations = Some(BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/substitute".to_string(),
        "disabled".to_string(),
    )]));
    Ok(ConfigMap {
        metadata: meta,
        data: Some(scripts()?),
        ..Default::default()
    })
}

/// The pod of a job that runs one of the scripts against the environment's MySQL (the dump,
/// the runbook's restore): the MySQL image with rclone copied in, the store settings, and the
/// password of `user` from MySQL's Secret key `password_key`.
fn mysql_client_pod(
    p: &AppParams,
    labels: &AppLabels,
    run: (&str, &str, &[String]),
    (user, password_key): (&str, &str),
    extra_env: &[(&str, String)],
) -> Result<k8s_openapi::api::core::v1::PodTemplateSpec, Error> {
    let (container, script, args) = run;
    let tools = Volume::empty_dir_limited("tools", Bytes::mebi(128));
    let work = Volume::empty_dir_limited("work", Bytes::mebi(64));
    let scripts = Volume::config_map("scripts", SCRIPTS);
    let password = Volume::secret_keys(
        "mysql-password",
        super::mysql::SECRET,
        &[(password_key, "password")],
    );
    let c = Container::new(container, p.mysql_image)
        .command(["/bin/bash".to_string(), format!("{SCRIPTS_DIR}/{script}")])
        .args(args.to_vec());
    let mut c = store(c, p, &p.backup.prefix, OWN_KEYS)
        .env("MYSQL_HOST", super::mysql::SERVICE)
        .env("MYSQL_PORT", super::mysql::MYSQL.number.to_string())
        .env("MYSQL_USER", user)
        .env("MYSQL_PASSWORD_FILE", "/secrets/mysql/password");
    for (k, v) in extra_env {
        c = c.env(*k, v.clone());
    }
    let c = c
        .mount_read_only(&tools, TOOLS_DIR)
        .mount(&work, WORK_DIR)
        .mount_read_only(&scripts, SCRIPTS_DIR)
        .mount_read_only(&password, "/secrets/mysql")
        .resources(DUMP_RESOURCES)
        .build_task();
    PodTemplate::job(super::mysql::RUN_AS)
        .labels(labels.all())
        .init_container(copy_rclone(&tools))
        .container(c)
        .build()
}

fn mysql_backup(p: &AppParams) -> Result<Object, Error> {
    // A dump is at most as large as the data (gzip only shrinks it): one that could need
    // more than rclone's 10,000 parts would fail at its last part, so refuse it here.
    if p.mysql_storage.get() > max_object_bytes() {
        return Err(Error::Build(format!(
            "a MySQL volume of {} could make a dump larger than rclone's {} GiB (10,000 parts of {UPLOAD_CHUNK_MIB} MiB): raise UPLOAD_CHUNK_MIB in src/components/backup.rs",
            p.mysql_storage,
            max_object_bytes() >> 30
        )));
    }
    let labels = labels(p, MYSQL_JOB, BACKUP_COMPONENT);
    let b = &p.backup;
    let template = mysql_client_pod(
        p,
        &labels,
        ("dump", "mysql-backup.sh", &[]),
        (MYSQL_USER, "backup-password"),
        &[
            ("RETENTION_DAYS", b.retention_days.to_string()),
            ("KEEP_COPIES", b.keep_copies.to_string()),
        ],
    )?;
    Object::new(&cron_job(
        &labels,
        MYSQL_JOB,
        &b.schedule,
        template,
        BACKUP_DEADLINE,
    ))
}

/// uid/gid of the export (the curl image's `curl_user`; any non-zero uid works). The image is
/// Alpine with BusyBox (curl/curl-container@0d239177 `create_base_image.sh`: `apk add` on the
/// alpine base, `adduser -S curl_user`, curl at `/usr/bin/curl`, `/entrypoint.sh`, which the
/// command overrides); tests/backup_drill.rs runs the export script with BusyBox's applets.
pub const EXPORT_RUN_AS: RunAs = RunAs::new(100, 101);

fn xwiki_export(p: &AppParams) -> Result<Object, Error> {
    let labels = labels(p, XWIKI_JOB, BACKUP_COMPONENT);
    let tools = Volume::empty_dir_limited("tools", Bytes::mebi(128));
    // The XAR is staged before it is checked and committed; it can be as large as the
    // attachments it holds, so the staging follows the data volume's size.
    let staging = Bytes::new(p.xwiki_storage.get() + XAR_STAGING_MARGIN.get());
    let work = Volume::empty_dir_limited("work", staging);
    let scripts = Volume::config_map("scripts", SCRIPTS);
    let admin = Volume::secret_keys(
        "xwiki-admin",
        XWIKI_ADMIN_SECRET,
        &[("username", "username"), ("password", "password")],
    );
    let b = &p.backup;
    let export = Container::new("export", crate::images::CURL).command([
        "/bin/sh".to_string(),
        format!("{SCRIPTS_DIR}/xwiki-export.sh"),
    ]);
    let export = store(export, p, &b.prefix, OWN_KEYS)
        .env(
            "XWIKI_URL",
            format!(
                "http://{}:{}",
                super::xwiki::SERVICE,
                super::xwiki::HTTP.number
            ),
        )
        .env("XWIKI_ADMIN_DIR", "/secrets/xwiki-admin")
        .env("RETENTION_DAYS", b.retention_days.to_string())
        .env("KEEP_COPIES", b.keep_copies.to_string())
        .mount_read_only(&tools, TOOLS_DIR)
        .mount(&work, WORK_DIR)
        .mount_read_only(&scripts, SCRIPTS_DIR)
        .mount_read_only(&admin, "/secrets/xwiki-admin")
        .resources(EXPORT_RESOURCES)
        .build_task();
    let template = PodTemplate::job(EXPORT_RUN_AS)
        .labels(labels.all())
        .init_container(copy_rclone(&tools))
        .container(export)
        .build()?;
    Object::new(&cron_job(
        &labels,
        XWIKI_JOB,
        &b.schedule,
        template,
        BACKUP_DEADLINE,
    ))
}

/// The scratch MySQL's command: a fresh datadir (`--initialize-insecure`: `root@localhost`
/// without a password, reachable only through the pod's socket), then the server without
/// networking, with prod's `max_allowed_packet` and, as prod, the binary log on (MySQL 8.0's
/// default), so the monthly test meets what a restore into prod meets. Not the image's entrypoint: its temporary init server answers
/// on the same socket, which would let the test start against it. `--initialize-insecure`
/// creates `root@localhost` with an empty password (MySQL 8.0 Reference Manual §2.9.1,
/// "Initializing the Data Directory", dev.mysql.com/doc/refman/8.0/en/data-directory-initialization.html);
/// `--no-defaults` must be the first option. Not run here (MariaDB stands in for it in
/// tests/backup_drill.rs, which runs this container's probes against the stand-in).
pub fn scratch_command() -> String {
    let common = "--no-defaults --datadir=/scratch/data --tmpdir=/tmp";
    format!(
        "mysqld {common} --initialize-insecure && exec mysqld {common} --socket={SCRATCH_SOCKET} --pid-file=/var/run/mysqld/mysqld.pid --skip-networking --skip-mysqlx --max-allowed-packet={packet} --innodb-buffer-pool-size=1G --character-set-server=utf8mb4 --collation-server=utf8mb4_bin",
        packet = super::mysql::MAX_ALLOWED_PACKET
    )
}

fn restore_test(p: &AppParams, t: &RestoreTest) -> Result<Object, Error> {
    let labels = labels(p, RESTORE_JOB, RESTORE_COMPONENT);
    let tools = Volume::empty_dir_limited("tools", Bytes::mebi(128));
    let work = Volume::empty_dir_limited("work", Bytes::mebi(64));
    let scripts = Volume::config_map("scripts", SCRIPTS);
    let scratch = Volume::empty_dir_limited("scratch", t.scratch);
    let run = Volume::empty_dir_limited("run", Bytes::mebi(16));
    let tmp = Volume::empty_dir_limited("tmp", Bytes::gibi(2));
    let image = p.mysql_image;
    let ping = || {
        Probe::exec([
            "mysqladmin".to_string(),
            format!("--socket={SCRATCH_SOCKET}"),
            "--user=root".into(),
            "ping".into(),
            "--silent".into(),
        ])
    };
    let scratch_mysql = Container::new("scratch-mysql", image)
        .command(["sh".to_string(), "-c".into(), scratch_command()])
        .mount(&scratch, "/scratch")
        .mount(&run, "/var/run/mysqld")
        .mount(&tmp, "/tmp")
        .resources(SCRATCH_RESOURCES)
        .probes(ping().period(10), ping().period(30).failures(4))
        .startup_probe(ping().period(5).failures(120))
        .build();
    let test = Container::new("restore-test", image)
        .command([
            "/bin/bash".to_string(),
            format!("{SCRIPTS_DIR}/restore-test.sh"),
        ])
        .env("MYSQL_SOCKET", SCRATCH_SOCKET)
        .env("MYSQL_USER", "root")
        .env("EXPECTED_TABLES", EXPECTED_TABLES.join(" "));
    let keys = [
        (
            RESTORE_SOURCE_SECRET,
            ["access-key-id", "secret-access-key"],
        ),
        (RESTORE_SOURCE_SECRET, ["crypt-password", "crypt-salt"]),
    ];
    let test = store(test, p, &t.source, keys)
        .mount_read_only(&tools, TOOLS_DIR)
        .mount(&work, WORK_DIR)
        .mount_read_only(&scripts, SCRIPTS_DIR)
        .mount(&run, "/var/run/mysqld")
        .resources(DUMP_RESOURCES)
        .build_task();
    let template = PodTemplate::job(super::mysql::RUN_AS)
        .labels(labels.all())
        .init_container(copy_rclone(&tools))
        .sidecar(scratch_mysql)
        .container(test)
        .build()?;
    Object::new(&cron_job(
        &labels,
        RESTORE_JOB,
        &t.schedule,
        template,
        RESTORE_DEADLINE,
    ))
}

/// The backup objects: the scripts and the two nightly CronJobs, plus the restore test where
/// the environment runs one (the base never does, so its overlay adds it).
pub fn objects(p: &AppParams) -> Result<Vec<(&'static str, Vec<Object>)>, Error> {
    let mut jobs = vec![mysql_backup(p)?, xwiki_export(p)?];
    if let Some(t) = &p.backup.restore_test {
        jobs.push(restore_test(p, t)?);
    }
    Ok(vec![
        (
            "configmap.yaml",
            vec![Object::new(&scripts_config_map(p)?)?],
        ),
        ("cronjobs.yaml", jobs),
    ])
}

/// The restore Jobs' name prefix (`metadata.generateName`): each `kubectl create` makes a
/// new Job (`mysql-restore-<5 random characters>`: kubernetes/kubernetes
/// staging/src/k8s.io/apiserver/pkg/storage/names/generate.go, `SimpleNameGenerator`,
/// `randomLength = 5`), so a failed one never blocks the next attempt and re-running the step
/// is safe; `kubectl apply` refuses an object without a name, hence `kubectl create -f - -o
/// name`, which prints `job.batch/<name>`.
pub const RESTORE_NOW_JOB: &str = "mysql-restore-";
/// The prefix of the Jobs that only verify a dump (`--verify-only`).
pub const VERIFY_NOW_JOB: &str = "mysql-verify-";
/// The label that marks the runbook's Jobs, and its values: `o4g verify` reads the newest
/// completed restore's time from it.
pub const RUNBOOK_LABEL: &str = "open4goods.org/runbook";
/// See [`RUNBOOK_LABEL`].
pub const RUNBOOK_RESTORE: &str = "restore";
/// See [`RUNBOOK_LABEL`].
pub const RUNBOOK_VERIFY: &str = "restore-verify";

/// A one-off Job restoring a dump into the environment's MySQL (as root), for the runbook:
/// the dump job's pod layout and NetworkPolicy (it carries the dump job's selector labels),
/// running `mysql-restore.sh` with `args` (empty: the newest committed dump). With
/// `verify_only` it checks the dump and does not touch the database.
pub fn restore_job(
    p: &AppParams,
    args: &[String],
    verify_only: bool,
) -> Result<k8s_openapi::api::batch::v1::Job, Error> {
    use k8s_openapi::api::batch::v1 as batch;
    let mut labels = labels(p, MYSQL_JOB, "restore");
    let (prefix, runbook) = if verify_only {
        (VERIFY_NOW_JOB, RUNBOOK_VERIFY)
    } else {
        (RESTORE_NOW_JOB, RUNBOOK_RESTORE)
    };
    labels.extra.insert(RUNBOOK_LABEL.into(), runbook.into());
    let mut args = args.to_vec();
    if verify_only {
        args.insert(0, "--verify-only".into());
    }
    let template = mysql_client_pod(
        p,
        &labels,
        ("restore", "mysql-restore.sh", &args),
        ("root", "root-password"),
        &[],
    )?;
    let mut meta = labels.meta(prefix);
    meta.name = None;
    meta.generate_name = Some(prefix.to_string());
    meta.namespace = p.env.map(|e| e.name().to_string());
    Ok(batch::Job {
        metadata: meta,
        spec: Some(batch::JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(RESTORE_DEADLINE.as_secs() as i64),
            ttl_seconds_after_finished: Some(7 * 86_400),
            template,
            ..Default::default()
        }),
        status: None,
    })
}

/// A one-off Job putting the legacy XWiki's files (`legacy-files.sh`'s newest committed
/// archive, or `args`) into `xwiki-data`, for the cutover runbook: the XAR export's pod layout
/// and NetworkPolicy (it carries the export job's selector labels: S3 and DNS), as XWiki's
/// user, with the data claim mounted where XWiki mounts it. XWiki must be scaled to 0 (the
/// claim is ReadWriteOnce).
pub fn files_restore_job(
    p: &AppParams,
    args: &[String],
) -> Result<k8s_openapi::api::batch::v1::Job, Error> {
    use k8s_openapi::api::batch::v1 as batch;
    let mut labels = labels(p, XWIKI_JOB, "restore");
    labels
        .extra
        .insert("open4goods.org/runbook".into(), "cutover".into());
    let tools = Volume::empty_dir_limited("tools", Bytes::mebi(128));
    let work = Volume::empty_dir_limited("work", Bytes::mebi(64));
    let scripts = Volume::config_map("scripts", SCRIPTS);
    let data = Volume::claim("data", super::xwiki::DATA_CLAIM);
    let mut command = vec![
        "/bin/sh".to_string(),
        format!("{SCRIPTS_DIR}/files-restore.sh"),
    ];
    command.extend(args.iter().cloned());
    let restore = Container::new("restore", crate::images::CURL).command(command);
    let restore = store(restore, p, &p.backup.prefix, OWN_KEYS)
        .mount_read_only(&tools, TOOLS_DIR)
        .mount(&work, WORK_DIR)
        .mount_read_only(&scripts, SCRIPTS_DIR)
        .mount(&data, XWIKI_HOME)
        .resources(EXPORT_RESOURCES)
        .build_task();
    let template = PodTemplate::job(super::xwiki::RUN_AS)
        .labels(labels.all())
        .init_container(copy_rclone(&tools))
        .container(restore)
        .build()?;
    let mut meta = labels.meta(FILES_RESTORE_JOB);
    meta.namespace = p.env.map(|e| e.name().to_string());
    Ok(batch::Job {
        metadata: meta,
        spec: Some(batch::JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(RESTORE_DEADLINE.as_secs() as i64),
            ttl_seconds_after_finished: Some(7 * 86_400),
            template,
            ..Default::default()
        }),
        status: None,
    })
}

/// The shell lines that wait for the Job named in `$job` (`job.batch/<name>`) in `ns` to end,
/// Complete or Failed (`kubectl wait --for=condition=complete` never returns on a failed
/// Job), then print its log. Kubernetes 1.31+ sets `SuccessCriteriaMet`/`FailureTarget`
/// before the terminal `Complete`/`Failed` (kubernetes/kubernetes@v1.32.0
/// pkg/apis/batch/types.go `JobConditionType`), hence the whole-word match; the Job's
/// `activeDeadlineSeconds` guarantees one of the two.
pub fn wait_lines(ns: &str, container: &str, on_failed: &str) -> Vec<String> {
    vec![
        format!(
            "until kubectl -n {ns} get \"$job\" -o jsonpath='{{.status.conditions[?(@.status==\"True\")].type}}' | grep -qwE 'Complete|Failed'; do sleep 15; done"
        ),
        format!("kubectl -n {ns} logs \"$job\" -c {container}"),
        format!(
            "kubectl -n {ns} get \"$job\" -o jsonpath='{{.status.conditions[?(@.status==\"True\")].type}}{{\"\\n\"}}'    # Complete; on Failed {on_failed}"
        ),
    ]
}

/// What to do when a restore Job failed.
const RESTORE_FAILED: &str = "stop here, fix the cause from the log, and run the job=$(…) line again (each Job gets a new name)";

/// The runs of both backup CronJobs of `ns` taken by hand after an import, waited for (the
/// cutover's unfreeze gate, `o4g verify`, requires both to complete after the import).
pub fn after_import_lines(ns: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (cron, container) in [(MYSQL_JOB, "dump"), (XWIKI_JOB, "export")] {
        let job = format!("{cron}-after-import");
        lines.push(format!(
            "kubectl -n {ns} delete job {job} --ignore-not-found && kubectl -n {ns} create job {job} --from=cronjob/{cron}"
        ));
        lines.push(format!("job=job/{job}"));
        lines.extend(wait_lines(
            ns,
            container,
            "fix the cause from the log and run these lines again",
        ));
    }
    lines
}

/// The CronJobs that write an environment's backups (suspended during a restore).
pub const BACKUP_CRON_JOBS: [&str; 2] = [MYSQL_JOB, XWIKI_JOB];

/// The steps around a restore Job of `ns`, in order, as shell lines: Flux's Kustomization
/// suspended first (its drift correction would undo a `kubectl patch`: fluxcd/kustomize-
/// controller docs/spec/v1/kustomizations.md, "runs a server-side apply dry-run to detect and
/// correct drift"), the backup CronJobs suspended (`flux suspend` does not stop them: a dump
/// during the restore would commit a half-restored database as the newest backup), no backup
/// Job running (the Jobs carry the CronJobs' jobTemplate labels), XWiki stopped; `create` is
/// the line that creates the Job into `$job`; then the wait and the resumes in reverse order.
pub fn restore_steps(ns: &str, kustomization: &str, create: &str) -> Vec<String> {
    let patch = |suspend: bool| {
        BACKUP_CRON_JOBS
            .iter()
            .map(|c| {
                format!(
                    "kubectl -n {ns} patch cronjob {c} -p '{{\"spec\":{{\"suspend\":{suspend}}}}}'"
                )
            })
            .collect::<Vec<_>>()
    };
    let mut lines = vec![format!(
        "flux suspend kustomization {kustomization}    # first: Flux would undo the suspends below"
    )];
    lines.extend(patch(true));
    lines.push(format!(
        "while [ -n \"$(kubectl -n {ns} get jobs -l app.kubernetes.io/component={BACKUP_COMPONENT} -o jsonpath='{{range .items[?(@.status.active)]}}{{.metadata.name}} {{end}}')\" ]; do echo 'a backup Job is running: waiting for it to end'; sleep 30; done"
    ));
    lines.push(format!(
        "kubectl -n {ns} scale deployment/xwiki --replicas=0"
    ));
    lines.push(format!(
        "while [ -n \"$(kubectl -n {ns} get pods -l app.kubernetes.io/name=xwiki -o name)\" ]; do sleep 5; done"
    ));
    lines.push(create.to_string());
    lines.extend(wait_lines(ns, "restore", RESTORE_FAILED));
    lines.push(format!(
        "since=$(kubectl -n {ns} get \"$job\" -o jsonpath='{{.status.completionTime}}'); echo \"import ended $since\"    # backups must succeed after it (o4g verify --since)"
    ));
    lines.extend(patch(false));
    lines.push(format!(
        "flux resume kustomization {kustomization}    # scales XWiki back up"
    ));
    lines
}

/// What the drill measured on the 2-core CI machine (2026-12-08, zstd -1, the import through
/// `IMPORT_SESSIONS` sessions, 122 MiB of tables,
/// `backup_and_restore_speed_stage_by_stage_beside_the_stock_pipeline` in
/// `tests/backup_drill.rs`, the slower of two back-to-back runs with no other build running;
/// the servers, the S3 server included, share the two cores with the jobs), for the runbook:
/// MiB/s of table data for the backup job end to end (dump + zstd + sha256 + encrypt +
/// upload, commit, prune) and for the restore Job end to end over a server holding tables
/// (verify pass, drop, download + decrypt + import pass). Both include each job's start-up
/// (rclone set-up, listings: about half a second), so a 50 GiB extrapolation is on the safe
/// side.
pub const MEASURED_DUMP_MIB_S: f64 = 43.9;
/// See [`MEASURED_DUMP_MIB_S`].
pub const MEASURED_RESTORE_MIB_S: f64 = 25.3;
/// The restore Job into a server that holds no table (one pass: no verify pass before the
/// import), same run.
pub const MEASURED_RESTORE_ONE_PASS_MIB_S: f64 = 32.6;
/// The stock pipeline in the same run, same data, servers and rclone: `mysqldump
/// --single-transaction | gzip -6 | rclone rcat` to a plain S3 remote, and `rclone cat |
/// gunzip | mysql` back (MiB/s of table data).
pub const MEASURED_STOCK_MIB_S: (f64, f64) = (30.8, 24.7);
/// Each stage alone in the same run (MiB/s of table data), the runbook's table.
pub const MEASURED_STAGES_MIB_S: [(&str, f64); 12] = [
    ("mysqldump (the job's flags) to /dev/null", 304.6),
    ("zstd -1 of the dump", 376.5),
    ("sha256sum of the .zst", 442.5),
    ("rclone rcat through crypt (encrypt + upload)", 145.9),
    ("rclone cat through crypt (download + decrypt)", 440.9),
    ("zstd -d", 922.2),
    ("import: `mysql` < the dump (one client)", 36.4),
    ("import: `o4g_import` (the restore's), 1 session", 37.4),
    (
        "import: `o4g_import` (the restore's), 4 sessions (the Job's)",
        61.3,
    ),
    ("gzip -1 of the dump (the codec before zstd)", 55.5),
    ("gzip -6 of the dump (the stock pipeline's)", 22.5),
    ("gunzip of the gzip -1 dump", 119.4),
];
/// The restore's first pass (download, decrypt, checksum) is at most this share of the two
/// passes' time in the drill, which checks it.
pub const VERIFY_PASS_MAX_SHARE: f64 = 0.3;
/// The share the drill measured.
pub const MEASURED_VERIFY_SHARE: f64 = 0.14;
/// Peak resident memory of the dump's largest process (MiB) at two sizes of tables (MiB),
/// measured by `the_dump_stays_within_its_memory_bound_…` of the drill.
pub const MEASURED_DUMP_PEAKS: [(u64, u64); 2] = [(96, 106), (1010, 108)];
/// The same for the restore Job's largest process, same test.
pub const MEASURED_RESTORE_PEAKS: [(u64, u64); 2] = [(96, 99), (1010, 99)];
/// The restore Job's rate in that test at the larger size (MiB/s of tables).
pub const MEASURED_RESTORE_LARGE_MIB_S: f64 = 21.3;
/// CPU seconds of the whole dump job per GiB of tables (same test, the larger size).
pub const MEASURED_DUMP_CPU_S_PER_GIB: f64 = 21.2;
/// CPU seconds of zstd alone per GiB of tables (same run).
pub const MEASURED_ZSTD_CPU_S_PER_GIB: f64 = 6.3;
/// The most cores the dump job could use on an idle node: its CPU time over zstd's (the
/// busiest single-threaded stage).
pub const MEASURED_DUMP_MAX_CORES: f64 = 3.3;
/// Days after which the bucket's lifecycle rule aborts an incomplete multipart upload.
pub const ABORT_INCOMPLETE_UPLOADS_DAYS: u32 = 1;

/// Minutes a restore of `bytes` of tables takes at the slower of the drill's two restore
/// figures (the end-to-end test at 122 MiB, the memory test at 1 GiB): the runbooks'
/// durations stay on the safe side.
pub fn restore_minutes(bytes: u64) -> u64 {
    let rate = MEASURED_RESTORE_MIB_S.min(MEASURED_RESTORE_LARGE_MIB_S);
    (bytes as f64 / 1_048_576.0 / rate / 60.0).ceil() as u64
}

/// One environment's section of the restore runbook.
struct RunbookEnv {
    name: String,
    schedule: String,
    retention_days: u32,
    keep_copies: u32,
    mysql_size: String,
    restore_minutes: u64,
    restore_test: Option<(String, String)>,
    /// The restore's shell lines, in order ([`restore_steps`]).
    restore_steps: String,
    /// Verifying a dump without importing it.
    verify_steps: String,
}

#[derive(Template)]
#[template(path = "restore.md", escape = "none")]
struct Runbook {
    bucket: String,
    endpoint: String,
    region: String,
    envs: Vec<RunbookEnv>,
    longhorn_target: String,
    longhorn_schedule: String,
    longhorn_retain: u32,
    dump_mib_s: f64,
    restore_mib_s: f64,
    restore_one_pass_mib_s: f64,
    stock_dump_mib_s: f64,
    stock_restore_mib_s: f64,
    minutes_50g: u64,
    dump_flags: &'static str,
    export_path: &'static str,
    expected_tables: String,
    crypt_secret: &'static str,
    s3_secret: &'static str,
    restore_job: &'static str,
    abort_after_days: u32,
    upload_concurrency: u64,
    chunk_mib: u64,
    peak_small: String,
    peak_large: String,
    peak_bound_mib: u64,
    read_ahead_mib: u64,
    go_mem_limit_mib: u64,
    dump_memory: String,
    dump_cpu: String,
    zstd_level: u8,
    gzip_level: u8,
    cpu_s_per_gib: f64,
    max_cores: f64,
    backup_minutes_50g: u64,
    zstd_minutes_50g: u64,
    cpu_limit_minutes_50g: u64,
    stages: String,
    restore_peak_small: String,
    restore_peak_large: String,
    restore_large_mib_s: f64,
    verify_share: String,
    verify_max_share: String,
    max_allowed_packet: &'static str,
}

/// "`peak` MiB with `size` MiB of tables", for the runbook.
fn peak((size, peak): (u64, u64)) -> String {
    format!("{peak} MiB with {size} MiB of tables")
}

/// `out/docs/runbooks/restore.md`, and the restore Jobs of each environment beside it
/// (`out/docs/runbooks/restore-<env>.yaml`, `files-restore-<env>.yaml`, applied by hand,
/// never by Flux), added to `tree`. Nothing but the audit reads the Jobs: each is audited as
/// it is added, at its namespace's level, and only the findings are kept.
pub fn runbook(plan: &super::params::Plan<'_>, tree: &mut crate::tree::Tree) -> Result<(), Error> {
    let settings = plan.settings;
    let s3 = &settings.cluster.s3;
    let minutes = restore_minutes;
    let namespaces = super::namespaces::applications(settings.environments());
    let level = super::namespaces::level_of(&namespaces);
    let allowed_registries = settings.allowed_registries();
    // Each environment's row and restore Jobs on the cores there are, merged in listing order.
    let environments: Vec<_> = plan.environments().collect();
    let rows = crate::parallel::try_map(&environments, |&(env, p)| {
        let s = settings.env(env);
        let mut jobs = crate::tree::Tree::new();
        let row = RunbookEnv {
            name: env.name().into(),
            schedule: s.backup.schedule.as_str().into(),
            retention_days: p.backup.retention_days,
            keep_copies: p.backup.keep_copies,
            mysql_size: s.mysql.storage_size.to_string(),
            restore_minutes: minutes(s.mysql.storage_size.get()),
            restore_test: p
                .backup
                .restore_test
                .as_ref()
                .map(|t| (t.source.clone(), t.schedule.as_str().to_string())),
            restore_steps: restore_steps(
                env.name(),
                &super::flux::apps_name(env),
                &format!(
                    "job=$(kubectl create -f out/docs/runbooks/restore-{}.yaml -o name)    # or: job=$(cargo run -q -- restore-job --env {0} --from mysql/<timestamp>.sql.zst | kubectl create -f - -o name)",
                    env.name()
                ),
            )
            .join("\n"),
            verify_steps: std::iter::once(format!(
                "job=$(cargo run -q -- restore-job --env {} --from mysql/<timestamp>.sql.zst --verify-only | kubectl create -f - -o name)",
                env.name()
            ))
            .chain(wait_lines(env.name(), "restore", RESTORE_FAILED))
            .collect::<Vec<_>>()
            .join("\n"),
        };
        // No metadata.name (generateName), so not an `Object`: `kubectl create` names it.
        let job = serde_json::to_value(restore_job(p, &[], false)?)
            .map_err(|e| Error::Build(format!("restore Job: {e}")))?;
        jobs.insert_audited(
            format!("out/docs/runbooks/restore-{}.yaml", env.name()),
            crate::tree::to_yaml(&[&job])?,
            &[job],
            |path, objects| {
                crate::policy::audit_objects(path, objects, &level, &allowed_registries)
            },
        )?;
        let job = Object::new(&files_restore_job(p, &[])?)?.into_body();
        jobs.insert_audited(
            format!("out/docs/runbooks/files-restore-{}.yaml", env.name()),
            crate::tree::to_yaml(&[&job])?,
            &[job],
            |path, objects| {
                crate::policy::audit_objects(path, objects, &level, &allowed_registries)
            },
        )?;
        Ok::<_, Error>((row, jobs))
    })?;
    let mut envs = Vec::new();
    for (row, jobs) in rows {
        envs.push(row);
        tree.merge(jobs)?;
    }
    let doc = Runbook {
        bucket: s3.bucket.as_str().into(),
        endpoint: s3.endpoint.as_str().into(),
        region: s3.region.clone(),
        envs,
        longhorn_target: super::longhorn::backup_target(settings),
        longhorn_schedule: s3.volume_backups.schedule.as_str().into(),
        longhorn_retain: *s3.volume_backups.retain.get_ref(),
        dump_mib_s: MEASURED_DUMP_MIB_S,
        restore_mib_s: MEASURED_RESTORE_MIB_S,
        restore_one_pass_mib_s: MEASURED_RESTORE_ONE_PASS_MIB_S,
        stock_dump_mib_s: MEASURED_STOCK_MIB_S.0,
        stock_restore_mib_s: MEASURED_STOCK_MIB_S.1,
        minutes_50g: minutes(50 << 30),
        dump_flags: DUMP_FLAGS,
        export_path: EXPORT_PATH,
        expected_tables: EXPECTED_TABLES.join(", "),
        crypt_secret: CRYPT_SECRET,
        s3_secret: S3_SECRET,
        restore_job: RESTORE_NOW_JOB,
        abort_after_days: ABORT_INCOMPLETE_UPLOADS_DAYS,
        upload_concurrency: UPLOAD_CONCURRENCY,
        chunk_mib: UPLOAD_CHUNK_MIB,
        peak_small: peak(MEASURED_DUMP_PEAKS[0]),
        peak_large: peak(MEASURED_DUMP_PEAKS[1]),
        peak_bound_mib: DUMP_PEAK_BOUND_MIB,
        read_ahead_mib: RCLONE_READ_AHEAD_MIB,
        go_mem_limit_mib: RCLONE_GO_MEM_LIMIT_MIB,
        dump_memory: DUMP_RESOURCES.limits.memory.to_string(),
        dump_cpu: DUMP_RESOURCES.limits.cpu.to_string(),
        zstd_level: ZSTD_LEVEL,
        gzip_level: GZIP_LEVEL,
        cpu_s_per_gib: MEASURED_DUMP_CPU_S_PER_GIB,
        max_cores: MEASURED_DUMP_MAX_CORES,
        backup_minutes_50g: (50.0 * 1024.0 / MEASURED_DUMP_MIB_S / 60.0).ceil() as u64,
        zstd_minutes_50g: (50.0 * MEASURED_ZSTD_CPU_S_PER_GIB / 60.0).ceil() as u64,
        cpu_limit_minutes_50g: (50.0 * MEASURED_DUMP_CPU_S_PER_GIB
            / (f64::from(DUMP_RESOURCES.limits.cpu.as_millis()) / 1000.0)
            / 60.0)
            .ceil() as u64,
        stages: MEASURED_STAGES_MIB_S
            .iter()
            .map(|(stage, rate)| format!("| {stage} | {rate:.0} |"))
            .collect::<Vec<_>>()
            .join("\n"),
        restore_peak_small: peak(MEASURED_RESTORE_PEAKS[0]),
        restore_peak_large: peak(MEASURED_RESTORE_PEAKS[1]),
        restore_large_mib_s: MEASURED_RESTORE_LARGE_MIB_S,
        verify_share: format!("{:.0} %", MEASURED_VERIFY_SHARE * 100.0),
        verify_max_share: format!("{:.0} %", VERIFY_PASS_MAX_SHARE * 100.0),
        max_allowed_packet: super::mysql::MAX_ALLOWED_PACKET,
    }
    .render()
    .map_err(|e| Error::Build(format!("restore runbook: {e}")))?;
    tree.insert("out/docs/runbooks/restore.md", doc.into_bytes())
}

/// Why `o4g restore-job` printed nothing.
#[derive(Debug)]
pub enum RestoreJobError {
    /// Bad arguments (exit 2).
    Input(String),
    /// The Job could not be built or breaks a policy rule (a bug).
    Build(Error),
}

/// `<UTC timestamp>.<ext>` as the dump job names it (`20261201T021500Z.sql.zst`), for one of
/// [`DUMP_EXTS`].
fn is_dump_name(name: &str) -> bool {
    let Some(stamp) = DUMP_EXTS
        .iter()
        .find_map(|ext| name.strip_suffix(ext)?.strip_suffix('.'))
    else {
        return false;
    };
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

/// The YAML `o4g restore-job` prints: the restore Job of `env` for dump `from` (default: the
/// newest committed one), audited like the tree, with the steps around it as comments.
pub fn restore_job_yaml(
    settings: &Settings,
    env: &str,
    from: Option<&str>,
    verify_only: bool,
) -> Result<String, RestoreJobError> {
    let environment = settings
        .environment_arg("--env", env)
        .map_err(RestoreJobError::Input)?;
    let bucket = settings.cluster.s3.bucket.as_str();
    let object = match from {
        None => None,
        Some(f) => {
            let rest = match f.strip_prefix("s3://") {
                Some(url) => {
                    let prefix = format!("{bucket}/{env}/");
                    url.strip_prefix(&prefix).ok_or_else(|| {
                        RestoreJobError::Input(format!(
                            "--from `{f}` is not under s3://{prefix}: the Job reads {env}'s own backups"
                        ))
                    })?
                }
                None => f,
            };
            let name = rest.strip_prefix("mysql/").unwrap_or("");
            if !is_dump_name(name) {
                return Err(RestoreJobError::Input(format!(
                    "--from `{f}`: expected s3://{bucket}/{env}/mysql/<YYYYMMDDThhmmssZ>.sql.zst or mysql/<YYYYMMDDThhmmssZ>.sql.zst (or .sql.gz, an older dump)"
                )));
            }
            Some(format!("mysql/{name}"))
        }
    };
    let p = AppParams::for_env(settings, environment);
    let job = restore_job(&p, &object.iter().cloned().collect::<Vec<_>>(), verify_only)
        .map_err(RestoreJobError::Build)?;
    let body = serde_json::to_value(&job)
        .map_err(|e| RestoreJobError::Build(Error::Build(e.to_string())))?;
    let cfg = crate::policy::AuditConfig::strict(settings.allowed_registries());
    let violations = crate::policy::audit_object(&body, &cfg);
    if !violations.is_empty() {
        return Err(RestoreJobError::Build(Error::Build(format!(
            "{violations:?}"
        ))));
    }
    let yaml = crate::tree::to_yaml(&[&body]).map_err(RestoreJobError::Build)?;
    let which = object.as_deref().unwrap_or("the newest committed dump");
    let mut args = format!("--env {env}");
    if let Some(f) = from {
        args.push_str(&format!(" --from {f}"));
    }
    let header = if verify_only {
        let mut lines = vec![format!(
            "job=$(cargo run -q -- restore-job {args} --verify-only | kubectl create -f - -o name)"
        )];
        lines.extend(wait_lines(env, "restore", RESTORE_FAILED));
        format!(
            "# Verifies {which} of {env} (download, decrypt, sha256 against its .sha256) without importing it:\n{}",
            lines
                .iter()
                .map(|l| format!("#   {l}\n"))
                .collect::<String>()
        )
    } else {
        let create =
            format!("job=$(cargo run -q -- restore-job {args} | kubectl create -f - -o name)");
        let steps = restore_steps(env, &super::flux::apps_name(environment), &create);
        format!(
            "# Restores {which} of {env} into its MySQL (out/docs/runbooks/restore.md), dropping its other schemas first. In this order:\n{}",
            steps
                .iter()
                .map(|l| format!("#   {l}\n"))
                .collect::<String>()
        )
    };
    Ok(format!("{header}{}", String::from_utf8_lossy(&yaml)))
}

/// The backup scripts for the legacy host's final export (cutover), by file name: the same
/// templates as the CronJobs', reading the library from their own folder.
pub fn legacy_scripts() -> Result<BTreeMap<String, String>, Error> {
    let dump_exts = DUMP_EXTS.join(" ");
    let dir = "$(dirname \"$0\")";
    let render = |t: &dyn askama::DynTemplate| {
        t.dyn_render()
            .map_err(|e| Error::Build(format!("legacy script: {e}")))
    };
    Ok(BTreeMap::from([
        ("backup-lib.sh".to_string(), render(&LIB)?),
        (
            "legacy-dump.sh".to_string(),
            render(&DumpScript {
                job: "legacy-dump",
                scripts_dir: dir,
                dump_flags: DUMP_FLAGS,
                gzip_level: GZIP_LEVEL,
                zstd_level: ZSTD_LEVEL,
                dump_exts: &dump_exts,
            })?,
        ),
        (
            "legacy-files.sh".to_string(),
            render(&LegacyFilesScript {
                job: "legacy-files",
                scripts_dir: dir,
                parts: PERMANENT_PARTS,
            })?,
        ),
        (
            "legacy-xar-export.sh".to_string(),
            render(&ExportScript {
                job: "legacy-xar-export",
                scripts_dir: dir,
                export_path: EXPORT_PATH,
                min_bytes: MIN_XAR_BYTES,
                max_seconds: 3 * 3600,
            })?,
        ),
    ]))
}

/// The restore runbook and each environment's restore Job beside it (the backup CronJobs are
/// application objects, built with the apps).
pub struct Backup;

impl super::contribution::Component for Backup {
    fn name(&self) -> &'static str {
        "backup"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        let mut tree = crate::tree::Tree::new();
        runbook(plan, &mut tree)?;
        Ok(super::contribution::Contribution {
            tree,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_may_hold_quotes_and_backslashes_but_not_a_line_break_inside() {
        assert_eq!(file_credential_problem(r#"pw"with\back'#;$ x"#), None);
        assert_eq!(file_credential_problem("trailing-newline\n\n"), None);
        assert!(file_credential_problem("two\nlines").is_some());
    }

    #[test]
    fn the_dump_container_has_room_for_its_largest_process() {
        // rclone's heap: the parts in flight, the read-ahead and about 10 MiB of its own.
        const {
            assert!(
                RCLONE_GO_MEM_LIMIT_MIB
                    >= UPLOAD_CHUNK_MIB * UPLOAD_CONCURRENCY + RCLONE_READ_AHEAD_MIB + 10
            )
        };
        let limit = DUMP_RESOURCES.limits.memory.get();
        assert!(DUMP_PEAK_BOUND_MIB << 20 <= limit, "{limit}");
    }
}
