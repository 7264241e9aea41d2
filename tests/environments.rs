//! Environments are data: the set of environments is the folders `overlays/<name>/env.toml`.
//! Adding one is copying an `env.toml` and adding its age recipient; these tests do exactly
//! that in a scratch copy of fixture site A (`live`, `qa-7`), with the binary as built (no Rust
//! change), and check everything an environment must get. (Adding one to the live settings is
//! tests/routine.rs's.)

mod common;

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// Parses a multi-document YAML text into JSON values (skipping empty documents).
fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn read_docs(root: &Path, rel: &str) -> Vec<Value> {
    yaml_docs(&std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

/// A scratch repository with `overlays/staging/env.toml` (qa-7's, with its own host).
/// With `recipient`, `[sops.age_recipients]` gains `staging` (qa-7's key: a public key,
/// reused here only so that the test needs no key generator).
fn with_staging(recipient: bool) -> tempfile::TempDir {
    let repo = common::scratch_repo();
    let overlays = repo.path().join("overlays");
    let qa = std::fs::read_to_string(overlays.join("qa-7/env.toml")).unwrap();
    assert!(qa.contains("qa-7.docs.fixture.example"));
    std::fs::create_dir(overlays.join("staging")).unwrap();
    std::fs::write(
        overlays.join("staging/env.toml"),
        qa.replace("qa-7.docs.fixture.example", "staging.docs.fixture.example"),
    )
    .unwrap();
    if recipient {
        let cluster = std::fs::read_to_string(overlays.join("cluster.toml")).unwrap();
        let key = cluster
            .lines()
            .find_map(|l| l.strip_prefix("\"qa-7\" = "))
            .expect("qa-7's recipients in cluster.toml");
        let cluster = cluster.replace(
            "\nplatform = [",
            &format!("\nstaging = {key}\nplatform = ["),
        );
        std::fs::write(overlays.join("cluster.toml"), cluster).unwrap();
    }
    repo
}

#[test]
fn a_new_environment_is_a_folder_and_a_recipient_not_rust() {
    let repo = with_staging(true);
    let root = repo.path();
    let live_before = common::snapshot_dir(&root.join("out/apps/overlays/live"));

    // Its Secrets do not exist yet: render says which, and renders with the flag.
    let strict = common::o4g(root, &["render"]);
    assert_eq!(strict.status.code(), Some(2), "{}", common::text(&strict));
    assert!(
        common::text(&strict).contains("missing Secret `mysql-credentials`")
            && common::text(&strict).contains("overlays/staging/secrets"),
        "{}",
        common::text(&strict)
    );
    let out = common::o4g(root, &["render", "--allow-missing-secrets"]);
    assert!(out.status.success(), "{}", common::text(&out));

    // The overlay builds with kustomize, into the staging namespace, with its own host.
    let built = yaml_docs(&common::kustomize(&root.join("out/apps/overlays/staging")));
    assert!(built.len() > 10, "{} objects", built.len());
    for o in &built {
        assert_eq!(
            o["metadata"]["namespace"], "staging",
            "{} {}",
            o["kind"], o["metadata"]["name"]
        );
    }
    let ingress = built
        .iter()
        .find(|o| o["kind"] == "Ingress")
        .expect("an Ingress");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "staging.docs.fixture.example"
    );
    assert!(
        built
            .iter()
            .any(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "default-deny"),
        "staging has a default deny"
    );

    // Flux applies it after the configs, decrypting its Secrets.
    let apps = read_docs(root, "out/clusters/open4goods/apps.yaml");
    let ks = apps
        .iter()
        .find(|k| k["metadata"]["name"] == "apps-staging")
        .expect("a Flux Kustomization apps-staging");
    assert_eq!(ks["spec"]["path"], "./out/apps/overlays/staging");
    assert_eq!(ks["spec"]["decryption"]["provider"], "sops");
    assert_eq!(ks["spec"]["dependsOn"][0]["name"], "infra-configs");

    // Its namespace enforces Pod Security restricted.
    let namespaces = read_docs(root, "out/infrastructure/controllers/namespaces.yaml");
    let ns = namespaces
        .iter()
        .find(|n| n["metadata"]["name"] == "staging")
        .expect("Namespace staging");
    let labels = &ns["metadata"]["labels"];
    for mode in ["enforce", "audit", "warn"] {
        assert_eq!(
            labels[format!("pod-security.kubernetes.io/{mode}")],
            "restricted"
        );
    }
    assert_eq!(labels["open4goods.org/environment"], "staging");

    // Prometheus may scrape its exporter: the observability egress names the namespace.
    let observability =
        std::fs::read_to_string(root.join("out/infrastructure/configs/network/observability.yaml"))
            .unwrap();
    assert!(
        observability.contains("kubernetes.io/metadata.name: staging"),
        "{observability}"
    );

    // Every Kyverno policy that covers the environments covers staging too.
    let mut covering = 0;
    for entry in std::fs::read_dir(root.join("out/infrastructure/configs/policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "kustomization.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for policy in yaml_docs(&text) {
            let lists = namespace_lists(&policy);
            for list in lists.iter().filter(|l| l.contains(&"live".to_string())) {
                covering += 1;
                assert!(
                    list.contains(&"staging".to_string()),
                    "{}: {list:?}",
                    path.display()
                );
            }
        }
    }
    assert!(covering >= 5, "{covering} Kyverno namespace lists");

    // SOPS encrypts its Secrets for its own recipients only.
    let sops = read_docs(root, ".sops.yaml");
    let rules = sops[0]["creation_rules"].as_array().unwrap();
    let rule = rules
        .iter()
        .find(|r| {
            r["path_regex"]
                .as_str()
                .unwrap()
                .contains("overlays/staging/")
        })
        .expect("a creation rule for staging");
    assert!(rule["age"].as_str().unwrap().starts_with("age1"));

    // Help texts and errors list the environments found.
    let bad = common::o4g(root, &["restore-job", "--env", "nope"]);
    assert!(
        common::text(&bad).contains("live, qa-7, staging"),
        "{}",
        common::text(&bad)
    );

    // Adding staging changed nothing of live's overlay, and a second render changes nothing.
    assert_eq!(
        common::snapshot_dir(&root.join("out/apps/overlays/live")),
        live_before
    );
    let before = common::snapshot_dir(&root.join("out"));
    let again = common::o4g(root, &["render", "--allow-missing-secrets"]);
    assert!(again.status.success(), "{}", common::text(&again));
    assert_eq!(common::snapshot_dir(&root.join("out")), before);
}

/// The `values` of every `kubernetes.io/metadata.name In` expression in a policy.
fn namespace_lists(v: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            if map.get("key").and_then(Value::as_str) == Some("kubernetes.io/metadata.name")
                && let Some(values) = map.get("values").and_then(Value::as_array)
            {
                out.push(
                    values
                        .iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect(),
                );
            }
            for child in map.values() {
                out.extend(namespace_lists(child));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(namespace_lists(i))),
        _ => {}
    }
    out
}

/// Runs `render` and expects exit 2 with `expected` in its output and `out/` untouched.
fn refused(root: &Path, expected: &[&str]) {
    let before = common::snapshot_dir(&root.join("out"));
    let out = common::o4g(root, &["render", "--allow-missing-secrets"]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for e in expected {
        assert!(text.contains(e), "expected `{e}` in:\n{text}");
    }
    assert_eq!(common::snapshot_dir(&root.join("out")), before);
}

#[test]
fn an_environment_without_a_recipient_is_refused_at_the_table() {
    let repo = with_staging(false);
    let cluster = std::fs::read_to_string(repo.path().join("overlays/cluster.toml")).unwrap();
    let line = cluster
        .lines()
        .position(|l| l == "[sops.age_recipients]")
        .unwrap()
        + 1;
    refused(
        repo.path(),
        &[
            &format!("overlays/cluster.toml:{line}:"),
            "sops.age_recipients.staging",
            "live, qa-7, staging, platform",
        ],
    );
}

#[test]
fn an_overlay_folder_without_env_toml_is_an_error_not_ignored() {
    let repo = common::scratch_repo();
    // A typo'd folder: its env.toml went elsewhere, so nothing would deploy it.
    std::fs::create_dir_all(repo.path().join("overlays/stagign/secrets")).unwrap();
    refused(
        repo.path(),
        &["overlays/stagign: is neither an environment (it has no env.toml)"],
    );
}

#[test]
fn an_environment_name_must_be_a_namespace_of_its_own() {
    for (name, expected) in [
        ("Staging", "is not an environment name"),
        ("observability", "is a platform namespace"),
        ("longhorn-system", "is a platform namespace"),
    ] {
        let repo = common::scratch_repo();
        let dir = repo.path().join("overlays").join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(
            repo.path().join("overlays/qa-7/env.toml"),
            dir.join("env.toml"),
        )
        .unwrap();
        let cluster = repo.path().join("overlays/cluster.toml");
        let text = std::fs::read_to_string(&cluster).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("\"qa-7\" = "))
            .expect("qa-7's recipients in cluster.toml")
            .to_string();
        let text = text.replace(
            "\nplatform = [",
            &format!("\n\"{name}\" = {key}\nplatform = ["),
        );
        std::fs::write(&cluster, text).unwrap();
        // Its host must differ, or that error would come first.
        let env = std::fs::read_to_string(dir.join("env.toml"))
            .unwrap()
            .replace("qa-7.docs.", "other.docs.");
        std::fs::write(dir.join("env.toml"), env).unwrap();
        refused(repo.path(), &[&format!("overlays/{name}"), expected]);
    }
}

#[test]
fn environment_roles_must_name_environments() {
    for (from, to, key) in [
        (
            "production = \"live\"",
            "production = \"prod\"",
            "environments.production",
        ),
        (
            "rehearsal = \"qa-7\"",
            "rehearsal = \"live\"",
            "environments.rehearsal",
        ),
        (
            "order = [\"live\", \"qa-7\"]",
            "order = [\"live\", \"live\"]",
            "environments.order",
        ),
    ] {
        let repo = common::scratch_repo();
        let cluster = repo.path().join("overlays/cluster.toml");
        let text = std::fs::read_to_string(&cluster).unwrap();
        assert!(text.contains(from), "{from}");
        let line = text.lines().position(|l| l == from).unwrap() + 1;
        std::fs::write(&cluster, text.replace(from, to)).unwrap();
        refused(
            repo.path(),
            &[&format!("overlays/cluster.toml:{line}:"), key],
        );
    }
}

/// A scratch copy of site A with `extra` environments more (`e01`, `e02`…: qa-7's `env.toml`
/// with its own host, qa-7's recipient and a copy of its Secret files), enough that a render
/// spreads their work over the cores there are (`src/parallel.rs`).
fn with_environments(extra: usize) -> tempfile::TempDir {
    let repo = common::scratch_repo();
    let overlays = repo.path().join("overlays");
    let qa = std::fs::read_to_string(overlays.join("qa-7/env.toml")).unwrap();
    let mut cluster = std::fs::read_to_string(overlays.join("cluster.toml")).unwrap();
    let key = cluster
        .lines()
        .find_map(|l| l.strip_prefix("\"qa-7\" = "))
        .expect("qa-7's recipients in cluster.toml")
        .to_string();
    for i in 1..=extra {
        let name = format!("e{i:02}");
        common::copy_dir(
            &overlays.join("qa-7/secrets"),
            &overlays.join(&name).join("secrets"),
        );
        std::fs::write(
            overlays.join(&name).join("env.toml"),
            qa.replace(
                "qa-7.docs.fixture.example",
                &format!("{name}.docs.fixture.example"),
            ),
        )
        .unwrap();
        cluster = cluster.replace("\nplatform = [", &format!("\n{name} = {key}\nplatform = ["));
    }
    std::fs::write(overlays.join("cluster.toml"), cluster).unwrap();
    repo
}

#[test]
fn many_environments_render_the_same_on_one_core_as_on_all() {
    if !common::has_tool("taskset", "--version") {
        skip_or_fail!("taskset (util-linux) is not installed");
    }
    let all = with_environments(40);
    let one = tempfile::tempdir().unwrap();
    common::copy_dir(all.path(), one.path());
    let on_all = common::o4g(all.path(), &["render"]);
    // One CPU in the affinity mask: `available_parallelism` is 1, every map runs in one loop.
    let on_one = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_o4g"), "render", "--root"])
        .arg(one.path())
        .output()
        .unwrap();
    assert!(on_all.status.success(), "{}", common::text(&on_all));
    assert!(on_one.status.success(), "{}", common::text(&on_one));
    assert_eq!(common::text(&on_all), common::text(&on_one));
    assert!(
        common::text(&on_all).contains("out/apps/overlays/e40/kustomization.yaml"),
        "{}",
        common::text(&on_all)
    );
    assert_eq!(
        common::snapshot_dir(&all.path().join("out")),
        common::snapshot_dir(&one.path().join("out"))
    );
    let check = common::o4g(all.path(), &["render", "--check"]);
    assert!(check.status.success(), "{}", common::text(&check));
}

#[test]
fn with_many_environments_the_first_error_in_listing_order_is_reported() {
    let repo = with_environments(40);
    let overlays = repo.path().join("overlays");
    // Two broken env.toml files: the one listed first is named, whichever thread reads it.
    for (env, line) in [("e05", "unknown_a = 1"), ("e31", "unknown_b = 1")] {
        let file = overlays.join(env).join("env.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{line}\n{text}")).unwrap();
    }
    for _ in 0..3 {
        let out = common::o4g(repo.path(), &["render"]);
        let t = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(
            t.contains("overlays/e05/env.toml") && t.contains("unknown_a"),
            "{t}"
        );
        assert!(!t.contains("e31") && !t.contains("unknown_b"), "{t}");
    }
    for env in ["e05", "e31"] {
        let file = overlays.join(env).join("env.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.split_once('\n').unwrap().1).unwrap();
    }
    // Two misplaced Secret files: the first in the walk of overlays/ (by name) is named.
    for env in ["e07", "e33"] {
        std::fs::copy(
            overlays.join("qa-7/secrets/mysql-credentials.sops.yaml"),
            overlays.join(env).join("secrets/misnamed.yaml"),
        )
        .unwrap();
    }
    for _ in 0..3 {
        let out = common::o4g(repo.path(), &["render"]);
        let t = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("overlays/e07/secrets/misnamed.yaml"), "{t}");
        assert!(!t.contains("e33"), "{t}");
    }
}
