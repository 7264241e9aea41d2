//! XWiki 17.3.0: a one-replica Deployment (Recreate) with its volume, Service and Ingress.
//!
//! The image starts as root and edits `WEB-INF` at start. Under Pod Security `restricted` it
//! runs as uid 1000 with the *writable webapps* pattern: an init container of the same image
//! copies `/usr/local/tomcat/webapps` into an emptyDir that the main container mounts over it,
//! so the stock entrypoint can still configure the database and the permanent directory. This
//! keeps upstream's configuration logic (no hand-written `hibernate.cfg.xml` to maintain across
//! XWiki versions) at the cost of about 1 GiB of node disk per pod.

use super::ingress;
use super::params::{AppParams, SecretRef};
use crate::Error;
use crate::object::Object;
use crate::quantity::{Bytes, Cpu};
use crate::workload::*;

/// Tomcat's HTTP port.
pub const HTTP: Port = Port::tcp("http", 8080);
/// The Service in front of XWiki.
pub const SERVICE: &str = "xwiki";
/// The claim holding `/usr/local/xwiki` (permanent directory: attachments, extensions, Solr).
pub const DATA_CLAIM: &str = "xwiki-data";
/// The Secret holding the database password (the `xwiki-password` key of MySQL's Secret).
pub const DB_SECRET: &str = super::mysql::SECRET;
/// Name of the wiki's Ingress, or of its Gateway and HTTPS route (Traefik).
pub const ROUTE: &str = ingress::WIKI_ROUTE;
/// uid/gid XWiki runs as (the image has no user of its own; any non-zero uid works).
pub const RUN_AS: RunAs = RunAs::new(1000, 1000);

/// The init container's copy of the webapps into the writable emptyDir.
///
/// It copies the *children* of `webapps/` (`ROOT`), never `webapps/.` onto the emptyDir: copying
/// `SRC/.` makes `cp` set the mode and times of the destination directory itself, which the
/// kubelet created as root (fsGroup only changes its group), and as a non-owner without
/// capabilities that `utimensat`/`chmod` fails with EPERM, which `cp` reports and exits 1 when
/// attributes are preserved (coreutils 9.4 `src/copy.c`, `copy_internal` → `set_file_attributes`
/// / `utimens` error path; `../shared/reference/workloads.md` §3). The glob fails loudly if the
/// image ever ships no webapp. Proven by `tests/pod_commands.rs` as uid 1000 on a kubelet-like
/// emptyDir (root-owned, fsGroup group, setgid).
pub const COPY_WEBAPPS: &str =
    "cp -R --preserve=mode,timestamps /usr/local/tomcat/webapps/* /webapps/";

/// Path of the startup probe: Tomcat binds the connector (`bindOnInit`) before the webapp is
/// deployed, so only an application URL measures the start. `/rest` blocks until XWiki is
/// initialised (`XWikiContextInitializationFilter` → `XWiki.getXWiki(true, …)` waits on the
/// init job; `../shared/reference/workloads.md` §3).
pub const STARTUP_PATH: &str = "/rest";
/// Startup probe timeout. Default: 10 s, because a 1-CPU environment answers slowly while
/// the first start creates the schema.
pub const STARTUP_TIMEOUT_SECONDS: i32 = 10;
/// Startup probe failures: 40 × 30 s = 20 minutes after the 60 s delay.
pub const STARTUP_FAILURES: i32 = 40;

/// Resources of the webapps copy. Default: 100m/128Mi to 500m/256Mi: a `cp` of ~700 MB.
const COPY_RESOURCES: Resources = Resources::new(
    Compute::new(Cpu::millis(100), Bytes::mebi(128)),
    Compute::new(Cpu::millis(500), Bytes::mebi(256)),
);

/// Labels of the XWiki objects.
pub fn labels(p: &AppParams) -> AppLabels {
    AppLabels {
        name: "xwiki",
        instance: "xwiki",
        component: "wiki",
        version: p
            .xwiki_image
            .tag()
            .trim_end_matches("-mysql-tomcat")
            .to_string(),
        extra: p.extra_labels(),
    }
}

/// The Secret keys XWiki reads.
pub fn secret_refs() -> Vec<SecretRef> {
    vec![SecretRef::new(
        DB_SECRET,
        "xwiki-password",
        "xwiki",
        "DB_PASSWORD_FILE",
    )]
}

/// Why the XWiki 17.3.0 entrypoint would mishandle `value` as `DB_PASSWORD`, if it would.
///
/// The entrypoint (xwiki/xwiki-docker@71a0c005 `17/mysql-tomcat/xwiki/docker-entrypoint.sh`,
/// `configure` line 130) calls `safesed "replacepassword" $DB_PASSWORD …` unquoted, and
/// `safesed` (line 88) runs `echo $2 | sed -e 's/[\/&]/\\&/g'` into a `sed s/…/…/g` of
/// `hibernate.cfg.xml`: white space splits the value into more arguments (the file argument
/// shifts and the start aborts), glob characters expand against the working directory, a
/// leading `-` is taken by `echo` as an option, a backslash reaches `sed`'s replacement, and
/// `&`/`<` end up raw inside the XML. Later placeholders are substituted inside the value too.
pub fn db_password_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("is empty");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(
            "contains white space or a control character, which the XWiki entrypoint splits (unquoted `$DB_PASSWORD`)",
        );
    }
    if value.contains(['*', '?', '[', ']']) {
        return Some(
            "contains a glob character (* ? [ ]), which the shell expands in the XWiki entrypoint",
        );
    }
    if value.contains('\\') {
        return Some(
            "contains a backslash, which reaches sed's replacement in the XWiki entrypoint",
        );
    }
    if value.contains(['&', '<']) {
        return Some("contains & or <, which would make hibernate.cfg.xml invalid XML");
    }
    if value.starts_with('-') {
        return Some("starts with -, which the XWiki entrypoint's `echo` takes as an option");
    }
    if ["replacecontainer", "replacedatabase", "replacejdbcparams"]
        .iter()
        .any(|t| value.contains(t))
    {
        return Some("contains a placeholder the XWiki entrypoint substitutes after the password");
    }
    None
}

/// JVM heap: 60% of the memory limit, leaving room for metaspace, threads and the
/// LibreOffice process the image starts for office imports.
pub fn heap_mib(p: &AppParams) -> u64 {
    p.xwiki_resources.limits.memory.get() * 6 / 10 / (1 << 20)
}

/// All XWiki objects, by file.
pub fn objects(p: &AppParams) -> Result<Vec<(&'static str, Vec<Object>)>, Error> {
    let labels = labels(p);
    let data = Volume::claim("data", DATA_CLAIM);
    let webapps = Volume::empty_dir_limited("webapps", Bytes::gibi(2));
    let tmp = Volume::empty_dir_limited("tmp", Bytes::gibi(2));
    let db = Volume::secret_keys("db", DB_SECRET, &[("xwiki-password", "password")]);
    let tomcat = |dir: &str| Volume::empty_dir(format!("tomcat-{dir}"));
    let (temp, work, logs, catalina) = (
        tomcat("temp"),
        tomcat("work"),
        tomcat("logs"),
        tomcat("catalina"),
    );

    let copy = Container::new("copy-webapps", p.xwiki_image)
        .command(["sh", "-c", COPY_WEBAPPS])
        .mount(&webapps, "/webapps")
        .resources(COPY_RESOURCES)
        .build_task();
    let xwiki = Container::new("xwiki", p.xwiki_image)
        .port(HTTP)
        .env("DB_HOST", super::mysql::endpoint())
        .env("DB_DATABASE", super::mysql::DATABASE)
        .env("DB_USER", super::mysql::XWIKI_USER)
        .env("DB_PASSWORD_FILE", "/run/secrets/db/password")
        .env(
            "JAVA_OPTS",
            format!("-Xmx{}m -XX:+ExitOnOutOfMemoryError", heap_mib(p)),
        )
        // The JVM, LibreOffice and fontconfig write caches under HOME.
        .env("HOME", "/tmp")
        .mount(&data, "/usr/local/xwiki")
        .mount(&webapps, "/usr/local/tomcat/webapps")
        .mount(&temp, "/usr/local/tomcat/temp")
        .mount(&work, "/usr/local/tomcat/work")
        .mount(&logs, "/usr/local/tomcat/logs")
        .mount(&catalina, "/usr/local/tomcat/conf/Catalina")
        .mount(&tmp, "/tmp")
        .mount_read_only(&db, "/run/secrets/db")
        .resources(p.xwiki_resources)
        .probes(
            Probe::http_get("/rest/wikis/xwiki/spaces", HTTP)
                .period(30)
                .timeout(3)
                .failures(10),
            Probe::http_get("/rest", HTTP)
                .period(30)
                .timeout(3)
                .failures(10),
        )
        // The first start creates the schema: allow 20 minutes before liveness takes over.
        // An HTTP check of the application, not TCP: Tomcat binds 8080 before it deploys the
        // webapp, and `/rest` answers only once the wiki is initialised (see STARTUP_PATH).
        .startup_probe(
            Probe::http_get(STARTUP_PATH, HTTP)
                .initial_delay(60)
                .period(30)
                .timeout(STARTUP_TIMEOUT_SECONDS)
                .failures(STARTUP_FAILURES),
        )
        .build();
    let template = PodTemplate::service(RUN_AS)
        .labels(labels.all())
        .init_container(copy)
        .container(xwiki)
        .termination_grace_period(60)
        .build()?;
    Ok(vec![
        (
            "pvc.yaml",
            vec![Object::new(&claim(
                &labels,
                DATA_CLAIM,
                p.xwiki_storage,
                &p.xwiki_storage_class,
            ))?],
        ),
        (
            "service.yaml",
            vec![Object::new(&service(&labels, SERVICE, &[HTTP], false))?],
        ),
        (
            "deployment.yaml",
            vec![Object::new(&deployment(&labels, "xwiki", template, true))?],
        ),
        ingress::routes(p.ingress, &labels, ROUTE, &p.host, p.issuer, SERVICE, HTTP)?,
    ])
}
