//! The cutover runbook and scripts: rendered with the settings' own values, no template left,
//! shellcheck-clean. The legacy dump script's run against MariaDB, imported by the restore
//! Job, is in tests/backup_drill.rs.

mod common;

use o4g_gitops::settings::Settings;

fn file(tree: &o4g_gitops::tree::Tree, path: &str) -> String {
    String::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path}")).to_vec()).unwrap()
}

#[test]
fn each_environment_s_runbook_carries_its_own_values_and_no_template_marker() {
    let s = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let c = &s.cluster.cutover;
    for (env, e) in s.envs() {
        let doc = file(&tree, &format!("out/docs/runbooks/cutover-{env}.md"));
        assert!(
            !doc.contains("{{") && !doc.contains("{%") && !doc.contains("TODO"),
            "{env}: template left over"
        );
        let mut needles = vec![
            e.xwiki.host.get_ref().as_str().to_string(),
            c.dns_zone.as_str().to_string(),
            c.legacy_address.to_string(),
            format!("{}@{}", c.legacy_ssh_user, c.legacy_ssh_host.as_str()),
            s.cluster.s3.bucket.as_str().to_string(),
            s.cluster.s3.endpoint.as_str().to_string(),
            format!("BACKUP_PREFIX={env}"),
            format!("s3://{}/{env}/mysql/", s.cluster.s3.bucket.as_str()),
            format!("restore-job --env {env}"),
            format!("verify --env {env} --snapshot"),
            format!("kubectl -n {env} scale deployment/xwiki --replicas=0"),
            format!("SMOKE_HOST={}", e.xwiki.host.get_ref().as_str()),
            e.xwiki.cluster_issuer.name().to_string(),
            "TTL 300".into(),
            "## Rollback".into(),
            "T-48 h".into(),
            "T+24 h".into(),
        ];
        needles.extend(c.ingress_addresses.iter().map(ToString::to_string));
        needles.extend(
            c.authoritative_servers
                .iter()
                .map(|n| format!("@{}", n.as_str())),
        );
        for n in &needles {
            assert!(doc.contains(n.as_str()), "{env}: the runbook lacks `{n}`");
        }
        for other in common::environments().into_iter().filter(|o| *o != env) {
            assert!(
                !doc.contains(&format!("-n {other} ")),
                "{env}: names {other}'s namespace"
            );
        }
    }
    let smoke = file(&tree, "out/docs/scripts/smoke-test.sh");
    for n in [&c.known_page, &c.known_text, &c.known_attachment] {
        assert!(smoke.contains(n.as_str()), "smoke test lacks {n}");
    }
}

#[test]
fn the_cutover_scripts_are_shellcheck_clean() {
    if !common::has_tool("shellcheck", "--version") {
        skip_or_fail!("shellcheck is not installed (Debian shellcheck)");
    }
    let s = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (path, bytes) in tree.files() {
        if let Some(name) = path.strip_prefix("out/docs/scripts/") {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            names.push(name.to_string());
        }
    }
    let mut expected: Vec<String> = o4g_gitops::components::backup::legacy_scripts()
        .unwrap()
        .into_keys()
        .collect();
    expected.push("smoke-test.sh".into());
    expected.sort();
    names.sort();
    assert_eq!(names, expected);
    let out = std::process::Command::new("shellcheck")
        .args(["-x", "--source-path=SCRIPTDIR"])
        .args(&names)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}

/// The admin password of the stand-in wikis: it holds what curl's config file must escape.
const SMOKE_PASSWORD: &str = r#"s3cret"hex\ #;$x"#;

/// How a stand-in wiki serves.
#[derive(Clone, Copy)]
enum Tls {
    /// HTTPS with a certificate for the host, from a CA curl trusts (`CURL_CA_BUNDLE`).
    Issued,
    /// HTTPS with a self-signed certificate as ingress-nginx serves before cert-manager has
    /// issued one (ingress-nginx controller-v1.15.1 `internal/net/ssl/ssl.go:417-430`: CN
    /// "Kubernetes Ingress Controller Fake Certificate", SAN `ingress.local`).
    Fake,
}

/// One side of the smoke test: the stand-in wiki's documents and answers.
#[derive(Clone)]
struct Side {
    tls: Tls,
    text: String,
    docs: u32,
    /// A document index this side lacks.
    drop: Option<u32>,
    /// `index=version` overrides.
    versions: &'static str,
    /// Documents only this side has (XWiki's mandatory pages on the cluster).
    extra: u32,
    attachment: &'static str,
}

impl Side {
    fn faithful(text: &str) -> Self {
        Side {
            tls: Tls::Issued,
            text: text.to_string(),
            docs: 1200,
            drop: None,
            versions: "",
            extra: 0,
            attachment: "PNG-bytes-1",
        }
    }
}

/// Scheme, host, port and context path (`/xwiki`, or empty) of a wiki base URL
/// (`https://host[:port][/path]`).
fn parts_of(url: &str) -> (String, String, u16, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, p.parse().unwrap()),
        None => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    let path = path.trim_end_matches('/');
    let context = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    (scheme.to_string(), host.to_string(), port, context)
}

/// Host of a wiki base URL.
fn host_of(url: &str) -> String {
    parts_of(url).1
}

/// The smoke test against stand-in wikis (tests/backup/wiki_server.py): the cluster at
/// 127.0.0.1:443 over HTTPS, and the legacy wiki at 127.0.0.2 where the settings'
/// `legacy_url` (or `legacy_url` when given) says: its scheme, port and context path, in a
/// network namespace of their own.
fn smoke(new: &Side, legacy: &Side, legacy_url: Option<&str>) -> (bool, String) {
    let s = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let c = &s.cluster.cutover;
    let host = s
        .env(s.production())
        .xwiki
        .host
        .get_ref()
        .as_str()
        .to_string();
    let (legacy_scheme, legacy_host, legacy_port, legacy_context) =
        parts_of(legacy_url.unwrap_or(c.legacy_url.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let sh = |cmd: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", cmd])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd}: {}", common::text(&out));
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=o4g-test-ca 2>/dev/null",
    );
    std::fs::write(
        dir.path().join("san.ext"),
        format!("subjectAltName=DNS:{host},DNS:{legacy_host}\n"),
    )
    .unwrap();
    sh(&format!(
        "openssl req -newkey rsa:2048 -nodes -keyout issued.key -out issued.csr -subj /CN={host} 2>/dev/null && openssl x509 -req -in issued.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out issued.pem -days 2 -extfile san.ext 2>/dev/null"
    ));
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout fake.key -out fake.pem -days 2 -subj '/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate' -addext subjectAltName=DNS:ingress.local 2>/dev/null",
    );
    let script = dir.path().join("smoke-test.sh");
    std::fs::write(&script, file(&tree, "out/docs/scripts/smoke-test.sh")).unwrap();
    let server = common::root().join("tests/backup/wiki_server.py");
    let start = |addr: &str, side: &Side, scheme: &str, port: u16, context: &str| {
        let cert = match side.tls {
            Tls::Issued => "issued",
            Tls::Fake => "fake",
        };
        let tls = if scheme == "https" {
            format!("WIKI_TLS_CERT={d}/{cert}.pem WIKI_TLS_KEY={d}/{cert}.key ")
        } else {
            String::new()
        };
        format!(
            "{tls}WIKI_CONTEXT='{context}' WIKI_ATTACHMENT='{}' WIKI_DROP='{}' WIKI_VERSION='{}' WIKI_EXTRA={} python3 {} {addr} {port} admin \"$O4G_PW\" {} '{}' {} {} & ",
            side.attachment,
            side.drop.map(|d| d.to_string()).unwrap_or_default(),
            side.versions,
            side.extra,
            server.display(),
            c.known_page,
            side.text,
            c.known_attachment,
            side.docs,
        )
    };
    let legacy_env = legacy_url
        .map(|u| format!("LEGACY_URL='{u}' "))
        .unwrap_or_default();
    let sh = format!(
        "ip link set lo up; {}{}for i in $(seq 100); do ss -ltn | grep -q '127.0.0.2:{legacy_port}' && ss -ltn | grep -q '127.0.0.1:443' && break; sleep 0.1; done; \
         CURL_CA_BUNDLE={d}/ca.pem {legacy_env}XWIKI_USER=admin XWIKI_PASSWORD=\"$O4G_PW\" bash {} 127.0.0.1 127.0.0.2; rc=$?; kill %1 %2; exit $rc",
        start("127.0.0.1", new, "https", 443, ""),
        start(
            "127.0.0.2",
            legacy,
            &legacy_scheme,
            legacy_port,
            &legacy_context
        ),
        script.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--net", "--fork", "bash", "-c", &sh])
        .env("O4G_PW", SMOKE_PASSWORD)
        .output()
        .unwrap();
    (out.status.success(), common::text(&out))
}

#[test]
fn the_smoke_test_passes_on_a_faithful_copy_and_fails_on_a_difference() {
    if common::sandbox::available().is_err() {
        skip_or_fail!("unshare --net needs root");
    }
    let s = Settings::load(&common::root()).unwrap();
    let text = s.cluster.cutover.known_text.clone();
    let new = Side {
        extra: 3,
        versions: "5=2.1",
        ..Side::faithful(&text)
    };
    let legacy = Side::faithful(&text);
    // At the settings' legacy URL, whatever it says.
    let (ok, out) = smoke(&new, &legacy, None);
    assert!(ok, "{out}");
    for line in [
        "✓ documents: all 1201 of the legacy wiki are on the cluster",
        "✓ versions: no document is older on the cluster",
        "1 document(s) newer and 3 only on the cluster",
        "the same bytes as on the legacy wiki",
        "smoke test passed",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
    assert!(!out.contains("s3cret"), "the password is never printed");

    // Both forms the setting may take: a wiki at / and one under Tomcat's /xwiki.
    let host = host_of(s.cluster.cutover.legacy_url.as_str());
    for url in [format!("https://{host}"), format!("https://{host}/xwiki")] {
        let (ok, out) = smoke(&new, &legacy, Some(&url));
        assert!(ok, "{url}: {out}");
    }

    // A document lost, a history cut short, an attachment's bytes changed.
    let (ok, out) = smoke(
        &Side {
            drop: Some(7),
            ..new.clone()
        },
        &legacy,
        None,
    );
    assert!(!ok);
    assert!(
        out.contains("✗ documents of the legacy wiki missing on the cluster (1): Space7.Page7"),
        "{out}"
    );
    let (ok, out) = smoke(
        &Side {
            versions: "3=1.0",
            ..new.clone()
        },
        &legacy,
        None,
    );
    assert!(!ok);
    assert!(
        out.contains("older version on the cluster: Space3.Page3 1.1→1.0"),
        "{out}"
    );
    let (ok, out) = smoke(
        &Side {
            attachment: "PNG-bytes-2",
            ..new.clone()
        },
        &legacy,
        None,
    );
    assert!(!ok);
    assert!(
        out.contains("on the legacy wiki (were the permanent directory"),
        "{out}"
    );
    let (ok, out) = smoke(
        &Side {
            text: "Bienvenue".into(),
            ..new.clone()
        },
        &legacy,
        None,
    );
    assert!(!ok);
    assert!(
        out.contains(&format!("✗ {}", s.cluster.cutover.known_page)),
        "{out}"
    );
}

/// Before cert-manager has issued the certificate, ingress-nginx serves its own: the smoke
/// test (curl without -k, as a browser) fails on it and says why (issue 24, item 2).
#[test]
fn the_smoke_test_fails_on_the_ingress_fake_certificate_and_says_so() {
    if common::sandbox::available().is_err() {
        skip_or_fail!("unshare --net needs root");
    }
    let s = Settings::load(&common::root()).unwrap();
    let text = s.cluster.cutover.known_text.clone();
    let new = Side {
        tls: Tls::Fake,
        ..Side::faithful(&text)
    };
    let legacy = Side::faithful(&text);
    let (ok, out) = smoke(&new, &legacy, None);
    assert!(!ok, "{out}");
    assert!(
        out.contains("✗ home page: the certificate served for") && out.contains("Fake Certificate"),
        "{out}"
    );
}
