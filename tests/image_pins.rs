//! An image reaches the environments in order: an environment may pin its own XWiki and MySQL
//! image in `env.toml` (`[images]`), so a bump reaches the rehearsal environment first and
//! production after. Pins are checked at render time as strictly as `pinned_image!` checks
//! `src/images.rs` at compile time, with errors naming file, line and key; Renovate's regex
//! manager finds each pin. On the fixture site `tests/sites/fresh`.

mod common;

use common::fresh_site::{Site, tools_present};
use o4g_gitops::images::{MYSQL_8_0, XWIKI};

/// A digest that is not XWIKI's (the bump a rehearsal environment gets first).
fn next_digest() -> String {
    format!("sha256:{}", "5e".repeat(32))
}

fn next_xwiki() -> String {
    format!(
        "{}/{}:17.99.0-mysql-tomcat@{}",
        XWIKI.registry(),
        XWIKI.repository(),
        next_digest()
    )
}

/// Appends an `[images]` table to `env`'s env.toml, as README shows it.
fn pin(site: &Site, env: &str, key: &str, depname: &str, reference: &str) {
    let file = site.root().join(format!("overlays/{env}/env.toml"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    if !text.contains("\n[images]\n") {
        text.push_str("\n[images]\n");
    }
    text.push_str(&format!(
        "# renovate: datasource=docker depName={depname}\n{key} = \"{reference}\"\n"
    ));
    std::fs::write(file, text).unwrap();
}

/// The images of the containers of every object kustomize builds for `env`.
fn images_of(site: &Site, env: &str) -> Vec<String> {
    let built = common::kustomize(&site.root().join(format!("out/apps/overlays/{env}")));
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&built) {
        use serde::Deserialize;
        let v = serde_json::Value::deserialize(doc).unwrap();
        collect_images(&v, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn collect_images(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("image", Some(s)) => out.push(s.to_string()),
                    _ => collect_images(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_images(x, out)),
        _ => {}
    }
}

fn line_of(site: &Site, rel: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(site.root().join(rel)).unwrap();
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{rel} has no `{needle}`"))
}

#[test]
fn a_pinned_image_reaches_only_its_environment() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    let first = site.o4g(&["render", "--allow-missing-secrets"]);
    assert!(first.status.success(), "{}", common::text(&first));
    assert!(images_of(&site, "trial").contains(&XWIKI.to_string()));

    // The rehearsal environment gets the new XWiki first; production keeps the old one.
    pin(
        &site,
        "trial",
        "xwiki",
        "docker.io/library/xwiki",
        &next_xwiki(),
    );
    let out = site.o4g(&["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let trial = images_of(&site, "trial");
    assert!(trial.contains(&next_xwiki()), "{trial:#?}");
    assert!(!trial.contains(&XWIKI.to_string()), "{trial:#?}");
    let live = images_of(&site, "live");
    assert!(live.contains(&XWIKI.to_string()), "{live:#?}");
    assert!(!live.contains(&next_xwiki()), "{live:#?}");
    // The CI's digest and Trivy checks see it.
    let listed = common::text(&site.o4g(&["images"]));
    assert!(listed.lines().any(|l| l == next_xwiki()), "{listed}");

    // Promotion: production's env.toml gets the same line; both run it.
    pin(
        &site,
        "live",
        "xwiki",
        "docker.io/library/xwiki",
        &next_xwiki(),
    );
    let out = site.o4g(&["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(images_of(&site, "live").contains(&next_xwiki()));
}

#[test]
fn a_bad_pin_is_an_error_naming_file_line_and_key() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let rel = "overlays/trial/env.toml";
    let digest = next_digest();
    let cases = [
        (
            "xwiki",
            format!("docker.io/library/xwiki:17.99.0@sha256:{}", "5E".repeat(32)),
        ),
        ("xwiki", "docker.io/library/xwiki:17.99.0".to_string()),
        ("xwiki", format!("docker.io/library/xwiki:latest@{digest}")),
        (
            "xwiki",
            format!("evil.example/library/xwiki:17.99.0@{digest}"),
        ),
        ("xwiki", format!("docker.io/library/mysql:8.0.47@{digest}")),
        // trial runs the 8.0 line: an 8.4 image is refused (the configuration is per line).
        ("mysql", format!("docker.io/library/mysql:8.4.12@{digest}")),
        ("mysql", format!("docker.io/library/xwiki:8.0.47@{digest}")),
    ];
    for (key, reference) in cases {
        let site = Site::with_keys();
        pin(&site, "trial", key, "docker.io/library/x", &reference);
        let line = line_of(&site, rel, &format!("{key} = "));
        let out = site.o4g(&["render", "--allow-missing-secrets"]);
        let shown = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{reference}: {shown}");
        assert!(
            shown.contains(&format!("{rel}:{line}:")) && shown.contains(&format!("images.{key}")),
            "{reference}: {shown}"
        );
        assert!(
            !site.root().join("out/apps").exists(),
            "{reference}: render wrote"
        );
    }
    // A pin of the environment's own line is accepted.
    let site = Site::with_keys();
    let same_line = format!(
        "{}/{}:8.0.47@{digest}",
        MYSQL_8_0.registry(),
        MYSQL_8_0.repository()
    );
    pin(
        &site,
        "trial",
        "mysql",
        "docker.io/library/mysql",
        &same_line,
    );
    let out = site.o4g(&["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(images_of(&site, "trial").contains(&same_line));
}

/// The regex manager of renovate.json that takes `file`, applied to `text`: (depName,
/// currentValue, currentDigest) of each match.
fn renovate_matches(file: &str, text: &str) -> Vec<(String, String, String)> {
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for m in cfg["customManagers"].as_array().unwrap() {
        let takes = m["managerFilePatterns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| {
                regex::Regex::new(p.as_str().unwrap().trim_matches('/'))
                    .unwrap()
                    .is_match(file)
            });
        if !takes {
            continue;
        }
        for s in m["matchStrings"].as_array().unwrap() {
            let re = regex::Regex::new(s.as_str().unwrap()).unwrap();
            for c in re.captures_iter(text) {
                let get = |n: &str| c.name(n).map_or(String::new(), |m| m.as_str().to_string());
                out.push((get("depName"), get("currentValue"), get("currentDigest")));
            }
        }
    }
    out
}

#[test]
fn renovate_finds_each_environment_pin() {
    let text = format!(
        "[images]\n# renovate: datasource=docker depName=docker.io/library/xwiki\nxwiki = \"{}\"\n",
        next_xwiki()
    );
    assert_eq!(
        renovate_matches("overlays/recette/env.toml", &text),
        vec![(
            "docker.io/library/xwiki".to_string(),
            "17.99.0-mysql-tomcat".to_string(),
            next_digest()
        )]
    );
    // One pull request per environment, so the rehearsal one can be merged first.
    let cfg = std::fs::read_to_string(common::root().join("renovate.json")).unwrap();
    assert!(cfg.contains("{{parentDir}}"), "{cfg}");
}
