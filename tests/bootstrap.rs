//! A fresh cluster comes up in order: from the rendered Flux Kustomizations (dependsOn), the
//! HelmReleases (dependsOn, CRD policy, remediation, timeouts) and what each chart really
//! renders, every object's kind is served by the time it is applied, and no release can end
//! Stalled.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Tree;
use common::charts;
use serde_json::Value;

/// API groups a fresh cluster serves before anything is applied: Kubernetes' own, plus
/// Flux's (installed by `flux bootstrap`).
const BUILT_IN: &[&str] = &[
    "",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "autoscaling",
    "apiregistration.k8s.io",
    "certificates.k8s.io",
    "node.k8s.io",
    "kustomize.toolkit.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "source.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io",
];

fn group_kind(o: &Value) -> (String, String) {
    let api = o["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    (group, o["kind"].as_str().unwrap_or("").to_string())
}

fn crd_kinds(objects: &[Value]) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .map(|o| {
            (
                o["spec"]["group"].as_str().unwrap().to_string(),
                o["spec"]["names"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The generated tree's objects under `out/<path>/`.
fn tree_objects(prefix: &str) -> Vec<Value> {
    objects_of(Tree::Live, prefix)
}

/// One tree's objects under `out/<path>/`.
fn objects_of(t: Tree, prefix: &str) -> Vec<Value> {
    let settings = t.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    tree.files()
        .iter()
        .filter(|(p, _)| {
            p.starts_with(prefix) && p.ends_with(".yaml") && !p.ends_with("kustomization.yaml")
        })
        .flat_map(|(p, b)| {
            o4g_gitops::lint::parse_documents(std::path::Path::new(p), &String::from_utf8_lossy(b))
                .unwrap()
        })
        .collect()
}

fn kustomizations(t: Tree) -> Vec<Value> {
    objects_of(t, "out/clusters/")
        .into_iter()
        .filter(|o| o["kind"] == "Kustomization")
        .collect()
}

/// The one known gap of `../shared/charts/` (its INDEX.md): Kyverno 3.9.0's `kyverno-api`
/// subchart, which renders the `policies.kyverno.io` CRDs when `crds.install` is true (the
/// default), could not be had offline. Its kinds are taken from the CRD schemas in
/// `../shared/schemas/policies.kyverno.io/` (`validatingpolicy_v1.json` → ValidatingPolicy).
fn kyverno_api_kinds() -> BTreeSet<(String, String)> {
    let dir = common::shared()
        .expect("the chart tests run only with the upstream data")
        .join("schemas/policies.kyverno.io");
    let names: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            Some(n.split('_').next()?.to_string())
        })
        .collect();
    // File names are lower-case kinds; match them to the kinds the tree uses.
    [
        "ValidatingPolicy",
        "MutatingPolicy",
        "GeneratingPolicy",
        "DeletingPolicy",
        "ImageValidatingPolicy",
    ]
    .into_iter()
    .flat_map(|k| [k.to_string(), format!("Namespaced{k}")])
    .filter(|k| names.contains(&k.to_lowercase()))
    .map(|k| ("policies.kyverno.io".to_string(), k))
    .collect()
}

/// The objects a Flux Kustomization applies (an app overlay builds on the app base). The
/// Gateway API CRDs' Kustomization reads the upstream repository at its tag: its objects are
/// the files of that folder, as `../shared/charts/gateway-api-v1.5.1/crds/` holds them
/// (`config/crd/standard/` at the tag, README there).
fn layer_objects(t: Tree, k: &Value) -> Vec<Value> {
    if k["spec"]["sourceRef"]["name"] == o4g_gitops::components::flux::GATEWAY_API {
        let dir = common::shared()
            .expect("the bootstrap order is checked with the upstream data")
            .join(format!(
                "charts/gateway-api-{}/crds",
                o4g_gitops::components::traefik::GATEWAY_API_VERSION
            ));
        assert_eq!(
            k["spec"]["path"].as_str().unwrap().trim_start_matches("./"),
            o4g_gitops::components::traefik::GATEWAY_API_PATH
        );
        return common::documents(&dir)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
    }
    let path = format!(
        "{}/",
        k["spec"]["path"].as_str().unwrap().trim_start_matches("./")
    );
    let mut objects = objects_of(t, &path);
    if path.starts_with("out/apps/overlays/") {
        objects.extend(objects_of(t, "out/apps/base/"));
    }
    objects.into_iter().filter(|o| o.is_object()).collect()
}

fn secs(d: &Value) -> u64 {
    o4g_gitops::quantity::Duration::parse(d.as_str().unwrap())
        .unwrap()
        .as_secs()
}

#[test]
fn every_kind_is_served_before_it_is_applied_on_a_fresh_cluster() {
    if let Err(why) = charts::available() {
        skip_or_fail!("{why}")
    }
    for t in Tree::ALL {
        served_in_order(t);
    }
}

fn served_in_order(t: Tree) {
    let releases = charts::releases_of(t);
    // Layers in the order the Kustomizations' dependsOn imposes.
    let ks = kustomizations(t);
    let mut order: Vec<String> = Vec::new();
    while order.len() < ks.len() {
        let before = order.len();
        for k in &ks {
            let name = k["metadata"]["name"].as_str().unwrap().to_string();
            let deps: Vec<&str> = k["spec"]["dependsOn"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| d["name"].as_str().unwrap())
                .collect();
            if !order.contains(&name) && deps.iter().all(|d| order.iter().any(|o| o == d)) {
                order.push(name);
            }
        }
        assert!(
            order.len() > before,
            "the Kustomizations' dependsOn has a cycle"
        );
    }
    let mut served: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for name in &order {
        let k = ks
            .iter()
            .find(|k| k["metadata"]["name"] == name.as_str())
            .unwrap();
        let own = layer_objects(t, k);
        assert!(!own.is_empty(), "{name}: no object found under its path");
        // cert-manager with Gateway support exits at start while `gateway.networking.k8s.io/v1`
        // is not served (cert-manager v1.21.1 `pkg/controller/context.go`): the CRDs must be
        // served before the layer that installs it.
        for hr in own.iter().filter(|o| {
            o["kind"] == "HelmRelease"
                && o["spec"]["values"]["config"]["gatewayAPI"]["enabled"] == true
        }) {
            if !served
                .iter()
                .any(|(g, k)| g == "gateway.networking.k8s.io" && k == "Gateway")
            {
                problems.push(format!(
                    "{name}: {} enables Gateway API support before the Gateway API CRDs are served",
                    hr["metadata"]["name"]
                ));
            }
        }
        let layer_releases: Vec<&charts::Release> = releases
            .iter()
            .filter(|r| {
                own.iter().any(|o| {
                    o["kind"] == "HelmRelease"
                        && o["metadata"]["name"] == r.helm_release["metadata"]["name"]
                })
            })
            .collect();
        // Plain objects of the layer: applied together, so only kinds served before the layer.
        for o in &own {
            let gk = group_kind(o);
            checked += 1;
            if !BUILT_IN.contains(&gk.0.as_str()) && !served.contains(&gk) {
                problems.push(format!(
                    "{name}: {} {} is applied before any layer serves its CRD",
                    gk.0, gk.1
                ));
            }
        }
        // Releases: in dependsOn order; each may use kinds served before the layer, its own
        // crds/ (Helm applies them first), and those of the releases it depends on.
        let mut release_served: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        let mut pending: Vec<&charts::Release> = layer_releases.clone();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|r| {
                let deps: Vec<String> = r.helm_release["spec"]["dependsOn"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| d["name"].as_str().unwrap().to_string())
                    .collect();
                if !deps.iter().all(|d| release_served.contains_key(d)) {
                    return true;
                }
                let mut avail = served.clone();
                for d in &deps {
                    avail.extend(release_served[d].iter().cloned());
                }
                avail.extend(crd_kinds(&r.crds));
                for o in &r.objects {
                    let gk = group_kind(o);
                    checked += 1;
                    if !BUILT_IN.contains(&gk.0.as_str()) && !avail.contains(&gk) {
                        problems.push(format!(
                            "{name}: release {} renders {} {} {}, whose CRD is not installed before it",
                            r.name, gk.0, gk.1, o["metadata"]["name"]
                        ));
                    }
                }
                let mut mine = crd_kinds(&r.crds);
                mine.extend(crd_kinds(&r.objects));
                if r.helm_release["metadata"]["name"] == "kyverno"
                    && r.helm_release["spec"]["values"]["crds"]["install"] != false
                {
                    mine.extend(kyverno_api_kinds());
                }
                release_served.insert(r.helm_release["metadata"]["name"].as_str().unwrap().to_string(), mine);
                false
            });
            assert!(
                pending.len() < before,
                "{name}: HelmRelease dependsOn has a cycle or names a release outside the layer"
            );
        }
        for kinds in release_served.values() {
            served.extend(kinds.iter().cloned());
        }
        // CRDs the layer applies itself (the Gateway API's) are served once it is Ready.
        served.extend(crd_kinds(&own));
    }
    eprintln!(
        "{}: {checked} objects checked across {} layers",
        t.label(),
        order.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_release_can_end_stalled_and_layers_outlast_their_releases() {
    for t in Tree::ALL {
        never_stalled(t);
    }
}

fn never_stalled(t: Tree) {
    let releases: Vec<Value> = charts::helm_releases_of(t);
    for hr in &releases {
        let name = hr["metadata"]["name"].as_str().unwrap();
        for action in ["install", "upgrade"] {
            let a = &hr["spec"][action];
            let retry = a["strategy"]["name"] == "RetryOnFailure";
            let unlimited = a["remediation"]["retries"].as_i64().is_some_and(|n| n < 0);
            assert!(
                retry || unlimited,
                "{name}: {action} gives up after a bounded number of retries, then stays Stalled"
            );
        }
    }
    for k in kustomizations(t) {
        let name = k["metadata"]["name"].as_str().unwrap();
        let timeout = secs(&k["spec"]["timeout"]);
        let own = layer_objects(t, &k);
        assert!(!own.is_empty(), "{name}: no object found under its path");
        for hr in own.iter().filter(|o| o["kind"] == "HelmRelease") {
            let own = secs(&hr["spec"]["timeout"]);
            assert!(
                timeout > own,
                "{name} ({timeout} s) must outlast HelmRelease {} ({own} s)",
                hr["metadata"]["name"]
            );
        }
    }
}

#[test]
fn prometheus_volumes_wait_for_longhorn_and_its_storage_class() {
    let releases = charts::helm_releases();
    let kps = releases
        .iter()
        .find(|r| r["metadata"]["name"] == "kube-prometheus-stack")
        .unwrap();
    let deps = kps["spec"]["dependsOn"].to_string();
    assert!(
        deps.contains("longhorn"),
        "kube-prometheus-stack dependsOn: {deps}"
    );
    let class =
        kps["spec"]["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
            ["spec"]["storageClassName"]
            .as_str()
            .unwrap();
    let same_layer = tree_objects("out/infrastructure/controllers/");
    assert!(
        same_layer
            .iter()
            .any(|o| o["kind"] == "StorageClass" && o["metadata"]["name"] == class),
        "StorageClass {class} is applied with the controllers"
    );
}

#[test]
fn every_public_host_gets_a_browser_trusted_certificate() {
    // Testers use every environment in a browser: a staging certificate is a warning.
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    for (env, _) in settings.envs() {
        let ingress = o4g_gitops::components::apps::AppParams::for_env(&settings, env).issuer;
        assert_eq!(
            ingress,
            o4g_gitops::settings::ClusterIssuer::LetsEncryptProd,
            "{} uses {}",
            env.name(),
            ingress.name()
        );
    }
}

#[test]
fn every_platform_namespace_has_a_default_deny_or_a_written_reason() {
    for t in Tree::ALL {
        deny_or_reason(t);
    }
}

fn deny_or_reason(t: Tree) {
    let all = objects_of(t, "out/");
    for ns in o4g_gitops::components::all_namespaces(&t.settings()).unwrap() {
        let deny = all.iter().any(|o| {
            o["kind"] == "NetworkPolicy"
                && o["metadata"]["name"] == "default-deny"
                && (o["metadata"]["namespace"] == ns.name
                    // the app base's policies get their namespace from each overlay
                    || (ns.environment != "platform" && o["metadata"]["namespace"].is_null()))
        });
        let object = all
            .iter()
            .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == ns.name)
            .unwrap_or_else(|| panic!("Namespace {} is rendered", ns.name));
        let reason =
            object["metadata"]["annotations"]["open4goods.org/network-policy-reason"].as_str();
        match (ns.network_policy_reason, reason) {
            (None, _) => assert!(deny, "{} has neither a default deny nor a reason", ns.name),
            (Some(r), Some(written)) => assert_eq!(r, written, "{}", ns.name),
            (Some(_), None) => panic!("{}: the reason is not written on the Namespace", ns.name),
        }
    }
    let settings = t.settings();
    for (ns, policies) in o4g_gitops::components::network::chart_namespace_policies(&settings) {
        assert!(
            policies
                .iter()
                .any(|p| p.metadata.name.as_deref() == Some("default-deny")),
            "{ns}"
        );
    }
}

#[test]
fn the_docs_state_the_minimum_flux_version_and_the_sops_key_before_bootstrap() {
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let readme = String::from_utf8_lossy(tree.get("out/README.md").unwrap()).into_owned();
    assert!(readme.contains("Minimum Flux version: v2.7"), "{readme}");
    let secret = readme
        .find("create secret generic sops-age")
        .expect("the sops-age step");
    let bootstrap = readme
        .find("flux bootstrap git")
        .expect("the bootstrap command");
    assert!(
        secret < bootstrap,
        "the sops-age Secret must come before the first reconcile"
    );
    let infra =
        String::from_utf8_lossy(tree.get("out/docs/infrastructure.md").unwrap()).into_owned();
    assert!(
        infra.contains("Bootstrap order on a fresh cluster"),
        "{infra}"
    );
    let network = String::from_utf8_lossy(tree.get("out/docs/network.md").unwrap()).into_owned();
    assert!(
        network.contains("What this assumes of the CNI"),
        "{network}"
    );
}
