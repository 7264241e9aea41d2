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
    assert_eq!(names.len(), 4, "{names:?}");
    let out = std::process::Command::new("shellcheck")
        .args(["-x", "--source-path=SCRIPTDIR"])
        .args(&names)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}

/// The smoke test against stand-in wikis (tests/backup/wiki_server.py) on 127.0.0.1 (the new
/// ingress) and 127.0.0.2 (the legacy host), over HTTP in a network namespace of its own.
fn smoke(new_pages: u32, legacy_pages: u32, text: &str) -> (bool, String) {
    let s = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let c = &s.cluster.cutover;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("smoke-test.sh");
    std::fs::write(&script, file(&tree, "out/docs/scripts/smoke-test.sh")).unwrap();
    let server = common::root().join("tests/backup/wiki_server.py");
    let start = |addr: &str, pages: u32, text: &str| {
        format!(
            "python3 {} {addr} 8080 admin s3cret-hex {} '{text}' {} {pages} & ",
            server.display(),
            c.known_page,
            c.known_attachment
        )
    };
    let sh = format!(
        "ip link set lo up; {}{}for i in $(seq 50); do ss -ltn | grep -q '127.0.0.2:8080' && ss -ltn | grep -q '127.0.0.1:8080' && break; sleep 0.1; done; \
         SMOKE_SCHEME=http SMOKE_PORT=8080 XWIKI_USER=admin XWIKI_PASSWORD=s3cret-hex bash {} 127.0.0.1 127.0.0.2; rc=$?; kill %1 %2; exit $rc",
        start("127.0.0.1", new_pages, text),
        start("127.0.0.2", legacy_pages, &c.known_text),
        script.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--net", "--fork", "bash", "-c", &sh])
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
    let (ok, out) = smoke(120, 120, &text);
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ page count: 120 on both") && out.contains("smoke test passed"),
        "{out}"
    );
    assert!(!out.contains("s3cret-hex"), "the password is never printed");
    let (ok, out) = smoke(119, 120, &text);
    assert!(!ok);
    assert!(
        out.contains("✗ page count: 119 here, 120 on the legacy host"),
        "{out}"
    );
    let (ok, out) = smoke(120, 120, "Bienvenue");
    assert!(!ok);
    assert!(
        out.contains(&format!("✗ {}", s.cluster.cutover.known_page)),
        "{out}"
    );
}
