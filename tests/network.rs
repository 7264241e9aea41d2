//! The rendered NetworkPolicies allow exactly the declared flows: a reachability matrix over
//! every workload (rendered or described) and external peer, with the real kustomize output.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use o4g_gitops::components::network;
use o4g_gitops::netpol::eval::{Cluster, Endpoint, Pod};
use o4g_gitops::netpol::{Flow, Peer, declares};
use o4g_gitops::policy::PodView;
use o4g_gitops::settings::Settings;
use serde_json::Value;

fn objects_of(dir: &str) -> Option<Vec<Value>> {
    objects_in(common::Tree::Live, dir)
}

fn objects_in(tree: common::Tree, dir: &str) -> Option<Vec<Value>> {
    if !common::has_tool("kubectl", "version") && !common::has_tool("kubectl", "--help") {
        return None;
    }
    let text = common::kustomize(&tree.root().join(dir));
    Some(o4g_gitops::lint::parse_documents(std::path::Path::new(dir), &text).unwrap())
}

fn policies_in(objects: &[Value]) -> Vec<NetworkPolicy> {
    objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .map(|o| serde_json::from_value(o.clone()).unwrap())
        .collect()
}

/// Pods of the rendered pod templates.
fn rendered_pods(objects: &[Value]) -> Vec<Pod> {
    objects
        .iter()
        .filter_map(|o| {
            let view = PodView::of(o)?;
            let labels = view.meta["labels"]
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let ports = view
                .containers()
                .flat_map(|c| c.value["ports"].as_array().cloned().unwrap_or_default())
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_string(),
                        p["containerPort"].as_u64().unwrap() as u16,
                        p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    )
                })
                .collect();
            Some(Pod {
                namespace: o["metadata"]["namespace"].as_str()?.to_string(),
                name: o["metadata"]["name"].as_str()?.to_string(),
                labels,
                ports,
            })
        })
        .collect()
}

/// Pods that other controllers create, described by the flows' workloads.
fn described_pods(flows: &[Flow]) -> Vec<Pod> {
    let mut pods: Vec<Pod> = Vec::new();
    for f in flows {
        for side in [&f.from, &f.to] {
            let Peer::Workload(w) = side else { continue };
            let known = pods
                .iter()
                .any(|p| p.namespace == w.namespace && p.name == w.name);
            if w.rendered || known {
                continue;
            }
            pods.push(Pod {
                namespace: w.namespace.clone(),
                name: w.name.to_string(),
                labels: w.labels.clone(),
                ports: w
                    .ports
                    .iter()
                    .map(|p| {
                        (
                            p.name.to_string(),
                            p.number,
                            p.protocol.as_str().to_string(),
                        )
                    })
                    .collect(),
            });
        }
    }
    pods
}

#[test]
fn reachability_equals_the_declared_flows_in_every_environment() {
    if objects_of("out/infrastructure/configs/network").is_none() {
        skip_or_fail!("kubectl is not installed")
    }
    // Both trees: with Traefik the wiki is reached from its pods (by label), not from the
    // nodes' addresses.
    for tree in common::Tree::ALL {
        reachability(tree);
    }
}

fn reachability(tree: common::Tree) {
    let settings = tree.settings();
    let configs = objects_in(tree, "out/infrastructure/configs/network").unwrap();
    let net = network::NetworkParams::from_settings(&settings);
    let node_ip = net.node_cidr.hosts().next().unwrap();
    let s3_ip = net.s3_cidr.network();
    let externals = [
        node_ip,
        s3_ip,
        Ipv4Addr::new(8, 8, 8, 8),
        Ipv4Addr::new(10, 1, 2, 3),
        Ipv4Addr::new(192, 168, 99, 7),
    ];
    let mut checked = 0usize;
    for env in common::environments() {
        let objects = objects_in(tree, &format!("out/apps/overlays/{}", env.name())).unwrap();
        let flows: Vec<Flow> = network::all_flows(&settings)
            .into_iter()
            .filter(|(ns, _)| ns == env.name() || ns == "observability")
            .flat_map(|(_, f)| f)
            .collect();
        let mut pods = rendered_pods(&objects);
        // MySQL, XWiki, the two nightly backup jobs and, where it runs, the restore test: the
        // evaluator below proves each reaches exactly its declared flows (S3, MySQL or XWiki).
        let restore_test = usize::from(settings.env(env).backup.restore_test.is_some());
        assert_eq!(
            pods.len(),
            4 + restore_test,
            "{env}: mysql, xwiki and the backup jobs"
        );
        pods.extend(described_pods(&flows));
        let mut policies = policies_in(&objects);
        policies.extend(policies_in(&configs));
        let namespaces: BTreeMap<String, BTreeMap<String, String>> = pods
            .iter()
            .map(|p| (p.namespace.clone(), BTreeMap::new()))
            .collect();
        let cluster = Cluster {
            namespaces,
            policies,
        };
        cluster.validate().unwrap();
        let owned = [env.name(), "observability"];

        let mut ports: BTreeSet<(u16, String)> = flows
            .iter()
            .map(|f| (f.port.number, f.port.protocol.as_str().to_string()))
            .collect();
        for p in &pods {
            ports.extend(p.ports.iter().map(|(_, n, proto)| (*n, proto.clone())));
        }
        for n in [22, 80, 443, 3306, 8443] {
            ports.insert((n, "TCP".into()));
            ports.insert((n, "UDP".into()));
        }

        let endpoints: Vec<Endpoint> = pods
            .iter()
            .map(Endpoint::Pod)
            .chain(externals.iter().map(|ip| Endpoint::Ip(*ip)))
            .collect();
        let mut wrong = Vec::new();
        for src in &endpoints {
            for dst in &endpoints {
                let in_owned = |e: &Endpoint| matches!(e, Endpoint::Pod(p) if owned.contains(&p.namespace.as_str()));
                if src == dst || !(in_owned(src) || in_owned(dst)) {
                    continue;
                }
                for (port, proto) in &ports {
                    let allowed = cluster.allowed(*src, *dst, *port, proto);
                    let declared = flows.iter().any(|f| declares(f, *src, *dst, *port, proto));
                    checked += 1;
                    if allowed != declared {
                        let name = |e: &Endpoint| match e {
                            Endpoint::Pod(p) => format!("{}/{}", p.namespace, p.name),
                            Endpoint::Ip(ip) => ip.to_string(),
                        };
                        wrong.push(format!(
                            "{} -> {} {port}/{proto}: allowed={allowed} declared={declared}",
                            name(src),
                            name(dst)
                        ));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{env}: {} paths differ from the declared flows:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
    println!(
        "{}: reachability checked for {checked} (source, destination, port) triples",
        tree.label()
    );
    assert!(checked > 10_000);
}

#[test]
fn every_owned_namespace_has_a_default_deny_and_every_workload_a_policy() {
    let settings = Settings::load(&common::root()).unwrap();
    let Some(configs) = objects_of("out/infrastructure/configs/network") else {
        skip_or_fail!("kubectl is not installed")
    };
    for env in common::environments() {
        let objects = objects_of(&format!("out/apps/overlays/{}", env.name())).unwrap();
        let mut policies = policies_in(&objects);
        policies.extend(policies_in(&configs));
        for ns in [env.name(), "observability"] {
            let deny = policies.iter().find(|p| {
                p.metadata.namespace.as_deref() == Some(ns)
                    && p.metadata.name.as_deref() == Some("default-deny")
            });
            let spec = deny
                .and_then(|d| d.spec.clone())
                .unwrap_or_else(|| panic!("{ns}: no default-deny"));
            assert_eq!(
                spec.pod_selector,
                Some(Default::default()),
                "{ns}: selects every pod"
            );
            assert_eq!(
                spec.policy_types,
                Some(vec!["Ingress".to_string(), "Egress".to_string()])
            );
            assert!(
                spec.ingress.is_none() && spec.egress.is_none(),
                "{ns}: allows nothing"
            );
        }
        let flows: Vec<Flow> = network::all_flows(&settings)
            .into_iter()
            .flat_map(|(_, f)| f)
            .collect();
        let mut pods = rendered_pods(&objects);
        pods.extend(
            described_pods(&flows)
                .into_iter()
                .filter(|p| p.namespace == env.name() || p.namespace == "observability"),
        );
        let cluster = Cluster {
            namespaces: BTreeMap::new(),
            policies: policies.clone(),
        };
        for pod in &pods {
            let specific = policies.iter().any(|p| {
                p.metadata.namespace.as_deref() == Some(pod.namespace.as_str())
                    && p.metadata.name.as_deref() != Some("default-deny")
                    && p.spec
                        .as_ref()
                        .and_then(|s| s.pod_selector.as_ref())
                        .and_then(|s| s.match_labels.as_ref())
                        .is_some_and(|m| m.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
            });
            assert!(
                cluster.is_selected(pod) && specific,
                "{}/{} has no policy of its own",
                pod.namespace,
                pod.name
            );
        }
    }
}

#[test]
fn a_changed_port_moves_its_policy() {
    // The MySQL port in the policies is the value the StatefulSet declares.
    let settings: Settings = common::fixture_settings();
    let p =
        o4g_gitops::components::apps::AppParams::for_env(&settings, common::fixture_env("live"));
    let flows = network::app_flows("live", &p.network, &p);
    let db = flows
        .iter()
        .find(|f| f.reason == "XWiki's database")
        .unwrap();
    assert_eq!(db.port, o4g_gitops::components::mysql::MYSQL);
    let pols = o4g_gitops::netpol::policies("live", &flows, &BTreeMap::new());
    let xwiki_egress = pols
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("allow-xwiki"))
        .unwrap()
        .spec
        .clone()
        .unwrap()
        .egress
        .unwrap();
    assert!(
        xwiki_egress
            .iter()
            .any(|r| r.ports.as_ref().unwrap()[0].port
                == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(3306)))
    );
}

#[test]
fn rendered_policies_are_valid_core_objects() {
    // Round trip through k8s-openapi's NetworkPolicy: a misspelt or mistyped field would not
    // come back; then the API server's peer and CIDR rules.
    let Some(configs) = objects_of("out/infrastructure/configs/network") else {
        skip_or_fail!("kubectl is not installed")
    };
    let mut all = configs;
    for env in common::environments() {
        all.extend(objects_of(&format!("out/apps/overlays/{}", env.name())).unwrap());
    }
    let mut n = 0;
    for o in all.iter().filter(|o| o["kind"] == "NetworkPolicy") {
        let typed: NetworkPolicy = serde_json::from_value(o.clone()).unwrap();
        assert_eq!(
            &serde_json::to_value(&typed).unwrap(),
            o,
            "{} does not round-trip",
            o["metadata"]["name"]
        );
        let spec = typed.spec.as_ref().unwrap();
        for t in spec.policy_types.iter().flatten() {
            assert!(t == "Ingress" || t == "Egress", "{t}");
        }
        for port in spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.ports.iter().flatten())
            .chain(
                spec.egress
                    .iter()
                    .flatten()
                    .flat_map(|r| r.ports.iter().flatten()),
            )
        {
            assert!(matches!(
                port.protocol.as_deref(),
                Some("TCP" | "UDP" | "SCTP")
            ));
        }
        Cluster {
            namespaces: BTreeMap::new(),
            policies: vec![typed],
        }
        .validate()
        .unwrap();
        n += 1;
    }
    assert!(n >= 20, "{n} policies");
}
