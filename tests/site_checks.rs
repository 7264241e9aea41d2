//! Settings the tool refuses, on the fixture site `tests/sites/fresh`: each error names the
//! file, the line and the key, exits 2, and leaves the checkout as it was.

mod common;

use common::fresh_site::{Site, tools_present};

/// Replaces `from` by `to` in the site's file `rel`.
fn edit(site: &Site, rel: &str, from: &str, to: &str) {
    let file = site.root().join(rel);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{rel} has no `{from}`");
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// The 1-based line of `rel` that holds `needle`.
fn line_of(site: &Site, rel: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(site.root().join(rel)).unwrap();
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{rel} has no `{needle}`"))
}

/// `render` refuses with exit 2, naming `rel:line` and `key`, and writes nothing.
fn assert_refused(site: &Site, rel: &str, line: usize, key: &str) -> String {
    let before = common::snapshot_dir(&site.root());
    let out = site.o4g(&["render", "--allow-missing-secrets"]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(&format!("{rel}:{line}:")) && shown.contains(key),
        "expected {rel}:{line} and `{key}`:\n{shown}"
    );
    assert_eq!(common::snapshot_dir(&site.root()), before, "render wrote");
    shown
}

#[test]
fn a_host_outside_the_dns_zone_is_an_error_naming_file_line_and_key() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    let rel = "overlays/trial/env.toml";
    let zone = line_of(&site, "overlays/cluster.toml", "dns_zone = ");
    assert!(zone > 0);
    // Under the zone, any depth: accepted.
    edit(
        &site,
        rel,
        "host = \"trial.wiki.example.net\"",
        "host = \"a.b.example.net\"",
    );
    let ok = site.o4g(&["render", "--allow-missing-secrets"]);
    assert!(ok.status.success(), "{}", common::text(&ok));
    // A name that only ends with the zone's letters, and another zone: refused.
    for host in ["wikiexample.net", "wiki.example.org"] {
        edit(&site, rel, "host = \"", &format!("host = \"{host}\" #"));
        let line = line_of(&site, rel, "host = ");
        let shown = assert_refused(&site, rel, line, "xwiki.host");
        assert!(
            shown.contains("example.net") && shown.contains(host),
            "{shown}"
        );
        edit(&site, rel, &format!("host = \"{host}\" #"), "host = \"");
    }
}
