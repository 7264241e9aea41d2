//! `[ingress] controller`: the default (ingress-nginx) leaves the live tree as it is, and
//! `traefik` moves every part: its release instead of ingress-nginx's, the Gateway API CRDs
//! first, a Gateway and its HTTPRoutes per environment's host, cert-manager's Gateway support
//! and its solvers, the namespace and its Pod Security reason.

mod common;

use std::collections::BTreeSet;

use common::Tree;
use o4g_gitops::settings::IngressController;
use serde_json::Value;

fn objects(tree: Tree) -> Vec<(std::path::PathBuf, Value)> {
    common::documents(&tree.root().join("out"))
}

fn of_kind<'a>(docs: &'a [(std::path::PathBuf, Value)], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn the_setting_defaults_to_ingress_nginx_and_spelling_the_default_changes_nothing() {
    let live = Tree::Live.settings();
    let text = std::fs::read_to_string(common::root().join("overlays/cluster.toml")).unwrap();
    if !text.contains("[ingress]") {
        assert_eq!(
            live.cluster.ingress.controller,
            IngressController::IngressNginx,
            "without [ingress] the controller is ingress-nginx"
        );
    }
    // The live tree with the default written out renders byte for byte the committed out/.
    let dir = common::live_scratch_repo();
    let before = common::snapshot_dir(&dir.path().join("out"));
    let cluster = dir.path().join("overlays/cluster.toml");
    std::fs::write(&cluster, common::with_controller(&text, "ingress-nginx")).unwrap();
    let out = common::o4g(dir.path(), &["render"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(
        before,
        common::snapshot_dir(&dir.path().join("out")),
        "controller = \"ingress-nginx\" renders exactly the committed out/"
    );
}

#[test]
fn an_unknown_controller_is_refused_naming_file_line_and_key() {
    let dir = common::scratch_repo();
    let cluster = dir.path().join("overlays/cluster.toml");
    let text = std::fs::read_to_string(&cluster).unwrap();
    let bad = common::with_controller(&text, "nginx");
    let line = bad
        .lines()
        .position(|l| l.starts_with("controller"))
        .unwrap()
        + 1;
    std::fs::write(&cluster, bad).unwrap();
    let before = common::snapshot_dir(&dir.path().join("out"));
    let out = common::o4g(dir.path(), &["render"]);
    let msg = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("cluster.toml"), "{msg}");
    assert!(msg.contains(&format!(":{line}:")), "line {line}: {msg}");
    assert!(msg.contains("controller"), "{msg}");
    assert!(
        msg.contains("ingress-nginx") && msg.contains("traefik"),
        "{msg}"
    );
    assert_eq!(before, common::snapshot_dir(&dir.path().join("out")));
}

#[test]
fn traefik_replaces_the_ingress_nginx_release_and_its_namespace() {
    let docs = objects(Tree::Traefik);
    let releases: BTreeSet<&str> = of_kind(&docs, "HelmRelease")
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(releases.contains("traefik"), "{releases:?}");
    assert!(!releases.contains("ingress-nginx"), "{releases:?}");
    let live: BTreeSet<String> = of_kind(&objects(Tree::Live), "HelmRelease")
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(live.contains("ingress-nginx") && !live.contains("traefik"));
    let hr = of_kind(&docs, "HelmRelease")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "traefik")
        .unwrap();
    assert_eq!(hr["spec"]["chart"]["spec"]["chart"], "traefik");
    assert_eq!(
        hr["spec"]["chart"]["spec"]["version"],
        o4g_gitops::charts::TRAEFIK.version
    );
    let ns = of_kind(&docs, "Namespace")
        .into_iter()
        .find(|n| n["metadata"]["name"] == "traefik")
        .expect("the traefik namespace");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    let reason = ns["metadata"]["annotations"]["open4goods.org/pod-security-reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("host port"), "{reason}");
    assert!(
        !docs
            .iter()
            .any(|(_, d)| d["kind"] == "Namespace" && d["metadata"]["name"] == "ingress-nginx"),
        "no ingress-nginx namespace"
    );
    assert!(of_kind(&docs, "Ingress").is_empty(), "no Ingress is left");
    // The image inventory names the pinned Traefik image.
    let readme = std::fs::read_to_string(Tree::Traefik.root().join("out/README.md")).unwrap();
    let image = o4g_gitops::components::traefik::images::TRAEFIK.to_string();
    assert!(readme.contains(&image), "{image} in out/README.md");
}

#[test]
fn traefik_gives_each_environment_a_gateway_and_routes_for_its_host_with_its_issuer() {
    let settings = Tree::Traefik.settings();
    let mut envs = 0;
    for (env, e) in settings.envs() {
        envs += 1;
        let host = e.xwiki.host.get_ref().to_string();
        let built = common::kustomize(
            &Tree::Traefik
                .root()
                .join(format!("out/apps/overlays/{}", env.name())),
        );
        let objs: Vec<Value> = serde_yaml::Deserializer::from_str(&built)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        let gateways: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "Gateway").collect();
        assert_eq!(gateways.len(), 1, "{env}: one Gateway");
        let gw = gateways[0];
        assert_eq!(gw["metadata"]["namespace"], env.name());
        assert_eq!(
            gw["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            e.xwiki.cluster_issuer.name(),
            "{env}"
        );
        let listeners = gw["spec"]["listeners"].as_array().unwrap();
        let protocols: BTreeSet<&str> = listeners
            .iter()
            .map(|l| l["protocol"].as_str().unwrap())
            .collect();
        assert_eq!(protocols, BTreeSet::from(["HTTP", "HTTPS"]), "{env}");
        for l in listeners {
            assert_eq!(l["hostname"], host.as_str(), "{env}");
        }
        let routes: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "HTTPRoute").collect();
        assert_eq!(routes.len(), 2, "{env}: the route and the redirect");
        for r in &routes {
            assert_eq!(r["spec"]["hostnames"][0], host.as_str(), "{env}");
            assert_eq!(r["spec"]["parentRefs"][0]["name"], gw["metadata"]["name"]);
        }
        assert!(
            routes
                .iter()
                .any(|r| r["spec"]["rules"][0]["backendRefs"][0]["name"] == "xwiki"),
            "{env}: a route to XWiki"
        );
        assert!(
            routes.iter().any(|r| {
                let f = &r["spec"]["rules"][0]["filters"][0];
                f["type"] == "RequestRedirect" && f["requestRedirect"]["scheme"] == "https"
            }),
            "{env}: HTTP goes to HTTPS"
        );
    }
    assert!(envs >= 2);
}

#[test]
fn traefik_turns_on_cert_managers_gateway_support_and_its_solvers() {
    let settings = Tree::Traefik.settings();
    let docs = objects(Tree::Traefik);
    let cm = of_kind(&docs, "HelmRelease")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "cert-manager")
        .unwrap();
    assert_eq!(
        cm["spec"]["values"]["config"]["gatewayAPI"]["enabled"],
        true
    );
    let live = of_kind(&objects(Tree::Live), "HelmRelease")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "cert-manager")
        .cloned()
        .unwrap();
    assert!(live["spec"]["values"]["config"].is_null());
    let hosts: BTreeSet<String> = settings
        .envs()
        .map(|(_, e)| e.xwiki.host.get_ref().to_string())
        .collect();
    for issuer in of_kind(&docs, "ClusterIssuer") {
        let mut solved = BTreeSet::new();
        for s in issuer["spec"]["acme"]["solvers"].as_array().unwrap() {
            let route = &s["http01"]["gatewayHTTPRoute"];
            assert!(s["http01"]["ingress"].is_null());
            let parent = &route["parentRefs"][0];
            assert_eq!(parent["kind"], "Gateway");
            assert_eq!(parent["sectionName"], "http");
            let host = s["selector"]["dnsNames"][0].as_str().unwrap().to_string();
            let (env, _) = settings
                .envs()
                .find(|(_, e)| e.xwiki.host.get_ref().to_string() == host)
                .unwrap();
            assert_eq!(parent["namespace"], env.name(), "{host}");
            solved.insert(host);
        }
        assert_eq!(solved, hosts, "{}", issuer["metadata"]["name"]);
    }
}

#[test]
fn the_gateway_api_crds_come_before_the_controllers() {
    let docs = objects(Tree::Traefik);
    let ks = of_kind(&docs, "Kustomization");
    let gw = ks
        .iter()
        .find(|k| k["metadata"]["name"] == "gateway-api")
        .expect("a gateway-api Kustomization");
    let source = of_kind(&docs, "GitRepository")
        .into_iter()
        .find(|g| g["metadata"]["name"] == gw["spec"]["sourceRef"]["name"])
        .expect("its GitRepository");
    assert_eq!(
        source["spec"]["ref"]["tag"],
        o4g_gitops::components::traefik::GATEWAY_API_VERSION
    );
    assert_eq!(gw["spec"]["path"], "./config/crd/standard");
    let controllers = ks
        .iter()
        .find(|k| k["metadata"]["name"] == "infra-controllers")
        .unwrap();
    assert!(
        controllers["spec"]["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "gateway-api"),
        "infra-controllers (Traefik, cert-manager) waits for the CRDs"
    );
    assert!(
        !of_kind(&objects(Tree::Live), "Kustomization")
            .iter()
            .any(|k| k["metadata"]["name"] == "gateway-api"),
        "ingress-nginx needs no Gateway API"
    );
}

#[test]
fn the_runbook_says_why_and_how_with_what_both_trees_really_hold() {
    for tree in Tree::ALL {
        let settings = tree.settings();
        let runbook =
            std::fs::read_to_string(tree.root().join("out/docs/runbooks/ingress.md")).unwrap();
        assert!(
            runbook.contains(&format!(
                "This cluster runs **{}**",
                settings.cluster.ingress.controller.name()
            )),
            "{}",
            tree.label()
        );
        for (_, e) in settings.envs() {
            assert!(runbook.contains(&format!("`{}`", e.xwiki.host.get_ref())));
        }
        for a in &settings.cluster.cutover.ingress_addresses {
            assert!(runbook.contains(&a.to_string()), "{a}");
        }
        assert!(runbook.contains("retired") && runbook.contains("cutover"));
    }
    // What the cutover steps name exists in the Traefik tree: the Kustomization, the DaemonSet
    // (as the chart renders it), and the Secret the Gateways share with the Ingresses.
    let runbook =
        std::fs::read_to_string(Tree::Traefik.root().join("out/docs/runbooks/ingress.md")).unwrap();
    assert!(runbook.contains("kubectl -n traefik rollout status daemonset/traefik"));
    assert!(runbook.contains("`gateway-api`"));
    if common::charts::available().is_ok() {
        assert!(
            common::charts::releases_of(Tree::Traefik)
                .iter()
                .flat_map(|r| &r.objects)
                .any(|o| o["kind"] == "DaemonSet"
                    && o["metadata"]["name"] == "traefik"
                    && o["metadata"]["namespace"] == "traefik"),
            "the chart renders DaemonSet traefik/traefik"
        );
    }
    let secret_of_gateway = of_kind(&objects(Tree::Traefik), "Gateway")[0]["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["protocol"] == "HTTPS")
        .unwrap()["tls"]["certificateRefs"][0]["name"]
        .clone();
    let secret_of_ingress =
        of_kind(&objects(Tree::Live), "Ingress")[0]["spec"]["tls"][0]["secretName"].clone();
    assert_eq!(
        secret_of_gateway, secret_of_ingress,
        "the certificate is kept"
    );
    assert!(runbook.contains(&format!("`{}`", secret_of_ingress.as_str().unwrap())));
}

#[test]
fn o4g_diff_shows_what_the_switch_moves() {
    // The review of the switch (runbook, "Before"): `o4g diff` of the commit that sets
    // `controller = "traefik"` names the Gateway API layer, the releases that come and go and
    // the routes of each environment.
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", common::text(&out));
    };
    let dir = common::scratch_repo();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    let cluster = root.join("overlays/cluster.toml");
    let text = std::fs::read_to_string(&cluster).unwrap();
    std::fs::write(&cluster, common::with_controller(&text, "traefik")).unwrap();
    let out = common::o4g(root, &["render"]);
    assert!(out.status.success(), "{}", common::text(&out));
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "traefik"]);
    let out = common::o4g(root, &["diff", "--format", "json", "HEAD~1"]);
    let report = common::text(&out);
    assert!(out.status.success(), "{report}");
    for moved in [
        "gateway-api",
        "HelmRelease traefik/traefik",
        "HelmRelease ingress-nginx/ingress-nginx",
        "Namespace traefik",
        "ClusterIssuer letsencrypt-prod",
        "NetworkPolicy traefik/default-deny",
        "ServiceMonitor traefik/traefik",
    ] {
        assert!(report.contains(moved), "{moved} in the diff:\n{report}");
    }
    let settings = o4g_gitops::settings::Settings::load(root).unwrap();
    for env in settings.environments() {
        for object in [
            format!("Gateway {env}/xwiki"),
            format!("HTTPRoute {env}/xwiki-redirect"),
            format!("Ingress {env}/xwiki"),
        ] {
            assert!(report.contains(&object), "{object} in the diff");
        }
    }
}
