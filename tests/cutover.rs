//! The cutover runbook and scripts: rendered with the settings' own values, no template left,
//! shellcheck-clean. The legacy dump script's run against MariaDB, imported by the restore
//! Job, is in tests/backup_drill.rs.

mod common;

use o4g_gitops::settings::{Environment, Settings};

fn file(tree: &o4g_gitops::tree::Tree, path: &str) -> String {
    String::from_utf8(tree.get(path).unwrap_or_else(|| panic!("{path}")).to_vec()).unwrap()
}

#[test]
fn the_runbook_carries_every_value_it_needs_and_no_template_marker() {
    let s = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&s).unwrap();
    let doc = file(&tree, "out/docs/runbooks/cutover.md");
    assert!(
        !doc.contains("{{") && !doc.contains("{%") && !doc.contains("TODO"),
        "template left over"
    );
    let c = &s.cluster.cutover;
    let prod = s.env(Environment::Prod);
    let mut needles = vec![
        prod.xwiki.host.get_ref().as_str().to_string(),
        c.dns_zone.as_str().to_string(),
        c.legacy_address.to_string(),
        format!("{}@{}", c.legacy_ssh_user, c.legacy_ssh_host.as_str()),
        s.cluster.s3.bucket.as_str().to_string(),
        s.cluster.s3.endpoint.as_str().to_string(),
        s.env(Environment::Recette)
            .xwiki
            .host
            .get_ref()
            .as_str()
            .to_string(),
        "TTL 300".into(),
        "restore-job --env prod".into(),
        "verify --env prod --snapshot".into(),
        "kubectl -n prod scale deployment/xwiki --replicas=0".into(),
        prod.xwiki.cluster_issuer.name().to_string(),
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
        assert!(doc.contains(n.as_str()), "the runbook lacks `{n}`");
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
