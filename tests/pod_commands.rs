//! Every shell command the XWiki pod runs, executed as the pod runs it: uid 1000, fsGroup 1000,
//! no capabilities, read-only root and image, kubelet-like volumes (see `common/sandbox.rs`).
//! The MySQL commands run against MariaDB in `tests/mysql_server.rs`.

mod common;

use common::sandbox::{self, ImageFile, Sandbox};
use o4g_gitops::settings::Settings;
use serde_json::Value;

fn rendered(path: &str) -> Vec<Value> {
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let bytes = tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} is rendered"));
    o4g_gitops::lint::parse_documents(std::path::Path::new(path), &String::from_utf8_lossy(bytes))
        .unwrap()
}

fn xwiki_deployment() -> Value {
    rendered("out/apps/base/xwiki/deployment.yaml")
        .into_iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap()
}

/// The part of the XWiki image the commands touch: the unpacked WAR, root-owned as the
/// Dockerfile leaves it (`unzip -d /usr/local/tomcat/webapps/ROOT xwiki.war` run as root).
fn xwiki_image(sandbox: &mut Sandbox) {
    let root = "/usr/local/tomcat/webapps/ROOT";
    sandbox.image_roots = vec!["/usr/local/tomcat".into()];
    sandbox.image = [
        ("index.html", "<html/>", 0o644),
        (
            "WEB-INF/hibernate.cfg.xml",
            "<property name=\"hibernate.connection.password\">replacepassword</property>\n",
            0o644,
        ),
        ("WEB-INF/xwiki.cfg", "xwiki.webapppath=xwiki/\n", 0o644),
        (
            "WEB-INF/xwiki.properties",
            "# environment.permanentDirectory=/var/lib/xwiki\n",
            0o644,
        ),
        ("WEB-INF/lib/xwiki-platform-oldcore.jar", "PK", 0o644),
        ("META-INF/extension.xed", "<extension/>", 0o644),
    ]
    .into_iter()
    .map(|(p, c, m)| ImageFile {
        path: format!("{root}/{p}"),
        content: c.into(),
        mode: m,
    })
    .collect();
}

fn copy_sandbox() -> (Sandbox, Value) {
    let deployment = xwiki_deployment();
    let (mut sb, container) = sandbox::for_container(&deployment, "copy-webapps", &|_| vec![]);
    xwiki_image(&mut sb);
    (sb, container)
}

#[test]
fn xwiki_webapps_copy_succeeds_as_the_pod_uid_on_a_kubelet_empty_dir() {
    if let Err(why) = sandbox::available() {
        skip_or_fail!("{why}")
    }
    let (sb, container) = copy_sandbox();
    assert_eq!((sb.uid, sb.gid, sb.fs_group), (1000, 1000, Some(1000)));
    let run = sb.run(&sandbox::argv(&container));
    assert!(run.ok(), "copy-webapps failed as uid 1000:\n{}", run.text());
    let copied = run
        .volume("/webapps", &sb)
        .join("ROOT/WEB-INF/hibernate.cfg.xml");
    let meta = std::fs::metadata(&copied).expect("WEB-INF copied");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        meta.uid(),
        1000,
        "the copy belongs to the pod's uid, so it can edit it"
    );
    assert_eq!(meta.mode() & 0o777, 0o644, "modes preserved");
    let image_time = chrono_2025_04_28();
    assert_eq!(meta.mtime(), image_time, "timestamps preserved");
}

/// 2025-04-28T12:00:00 in the machine's zone, as `touch -d` set it.
fn chrono_2025_04_28() -> i64 {
    let out = std::process::Command::new("date")
        .args(["-d", "2025-04-28T12:00:00", "+%s"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn copying_webapps_dot_onto_the_empty_dir_fails_as_non_root() {
    // Fidelity of the sandbox: the form the first wave used exits 1 here, as it does under
    // the kubelet (cp sets the times of the root-owned destination itself).
    if let Err(why) = sandbox::available() {
        skip_or_fail!("{why}")
    }
    let (sb, _) = copy_sandbox();
    for old in [
        "cp -R --preserve=mode,timestamps /usr/local/tomcat/webapps/. /webapps/",
        "cp -a /usr/local/tomcat/webapps/. /webapps/",
    ] {
        let run = sb.run(&["sh".into(), "-c".into(), old.into()]);
        assert!(
            !run.ok(),
            "`{old}` should fail as uid 1000:\n{}",
            run.text()
        );
        assert!(
            run.text().contains("Operation not permitted"),
            "{}",
            run.text()
        );
    }
}

#[test]
fn xwiki_entrypoint_can_edit_its_configuration_after_the_copy() {
    // What the 17.3.0 entrypoint does on every new pod (xwiki/xwiki-docker@71a0c005
    // `17/mysql-tomcat/xwiki/docker-entrypoint.sh`: `safesed`/`xwiki_replace` write
    // `$file.old` next to the file in WEB-INF, `cp` it back, `rm` it; `first_start` touches
    // `webapps/ROOT/.first_start_completed`; `mkdir -p /usr/local/xwiki/data`), run in the
    // main container's mounts after the init container's copy.
    if let Err(why) = sandbox::available() {
        skip_or_fail!("{why}")
    }
    let deployment = xwiki_deployment();
    let (copy_sb, copy) = copy_sandbox();
    let copied = copy_sb.run(&sandbox::argv(&copy));
    assert!(copied.ok(), "{}", copied.text());
    let webapps = copied.volume("/webapps", &copy_sb).to_path_buf();

    let (mut sb, main) = sandbox::for_container(&deployment, "xwiki", &|_| {
        vec![("password".into(), "0123abcd".into())]
    });
    xwiki_image(&mut sb);
    assert!(
        main["securityContext"]["readOnlyRootFilesystem"] == true,
        "the test models a read-only root"
    );
    let edit = r#"set -e
W=/usr/local/tomcat/webapps/ROOT/WEB-INF
sed "s/replacepassword/$(cat "$DB_PASSWORD_FILE")/g" "$W/hibernate.cfg.xml" > "$W/hibernate.cfg.xml.old"
cp "$W/hibernate.cfg.xml.old" "$W/hibernate.cfg.xml"
rm "$W/hibernate.cfg.xml.old"
sed 's~\#\? \?environment.permanentDirectory \?=.*~environment.permanentDirectory=/usr/local/xwiki/data~g' "$W/xwiki.properties" > "$W/xwiki.properties.old"
cp "$W/xwiki.properties.old" "$W/xwiki.properties"
rm "$W/xwiki.properties.old"
touch /usr/local/tomcat/webapps/ROOT/.first_start_completed
mkdir -p /usr/local/xwiki/data
touch /usr/local/tomcat/temp/t /usr/local/tomcat/work/t /usr/local/tomcat/logs/t /tmp/t "$HOME/.cache-test"
"#;
    let run = sb.run_prepared(&["bash".into(), "-c".into(), edit.into()], |vols| {
        // The emptyDir the init container filled is the one the main container mounts.
        let i = sb
            .mounts
            .iter()
            .position(|m| m.path == "/usr/local/tomcat/webapps")
            .unwrap();
        let status = std::process::Command::new("cp")
            .args(["-a", &format!("{}/.", webapps.display())])
            .arg(&vols[i])
            .status()
            .unwrap();
        assert!(status.success());
    });
    assert!(
        run.ok(),
        "the entrypoint's edits fail as uid 1000:\n{}",
        run.text()
    );
    let cfg = std::fs::read_to_string(
        run.volume("/usr/local/tomcat/webapps", &sb)
            .join("ROOT/WEB-INF/hibernate.cfg.xml"),
    )
    .unwrap();
    assert!(cfg.contains(">0123abcd<"), "{cfg}");
}

#[test]
fn xwiki_startup_probe_checks_the_application_with_a_twenty_minute_budget() {
    let deployment = xwiki_deployment();
    let spec = sandbox::pod_spec(&deployment);
    let xwiki = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "xwiki")
        .unwrap();
    let startup = &xwiki["startupProbe"];
    assert!(
        startup.get("tcpSocket").is_none(),
        "Tomcat binds 8080 before the webapp is deployed: a TCP startup probe passes at once"
    );
    let path = startup["httpGet"]["path"]
        .as_str()
        .expect("an HTTP startup probe");
    assert!(path.starts_with("/rest"), "an application URL, got {path}");
    let n = |k: &str| startup[k].as_i64().unwrap_or(0);
    let budget = n("initialDelaySeconds") + n("periodSeconds") * n("failureThreshold");
    assert!(budget >= 20 * 60, "startup budget {budget} s < 20 min");
    assert!(n("timeoutSeconds") >= 10, "a 1-CPU start answers slowly");
    // Liveness only starts once the startup probe has succeeded, so its own budget only has
    // to cover a hung, already started wiki.
    assert!(xwiki["livenessProbe"]["httpGet"]["path"].is_string());
}
