//! The cutover from the legacy host: `out/docs/runbooks/cutover.md` and the scripts of
//! `out/docs/scripts/` (the final export, with the backup jobs' own templates, and the smoke
//! test), with the values of `[cutover]` and prod's settings.

use askama::Template;

use crate::Error;
use crate::settings::{Environment, Settings};

#[derive(Template)]
#[template(path = "scripts/smoke-test.sh", escape = "none")]
struct SmokeTest<'a> {
    host: &'a str,
    legacy_url: &'a str,
    known_page: &'a str,
    known_text: &'a str,
    known_attachment: &'a str,
}

#[derive(Template)]
#[template(path = "cutover.md", escape = "none")]
struct Runbook<'a> {
    host: &'a str,
    ns: &'a str,
    record: String,
    zone: &'a str,
    servers_md: String,
    first_server: &'a str,
    dig_all: String,
    ssh: String,
    legacy_address: String,
    legacy_url: &'a str,
    legacy_db: &'a str,
    ingress_md: String,
    first_ingress: String,
    bucket: &'a str,
    endpoint: &'a str,
    region: &'a str,
    retention: u32,
    keep: u32,
    old_ttl_h: u32,
    minutes_50g: u64,
    issuer: &'a str,
    rehearsal_host: &'a str,
    production: &'static str,
    rehearsal: &'static str,
    certificate: String,
    rclone_version: &'static str,
    dashboards_md: String,
    data_size: String,
    cluster_db: &'static str,
    /// The import's shell lines (the restore runbook's, from the chosen dump).
    import_steps: String,
    /// Both backups taken after the import, waited for.
    after_import: String,
}

/// The Certificate (and its Secret) of the wiki's host: cert-manager's ingress-shim names it
/// after the Ingress's TLS `secretName` (`<ingress name>-tls`, `ingress::https_route`).
pub fn certificate_name() -> String {
    format!("{}-tls", super::xwiki::SERVICE)
}

/// The files of the cutover, by path under `out/`: one runbook per environment (prod's is
/// the cutover; the others are its rehearsals), and the scripts.
pub fn files(settings: &Settings) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for (env, _) in settings.envs() {
        out.push((
            format!("out/docs/runbooks/cutover-{}.md", env.name()),
            runbook(settings, env)?.into_bytes(),
        ));
    }
    let c = &settings.cluster.cutover;
    let smoke = SmokeTest {
        host: settings
            .env(settings.production())
            .xwiki
            .host
            .get_ref()
            .as_str(),
        legacy_url: c.legacy_url.as_str(),
        known_page: &c.known_page,
        known_text: &c.known_text,
        known_attachment: &c.known_attachment,
    }
    .render()
    .map_err(|e| Error::Build(format!("smoke test: {e}")))?;
    out.push((
        "out/docs/scripts/smoke-test.sh".to_string(),
        smoke.into_bytes(),
    ));
    for (name, text) in super::backup::legacy_scripts()? {
        out.push((format!("out/docs/scripts/{name}"), text.into_bytes()));
    }
    Ok(out)
}

fn runbook(settings: &Settings, env: Environment) -> Result<String, Error> {
    let c = &settings.cluster.cutover;
    let e = settings.env(env);
    let host = e.xwiki.host.get_ref().as_str();
    let zone = c.dns_zone.as_str();
    let record = host.to_string();
    let servers: Vec<&str> = c.authoritative_servers.iter().map(|s| s.as_str()).collect();
    let ingress: Vec<String> = c
        .ingress_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    let s3 = &settings.cluster.s3;
    let code = |v: &[String]| {
        v.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Runbook {
        host,
        ns: env.name(),
        record: record.clone(),
        zone,
        servers_md: code(&servers.iter().map(ToString::to_string).collect::<Vec<_>>()),
        first_server: servers.first().copied().unwrap_or_default(),
        dig_all: servers
            .iter()
            .map(|s| format!("`dig +noall +answer {record} A @{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        ssh: format!("{}@{}", c.legacy_ssh_user, c.legacy_ssh_host.as_str()),
        legacy_address: c.legacy_address.to_string(),
        legacy_url: c.legacy_url.as_str(),
        legacy_db: c.legacy_database.get_ref(),
        ingress_md: code(&ingress),
        first_ingress: ingress.first().cloned().unwrap_or_default(),
        bucket: s3.bucket.as_str(),
        endpoint: s3.endpoint.as_str(),
        region: &s3.region,
        retention: *e.backup.retention_days.get_ref(),
        keep: *e.backup.keep_copies.get_ref(),
        old_ttl_h: c.current_ttl_seconds.div_ceil(3600),
        minutes_50g: super::backup::restore_minutes(50 << 30),
        issuer: e.xwiki.cluster_issuer.name(),
        rehearsal_host: settings
            .env(settings.rehearsal())
            .xwiki
            .host
            .get_ref()
            .as_str(),
        production: settings.production().name(),
        rehearsal: settings.rehearsal().name(),
        certificate: certificate_name(),
        rclone_version: crate::images::RCLONE.tag(),
        data_size: e.xwiki.storage_size.to_string(),
        cluster_db: super::mysql::DATABASE,
        dashboards_md: super::dashboards::cutover_panels()
            .iter()
            .map(|p| format!("| {} | {} | {} |", p.dashboard, p.panel, p.expect))
            .collect::<Vec<_>>()
            .join("\n"),
        import_steps: super::backup::restore_steps(
            env.name(),
            &super::flux::apps_name(env),
            &import_lines(env.name(), s3.bucket.as_str()),
        )
        .join("\n"),
        after_import: super::backup::after_import_lines(env.name()).join("\n"),
    }
    .render()
    .map_err(|e| Error::Build(format!("cutover runbook: {e}")))
}

/// The lines that put the legacy files into `xwiki-data` (waited for) and create the MySQL
/// restore Job into `$job`, with XWiki at 0 (the restore steps around them).
fn import_lines(ns: &str, bucket: &str) -> String {
    let files = super::backup::FILES_RESTORE_JOB;
    let mut lines = vec![
        format!(
            "kubectl -n {ns} delete job {files} --ignore-not-found && kubectl apply -f out/docs/runbooks/files-restore-{ns}.yaml"
        ),
        format!("job=job/{files}"),
    ];
    lines.extend(super::backup::wait_lines(
        ns,
        "restore",
        "stop here, fix the cause from the log and run these lines again",
    ));
    lines.push(format!(
        "job=$(cargo run -q -- restore-job --env {ns} --from s3://{bucket}/{ns}/mysql/<timestamp>.sql.zst | kubectl create -f - -o name)"
    ));
    lines.join("\n")
}

/// The cutover runbooks and scripts.
pub struct Cutover;

impl super::contribution::Component for Cutover {
    fn name(&self) -> &'static str {
        "cutover"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        let mut tree = crate::tree::Tree::new();
        for (path, bytes) in files(plan.settings)? {
            tree.insert(path, bytes)?;
        }
        Ok(super::contribution::Contribution {
            tree,
            ..Default::default()
        })
    }
}
