//! A site made from nothing, and an environment added to it, exactly as README's "Adding an
//! environment" says: fresh age keys from the real `age-keygen`, and the Secrets created by
//! running the commands `render` prints, literally, with the real `sops`, until `render`
//! succeeds. The settings are the fixture site `tests/sites/fresh` (not the live overlays).

mod common;

use std::path::Path;

use common::fresh_site::{Site, tools_present};

fn assert_renders(site: &Site) {
    let out = site.o4g(&["render"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let check = site.o4g(&["render", "--check"]);
    assert!(check.status.success(), "{}", common::text(&check));
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn a_new_environment_works_in_the_order_the_readme_prints() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::new();
    let root = site.root();
    // A site's first render: a key per scope, then every Secret by its printed command.
    let scopes: Vec<String> = vec!["live".into(), "trial".into(), "platform".into()];
    for scope in &scopes {
        let key = site.keygen(scope);
        site.add_recipient(scope, &key);
    }
    let first = site.create_printed_secrets();
    assert_renders(&site);
    let list = common::text(&site.o4g(&["secrets", "list"]));
    assert!(!list.contains("MISSING"), "{list}");
    assert_eq!(first.len(), list.lines().count(), "{list}");

    // README's steps for `staging`, literally.
    std::fs::create_dir(root.join("overlays/staging")).unwrap();
    std::fs::copy(
        root.join("overlays/trial/env.toml"),
        root.join("overlays/staging/env.toml"),
    )
    .unwrap();
    let env = read(&root, "overlays/staging/env.toml").replace(
        "host = \"trial.wiki.example.net\"",
        "host = \"staging.wiki.example.net\"",
    );
    std::fs::write(root.join("overlays/staging/env.toml"), env).unwrap();
    let key = site.keygen("staging");
    site.add_recipient("staging", &key);
    let added = site.create_printed_secrets();
    assert!(
        added
            .iter()
            .all(|c| c.contains("overlays/staging/secrets/")),
        "only staging's Secrets are missing: {added:#?}"
    );
    assert_renders(&site);

    // Each Secret is encrypted for its scope's key alone, and that key decrypts it.
    let secrets = root.join("overlays/staging/secrets");
    let files: Vec<_> = std::fs::read_dir(&secrets).unwrap().flatten().collect();
    assert_eq!(files.len(), added.len());
    for f in files {
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains(&key), "{}", f.path().display());
        let decrypted = site
            .command("sops")
            .args(["--disable-version-check", "decrypt"])
            .arg(f.path())
            .env("SOPS_AGE_KEY_FILE", root.join("staging.agekey"))
            .output()
            .unwrap();
        assert!(decrypted.status.success(), "{}", common::text(&decrypted));
    }
    assert!(
        root.join("out/apps/overlays/staging/kustomization.yaml")
            .is_file()
    );
}

/// `render --check` writes nothing, so it says when the printed commands still lack their
/// creation rule.
#[test]
fn render_check_says_the_creation_rules_are_not_written_yet() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    let out = site.o4g(&["render", "--check"]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(".sops.yaml does not hold the creation rules"),
        "{shown}"
    );
    assert!(!site.root().join(".sops.yaml").exists());
}
