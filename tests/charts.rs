//! The real charts, rendered with Helm's library from the generated HelmReleases, checked like
//! our own objects: Pod Security at the level of the namespace they land in, images, the
//! NetworkPolicies (ours and the charts' own) evaluated over the real chart pods, and the
//! monitors' targets.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Tree;
use common::charts::{self, Release};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use o4g_gitops::netpol::eval::{Cluster, Endpoint, Pod};
use o4g_gitops::netpol::{Flow, Peer};
use o4g_gitops::policy::{AuditConfig, Level, PssVersion};
use o4g_gitops::settings::Settings;
use serde_json::Value;

macro_rules! need_charts {
    () => {
        if let Err(why) = charts::available() {
            skip_or_fail!("{why}")
        }
    };
}

fn levels(tree: Tree) -> BTreeMap<String, Level> {
    o4g_gitops::components::all_namespaces(&tree.settings())
        .unwrap()
        .iter()
        .map(|ns| (ns.name.to_string(), ns.pod_security.level()))
        .collect()
}

fn chart_objects(tree: Tree) -> Vec<&'static Value> {
    charts::releases_of(tree)
        .iter()
        .flat_map(|r| &r.objects)
        .collect()
}

#[test]
fn every_chart_renders_with_its_generated_values() {
    need_charts!();
    // Every chart renders in one of the trees (ingress-nginx's in the live one, Traefik's in
    // the other).
    let all: Vec<&Release> = Tree::ALL
        .iter()
        .flat_map(|t| charts::releases_of(*t))
        .collect();
    let names: BTreeSet<&str> = all.iter().map(|r| r.name.as_str()).collect();
    for chart in o4g_gitops::charts::ALL {
        assert!(
            all.iter()
                .any(|r| charts::chart_of(&r.helm_release).0 == chart.name),
            "chart {} has no rendered release ({names:?})",
            chart.name
        );
    }
    for tree in Tree::ALL {
        eprintln!("{}:", tree.label());
        renders(charts::releases_of(tree));
    }
}

fn renders(releases: &[Release]) {
    let mut total = 0;
    for r in releases {
        let pods = charts::pods(&r.objects).len();
        eprintln!(
            "{}: {} objects, {} CRDs from crds/, {} pod templates",
            r.name,
            r.objects.len(),
            r.crds.len(),
            pods
        );
        assert!(pods > 0, "{} renders no pod", r.name);
        total += r.objects.len() + r.crds.len();
    }
    eprintln!("{total} chart objects rendered in all");
}

#[test]
fn chart_pods_meet_the_pod_security_level_of_their_namespace() {
    need_charts!();
    for tree in Tree::ALL {
        pod_security(tree);
    }
}

fn pod_security(tree: Tree) {
    let levels = levels(tree);
    let mut checked = 0;
    let mut bad = Vec::new();
    for (object, pod) in charts::pods(&chart_objects(tree).into_iter().cloned().collect::<Vec<_>>())
    {
        let level = *levels.get(&pod.namespace).unwrap_or_else(|| {
            panic!(
                "{} lands in {}, which the platform does not declare",
                pod.name, pod.namespace
            )
        });
        let cfg = AuditConfig {
            level,
            version: PssVersion::Latest,
            allowed_registries: vec![],
        };
        checked += 1;
        bad.extend(
            o4g_gitops::policy::audit_object(&object, &cfg)
                .into_iter()
                .filter(|v| v.rule.starts_with("pss:"))
                .map(|v| format!("{} ({level:?}): {v}", pod.namespace)),
        );
    }
    eprintln!(
        "{}: {checked} chart pod templates checked against their namespace's level",
        tree.label()
    );
    assert!(
        bad.is_empty(),
        "Pod Security violations:\n{}",
        bad.join("\n")
    );
}

/// Every image a release runs: any string of the rendered objects shaped like a fully
/// qualified image reference (`registry.tld/repo:tag` or `…@sha256:…`), so images passed as
/// arguments or environment (Longhorn's engine, instance-manager and CSI sidecars,
/// cert-manager's solver) count as much as `image:` fields.
fn images_of(r: &Release) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                let s = s.rsplit('=').next().unwrap_or(s);
                let Some((registry, rest)) = s.split_once('/') else {
                    return;
                };
                let looks = registry.contains('.')
                    && !s.contains([' ', '{', '"'])
                    && (rest.contains(':') || rest.contains('@'))
                    && !s.starts_with("http");
                if looks
                    && registry
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
                {
                    out.insert(s.to_string());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for o in &r.objects {
        if o["kind"] != "CustomResourceDefinition" {
            walk(o, &mut out);
        }
    }
    out
}

/// Pinned: tag and digest, from an allowed registry.
fn is_pinned(image: &str, allowed: &[String]) -> bool {
    o4g_gitops::policy::images::has_digest(image)
        && o4g_gitops::policy::images::has_tag(image)
        && o4g_gitops::policy::images::tag_is_not_latest(image)
        && o4g_gitops::policy::images::registry_allowed(image, allowed)
}

#[test]
fn chart_images_are_the_ones_declared_beside_their_chart() {
    // The ratchet: every image a chart renders is declared in the code beside its chart
    // (`components::chart_images`: pinned, or awaiting its digest) exactly as it renders, and
    // every declared one renders. A chart bump that adds an image fails here until it is
    // declared; only an image the chart pins itself (tag and digest) may stay undeclared.
    need_charts!();
    let settings = Settings::load(&common::root()).unwrap();
    let allowed = settings.allowed_registries();
    let mut rendered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in Tree::ALL.iter().flat_map(|t| charts::releases_of(*t)) {
        let chart = charts::chart_of(&r.helm_release).0.to_string();
        rendered.entry(chart).or_default().extend(images_of(r));
    }
    let declared = o4g_gitops::components::chart_images();
    let mut awaiting = 0;
    for (chart, images) in &declared {
        let got = rendered.get(chart.name).cloned().unwrap_or_default();
        let want: BTreeSet<String> = images.iter().map(ToString::to_string).collect();
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(
            missing.is_empty(),
            "{}: declared but not what the chart renders: {missing:#?}\nrendered: {got:#?}",
            chart.name
        );
        let undeclared: Vec<_> = got
            .difference(&want)
            .filter(|i| !is_pinned(i, &allowed))
            .collect();
        assert!(
            undeclared.is_empty(),
            "{}: renders images declared nowhere (declare them beside the chart, \
             `chart_image!(name, tag)` until Renovate pins them): {undeclared:#?}",
            chart.name
        );
        awaiting += images.iter().filter(|i| i.digest().is_none()).count();
    }
    assert_eq!(
        declared.len(),
        o4g_gitops::charts::ALL.len(),
        "every chart declares its images"
    );
    eprintln!("{awaiting} chart images await their digest");
}

#[test]
fn once_renovate_pins_the_awaiting_images_each_chart_runs_them_by_digest() {
    // The values builders of the charts with awaiting images, given every declaration pinned
    // (what Renovate's pin PR makes of them, with made-up digests), rendered by Helm: each
    // chart then runs exactly the pinned references and nothing unpinned, and the chart pods of
    // a namespace held in Audit by pins alone (arc-systems) meet every rule, so its Deny is safe.
    need_charts!();
    use o4g_gitops::components::{longhorn, monitoring, namespaces, policy_engine, runner};
    use o4g_gitops::image::ChartImage;
    fn pin(i: ChartImage) -> ChartImage {
        if i.digest().is_some() {
            return i;
        }
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(i.name().as_bytes())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        i.with_digest(Box::leak(format!("sha256:{hex}").into_boxed_str()))
            .unwrap()
    }
    let settings = Tree::Live.settings();
    let pinned = [
        longhorn::component_with(&settings, &pin).unwrap(),
        monitoring::component_with(&settings, namespaces::observability(), &pin).unwrap(),
        policy_engine::component_with(&pin).unwrap(),
        runner::controller_with(&pin).unwrap(),
    ];
    let mut hrs = Vec::new();
    for mut hr in charts::helm_releases_of(Tree::Live) {
        let chart = charts::chart_of(&hr).0;
        if let Some(c) = pinned.iter().find(|c| c.chart.name == chart) {
            hr["spec"]["values"] = c.values.clone();
            hrs.push(hr);
        } else if chart == o4g_gitops::charts::ARC_RUNNER_SET.name {
            // Its listener runs the controller's image.
            hrs.push(hr);
        }
    }
    assert_eq!(hrs.len(), pinned.len() + 1);
    let releases = charts::render(&hrs);
    let allowed = settings.allowed_registries();
    let mut pinned_images = 0;
    for (chart, declared) in o4g_gitops::components::chart_images() {
        let Some(r) = releases
            .iter()
            .find(|r| charts::chart_of(&r.helm_release).0 == chart.name)
        else {
            continue;
        };
        let got = images_of(r);
        for i in &declared {
            let p = pin(*i).to_string();
            assert!(
                got.contains(&p),
                "{}: {p} not rendered: {got:#?}",
                chart.name
            );
            pinned_images += usize::from(i.digest().is_none());
        }
        let unpinned: Vec<_> = got.iter().filter(|i| !is_pinned(i, &allowed)).collect();
        assert!(unpinned.is_empty(), "{}: {unpinned:#?}", chart.name);
    }
    assert!(pinned_images >= 27, "{pinned_images}");
    // Where only pins held Kyverno in Audit, the pinned chart pods meet every rule, and the
    // namespace goes to Deny by itself once its images carry these digests.
    let held = o4g_gitops::components::chart_namespaces(&settings).unwrap();
    let denied_once_pinned: BTreeSet<&str> = held
        .iter()
        .filter(|h| {
            o4g_gitops::components::contribution::ChartNamespace {
                images: h.images.iter().map(|i| pin(*i)).collect(),
                ..(*h).clone()
            }
            .denies()
        })
        .map(|h| h.namespace)
        .collect();
    for ns in ["arc-systems", monitoring::NAMESPACE, "node-exporter"] {
        assert!(
            denied_once_pinned.contains(ns),
            "{ns} stays in Audit once pinned: {held:#?}"
        );
    }
    let levels = levels(Tree::Live);
    let objects: Vec<Value> = releases.iter().flat_map(|r| r.objects.clone()).collect();
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for (object, pod) in charts::pods(&objects) {
        let Some(ns) = denied_once_pinned.iter().find(|ns| **ns == pod.namespace) else {
            continue;
        };
        let cfg = AuditConfig {
            level: levels[&pod.namespace],
            version: PssVersion::Latest,
            allowed_registries: allowed.clone(),
        };
        let v = o4g_gitops::policy::audit_object(&object, &cfg);
        assert!(v.is_empty(), "{}: {v:#?}", pod.name);
        *checked.entry(ns).or_default() += 1;
    }
    // arc-systems: the controller and the listener; observability: the operator, Grafana,
    // kube-state-metrics and the two webhook Jobs; node-exporter: its DaemonSet.
    assert!(checked["arc-systems"] >= 2, "{checked:?}");
    assert!(checked[monitoring::NAMESPACE] >= 5, "{checked:?}");
    assert!(checked["node-exporter"] >= 1, "{checked:?}");
}

#[test]
fn kyverno_denies_where_chart_pods_meet_every_rule_and_each_audit_hold_is_real() {
    // The derivation of Deny and Audit (`ChartNamespace`), against the real chart pods: in a
    // namespace Kyverno denies, no chart pod breaks a rule; in a chart namespace held in Audit,
    // every rule a pod breaks is a pin rule of an image awaiting its digest or a rule of
    // `held_by`, each `held_by` rule is broken by some pod, and each awaiting image runs there.
    // So the namespace may go to Deny by itself as soon as its last image is pinned.
    need_charts!();
    for tree in Tree::ALL {
        admission(tree);
    }
}

fn admission(tree: Tree) {
    let settings = tree.settings();
    let enforced = o4g_gitops::components::enforced_namespaces(&settings).unwrap();
    let held = o4g_gitops::components::chart_namespaces(&settings).unwrap();
    let levels = levels(tree);
    let objects: Vec<Value> = chart_objects(tree).into_iter().cloned().collect();
    let mut bad = Vec::new();
    let mut broken: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut running: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut denied = 0;
    for (object, pod) in charts::pods(&objects) {
        let cfg = AuditConfig {
            level: levels[&pod.namespace],
            version: PssVersion::Latest,
            allowed_registries: settings.allowed_registries(),
        };
        running
            .entry(pod.namespace.clone())
            .or_default()
            .extend(images_of(&charts::Release {
                helm_release: Value::Null,
                name: String::new(),
                namespace: String::new(),
                objects: vec![object.clone()],
                crds: vec![],
            }));
        let violations = o4g_gitops::policy::audit_object(&object, &cfg);
        if enforced.contains(&pod.namespace.as_str()) {
            denied += 1;
            bad.extend(violations.iter().map(|v| format!("denied: {v}")));
            continue;
        }
        let Some(h) = held.iter().find(|h| h.namespace == pod.namespace) else {
            // Only the namespaces no policy looks at may hold chart pods undeclared: any other
            // would stay in Audit with nothing saying why.
            if !o4g_gitops::components::policies::EXCLUDED_NAMESPACES
                .iter()
                .any(|(ns, _)| *ns == pod.namespace)
            {
                bad.push(format!(
                    "{} runs in {}, which no `ChartNamespace` declares",
                    pod.name, pod.namespace
                ));
            }
            continue;
        };
        let awaiting: Vec<String> = h.awaiting().iter().map(ToString::to_string).collect();
        for v in violations {
            let pin_rule = v.rule.starts_with("image-");
            if pin_rule
                && awaiting
                    .iter()
                    .any(|i| v.message.contains(&format!("\"{i}\"")))
            {
                continue;
            }
            if h.held_by.iter().any(|(rule, _)| *rule == v.rule) {
                broken
                    .entry(h.namespace)
                    .or_default()
                    .insert(v.rule.clone());
                continue;
            }
            bad.push(format!("held by nothing declared: {v}"));
        }
    }
    for h in &held {
        for (rule, _) in &h.held_by {
            assert!(
                broken.get(h.namespace).is_some_and(|b| b.contains(*rule)),
                "{}: held in Audit by `{rule}`, which no chart pod there breaks any more: \
                 remove it from `held_by`",
                h.namespace
            );
        }
        for i in h.awaiting() {
            assert!(
                running
                    .get(h.namespace)
                    .is_some_and(|r| r.contains(&i.to_string())),
                "{}: {i} awaits its digest but runs in no pod there",
                h.namespace
            );
        }
    }
    assert!(bad.is_empty(), "{}:\n{}", tree.label(), bad.join("\n"));
    assert!(
        denied > 0,
        "{}: some chart pods are in a denied namespace",
        tree.label()
    );
}

fn our_policies(tree: Tree) -> Vec<NetworkPolicy> {
    let settings = tree.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        if !path.starts_with("out/infrastructure/configs/network/") || !path.ends_with(".yaml") {
            continue;
        }
        for d in o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(bytes),
        )
        .unwrap()
        {
            if d["kind"] == "NetworkPolicy" {
                out.push(serde_json::from_value(d).unwrap());
            }
        }
    }
    out
}

/// The cluster's policies: ours (configs layer) and the charts' own.
fn cluster_of(tree: Tree, chart_objects: &[Value]) -> Cluster {
    let mut policies = our_policies(tree);
    policies.extend(
        chart_objects
            .iter()
            .filter(|o| o["kind"] == "NetworkPolicy")
            .map(|o| serde_json::from_value::<NetworkPolicy>(o.clone()).unwrap()),
    );
    Cluster {
        namespaces: BTreeMap::new(),
        policies,
    }
}

fn selects(w: &o4g_gitops::netpol::Workload, pod: &Pod) -> bool {
    pod.namespace == w.namespace && w.labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
}

#[test]
fn platform_flows_reach_the_real_chart_pods_through_every_network_policy() {
    // The flows of `observability` (and Prometheus's scrapes of the other charts) are checked
    // against the pods the charts really render, with our policies and the charts' own
    // (Longhorn's `restrictInternalTraffic` set among them): each described workload selects
    // a real pod that declares the port, and the connection is allowed.
    need_charts!();
    for tree in Tree::ALL {
        flows_reach_chart_pods(tree);
    }
}

fn flows_reach_chart_pods(tree: Tree) {
    let settings = tree.settings();
    let net = o4g_gitops::components::network::NetworkParams::from_settings(&settings);
    let node_ip = net.node_cidr.hosts().next().unwrap();
    let objects: Vec<Value> = chart_objects(tree).into_iter().cloned().collect();
    let pods: Vec<Pod> = charts::pods(&objects).into_iter().map(|(_, p)| p).collect();
    let cluster = cluster_of(tree, &objects);
    cluster.validate().unwrap();
    let chart_namespaces: BTreeSet<&str> = pods.iter().map(|p| p.namespace.as_str()).collect();
    let flows: Vec<Flow> = o4g_gitops::components::network::all_flows(&settings)
        .into_iter()
        .flat_map(|(_, f)| f)
        .filter(|f| {
            let in_charts = |p: &Peer| match p {
                Peer::Workload(w) => !w.rendered && chart_namespaces.contains(w.namespace.as_str()),
                Peer::Namespace(ns) => chart_namespaces.contains(ns.as_str()),
                Peer::External { .. } => true,
            };
            in_charts(&f.from)
                && in_charts(&f.to)
                && !(matches!(f.from, Peer::External { .. })
                    && matches!(f.to, Peer::External { .. }))
        })
        .collect();
    let mut proven = 0;
    let mut problems = Vec::new();
    // One address per external peer: the first of its range outside its exceptions.
    let address = |p: &Peer| match p {
        Peer::External {
            name: "internet", ..
        } => std::net::Ipv4Addr::new(8, 8, 8, 8),
        Peer::External { cidr, .. } => cidr.hosts().next().unwrap_or(cidr.network()),
        _ => node_ip,
    };
    let ends = |p: &Peer| -> Vec<Option<&Pod>> {
        match p {
            Peer::Workload(w) => pods
                .iter()
                .filter(|pod| selects(w, pod))
                .map(Some)
                .collect(),
            Peer::Namespace(ns) => pods
                .iter()
                .filter(|pod| &pod.namespace == ns)
                .map(Some)
                .collect(),
            Peer::External { .. } => vec![None],
        }
    };
    for f in &flows {
        let (from, to) = (ends(&f.from), ends(&f.to));
        if from.is_empty() || to.is_empty() {
            problems.push(format!(
                "{} → {}: no real chart pod matches ({})",
                f.from.label(),
                f.to.label(),
                f.reason
            ));
            continue;
        }
        for dst in &to {
            if let Some(d) = dst
                && !d
                    .ports
                    .iter()
                    .any(|(n, num, _)| n == f.port.name && *num == f.port.number)
                && matches!(&f.to, Peer::Workload(w) if w.ports.contains(&f.port))
            {
                problems.push(format!(
                    "{} → {}/{}: the pod has no port {} {} (it has {:?})",
                    f.from.label(),
                    d.namespace,
                    d.name,
                    f.port.name,
                    f.port.number,
                    d.ports
                ));
            }
            for src in &from {
                let s = src.map_or(Endpoint::Ip(address(&f.from)), Endpoint::Pod);
                let d2 = dst.map_or(Endpoint::Ip(address(&f.to)), Endpoint::Pod);
                if cluster.allowed(s, d2, f.port.number, f.port.protocol.as_str()) {
                    proven += 1;
                } else {
                    problems.push(format!(
                        "{} → {} port {} denied ({})",
                        src.map_or("nodes".into(), |p| format!("{}/{}", p.namespace, p.name)),
                        dst.map_or("nodes".into(), |p| format!("{}/{}", p.namespace, p.name)),
                        f.port.number,
                        f.reason
                    ));
                }
            }
        }
    }
    eprintln!(
        "{}: {} flows, {proven} (source pod, destination pod) pairs proven over {} chart pods",
        tree.label(),
        flows.len(),
        pods.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn our_longhorn_policy_only_selects_pods_the_chart_already_isolates() {
    // Policies add up: ours must open the scrape, never isolate a Longhorn pod the chart's
    // own policies leave open (that would cut Longhorn's internal traffic).
    need_charts!();
    let objects: Vec<Value> = chart_objects(Tree::Live).into_iter().cloned().collect();
    let pods: Vec<Pod> = charts::pods(&objects).into_iter().map(|(_, p)| p).collect();
    let chart_only = Cluster {
        namespaces: BTreeMap::new(),
        policies: objects
            .iter()
            .filter(|o| o["kind"] == "NetworkPolicy")
            .map(|o| serde_json::from_value(o.clone()).unwrap())
            .collect(),
    };
    let ours = Cluster {
        namespaces: BTreeMap::new(),
        policies: o4g_gitops::components::network::longhorn_policies(),
    };
    let mut selected = 0;
    for pod in pods.iter().filter(|p| p.namespace == "longhorn-system") {
        if ours.is_selected(pod) {
            selected += 1;
            assert!(
                chart_only.is_selected(pod),
                "{} is isolated by our policy but not by the chart's",
                pod.name
            );
        }
    }
    assert!(selected > 0, "our policy selects the longhorn-manager pods");
}

#[test]
fn isolated_chart_namespaces_allow_nothing_but_their_flows() {
    // The other half of the proof: into and out of the chart namespaces we isolate, every
    // connection the policies allow is a declared flow (sources and destinations: every real
    // chart pod, the nodes, the internet; ports: every declared container port plus the usual
    // service ports).
    need_charts!();
    for tree in Tree::ALL {
        nothing_but_flows(tree);
    }
}

fn nothing_but_flows(tree: Tree) {
    let settings = tree.settings();
    let net = o4g_gitops::components::network::NetworkParams::from_settings(&settings);
    let objects: Vec<Value> = chart_objects(tree).into_iter().cloned().collect();
    let pods: Vec<Pod> = charts::pods(&objects).into_iter().map(|(_, p)| p).collect();
    let cluster = cluster_of(tree, &objects);
    let flows: Vec<Flow> = o4g_gitops::components::network::all_flows(&settings)
        .into_iter()
        .flat_map(|(_, f)| f)
        .collect();
    let mut isolated = vec!["kyverno", "cert-manager", "observability"];
    if tree == Tree::Traefik {
        isolated.push(o4g_gitops::components::traefik::NAMESPACE);
    }
    let node = net.node_cidr.hosts().next().unwrap();
    let internet = std::net::Ipv4Addr::new(8, 8, 8, 8);
    let mut ports: BTreeSet<(u16, String)> =
        [53u16, 80, 443, 8080, 9090, 9093, 10250, net.api_server_port]
            .into_iter()
            .map(|p| (p, "TCP".to_string()))
            .collect();
    ports.insert((53, "UDP".into()));
    for p in &pods {
        for (_, n, proto) in &p.ports {
            ports.insert((*n, proto.clone()));
        }
    }
    let mut ends: Vec<Endpoint> = pods.iter().map(Endpoint::Pod).collect();
    ends.push(Endpoint::Ip(node));
    ends.push(Endpoint::Ip(internet));
    // CoreDNS stands for kube-system's pods.
    let dns = Pod {
        namespace: "kube-system".into(),
        name: "coredns".into(),
        labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
        ports: vec![
            ("dns".into(), 53, "UDP".into()),
            ("dns-tcp".into(), 53, "TCP".into()),
        ],
    };
    ends.push(Endpoint::Pod(&dns));
    let touches =
        |e: &Endpoint| matches!(e, Endpoint::Pod(p) if isolated.contains(&p.namespace.as_str()));
    let mut extra = Vec::new();
    let mut pairs = 0;
    for src in &ends {
        for dst in &ends {
            if !(touches(src) || touches(dst))
                || matches!((src, dst), (Endpoint::Ip(_), Endpoint::Ip(_)))
            {
                continue;
            }
            for (port, proto) in &ports {
                if let Endpoint::Pod(d) = dst
                    && !d.ports.iter().any(|(_, n, pr)| n == port && pr == proto)
                {
                    continue; // nothing listens there
                }
                pairs += 1;
                if cluster.allowed(*src, *dst, *port, proto)
                    && !flows
                        .iter()
                        .any(|f| o4g_gitops::netpol::declares(f, *src, *dst, *port, proto))
                {
                    let name = |e: &Endpoint| match e {
                        Endpoint::Pod(p) => format!("{}/{}", p.namespace, p.name),
                        Endpoint::Ip(ip) => ip.to_string(),
                    };
                    extra.push(format!("{} → {} {port}/{proto}", name(src), name(dst)));
                }
            }
        }
    }
    eprintln!(
        "{}: {pairs} (source, destination, port) triples checked around {isolated:?}",
        tree.label()
    );
    assert!(pairs > 1000, "the matrix is not empty");
    assert!(
        extra.is_empty(),
        "allowed but not declared:\n{}",
        extra.join("\n")
    );
}

#[test]
fn every_service_monitor_selects_a_rendered_service_port_prometheus_can_reach() {
    need_charts!();
    for tree in Tree::ALL {
        service_monitors_reach(tree);
    }
}

fn service_monitors_reach(t: Tree) {
    let settings = t.settings();
    let built = o4g_gitops::components::build(&settings).unwrap();
    let monitors: Vec<Value> = tree_objects(&built, |p| p.ends_with(".yaml"))
        .filter(|o| o["kind"] == "ServiceMonitor")
        // The app base's monitors get their namespace from the overlays: tests/alerts.rs
        // checks them on the kustomize build.
        .filter(|o| o["metadata"]["namespace"].is_string())
        .collect();
    assert!(
        monitors.len() >= 3,
        "the ingress controller, cert-manager and Longhorn are scraped"
    );
    let objects: Vec<Value> = chart_objects(t).into_iter().cloned().collect();
    let pods = charts::pods(&objects);
    let cluster = cluster_of(t, &objects);
    let prometheus = pods
        .iter()
        .map(|(_, p)| p)
        .find(|p| p.labels.get("app.kubernetes.io/name").map(String::as_str) == Some("prometheus"))
        .expect("the Prometheus pod");
    let net = o4g_gitops::components::network::NetworkParams::from_settings(&settings);
    let node = net.node_cidr.hosts().next().unwrap();
    let matches = |sel: &Value, labels: &Value| {
        sel.as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| &labels[k] == v)
    };
    for m in &monitors {
        let ns = m["metadata"]["namespace"].as_str().unwrap();
        let sel = &m["spec"]["selector"]["matchLabels"];
        let port = m["spec"]["endpoints"][0]["port"].as_str().unwrap();
        let services: Vec<&Value> = objects
            .iter()
            .filter(|o| o["kind"] == "Service" && o["metadata"]["namespace"] == ns)
            .filter(|s| matches(sel, &s["metadata"]["labels"]))
            .filter(|s| {
                s["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == port)
            })
            .collect();
        assert!(
            !services.is_empty(),
            "{}: no rendered Service in {ns} with port {port}",
            m["metadata"]["name"]
        );
        for svc in services {
            let sp = svc["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == port)
                .unwrap();
            let target = &sp["targetPort"];
            let backends: Vec<&(Value, Pod)> = pods
                .iter()
                .filter(|(o, p)| {
                    p.namespace == ns
                        && matches(
                            &svc["spec"]["selector"],
                            &serde_json::to_value(&p.labels).unwrap(),
                        )
                        && o["kind"] != "Job"
                })
                .collect();
            assert!(
                !backends.is_empty(),
                "Service {} selects no pod",
                svc["metadata"]["name"]
            );
            for (o, pod) in backends {
                let number = match target {
                    Value::String(name) => {
                        pod.ports.iter().find(|(n, _, _)| n == name).map(|p| p.1)
                    }
                    Value::Number(n) => n.as_u64().map(|n| n as u16),
                    _ => sp["port"].as_u64().map(|n| n as u16),
                }
                .unwrap_or_else(|| panic!("{}: target port {target} not on the pod", pod.name));
                let host_network = charts::host_network(o);
                let dst = if host_network {
                    Endpoint::Ip(node)
                } else {
                    Endpoint::Pod(pod)
                };
                assert!(
                    cluster.allowed(Endpoint::Pod(prometheus), dst, number, "TCP"),
                    "Prometheus cannot reach {}/{} port {number}",
                    pod.namespace,
                    pod.name
                );
            }
        }
    }
}

#[test]
fn every_target_the_stack_scrapes_by_default_is_reachable() {
    // No permanent TargetDown on a fresh cluster: every endpoint of every ServiceMonitor the
    // charts render (kube-prometheus-stack's own: Prometheus, Alertmanager, their reloaders,
    // Grafana, kube-state-metrics, the operator, node-exporter, CoreDNS, the kubelet, the API
    // server) resolves to a pod or node address Prometheus may reach.
    need_charts!();
    for tree in Tree::ALL {
        default_targets_reachable(tree);
    }
}

fn default_targets_reachable(tree: Tree) {
    let settings = tree.settings();
    let net = o4g_gitops::components::network::NetworkParams::from_settings(&settings);
    let node = net.node_cidr.hosts().next().unwrap();
    let objects: Vec<Value> = chart_objects(tree).into_iter().cloned().collect();
    let mut pods = charts::pods(&objects);
    // CoreDNS, which the cluster runs (kube-system, k8s-app=kube-dns, metrics on 9153).
    pods.push((
        serde_json::json!({"kind": "Deployment"}),
        Pod {
            namespace: "kube-system".into(),
            name: "coredns".into(),
            labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
            ports: vec![("metrics".into(), 9153, "TCP".into())],
        },
    ));
    let cluster = cluster_of(tree, &objects);
    let prometheus = pods
        .iter()
        .map(|(_, p)| p)
        .find(|p| p.labels.get("app.kubernetes.io/name").map(String::as_str) == Some("prometheus"))
        .unwrap()
        .clone();
    let matches = |sel: &Value, labels: &Value| {
        sel.as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| &labels[k] == v)
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for m in objects.iter().filter(|o| o["kind"] == "ServiceMonitor") {
        let name = m["metadata"]["name"].as_str().unwrap();
        let namespaces: Vec<String> = m["spec"]["namespaceSelector"]["matchNames"]
            .as_array()
            .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
            .unwrap_or_else(|| vec![m["metadata"]["namespace"].as_str().unwrap().to_string()]);
        // Services the operator or the cluster own, not rendered by a chart: their endpoints
        // are the nodes (kubelet 10250, API server on its port).
        if namespaces == ["kube-system"] && name.ends_with("-kubelet") {
            checked += 1;
            if !cluster.allowed(Endpoint::Pod(&prometheus), Endpoint::Ip(node), 10250, "TCP") {
                problems.push(format!("{name}: kubelet 10250 denied"));
            }
            continue;
        }
        if namespaces == ["default"] && name.ends_with("-apiserver") {
            checked += 1;
            if !cluster.allowed(
                Endpoint::Pod(&prometheus),
                Endpoint::Ip(node),
                net.api_server_port,
                "TCP",
            ) {
                problems.push(format!("{name}: API server denied"));
            }
            continue;
        }
        let services: Vec<&Value> = objects
            .iter()
            .filter(|o| o["kind"] == "Service")
            .filter(|s| {
                namespaces
                    .iter()
                    .any(|n| s["metadata"]["namespace"] == n.as_str())
            })
            .filter(|s| {
                matches(
                    &m["spec"]["selector"]["matchLabels"],
                    &s["metadata"]["labels"],
                )
            })
            .collect();
        if services.is_empty() {
            problems.push(format!(
                "{name}: selects no rendered Service in {namespaces:?}"
            ));
            continue;
        }
        for e in m["spec"]["endpoints"].as_array().unwrap() {
            let port = e["port"].as_str().unwrap();
            for svc in &services {
                let Some(sp) = svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == port)
                else {
                    continue;
                };
                let target = if sp["targetPort"].is_null() {
                    sp["port"].clone()
                } else {
                    sp["targetPort"].clone()
                };
                let backends: Vec<&(Value, Pod)> = pods
                    .iter()
                    .filter(|(o, p)| {
                        o["kind"] != "Job"
                            && p.namespace == svc["metadata"]["namespace"].as_str().unwrap()
                            && matches(
                                &svc["spec"]["selector"],
                                &serde_json::to_value(&p.labels).unwrap(),
                            )
                    })
                    .collect();
                if backends.is_empty() {
                    problems.push(format!(
                        "{name}: Service {} selects no pod",
                        svc["metadata"]["name"]
                    ));
                }
                for (o, pod) in backends {
                    let number = match &target {
                        Value::String(n) => {
                            pod.ports.iter().find(|(pn, _, _)| pn == n).map(|p| p.1)
                        }
                        Value::Number(n) => n.as_u64().map(|n| n as u16),
                        _ => None,
                    };
                    let Some(number) = number else {
                        problems.push(format!(
                            "{name}: {}/{} has no port {target}",
                            pod.namespace, pod.name
                        ));
                        continue;
                    };
                    let dst = if charts::host_network(o) {
                        Endpoint::Ip(node)
                    } else {
                        Endpoint::Pod(pod)
                    };
                    checked += 1;
                    if !cluster.allowed(Endpoint::Pod(&prometheus), dst, number, "TCP") {
                        problems.push(format!(
                            "{name}: Prometheus → {}/{} port {number} denied",
                            pod.namespace, pod.name
                        ));
                    }
                }
            }
        }
    }
    eprintln!("{checked} scrape endpoints checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 10, "{checked}");
}

#[test]
fn the_runner_scale_set_validates_against_the_arc_crd_schema() {
    need_charts!();
    let objects: Vec<Value> = chart_objects(Tree::Live).into_iter().cloned().collect();
    let set = objects
        .iter()
        .find(|o| o["kind"] == "AutoscalingRunnerSet")
        .expect("the scale set chart renders an AutoscalingRunnerSet");
    let path = common::shared()
        .expect("the chart tests run only with the upstream data")
        .join("schemas/actions.github.com/autoscalingrunnerset_v1alpha1.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(set)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(set["spec"]["runnerScaleSetName"], "o4g-runners");
    assert_eq!(set["spec"]["githubConfigSecret"], "arc-github-app");
}

/// What the CI's Trivy step scans (`.ci/trivy-scan`): each Flux Kustomization as kustomize
/// builds it (`manifests/kustomize/<name>.yaml`, so the overlays' strategic-merge patch files
/// are never scanned as workloads of their own), each HelmRelease as Helm renders its chart
/// (`manifests/charts/<name>.yaml`), and every image that runs (`images.txt`: the pinned ones
/// and every chart image). Written into `$O4G_SCAN_DIR` when set (the hosted `test` job), else a
/// scratch folder. Trivy reports a finding's path relative to the folder it scans
/// (aquasecurity/trivy@009db3d41d `pkg/fanal/walker/fs.go` `WalkDirFunc`: `filepath.Rel(root,
/// filePath)`) and matches an ignore entry's `paths` with `doublestar.Match` on that path
/// (aquasecurity/trivy@04e0ed7ae4 `pkg/result/ignore.go` `matchPath`), so every path of
/// `.trivyignore.yaml` must be one of the files written here.
#[test]
fn scan_inputs_cover_what_runs_and_the_trivy_ignore_paths_match_them() {
    need_charts!();
    let scratch = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("O4G_SCAN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let manifests = dir.join("manifests");
    std::fs::create_dir_all(manifests.join("charts")).unwrap();
    std::fs::create_dir_all(manifests.join("kustomize")).unwrap();
    let mut written = BTreeSet::new();
    let settings = Settings::load(&common::root()).unwrap();
    let mut images: BTreeSet<String> = o4g_gitops::components::pinned_images(Some(&settings))
        .into_iter()
        .collect();
    for r in charts::releases() {
        let name = r.helm_release["metadata"]["name"].as_str().unwrap();
        let text: String = r
            .objects
            .iter()
            .map(|o| format!("---\n{}", o4g_gitops::yaml::to_document(o)))
            .collect();
        let rel = format!("charts/{name}.yaml");
        std::fs::write(manifests.join(&rel), text).unwrap();
        written.insert(rel);
        images.extend(images_of(r));
    }
    let tree = o4g_gitops::components::build(&settings).unwrap();
    for (path, bytes) in tree.files() {
        if !path.starts_with("out/clusters/") || !path.ends_with(".yaml") {
            continue;
        }
        for ks in o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(bytes),
        )
        .unwrap()
        .into_iter()
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("kustomize.toolkit.fluxcd.io/"))
        }) {
            let name = ks["metadata"]["name"].as_str().unwrap();
            let folder = ks["spec"]["path"]
                .as_str()
                .unwrap()
                .trim_start_matches("./");
            let out = std::process::Command::new("kubectl")
                .args(["kustomize", folder])
                .current_dir(common::root())
                .output()
                .expect("kubectl");
            assert!(out.status.success(), "{folder}: {}", common::text(&out));
            let rel = format!("kustomize/{name}.yaml");
            std::fs::write(manifests.join(&rel), out.stdout).unwrap();
            written.insert(rel);
        }
    }
    let list: String = images.iter().map(|i| format!("{i}\n")).collect();
    std::fs::write(dir.join("images.txt"), list).unwrap();
    assert!(
        written.iter().any(|p| p.starts_with("kustomize/apps-")),
        "{written:#?}"
    );
    assert!(
        images.iter().any(|i| i.contains("longhorn-manager")),
        "chart images listed"
    );

    let ignore = o4g_gitops::lint::parse_documents(
        std::path::Path::new(".trivyignore.yaml"),
        &std::fs::read_to_string(common::root().join(".trivyignore.yaml")).unwrap(),
    )
    .unwrap()
    .remove(0);
    let entries = ignore["misconfigurations"].as_array().unwrap();
    assert!(!entries.is_empty());
    for e in entries {
        assert!(
            e["statement"].as_str().is_some_and(|s| s.len() > 20),
            "{e}: a reason"
        );
        for p in e["paths"]
            .as_array()
            .expect("paths: an exception names its files")
        {
            let p = p.as_str().unwrap();
            assert!(
                written.contains(p),
                "{p} ({}) is not a path Trivy reports; scanned files: {written:#?}",
                e["id"]
            );
        }
    }
}

/// Does a (Cluster)Role rule let its subject read Secrets (`get`, `list` or `watch`)?
fn reads_secrets(rule: &Value) -> bool {
    let has = |field: &str, wanted: &[&str]| {
        rule[field]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| wanted.contains(&v.as_str().unwrap_or(""))))
    };
    has("apiGroups", &["", "*"])
        && has("resources", &["secrets", "*"])
        && has("verbs", &["get", "list", "watch", "*"])
        && rule["resourceNames"]
            .as_array()
            .is_none_or(|n| n.is_empty())
}

/// The rules of a ClusterRole, with an `aggregationRule` resolved against the others.
fn cluster_role_rules<'a>(role: &'a Value, all: &[&'a Value]) -> Vec<&'a Value> {
    let mut rules: Vec<&Value> = role["rules"].as_array().into_iter().flatten().collect();
    for sel in role["aggregationRule"]["clusterRoleSelectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for other in all.iter().filter(|o| o["kind"] == "ClusterRole") {
            let labels = &other["metadata"]["labels"];
            if sel["matchLabels"]
                .as_object()
                .into_iter()
                .flatten()
                .all(|(k, v)| &labels[k] == v)
            {
                rules.extend(other["rules"].as_array().into_iter().flatten());
            }
        }
    }
    rules
}

/// The ServiceAccounts of the platform that may read Secrets in every namespace, and why.
/// Anything else that can is a finding (grafana chart 12.11.1 `templates/clusterrole.yaml`
/// grants it to Grafana's sidecars unless `rbac.namespaced`).
const CLUSTER_WIDE_SECRET_READERS: &[(&str, &str)] = &[
    (
        "cert-manager/cert-manager",
        "writes and renews the TLS Secret of every Certificate, in the Certificate's namespace",
    ),
    (
        "cert-manager/cert-manager-cainjector",
        "injects CA bundles read from Secrets into webhook configurations",
    ),
    (
        "ingress-nginx/ingress-nginx",
        "serves the TLS Secret every Ingress names, in the Ingress's namespace",
    ),
    (
        "traefik/traefik",
        "reads the TLS Secret each Gateway listener names (Traefik's Gateway provider, ClusterRole of chart traefik 41.3.0)",
    ),
    (
        "longhorn-system/longhorn-service-account",
        "reads backup-target credentials and CSI secrets; the manager is cluster-admin-like by design",
    ),
    (
        "observability/kube-prometheus-stack-operator",
        "reads the Secrets monitors and Alertmanager configs reference, in any namespace it watches",
    ),
];

#[test]
fn no_platform_service_account_reads_secrets_cluster_wide_unless_listed() {
    // Over every object the charts render and every object of the tree: a ClusterRoleBinding
    // that gives a ServiceAccount get/list/watch on Secrets in every namespace. Grafana's
    // must not be among them, and must read no Secret at all (its sidecars watch ConfigMaps).
    need_charts!();
    let mut cluster_wide: BTreeSet<String> = BTreeSet::new();
    for t in Tree::ALL {
        cluster_wide.extend(secret_readers(t));
    }
    let listed: BTreeSet<String> = CLUSTER_WIDE_SECRET_READERS
        .iter()
        .map(|(sa, _)| sa.to_string())
        .collect();
    let unlisted: Vec<&String> = cluster_wide.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "ServiceAccounts that read every Secret of the cluster without a listed reason: {unlisted:#?}"
    );
    let stale: Vec<&String> = listed.difference(&cluster_wide).collect();
    assert!(
        stale.is_empty(),
        "listed but no longer reading Secrets cluster-wide in either tree: {stale:#?}"
    );
}

/// The ServiceAccounts that read Secrets cluster-wide in one tree (and Grafana's checks).
fn secret_readers(t: Tree) -> BTreeSet<String> {
    let settings = t.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let ours: Vec<Value> = tree_objects(&tree, |p| {
        p.ends_with(".yaml") && p.starts_with("out/infrastructure/")
    })
    .collect();
    let all: Vec<&Value> = chart_objects(t).into_iter().chain(ours.iter()).collect();
    let role_reads = |kind: &str, name: &str, ns: Option<&str>| {
        all.iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .filter(|o| ns.is_none() || o["metadata"]["namespace"].as_str() == ns)
            .any(|r| cluster_role_rules(r, &all).into_iter().any(reads_secrets))
    };
    let mut cluster_wide: BTreeSet<String> = BTreeSet::new();
    let mut namespaced: BTreeSet<String> = BTreeSet::new();
    for b in all
        .iter()
        .filter(|o| o["kind"] == "ClusterRoleBinding" || o["kind"] == "RoleBinding")
    {
        let role = &b["roleRef"];
        let binding_ns = b["metadata"]["namespace"].as_str();
        let reads = match role["kind"].as_str().unwrap() {
            "ClusterRole" => role_reads("ClusterRole", role["name"].as_str().unwrap(), None),
            _ => role_reads("Role", role["name"].as_str().unwrap(), binding_ns),
        };
        if !reads {
            continue;
        }
        for s in b["subjects"].as_array().into_iter().flatten() {
            if s["kind"] != "ServiceAccount" {
                continue;
            }
            let sa = format!(
                "{}/{}",
                s["namespace"].as_str().or(binding_ns).unwrap_or("default"),
                s["name"].as_str().unwrap()
            );
            if b["kind"] == "ClusterRoleBinding" {
                cluster_wide.insert(sa);
            } else {
                namespaced.insert(format!("{sa} in {}", binding_ns.unwrap_or("?")));
            }
        }
    }
    eprintln!(
        "{}: cluster-wide Secret readers: {cluster_wide:#?}\nnamespaced: {namespaced:#?}",
        t.label()
    );
    let grafana: Vec<&String> = cluster_wide
        .iter()
        .chain(&namespaced)
        .filter(|sa| sa.contains("grafana"))
        .collect();
    assert!(grafana.is_empty(), "Grafana reads Secrets: {grafana:?}");
    // Its sidecars watch ConfigMaps of `observability` only, through the Role the RoleBinding
    // names, which the tree ships.
    let deployment = all
        .iter()
        .find(|o| {
            o["kind"] == "Deployment" && o["metadata"]["name"] == "kube-prometheus-stack-grafana"
        })
        .expect("Grafana's Deployment");
    let sidecars: Vec<&Value> = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["name"] == "RESOURCE")
        })
        .collect();
    assert!(!sidecars.is_empty(), "Grafana's sidecars");
    for c in sidecars {
        let env = |n: &str| {
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == n)
                .map(|e| e["value"].clone())
        };
        assert_eq!(
            env("RESOURCE"),
            Some(Value::from("configmap")),
            "{}",
            c["name"]
        );
        assert!(
            env("NAMESPACE").is_none_or(|n| n == "observability"),
            "{}: {:?}",
            c["name"],
            env("NAMESPACE")
        );
    }
    let binding = all
        .iter()
        .find(|o| {
            o["kind"] == "RoleBinding" && o["metadata"]["name"] == "kube-prometheus-stack-grafana"
        })
        .expect("Grafana's RoleBinding");
    let role = binding["roleRef"]["name"].as_str().unwrap();
    assert!(
        ours.iter().any(|o| o["kind"] == "Role"
            && o["metadata"]["name"] == role
            && o["metadata"]["namespace"] == "observability"),
        "the Role {role} is not in the tree"
    );
    cluster_wide
}

#[test]
fn every_pod_monitor_selects_a_pod_port_prometheus_can_reach() {
    // The PodMonitors of the tree (the runner controller and the scale set's listener) against
    // the real chart pods (the listener as the controller builds it from the rendered scale
    // set and the controller's flags): each selects a pod that declares the port, and every
    // NetworkPolicy (ours and the charts') lets Prometheus reach it.
    need_charts!();
    for t in Tree::ALL {
        pod_monitors_reach(t);
    }
}

fn pod_monitors_reach(t: Tree) {
    let settings = t.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let monitors: Vec<Value> = tree_objects(&tree, |p| p.ends_with(".yaml"))
        .filter(|o| o["kind"] == "PodMonitor")
        .collect();
    assert!(
        monitors.len() >= 2,
        "the runner controller and listener are scraped"
    );
    let objects: Vec<Value> = chart_objects(t).into_iter().cloned().collect();
    let pods = charts::pods(&objects);
    let cluster = cluster_of(t, &objects);
    let prometheus = pods
        .iter()
        .map(|(_, p)| p)
        .find(|p| p.labels.get("app.kubernetes.io/name").map(String::as_str) == Some("prometheus"))
        .expect("the Prometheus pod");
    let mut reached = 0;
    for m in &monitors {
        let ns = m["metadata"]["namespace"].as_str().unwrap();
        let sel = m["spec"]["selector"]["matchLabels"].as_object().unwrap();
        let port = m["spec"]["podMetricsEndpoints"][0]["port"]
            .as_str()
            .unwrap();
        let targets: Vec<&Pod> = pods
            .iter()
            .map(|(_, p)| p)
            .filter(|p| {
                p.namespace == ns
                    && sel
                        .iter()
                        .all(|(k, v)| p.labels.get(k).map(String::as_str) == v.as_str())
            })
            .collect();
        assert!(
            !targets.is_empty(),
            "{}: selects no pod in {ns}",
            m["metadata"]["name"]
        );
        for pod in targets {
            let number = pod
                .ports
                .iter()
                .find(|(n, _, _)| n == port)
                .unwrap_or_else(|| {
                    panic!(
                        "{}/{} has no port {port}: {:?}",
                        pod.namespace, pod.name, pod.ports
                    )
                })
                .1;
            assert!(
                cluster.allowed(Endpoint::Pod(prometheus), Endpoint::Pod(pod), number, "TCP"),
                "Prometheus cannot reach {}/{} port {number}",
                pod.namespace,
                pod.name
            );
            reached += 1;
        }
    }
    eprintln!("{reached} pod monitor targets reached");
}

#[test]
fn kube_state_metrics_reports_every_flux_object_of_the_tree_and_may_read_it() {
    // `gotk_resource_info` exists for a Flux object only if kube-state-metrics' custom resource
    // state config names its group, version and kind, and its ClusterRole lets it list and
    // watch them: checked on the rendered chart, for every Flux object the tree applies.
    need_charts!();
    let objects: Vec<&Value> = chart_objects(Tree::Live);
    let deployment = objects
        .iter()
        .find(|o| {
            o["kind"] == "Deployment"
                && o["metadata"]["name"] == "kube-prometheus-stack-kube-state-metrics"
        })
        .expect("kube-state-metrics");
    let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let file = args
        .iter()
        .find_map(|a| a.strip_prefix("--custom-resource-state-config-file="))
        .expect("custom resource state is on");
    let key = file.rsplit('/').next().unwrap();
    let config_map = objects
        .iter()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["data"][key].is_string()
                && o["metadata"]["namespace"] == "observability"
        })
        .expect("the custom resource state ConfigMap");
    let config: Value = serde_yaml::from_str(config_map["data"][key].as_str().unwrap()).unwrap();
    let gvks: BTreeSet<(String, String)> = config["spec"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let g = &r["groupVersionKind"];
            (
                format!(
                    "{}/{}",
                    g["group"].as_str().unwrap(),
                    g["version"].as_str().unwrap()
                ),
                g["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let role = objects
        .iter()
        .find(|o| {
            o["kind"] == "ClusterRole"
                && o["metadata"]["name"] == "kube-prometheus-stack-kube-state-metrics"
        })
        .expect("kube-state-metrics' ClusterRole");
    let may = |group: &str, plural: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |f: &str, v: &str| r[f].as_array().is_some_and(|a| a.iter().any(|x| x == v));
            has("apiGroups", group) && has("resources", plural) && has("verbs", verb)
        })
    };
    let settings = Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut flux_kinds: BTreeSet<(String, String)> = tree_objects(&tree, |p| {
        p.ends_with(".yaml") && !p.starts_with("out/docs/")
    })
    .filter(|o| {
        o["apiVersion"]
            .as_str()
            .is_some_and(|v| v.contains(".toolkit.fluxcd.io/"))
    })
    .map(|o| {
        (
            o["apiVersion"].as_str().unwrap().to_string(),
            o["kind"].as_str().unwrap().to_string(),
        )
    })
    .collect();
    // What flux bootstrap and helm-controller create: the flux-system GitRepository, HelmCharts.
    flux_kinds.insert(("source.toolkit.fluxcd.io/v1".into(), "GitRepository".into()));
    flux_kinds.insert(("source.toolkit.fluxcd.io/v1".into(), "HelmChart".into()));
    assert!(flux_kinds.len() >= 5, "{flux_kinds:?}");
    for (api, kind) in &flux_kinds {
        assert!(
            gvks.contains(&(api.clone(), kind.clone())),
            "{api} {kind} is not reported ({gvks:?})"
        );
        let group = api.split('/').next().unwrap();
        let lower = kind.to_lowercase();
        let plural = match lower.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{lower}s"),
        };
        for verb in ["list", "watch"] {
            assert!(
                may(group, &plural, verb),
                "kube-state-metrics may not {verb} {plural}.{group}"
            );
        }
    }
    // And it no longer reads Secrets (no rule or dashboard needs `kube_secret_*`).
    assert!(!may("", "secrets", "list"));
}

/// One step-by-step rollout of a DaemonSet's new revision on a single node, as the DaemonSet
/// controller runs it (kubernetes/kubernetes `pkg/controller/daemon/update.go`, `rollingUpdate`,
/// whose surge branch came with `maxSurge` for DaemonSets in v1.22; `../shared/charts/INDEX.md`
/// records the stall of the chart's default on one node):
/// with `maxSurge` > 0 it starts the new pod beside the old one and deletes the old one only
/// once the new one is available; with `maxSurge` 0 it deletes up to `maxUnavailable` old
/// pods first, then creates their replacements. A pod that asks for a host port the node's
/// other pod holds is not scheduled (scheduler plugin NodePorts,
/// `pkg/scheduler/framework/plugins/nodeports/`); with `hostNetwork` every
/// container port is a host port. Returns whether the new pod ends up running.
fn rolls_out_on_one_node(max_unavailable: u32, max_surge: u32, host_ports: bool) -> bool {
    let (mut old, mut new_running, mut new_pending) = (true, false, false);
    for _ in 0..10 {
        if new_running {
            return true;
        }
        if max_surge > 0 {
            if !new_pending {
                new_pending = true; // the surge pod is created beside the old one
            }
        } else if old && max_unavailable >= 1 {
            old = false; // the old pod is deleted first
            new_pending = true;
        }
        if new_pending && !(host_ports && old) {
            new_running = true;
            new_pending = false;
            old = false; // with surge, the old pod goes once the new one is available
        }
    }
    new_running
}

/// A DaemonSet rolling-update field, resolved for one node (a percentage rounds up, as the
/// controller's `GetScaledValueFromIntOrPercent(…, true)` does).
fn for_one_node(v: &Value, default: u32) -> u32 {
    match v {
        Value::Number(n) => n.as_u64().unwrap() as u32,
        Value::String(p) => {
            let pct: u32 = p.trim_end_matches('%').parse().unwrap();
            u32::from(pct > 0)
        }
        _ => default,
    }
}

#[test]
fn host_port_daemon_sets_roll_out_on_a_single_node() {
    // The model refuses the chart's default (0 unavailable, 1 surge) with host ports, and
    // accepts it without them: it can tell a deadlock.
    assert!(!rolls_out_on_one_node(0, 1, true));
    assert!(rolls_out_on_one_node(0, 1, false));
    assert!(rolls_out_on_one_node(1, 0, true));
    need_charts!();
    let mut checked = 0;
    for tree in Tree::ALL {
        for ds in chart_objects(tree)
            .into_iter()
            .filter(|o| o["kind"] == "DaemonSet")
        {
            let spec = &ds["spec"]["template"]["spec"];
            let host_ports = spec["hostNetwork"] == true
                || spec["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        c["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p["hostPort"].as_u64().is_some_and(|h| h > 0))
                    });
            if !host_ports {
                continue;
            }
            // Kubernetes' defaults for a DaemonSet: RollingUpdate, maxUnavailable 1, maxSurge 0.
            let strategy = &ds["spec"]["updateStrategy"];
            let rolling = &strategy["rollingUpdate"];
            let (unavailable, surge) = (
                for_one_node(&rolling["maxUnavailable"], 1),
                for_one_node(&rolling["maxSurge"], 0),
            );
            assert!(
                strategy["type"].as_str().unwrap_or("RollingUpdate") == "RollingUpdate"
                    && rolls_out_on_one_node(unavailable, surge, true),
                "{}: DaemonSet {}/{} holds host ports and its update ({strategy}) stalls on one node",
                tree.label(),
                ds["metadata"]["namespace"],
                ds["metadata"]["name"]
            );
            eprintln!(
                "{}: {}/{} (host ports, maxUnavailable {unavailable}, maxSurge {surge}) rolls out on one node",
                tree.label(),
                ds["metadata"]["namespace"].as_str().unwrap_or(""),
                ds["metadata"]["name"].as_str().unwrap_or("")
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "ingress-nginx's and Traefik's DaemonSets at least"
    );
}

#[test]
fn chart_objects_of_a_kind_with_a_schema_validate() {
    // What the charts render of a custom kind the upstream schemas know (Traefik's
    // GatewayClass, the charts' own custom resources), on both trees.
    need_charts!();
    let schemas = common::shared().unwrap().join("schemas");
    let mut checked = BTreeSet::new();
    for tree in Tree::ALL {
        for o in chart_objects(tree) {
            let api = o["apiVersion"].as_str().unwrap_or("");
            let Some((group, version)) = api.split_once('/') else {
                continue;
            };
            let kind = o["kind"].as_str().unwrap_or("");
            let path = schemas
                .join(group)
                .join(format!("{}_{version}.json", kind.to_lowercase()));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let schema: Value = serde_json::from_str(&text).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(o)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: {api} {kind} {}: {errors:#?}",
                tree.label(),
                o["metadata"]["name"]
            );
            checked.insert(format!("{api} {kind}"));
        }
    }
    eprintln!("chart objects validated, by kind: {checked:?}");
    assert!(
        checked.contains("gateway.networking.k8s.io/v1 GatewayClass")
            || !schemas.join("gateway.networking.k8s.io").is_dir(),
        "{checked:?}"
    );
}

#[test]
fn traefiks_pods_pass_every_rule_kyverno_audits_in_its_namespace() {
    // Kyverno checks the `traefik` namespace with the platform's rule set (the same as
    // `o4g lint`; Deny there, as nothing holds it in Audit): Traefik's pod, as the chart
    // renders it with our values, gives it nothing to report (images pinned by tag and digest from an allowed registry, non-root, requests and
    // limits; Pod Security at the namespace's level).
    need_charts!();
    let settings = Tree::Traefik.settings();
    let level = levels(Tree::Traefik)[o4g_gitops::components::traefik::NAMESPACE];
    let cfg = AuditConfig {
        level,
        version: PssVersion::Latest,
        allowed_registries: settings.allowed_registries(),
    };
    let mut checked = 0;
    for (object, pod) in charts::pods(
        &chart_objects(Tree::Traefik)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>(),
    ) {
        if pod.namespace != o4g_gitops::components::traefik::NAMESPACE {
            continue;
        }
        let violations = o4g_gitops::policy::audit_object(&object, &cfg);
        assert!(
            violations.is_empty(),
            "{}: {:#?}",
            pod.name,
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        checked += 1;
    }
    assert_eq!(checked, 1, "the DaemonSet");
}

/// The objects of the tree's YAML files whose path `keep` accepts, parsed as `o4g lint` does.
fn tree_objects<'a>(
    tree: &'a o4g_gitops::tree::Tree,
    keep: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = Value> + 'a {
    tree.files()
        .iter()
        .filter(move |(p, _)| keep(p))
        .flat_map(|(p, b)| {
            o4g_gitops::lint::parse_documents(std::path::Path::new(p), &String::from_utf8_lossy(b))
                .unwrap()
        })
}

#[test]
fn the_pods_the_operator_makes_get_requests_and_limits() {
    // The Prometheus and Alertmanager pods are not chart pods: prometheus-operator builds their
    // StatefulSets from the `Prometheus` and `Alertmanager` resources the chart renders (their
    // `resources`) and adds the config reloader with the resources of its flags. So Deny in
    // `observability` also needs these, and the render shows them.
    need_charts!();
    let objects = chart_objects(Tree::Live);
    let complete = |r: &Value| {
        ["requests", "limits"].iter().all(|k| {
            ["cpu", "memory"]
                .iter()
                .all(|q| r[k][q].as_str().is_some_and(|v| !v.is_empty() && v != "0"))
        })
    };
    for kind in ["Prometheus", "Alertmanager"] {
        let o = objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} rendered"));
        assert!(complete(&o["spec"]["resources"]), "{kind}: {}", o["spec"]);
    }
    let operator = objects
        .iter()
        .find(|o| {
            o["kind"] == "Deployment"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-operator"))
        })
        .expect("the operator's Deployment");
    let args: Vec<&str> = operator["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut reloader = serde_json::json!({});
    for (k, q) in [
        ("requests", "cpu"),
        ("limits", "cpu"),
        ("requests", "memory"),
        ("limits", "memory"),
    ] {
        let flag = format!("--config-reloader-{q}-{}=", k.trim_end_matches('s'));
        let v = args
            .iter()
            .find_map(|a| a.strip_prefix(flag.as_str()))
            .unwrap_or_else(|| panic!("{flag} not passed: {args:?}"));
        reloader[k][q] = v.into();
    }
    assert!(complete(&reloader), "config reloader: {reloader}");
}
