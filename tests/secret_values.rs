//! The decrypting checks refuse Secret values that were never filled in: `secrets template`
//! placeholders encrypted as printed, and empty values, named by file and key, never shown;
//! `secrets check --decrypt --scope S` checks the scope whose key a person holds. On the
//! fixture site `tests/sites/fresh`, with fresh keys and the real `sops`.

mod common;

use common::fresh_site::{Site, tools_present};

/// `(file, key)` of each refused value in a check's output.
fn refused(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (file, rest) = l.split_once(": Secret ")?;
            let key = rest.split_once("key `")?.1.split_once('`')?.0;
            Some((file.trim().to_string(), key.to_string()))
        })
        .collect()
}

/// `sops set FILE '["stringData"]["KEY"]' VALUE` with `scope`'s key.
fn set(site: &Site, scope: &str, file: &str, key: &str, value: &str) {
    let out = site
        .command("sops")
        .args(["--disable-version-check", "set", file])
        .arg(format!("[\"stringData\"][\"{key}\"]"))
        .arg(serde_json::Value::from(value).to_string())
        .env(
            "SOPS_AGE_KEY_FILE",
            site.root().join(format!("{scope}.agekey")),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}

fn o4g_with_key(site: &Site, scope: &str, args: &[&str]) -> std::process::Output {
    site.command(env!("CARGO_BIN_EXE_o4g"))
        .args(args)
        .env(
            "SOPS_AGE_KEY_FILE",
            site.root().join(format!("{scope}.agekey")),
        )
        .output()
        .unwrap()
}

#[test]
fn placeholders_and_empty_values_are_refused_by_file_and_key_for_one_scope() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    site.create_printed_secrets();

    // The person holding `live`'s key checks `live` alone: its placeholders are refused.
    let check = o4g_with_key(
        &site,
        "live",
        &["secrets", "check", "--decrypt", "--scope", "live"],
    );
    let shown = common::text(&check);
    assert_eq!(check.status.code(), Some(1), "{shown}");
    let bad = refused(&shown);
    assert!(!bad.is_empty(), "{shown}");
    assert!(
        bad.iter()
            .all(|(f, _)| f.starts_with("overlays/live/secrets/")),
        "{shown}"
    );
    assert!(
        bad.contains(&(
            "overlays/live/secrets/backup-s3.sops.yaml".into(),
            "access-key-id".into()
        )),
        "{shown}"
    );
    assert!(
        !shown.contains("REPLACE-WITH-"),
        "a value is shown: {shown}"
    );
    assert!(!shown.contains("could not decrypt"), "{shown}");

    // render with that key refuses them too (exit 2, file and key), and writes nothing.
    let render = o4g_with_key(&site, "live", &["render"]);
    let shown = common::text(&render);
    assert_eq!(render.status.code(), Some(2), "{shown}");
    assert_eq!(refused(&shown), bad, "{shown}");
    assert!(!shown.contains("REPLACE-WITH-"), "{shown}");
    assert!(common::snapshot_dir(&site.root().join("out")).is_empty());

    // Filled in (one left empty): only the empty one is refused.
    for (file, key) in &bad {
        set(&site, "live", file, key, &format!("filled-{key}-7f3a"));
    }
    // An empty value: sops leaves it unencrypted, and the check names it as empty.
    let (file, key) = &bad[0];
    set(&site, "live", file, key, "");
    let check = o4g_with_key(
        &site,
        "live",
        &["secrets", "check", "--decrypt", "--scope", "live"],
    );
    let shown = common::text(&check);
    assert!(!check.status.success(), "{shown}");
    assert!(
        shown.contains(file.as_str())
            && shown.contains(&format!("`{key}`"))
            && shown.contains("is empty"),
        "{shown}"
    );
    // White space only is encrypted, and refused once decrypted.
    set(&site, "live", file, key, "  ");
    let check = o4g_with_key(
        &site,
        "live",
        &["secrets", "check", "--decrypt", "--scope", "live"],
    );
    let shown = common::text(&check);
    assert_eq!(
        refused(&shown),
        vec![(file.clone(), key.clone())],
        "{shown}"
    );
    assert!(shown.contains("is empty"), "{shown}");
    set(&site, "live", file, key, "filled-again");
    let check = o4g_with_key(
        &site,
        "live",
        &["secrets", "check", "--decrypt", "--scope", "live"],
    );
    assert!(check.status.success(), "{}", common::text(&check));

    // render decrypts what this key opens; the other scopes' files stay unchecked by it.
    let render = o4g_with_key(&site, "live", &["render"]);
    assert!(render.status.success(), "{}", common::text(&render));

    // `trial`'s placeholders are still there, and its key finds them.
    let check = o4g_with_key(
        &site,
        "trial",
        &["secrets", "check", "--decrypt", "--scope", "trial"],
    );
    let shown = common::text(&check);
    assert_eq!(check.status.code(), Some(1), "{shown}");
    assert!(
        refused(&shown)
            .iter()
            .all(|(f, _)| f.starts_with("overlays/trial/secrets/")),
        "{shown}"
    );

    // A scope that does not exist is bad input.
    let out = site.o4g(&["secrets", "check", "--scope", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
}

/// `render` finds the age key where sops v3.11.0 does (age/keysource.go:34-40, 300-330: the
/// default `<config dir>/sops/age/keys.txt`, `SOPS_AGE_KEY_CMD`, …) and names it when it
/// refuses; without any key it says on stderr that values were not checked; a mistyped
/// `SOPS_AGE_KEY_FILE` is an error, not "checked 0".
#[test]
fn render_finds_the_key_where_sops_does_and_says_when_values_are_not_checked() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    site.create_printed_secrets();
    let home = tempfile::tempdir().unwrap();
    let render = |env: &[(&str, String)]| {
        let mut cmd = site.command(env!("CARGO_BIN_EXE_o4g"));
        cmd.arg("render")
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SOPS_AGE_KEY_CMD")
            .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let key = site.root().join("live.agekey");

    // No key anywhere: the placeholders pass unseen, so render says so.
    let out = render(&[]);
    let shown = common::text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Secret values NOT checked")
            && shown.contains("secrets check --decrypt --scope"),
        "{shown}"
    );

    // A mistyped key file: an error naming the variable, not "checked 0".
    let out = render(&[("SOPS_AGE_KEY_FILE", "live.agekye".into())]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("SOPS_AGE_KEY_FILE") && shown.contains("decrypts none"),
        "{shown}"
    );

    // sops's default key file: found, and named in the refusal.
    let config = home.path().join("cfg");
    std::fs::create_dir_all(config.join("sops/age")).unwrap();
    std::fs::copy(&key, config.join("sops/age/keys.txt")).unwrap();
    let out = render(&[("XDG_CONFIG_HOME", config.display().to_string())]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(!refused(&shown).is_empty(), "{shown}");
    assert!(shown.contains("sops/age/keys.txt"), "{shown}");
    std::fs::remove_file(config.join("sops/age/keys.txt")).unwrap();

    // SOPS_AGE_KEY_CMD: found, and named.
    let out = render(&[("SOPS_AGE_KEY_CMD", format!("cat {}", key.display()))]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        !refused(&shown).is_empty() && shown.contains("SOPS_AGE_KEY_CMD"),
        "{shown}"
    );
    assert!(!shown.contains("REPLACE-WITH-"), "{shown}");
}

/// The heartbeat URL Alertmanager pings (`alertmanager-heartbeat`, key `url`) is refused while
/// it is a placeholder: the one `secrets template` prints, or any value that is not an `https`
/// URL of a real host (a documentation or reserved name such as `example.com`, `.example`,
/// `.invalid`, `.test`, `localhost` marks a stand-in). A real check URL passes. Never shown.
#[test]
fn the_heartbeat_url_is_refused_until_it_is_a_real_https_url() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    site.create_printed_secrets();
    let file = "overlays/platform/secrets/alertmanager-heartbeat.sops.yaml";
    let check = || {
        let out = o4g_with_key(
            &site,
            "platform",
            &["secrets", "check", "--decrypt", "--scope", "platform"],
        );
        (out.status.code(), common::text(&out))
    };
    // As printed: the template's placeholder, refused with the others of the scope.
    let (code, shown) = check();
    assert_eq!(code, Some(1), "{shown}");
    let bad = refused(&shown);
    assert!(
        bad.contains(&(file.to_string(), "url".to_string())),
        "{shown}"
    );
    for (f, k) in bad.iter().filter(|(f, _)| f != file) {
        set(&site, "platform", f, k, &format!("filled-{k}-7f3a"));
    }
    for placeholder in [
        "https://hc-ping.example/your-check-uuid",
        "https://example.com/ping/heartbeat",
        "https://heartbeat.invalid/ping",
        "https://deadman.test/snitch",
        "https://localhost/ping",
        "http://hc-ping.com/0b9c7e5e-6c2f-4c1e-9d0b-2f4c7a1e3b5d",
        "the heartbeat check's URL",
    ] {
        set(&site, "platform", file, "url", placeholder);
        let (code, shown) = check();
        assert_eq!(code, Some(1), "{placeholder}: {shown}");
        assert_eq!(
            refused(&shown),
            vec![(file.to_string(), "url".to_string())],
            "{placeholder}: {shown}"
        );
        assert!(!shown.contains(placeholder), "a value is shown: {shown}");
    }
    set(
        &site,
        "platform",
        file,
        "url",
        "https://hc-ping.com/0b9c7e5e-6c2f-4c1e-9d0b-2f4c7a1e3b5d",
    );
    let (code, shown) = check();
    assert_eq!(code, Some(0), "{shown}");
}
