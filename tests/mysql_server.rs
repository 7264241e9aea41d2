//! The MySQL pod's probes and its postStart hook, run as the pod runs them (uid 999, fsGroup
//! 999, no capabilities, read-only root, the Secret and ConfigMaps mounted as files) against a
//! real server: MariaDB 10.11 from Debian on 127.0.0.1:3306 in a network namespace of its own.
//!
//! Where MariaDB differs from MySQL 8.0 for these commands: `REPLICATION CLIENT` is an alias of
//! `BINLOG MONITOR` (10.5+), and MariaDB's `root@localhost` uses unix_socket auth; the
//! commands under test connect as `root@'%'` over TCP, as with the MySQL image
//! (`MYSQL_ROOT_HOST=%`). Both accept `CREATE USER IF NOT EXISTS … WITH MAX_USER_CONNECTIONS`
//! and `ALTER USER … IDENTIFIED BY`.

mod common;

use common::mariadb::{self, EmptyNet, MariaDb};
use common::sandbox::{self, Sandbox};
use o4g_gitops::settings::Settings;
use serde_json::Value;

const ROOT_PW: &str = "r00t-hex-0123456789abcdef";
const EXPORTER_PW: &str = "exp0rter-hex-0123456789";

fn mysql_objects() -> (Value, Vec<Value>) {
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let parse = |path: &str| {
        o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(tree.get(path).unwrap()),
        )
        .unwrap()
    };
    let sts = parse("out/apps/base/mysql/statefulset.yaml").remove(0);
    (sts, parse("out/apps/base/mysql/configmaps.yaml"))
}

/// The mysql container's sandbox, with the Secret holding `root` and `exporter` passwords.
fn mysql_sandbox(root_pw: &str, exporter_pw: &str, net: u32) -> (Sandbox, Value) {
    mysql_sandbox_with(root_pw, exporter_pw, "0123456789abcdef0123", net)
}

/// As `mysql_sandbox`, with the dump job's `backup-password` too.
fn mysql_sandbox_with(
    root_pw: &str,
    exporter_pw: &str,
    backup_pw: &str,
    net: u32,
) -> (Sandbox, Value) {
    let (sts, config_maps) = mysql_objects();
    let spec = sandbox::pod_spec(&sts).clone();
    let cm_of = |volume: &str| -> Vec<(String, String)> {
        let v = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == volume)
            .unwrap();
        if v.get("secret").is_some() {
            return vec![
                ("root-password".into(), root_pw.into()),
                ("xwiki-password".into(), "xwiki-hex-0123".into()),
                ("exporter-password".into(), exporter_pw.into()),
                ("backup-password".into(), backup_pw.into()),
            ];
        }
        let name = &v["configMap"]["name"];
        let cm = config_maps
            .iter()
            .find(|c| &c["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("ConfigMap {name} is rendered"));
        cm["data"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    };
    let (mut sb, container) = sandbox::for_container(&sts, "mysql", &cm_of);
    sb.net_of = Some(net);
    (sb, container)
}

macro_rules! need_server {
    () => {
        if let Err(why) = mariadb::available() {
            skip_or_fail!("{why}")
        }
    };
}

#[test]
fn mysql_probes_pass_against_a_running_server_as_uid_999() {
    need_server!();
    let server = MariaDb::start(ROOT_PW);
    let (sb, c) = mysql_sandbox(ROOT_PW, EXPORTER_PW, server.pid());
    assert_eq!((sb.uid, sb.gid, sb.fs_group), (999, 999, Some(999)));
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let run = sb.run(&sandbox::exec_of(&c[probe]));
        assert!(
            run.ok(),
            "{probe} fails against a running server:\n{}",
            run.text()
        );
    }
}

#[test]
fn mysql_readiness_needs_the_right_root_password_and_ping_does_not() {
    need_server!();
    let server = MariaDb::start(ROOT_PW);
    let (sb, c) = mysql_sandbox("wrong-password", EXPORTER_PW, server.pid());
    let ready = sb.run(&sandbox::exec_of(&c["readinessProbe"]));
    assert!(!ready.ok(), "readiness must run an authenticated query");
    // `mysqladmin ping` exits 0 on "Access denied": the server is up, which is what liveness
    // and startup ask.
    let live = sb.run(&sandbox::exec_of(&c["livenessProbe"]));
    assert!(live.ok(), "{}", live.text());
}

#[test]
fn mysql_probes_fail_when_no_server_listens() {
    need_server!();
    let empty = EmptyNet::new();
    let (sb, c) = mysql_sandbox(ROOT_PW, EXPORTER_PW, empty.pid());
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let run = sb.run(&sandbox::exec_of(&c[probe]));
        assert!(!run.ok(), "{probe} passes with no server");
    }
}

fn post_start(c: &Value) -> Vec<String> {
    sandbox::exec_of(&c["lifecycle"]["postStart"])
}

#[test]
fn exporter_user_is_created_on_every_start_and_follows_password_rotation() {
    need_server!();
    let server = MariaDb::start(ROOT_PW);
    let (sb, c) = mysql_sandbox(ROOT_PW, EXPORTER_PW, server.pid());
    let hook = post_start(&c);
    assert!(
        !server.tcp_login("exporter", EXPORTER_PW),
        "no exporter user before the hook"
    );
    // Every start, an already initialised datadir included: run it twice.
    for _ in 0..2 {
        let run = sb.run(&hook);
        assert!(run.ok(), "postStart hook failed:\n{}", run.text());
        assert!(
            !run.text().contains(EXPORTER_PW),
            "the password is never printed"
        );
    }
    assert!(server.tcp_login("exporter", EXPORTER_PW));
    let grants = server.sql("SHOW GRANTS FOR 'exporter'@'127.0.0.1'");
    assert!(
        grants.contains("PROCESS") && grants.contains("SELECT"),
        "{grants}"
    );
    // The dump job's user reads everything and may change nothing.
    assert!(server.tcp_login("backup", "0123456789abcdef0123"));
    let grants = server.sql("SHOW GRANTS FOR 'backup'@'%'");
    assert!(
        grants.contains("SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES")
            || grants.contains("SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER"),
        "{grants}"
    );
    for write in ["INSERT", "UPDATE", "DELETE", "DROP", "ALL PRIVILEGES"] {
        assert!(!grants.contains(write), "backup may not {write}: {grants}");
    }
    // A rotated password in the Secret is applied at the next start.
    let (sb2, _) = mysql_sandbox(ROOT_PW, "r0tated-hex-abcdef", server.pid());
    let run = sb2.run(&hook);
    assert!(run.ok(), "{}", run.text());
    assert!(server.tcp_login("exporter", "r0tated-hex-abcdef"));
    assert!(!server.tcp_login("exporter", EXPORTER_PW));
}

#[test]
fn exporter_hook_accepts_quotes_and_backslashes_in_both_passwords() {
    // `secrets check` accepts any character but a line break in these passwords; a hook that
    // refused them failed the postStart hook, and the kubelet kills the container on that.
    need_server!();
    let server = MariaDb::start(ROOT_PW);
    let exporter_pw = r#"it's\'a "q\"#;
    let backup_pw = r#"b\'; DROP USER 'exporter'@'127.0.0.1'; -- \"#;
    let (sb, c) = mysql_sandbox_with(ROOT_PW, exporter_pw, backup_pw, server.pid());
    let run = sb.run(&post_start(&c));
    assert!(run.ok(), "postStart hook failed:\n{}", run.text());
    for pw in [exporter_pw, backup_pw] {
        assert!(!run.text().contains(pw), "the value is never printed");
    }
    assert!(server.tcp_login("exporter", exporter_pw));
    assert!(server.tcp_login("backup", backup_pw));
}

#[test]
fn exporter_hook_refuses_an_empty_password_without_running_sql() {
    need_server!();
    let server = MariaDb::start(ROOT_PW);
    let (sb, c) = mysql_sandbox(ROOT_PW, "", server.pid());
    let run = sb.run(&post_start(&c));
    assert!(!run.ok());
    assert!(
        run.text().contains("exporter-password must be"),
        "{}",
        run.text()
    );
    assert_eq!(
        server
            .sql("SELECT COUNT(*) FROM mysql.user WHERE user = 'exporter'")
            .trim(),
        "0"
    );
}

#[test]
fn exporter_probes_use_the_landing_page_not_a_scrape() {
    // A scrape (/metrics) queries MySQL with no deadline; the landing page is static
    // (prometheus/mysqld_exporter v0.19.0 mysqld_exporter.go:275-292).
    let (sts, _) = mysql_objects();
    let spec = sandbox::pod_spec(&sts);
    let exporter = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mysqld-exporter")
        .unwrap();
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = exporter[probe]["httpGet"]["path"].as_str();
        assert_ne!(path, Some("/metrics"), "{probe} must not scrape MySQL");
        assert!(path.is_none() || path == Some("/"), "{probe}: {path:?}");
    }
}
