//! XWiki 17.3.0: a one-replica Deployment (Recreate) with its volume, Service and Ingress.
//!
//! The image starts as root and edits `WEB-INF` at start. Under Pod Security `restricted` it
//! runs as uid 1000 with the *writable webapps* pattern: an init container of the same image
//! copies `/usr/local/tomcat/webapps` into an emptyDir that the main container mounts over it,
//! so the stock entrypoint can still configure the database and the permanent directory. This
//! keeps upstream's configuration logic (no hand-written `hibernate.cfg.xml` to maintain across
//! XWiki versions) at the cost of about 1 GiB of node disk per pod.

use super::apps::{AppParams, SecretRef};
use super::ingress;
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
/// uid/gid XWiki runs as (the image has no user of its own; any non-zero uid works).
pub const RUN_AS: RunAs = RunAs::new(1000, 1000);

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
        version: crate::images::XWIKI
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

    let copy = Container::new("copy-webapps", crate::images::XWIKI)
        // Not `cp -a`: a non-root copy cannot keep root ownership, and the copy must be ours to edit.
        .command([
            "sh",
            "-c",
            "cp -R --preserve=mode,timestamps /usr/local/tomcat/webapps/. /webapps/",
        ])
        .mount(&webapps, "/webapps")
        .resources(COPY_RESOURCES)
        .build_task();
    let xwiki = Container::new("xwiki", crate::images::XWIKI)
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
        .startup_probe(
            Probe::tcp(HTTP)
                .initial_delay(60)
                .period(30)
                .timeout(10)
                .failures(40),
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
        (
            "ingress.yaml",
            vec![Object::new(&ingress::https_route(
                &labels, "xwiki", &p.host, p.issuer, SERVICE, HTTP,
            ))?],
        ),
    ])
}
