//! The infrastructure tree read back from the rendered YAML.

mod common;

use std::path::Path;

use serde_json::Value;

fn docs_in(file: &str) -> Vec<Value> {
    let path = common::root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    o4g_gitops::lint::parse_documents(Path::new(file), &text).unwrap()
}

fn release_values(component: &str) -> Value {
    let r = docs_in(&format!(
        "out/infrastructure/controllers/{component}/release.yaml"
    ));
    assert_eq!(r[0]["kind"], "HelmRelease");
    r[0]["spec"]["values"].clone()
}

#[test]
fn ingress_nginx_is_a_host_network_daemonset_on_80_and_443_without_load_balancer() {
    let v = &release_values("ingress-nginx")["controller"];
    assert_eq!(v["kind"], "DaemonSet");
    assert_eq!(v["hostNetwork"], true);
    assert_eq!(v["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(
        v["containerPort"],
        serde_json::json!({"http": 80, "https": 443})
    );
    assert_eq!(
        v["service"]["enabled"], false,
        "no Service at all, so no LoadBalancer"
    );
    assert_eq!(v["allowSnippetAnnotations"], false);
    assert_eq!(v["ingressClassResource"]["name"], "nginx");
    assert!(
        v["image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(v["metrics"]["enabled"], true);
    // The ServiceMonitor CRD comes with kube-prometheus-stack: a chart monitor would fail the
    // install on a fresh cluster (tests/bootstrap.rs).
    assert_eq!(v["metrics"]["serviceMonitor"]["enabled"], false);
}

#[test]
fn longhorn_db_is_xfs_with_one_replica_and_retained() {
    let sc = &docs_in("out/infrastructure/controllers/longhorn/storageclass.yaml")[0];
    assert_eq!(sc["kind"], "StorageClass");
    assert_eq!(sc["metadata"]["name"], "longhorn-db");
    assert_eq!(sc["provisioner"], "driver.longhorn.io");
    assert_eq!(sc["parameters"]["fsType"], "xfs");
    assert_eq!(
        sc["parameters"]["numberOfReplicas"], "1",
        "a string, as Longhorn expects"
    );
    assert_eq!(sc["reclaimPolicy"], "Retain");
    assert_eq!(sc["allowVolumeExpansion"], true);
    let v = release_values("longhorn");
    assert_eq!(v["persistence"]["defaultClassReplicaCount"], 1);
    assert_eq!(
        v["defaultSettings"]["defaultReplicaCount"],
        r#"{"v1":"1","v2":"1"}"#
    );
}

#[test]
fn cluster_issuers_point_to_the_right_acme_directories() {
    let issuers = docs_in("out/infrastructure/configs/issuers/clusterissuers.yaml");
    let by_name = |n: &str| {
        issuers
            .iter()
            .find(|i| i["metadata"]["name"] == n)
            .unwrap()
            .clone()
    };
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let staging = by_name("letsencrypt-staging");
    let prod = by_name("letsencrypt-prod");
    assert_eq!(
        staging["spec"]["acme"]["server"],
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    );
    assert_eq!(
        prod["spec"]["acme"]["server"],
        "https://acme-v02.api.letsencrypt.org/directory"
    );
    assert_ne!(
        staging["spec"]["acme"]["privateKeySecretRef"],
        prod["spec"]["acme"]["privateKeySecretRef"]
    );
    for i in [&staging, &prod] {
        let solver = &i["spec"]["acme"]["solvers"][0]["http01"]["ingress"];
        assert_eq!(solver["ingressClassName"], "nginx");
        assert_eq!(
            solver["podTemplate"]["spec"]["securityContext"]["runAsNonRoot"],
            true
        );
        assert_eq!(
            i["spec"]["acme"]["email"],
            settings.cluster.acme.email.as_str()
        );
    }
    let cm = release_values("cert-manager");
    assert_eq!(cm["crds"]["enabled"], true);
    assert_eq!(cm["prometheus"]["enabled"], true);
    assert_eq!(cm["prometheus"]["servicemonitor"]["enabled"], false);
    assert!(
        cm["acmesolver"]["image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn kube_prometheus_stack_selects_monitors_and_rules_from_every_namespace() {
    let v = release_values("kube-prometheus-stack");
    let spec = &v["prometheus"]["prometheusSpec"];
    for key in [
        "serviceMonitor",
        "podMonitor",
        "rule",
        "probe",
        "scrapeConfig",
    ] {
        assert_eq!(
            spec[format!("{key}SelectorNilUsesHelmValues")],
            false,
            "{key}"
        );
    }
    assert_eq!(
        spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"],
        "longhorn-db"
    );
    assert_eq!(spec["retention"], "15d");
    assert_eq!(v["grafana"]["admin"]["existingSecret"], "grafana-admin");
    // Grafana reads its dashboards where they are shipped, and nowhere else (its RBAC is
    // namespaced: tests/charts.rs).
    for cm in o4g_gitops::components::dashboards::config_maps(
        &o4g_gitops::settings::Settings::load(&common::root()).unwrap(),
    ) {
        assert_eq!(
            v["grafana"]["sidecar"]["dashboards"]["searchNamespace"],
            cm.metadata.namespace.unwrap()
        );
    }
    assert_eq!(v["grafana"]["sidecar"]["dashboards"]["labelValue"], "1");
    assert_eq!(
        v["prometheus-node-exporter"]["namespaceOverride"],
        "node-exporter"
    );
    for cp in [
        "kubeControllerManager",
        "kubeScheduler",
        "kubeEtcd",
        "kubeProxy",
    ] {
        assert_eq!(v[cp]["enabled"], false, "{cp}");
    }
}

#[test]
fn every_release_is_exact_and_handles_crds_and_failures() {
    for component in [
        "longhorn",
        "ingress-nginx",
        "cert-manager",
        "kyverno",
        "kube-prometheus-stack",
    ] {
        let r = &docs_in(&format!(
            "out/infrastructure/controllers/{component}/release.yaml"
        ))[0];
        let source = &docs_in(&format!(
            "out/infrastructure/controllers/{component}/source.yaml"
        ))[0];
        let version = r["spec"]["chart"]["spec"]["version"]
            .as_str()
            .or(source["spec"]["ref"]["tag"].as_str())
            .unwrap();
        assert!(
            o4g_gitops::charts::is_exact_version(version),
            "{component}: {version}"
        );
        assert_eq!(source["apiVersion"], "source.toolkit.fluxcd.io/v1");
        assert_eq!(
            r["metadata"]["namespace"], source["metadata"]["namespace"],
            "{component}: Renovate links release and source by namespace"
        );
        if component != "ingress-nginx" {
            assert_eq!(r["spec"]["install"]["crds"], "CreateReplace", "{component}");
            assert_eq!(r["spec"]["upgrade"]["crds"], "CreateReplace", "{component}");
        }
        let strategy = r["spec"]["upgrade"]["strategy"]["name"].as_str().unwrap();
        let stateful = component == "longhorn" || component == "kube-prometheus-stack";
        assert_eq!(
            strategy,
            if stateful {
                "RetryOnFailure"
            } else {
                "RemediateOnFailure"
            },
            "{component}"
        );
    }
}

#[test]
fn every_namespace_has_pod_security_labels_and_relaxed_ones_say_why() {
    let docs = std::fs::read_to_string(common::root().join("out/docs/infrastructure.md")).unwrap();
    let mut seen = 0;
    for (file, ns) in common::documents(&common::root().join("out/infrastructure/controllers")) {
        if ns["kind"] != "Namespace" {
            continue;
        }
        seen += 1;
        let name = ns["metadata"]["name"].as_str().unwrap();
        let labels = &ns["metadata"]["labels"];
        let level = labels["pod-security.kubernetes.io/enforce"]
            .as_str()
            .unwrap_or_else(|| panic!("{file:?}: {name} has no enforce label"));
        for mode in ["audit", "warn"] {
            assert_eq!(
                labels[format!("pod-security.kubernetes.io/{mode}")],
                level,
                "{name}"
            );
        }
        if level != "restricted" {
            let why = ns["metadata"]["annotations"]["open4goods.org/pod-security-reason"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no reason"));
            assert!(
                docs.contains(&format!("| `{name}` | {level} | {why} |")),
                "{name}: reason not in docs"
            );
        }
    }
    // Every namespace the components declare (the environments' and the platform's).
    let settings = o4g_gitops::settings::Settings::load_without_secrets(&common::root()).unwrap();
    let declared = o4g_gitops::components::all_namespaces(&settings).unwrap();
    assert!(declared.len() > settings.environments().count());
    assert_eq!(seen, declared.len(), "{declared:?}");
}

#[test]
fn chart_and_image_versions_live_in_one_place_each_with_a_renovate_comment() {
    for (file, marker) in [
        ("src/charts.rs", ": Chart = chart!("),
        ("src/images.rs", ": PinnedImage = pinned_image!("),
    ] {
        let text = std::fs::read_to_string(common::root().join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut n = 0;
        for (i, l) in lines.iter().enumerate() {
            if l.contains(marker) {
                n += 1;
                assert!(
                    lines[i - 1].starts_with("// renovate: datasource="),
                    "{file}:{}: no Renovate comment above",
                    i + 1
                );
            }
        }
        assert!(n >= 5, "{file}: {n}");
    }
    // No version literal of a chart appears anywhere else in src/. An image declared beside its
    // chart (`pinned_image!` or `chart_image!` with its Renovate comment) carries its own tag,
    // grouped with the chart in renovate.json (tests/ci.rs
    // `every_chart_image_moves_with_its_chart_and_gets_its_digest_pinned`).
    for chart in o4g_gitops::charts::ALL {
        for entry in walkdir::WalkDir::new(common::root().join("src")) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() && !entry.path().ends_with("charts.rs") {
                let text: String = std::fs::read_to_string(entry.path())
                    .unwrap()
                    .lines()
                    .filter(|l| {
                        !l.contains(": PinnedImage = pinned_image!(")
                            && !l.trim_start().starts_with("chart_image!(\"")
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(
                    !text.contains(&format!("\"{}\"", chart.version)),
                    "{} repeats {}",
                    entry.path().display(),
                    chart.version
                );
            }
        }
    }
}

#[test]
fn kyverno_deny_and_its_docs_come_from_the_chart_namespaces() {
    // Where Kyverno denies is derived (components::enforced_namespaces: the parts' own
    // namespaces and the chart namespaces nothing holds in Audit); the committed policies and
    // both docs say it from the same data: each chart namespace held in Audit with its images
    // awaiting their digest and its other rules, and the list of awaiting images.
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let enforced = o4g_gitops::components::enforced_namespaces(&settings).unwrap();
    let held = o4g_gitops::components::chart_namespaces(&settings).unwrap();
    for doc in docs_in("out/infrastructure/configs/policies/image-digest.yaml") {
        let values: Vec<&str> =
            doc["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
        if doc["spec"]["validationActions"][0] == "Deny" {
            assert_eq!(values, enforced);
        } else {
            assert!(enforced.iter().all(|ns| values.contains(ns)), "{values:?}");
        }
    }
    let infra = std::fs::read_to_string(common::root().join("out/docs/infrastructure.md")).unwrap();
    let deny_line = infra.lines().find(|l| l.starts_with("`Deny` in ")).unwrap();
    for ns in &enforced {
        assert!(deny_line.contains(&format!("`{ns}`")), "{deny_line}");
    }
    for h in &held {
        let line = infra
            .lines()
            .find(|l| l.starts_with(&format!("- `{}` is audited", h.namespace)));
        if h.denies() {
            assert!(line.is_none() && enforced.contains(&h.namespace));
            continue;
        }
        let line = line.unwrap_or_else(|| panic!("{} is not said to be audited", h.namespace));
        assert!(!deny_line.contains(&format!("`{}`", h.namespace)));
        for i in h.awaiting() {
            assert!(line.contains(&format!("`{i}`")), "{line}");
        }
        for (rule, why) in &h.held_by {
            assert!(line.contains(&format!("`{rule}`: {why}")), "{line}");
        }
    }
    let awaiting: Vec<String> = o4g_gitops::components::chart_images()
        .into_iter()
        .flat_map(|(_, images)| images)
        .filter(|i| i.digest().is_none())
        .map(|i| i.to_string())
        .collect();
    let ci = std::fs::read_to_string(common::root().join("out/docs/ci.md")).unwrap();
    if awaiting.is_empty() {
        assert!(ci.contains("Every chart image is pinned."));
    } else {
        let line = ci
            .lines()
            .find(|l| l.starts_with(&format!("Awaiting their digest ({}): ", awaiting.len())))
            .expect("the awaiting images in docs/ci.md");
        for i in &awaiting {
            assert!(line.contains(&format!("`{i}`")), "{i}");
        }
    }
}

#[test]
fn the_docs_list_the_requests_and_limits_of_every_monitoring_container() {
    // The table in out/docs/infrastructure.md comes from `monitoring::sizes`, the values the
    // release passes (tests/charts.rs checks the rendered containers carry them).
    use o4g_gitops::components::monitoring::sizes;
    let infra = std::fs::read_to_string(common::root().join("out/docs/infrastructure.md")).unwrap();
    for (which, r) in sizes::ALL {
        let row = format!(
            "| {which} | {} CPU, {} | {} CPU, {} |",
            r.requests.cpu, r.requests.memory, r.limits.cpu, r.limits.memory
        );
        assert!(infra.lines().any(|l| l == row), "{row} not in the docs");
    }
}
