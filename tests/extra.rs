//! Hand-written manifests (`overlays/<scope>/extra/*.yaml`): copied into the tree after the
//! same audit and policies as the generated objects, refused with file, line and key when
//! they cannot be right, and nothing in `out/` changes then.

mod common;

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

const MOTD: &str = "# A note for the content team.\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: motd\ndata:\n  message: \"Freeze: 2026-12-05\"\n";

/// A one-off Job that passes restricted: pinned image, non-root, resources.
fn job(image: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: reindex\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      automountServiceAccountToken: false\n      securityContext:\n        runAsNonRoot: true\n        runAsUser: 1000\n        seccompProfile: {{type: RuntimeDefault}}\n      containers:\n      - name: reindex\n        image: {image}\n        securityContext:\n          allowPrivilegeEscalation: false\n          capabilities: {{drop: [ALL]}}\n        resources:\n          requests: {{cpu: 10m, memory: 16Mi}}\n          limits: {{cpu: 100m, memory: 64Mi}}\n"
    )
}

#[test]
fn extra_files_land_in_the_overlay_and_the_configs_and_build() {
    let repo = common::scratch_repo();
    let root = repo.path();
    write(root, "overlays/live/extra/motd.yaml", MOTD);
    let pinned = o4g_gitops::images::CURL.to_string();
    write(root, "overlays/live/extra/reindex.yaml", &job(&pinned));
    write(
        root,
        "overlays/platform/extra/quota.yaml",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: live-quota\n  namespace: live\nspec:\n  hard:\n    requests.cpu: \"8\"\n",
    );
    let out = common::o4g(root, &["render"]);
    assert!(out.status.success(), "{}", common::text(&out));

    let kustomization =
        std::fs::read_to_string(root.join("out/apps/overlays/live/kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("- extra/motd.yaml"),
        "{kustomization}"
    );
    let built = docs(&common::kustomize(&root.join("out/apps/overlays/live")));
    let motd = built
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "motd")
        .expect("the ConfigMap is built into live");
    assert_eq!(motd["metadata"]["namespace"], "live");
    assert_eq!(motd["data"]["message"], "Freeze: 2026-12-05");
    assert!(
        built
            .iter()
            .any(|o| o["kind"] == "Job" && o["metadata"]["name"] == "reindex")
    );

    let configs = docs(&common::kustomize(&root.join("out/infrastructure/configs")));
    assert!(
        configs
            .iter()
            .any(|o| o["kind"] == "ResourceQuota" && o["metadata"]["name"] == "live-quota")
    );
    // render --check names the hand-written file behind each copy.
    let source = o4g_gitops::components::layout::source_of;
    assert!(
        source("out/infrastructure/configs/extra/quota.yaml")
            .contains("overlays/platform/extra/quota.yaml")
    );
    assert!(
        source("out/apps/overlays/live/extra/motd.yaml").contains("overlays/live/extra/motd.yaml")
    );
    // Other environments do not get live's files.
    assert!(!root.join("out/apps/overlays/qa-7/extra").exists());
    // Deterministic, and check agrees with what was written.
    let check = common::o4g(root, &["render", "--check"]);
    assert!(check.status.success(), "{}", common::text(&check));

    // Removing the file removes what render wrote for it.
    std::fs::remove_file(root.join("overlays/live/extra/motd.yaml")).unwrap();
    let again = common::o4g(root, &["render"]);
    assert!(again.status.success(), "{}", common::text(&again));
    assert!(!root.join("out/apps/overlays/live/extra/motd.yaml").exists());
}

/// Renders with `rel` holding `text` and expects `code`, every `expected` in the output, and
/// `out/` untouched.
fn refused(rel: &str, text: &str, code: i32, expected: &[&str]) {
    let repo = common::scratch_repo();
    let root = repo.path();
    write(root, rel, text);
    let before = common::snapshot_dir(&root.join("out"));
    let out = common::o4g(root, &["render"]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(code), "{rel}:\n{shown}");
    for e in expected {
        assert!(shown.contains(e), "expected `{e}` for {rel} in:\n{shown}");
    }
    assert_eq!(common::snapshot_dir(&root.join("out")), before, "{rel}");
}

#[test]
fn a_privileged_or_unpinned_pod_is_refused_like_a_generated_one() {
    let privileged = job(&o4g_gitops::images::CURL.to_string()).replace(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: false\n          privileged: true",
    );
    refused(
        "overlays/live/extra/reindex.yaml",
        &privileged,
        1,
        // As kustomize builds the overlay (in its namespace), named with the overlay.
        &["out/apps/overlays/live: Job/live/reindex", "pss:privileged"],
    );
    refused(
        "overlays/live/extra/reindex.yaml",
        &job("docker.io/library/busybox:latest"),
        1,
        &["Job/live/reindex", "image-digest"],
    );
}

#[test]
fn what_cannot_be_right_is_an_input_error_naming_file_line_and_key() {
    refused(
        "overlays/live/extra/creds.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n",
        2,
        &[
            "overlays/live/extra/creds.yaml",
            "kind",
            "overlays/live/secrets/",
        ],
    );
    refused(
        "overlays/live/extra/admin.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: me-admin\n",
        2,
        &["overlays/live/extra/admin.yaml:2:", "cluster-scoped"],
    );
    refused(
        "overlays/live/extra/elsewhere.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: qa-7\n",
        2,
        &[
            "overlays/live/extra/elsewhere.yaml:5:",
            "metadata.namespace",
        ],
    );
    refused(
        "overlays/live/extra/twice.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mysql-config\n",
        2,
        &[
            "overlays/live/extra/twice.yaml",
            "ConfigMap `mysql-config`",
            "generator makes too",
        ],
    );
    refused(
        "overlays/live/extra/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
        2,
        &["overlays/live/extra/broken.yaml:5:1: YAML syntax error"],
    );
    refused(
        "overlays/live/extra/nameless.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
        2,
        &["overlays/live/extra/nameless.yaml:3:", "metadata.name"],
    );
    refused(
        "overlays/live/extra/sub/deep.yaml",
        MOTD,
        2,
        &[
            "overlays/live/extra/sub/deep.yaml",
            "directly in overlays/<scope>/extra/",
        ],
    );
    refused(
        "overlays/live/extra/Bad Name.yaml",
        MOTD,
        2,
        &["extra files are named like"],
    );
}

#[test]
fn an_extra_file_that_is_a_symlink_is_refused_without_reading_it() {
    let repo = common::scratch_repo();
    let root = repo.path();
    std::fs::create_dir_all(root.join("overlays/live/extra")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("overlays/live/extra/passwd.yaml"))
        .unwrap();
    let before = common::snapshot_dir(&root.join("out"));
    let out = common::o4g(root, &["render"]);
    let shown = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("is a symlink"), "{shown}");
    assert!(!shown.contains("root:x:0"), "{shown}");
    assert_eq!(common::snapshot_dir(&root.join("out")), before);
}
