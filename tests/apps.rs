//! XWiki + MySQL per environment, through the real kustomize: contents, equivalence with the
//! generator, Pod Security, cross-resource consistency (live checks: every expected value is
//! read from the settings, never written here), and snapshots of fixture site A's overlays.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use o4g_gitops::components::apps;
use o4g_gitops::policy::{self, AuditConfig, PodView};
use o4g_gitops::settings::{Environment, Settings};
use serde_json::Value;

fn settings() -> Settings {
    Settings::load(&common::root()).unwrap()
}

/// `kubectl kustomize out/apps/overlays/<env>`, as objects.
fn built(env: Environment) -> Option<Vec<Value>> {
    built_in(common::Tree::Live, env)
}

/// The same, in one tree.
fn built_in(tree: common::Tree, env: Environment) -> Option<Vec<Value>> {
    if !common::has_tool("kubectl", "version") && !common::has_tool("kubectl", "--help") {
        return None;
    }
    let text = common::kustomize(&tree.root().join("out/apps/overlays").join(env.name()));
    Some(o4g_gitops::lint::parse_documents(std::path::Path::new(env.name()), &text).unwrap())
}

fn by_kind<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

fn key(o: &Value) -> (String, String) {
    (
        o["kind"].as_str().unwrap().to_string(),
        o["metadata"]["name"].as_str().unwrap().to_string(),
    )
}

#[test]
fn each_overlay_builds_mysql_xwiki_services_and_ingress() {
    let s = settings();
    for env in common::environments() {
        let Some(objs) = built(env) else {
            skip_or_fail!("kubectl is not installed")
        };
        let e = s.env(env);
        assert!(
            objs.iter()
                .all(|o| o["metadata"]["namespace"] == env.name()),
            "{env}: every object in its namespace"
        );

        let sts = by_kind(&objs, "StatefulSet");
        assert_eq!(sts.len(), 1, "{env}");
        assert_eq!(sts[0]["metadata"]["name"], "mysql");
        let pod = &sts[0]["spec"]["template"]["spec"];
        let mysql = &pod["containers"][0];
        // The images this environment runs: its own pins in env.toml, else src/images.rs.
        let p = apps::AppParams::for_env(&s, env);
        assert_eq!(
            mysql["image"].as_str().unwrap(),
            p.mysql_image.to_string(),
            "{env}: the image of its MySQL line"
        );
        assert_eq!(
            mysql["ports"][0],
            serde_json::json!({"name": "mysql", "containerPort": 3306, "protocol": "TCP"})
        );
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let cmd = mysql[probe]["exec"]["command"].to_string();
            assert!(
                cmd.contains("127.0.0.1") && cmd.contains("3306") && cmd.contains("tcp"),
                "{env} {probe}: {cmd}"
            );
        }
        assert!(
            mysql["readinessProbe"]["exec"]["command"]
                .to_string()
                .contains("SELECT 1")
        );
        let mount = mysql["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == "/var/lib/mysql")
            .unwrap();
        assert_eq!(mount["subPath"], "mysql");
        let exporter = &pod["containers"][1];
        assert_eq!(exporter["name"], "mysqld-exporter");
        assert!(
            exporter["image"]
                .as_str()
                .unwrap()
                .starts_with("quay.io/prometheus/mysqld-exporter:")
        );
        assert_eq!(exporter["ports"][0]["containerPort"], 9104);
        assert_eq!(exporter["securityContext"]["runAsUser"], 65534);
        assert_eq!(pod["securityContext"]["runAsUser"], 999);
        let claim = &sts[0]["spec"]["volumeClaimTemplates"][0]["spec"];
        assert_eq!(claim["storageClassName"], "longhorn-db");
        assert_eq!(
            claim["resources"]["requests"]["storage"],
            e.mysql.storage_size.to_string()
        );

        let deps = by_kind(&objs, "Deployment");
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0]["spec"]["strategy"]["type"], "Recreate");
        assert_eq!(deps[0]["spec"]["replicas"], 1);
        let xpod = &deps[0]["spec"]["template"]["spec"];
        assert_eq!(
            xpod["containers"][0]["image"].as_str().unwrap(),
            p.xwiki_image.to_string()
        );
        assert!(
            xpod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["persistentVolumeClaim"]["claimName"] == "xwiki-data")
        );
        let env_var = |n: &str| {
            xpod["containers"][0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == n)
                .cloned()
        };
        assert_eq!(env_var("DB_HOST").unwrap()["value"], "mysql:3306");
        assert!(
            env_var("DB_PASSWORD").is_none() && env_var("DB_PASSWORD_FILE").is_some(),
            "password only from a Secret file"
        );
        let pvc = by_kind(&objs, "PersistentVolumeClaim");
        assert_eq!(
            pvc[0]["spec"]["resources"]["requests"]["storage"],
            e.xwiki.storage_size.to_string()
        );

        let services: BTreeSet<String> =
            by_kind(&objs, "Service").iter().map(|s| key(s).1).collect();
        assert_eq!(
            services,
            BTreeSet::from(["mysql".into(), "mysql-headless".into(), "xwiki".into()])
        );
        let ing = by_kind(&objs, "Ingress");
        assert_eq!(ing.len(), 1);
        let host = e.xwiki.host.get_ref().as_str();
        assert_eq!(ing[0]["spec"]["ingressClassName"], "nginx");
        assert_eq!(ing[0]["spec"]["rules"][0]["host"], host);
        assert_eq!(ing[0]["spec"]["tls"][0]["hosts"][0], host);
        assert!(ing[0]["spec"]["tls"][0]["secretName"].is_string());
        assert_eq!(
            ing[0]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            e.xwiki.cluster_issuer.name()
        );
        assert!(
            ing[0]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
                .is_string()
        );
    }
}

#[test]
fn kustomize_builds_exactly_what_the_generator_holds_for_each_environment() {
    // Both trees: with Traefik the Gateways and HTTPRoutes are patched as custom resources
    // (JSON merge patches, lists replaced whole).
    for tree in common::Tree::ALL {
        let s = tree.settings();
        for env in common::environments() {
            let Some(objs) = built_in(tree, env) else {
                skip_or_fail!("kubectl is not installed")
            };
            same_objects(&s, env, objs);
        }
    }
}

fn same_objects(s: &Settings, env: Environment, objs: Vec<Value>) {
    {
        let ours: BTreeMap<_, _> = apps::final_objects(s, env)
            .unwrap()
            .into_iter()
            .map(|o| (key(&o), o))
            .collect();
        let theirs: BTreeMap<_, _> = objs.into_iter().map(|o| (key(&o), o)).collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{env}: same objects"
        );
        for (k, o) in &ours {
            assert_eq!(
                o, &theirs[k],
                "{env}: {k:?} differs between kustomize and the generator"
            );
        }
    }
}

#[test]
fn every_pod_template_passes_restricted_with_resources_probes_and_pinned_images() {
    let s = settings();
    for env in common::environments() {
        let Some(objs) = built(env) else {
            skip_or_fail!("kubectl is not installed")
        };
        let cfg = AuditConfig::strict(s.allowed_registries());
        let mut pods = 0;
        for o in &objs {
            let Some(pod) = PodView::of(o) else { continue };
            pods += 1;
            let v = policy::audit_object(o, &cfg);
            assert!(v.is_empty(), "{env} {}: {v:#?}", policy::object_id(o));
            let long_running = ["Deployment", "StatefulSet"].contains(&o["kind"].as_str().unwrap());
            for c in pod.spec["containers"].as_array().unwrap() {
                assert!(
                    !long_running
                        || c["readinessProbe"].is_object() && c["livenessProbe"].is_object(),
                    "{env}: {} lacks probes",
                    c["name"]
                );
            }
            for c in pod.containers() {
                assert!(o4g_gitops::policy::images::has_digest(
                    c.value["image"].as_str().unwrap()
                ));
                assert!(o4g_gitops::policy::containers::missing_resources(c.value).is_empty());
            }
        }
        let restore_test = usize::from(s.env(env).backup.restore_test.is_some());
        assert_eq!(
            pods,
            4 + restore_test,
            "{env}: the StatefulSet, the Deployment and the backup CronJobs"
        );
    }
}

/// Named ports of every container of a pod spec.
fn container_ports(spec: &Value) -> BTreeSet<String> {
    ["containers", "initContainers"]
        .iter()
        .flat_map(|l| spec[*l].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn services_probes_and_secrets_refer_to_things_that_exist() {
    let docs = std::fs::read_to_string(common::root().join("out/docs/apps.md")).unwrap();
    for env in common::environments() {
        let Some(objs) = built(env) else {
            skip_or_fail!("kubectl is not installed")
        };
        let pods: Vec<(&Value, &Value)> = objs
            .iter()
            .filter_map(|o| {
                PodView::of(o).map(|p| (&o["spec"]["template"]["metadata"]["labels"], p.spec))
            })
            .collect();
        for svc in by_kind(&objs, "Service") {
            let selector = svc["spec"]["selector"].as_object().unwrap();
            let matching: Vec<_> = pods
                .iter()
                .filter(|(labels, _)| selector.iter().all(|(k, v)| &labels[k] == v))
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "{env}: Service {} selects one pod template",
                svc["metadata"]["name"]
            );
            let ports = container_ports(matching[0].1);
            for p in svc["spec"]["ports"].as_array().unwrap() {
                let target = p["targetPort"].as_str().expect("targetPort by name");
                assert!(
                    ports.contains(target),
                    "{env}: Service {} targets undeclared port {target}",
                    svc["metadata"]["name"]
                );
            }
        }
        for ing in by_kind(&objs, "Ingress") {
            let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
            let svc = by_kind(&objs, "Service")
                .into_iter()
                .find(|s| s["metadata"]["name"] == backend["name"])
                .expect("Ingress backend Service exists");
            assert!(
                svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == backend["port"]["name"])
            );
        }
        for (_, spec) in &pods {
            let ports = container_ports(spec);
            for c in spec["containers"].as_array().unwrap() {
                for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                    for action in ["httpGet", "tcpSocket"] {
                        if let Some(port) = c[probe][action]["port"].as_str() {
                            assert!(
                                ports.contains(port),
                                "{env}: {} {probe} uses undeclared port {port}",
                                c["name"]
                            );
                        }
                    }
                }
            }
            // Every Secret the pod reads is documented with its key.
            let mut refs = BTreeSet::new();
            for c in ["containers", "initContainers"]
                .iter()
                .flat_map(|l| spec[*l].as_array().cloned().unwrap_or_default())
            {
                for e in c["env"].as_array().cloned().unwrap_or_default() {
                    let r = &e["valueFrom"]["secretKeyRef"];
                    if r.is_object() {
                        refs.insert((
                            r["name"].as_str().unwrap().to_string(),
                            r["key"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
            for v in spec["volumes"].as_array().cloned().unwrap_or_default() {
                let secret = &v["secret"];
                if let Some(name) = secret["secretName"].as_str() {
                    match secret["items"].as_array() {
                        Some(items) => {
                            refs.extend(items.iter().map(|i| {
                                (name.to_string(), i["key"].as_str().unwrap().to_string())
                            }))
                        }
                        None => {
                            // A whole Secret mounted: its keys are the documented ones, and at least one.
                            assert!(
                                docs.contains(&format!("| `{name}` |")),
                                "{env}: Secret {name} undocumented"
                            );
                        }
                    }
                }
            }
            for (name, key) in refs {
                assert!(
                    docs.contains(&format!("| `{name}` | `{key}` |")),
                    "{env}: Secret {name}/{key} is not listed in out/docs/apps.md"
                );
            }
        }
    }
}

/// What kustomize builds of each overlay of fixture site A: the review of a generator change
/// (the live overlays are reviewed in the diff of `out/`).
#[test]
fn fixture_overlay_snapshots() {
    if !common::has_tool("kubectl", "version") && !common::has_tool("kubectl", "--help") {
        skip_or_fail!("kubectl is not installed")
    }
    for env in common::fixture_settings().environments() {
        let text = common::kustomize(
            &common::fixture_repo()
                .join("out/apps/overlays")
                .join(env.name()),
        );
        insta::assert_snapshot!(
            format!("site-a__overlay-{}", env.name()),
            common::redact_pins(&text)
        );
    }
}

#[test]
fn no_overlay_patch_addresses_a_list_item_by_index() {
    let re = regex::Regex::new(r"/[0-9]+(/|$)").unwrap();
    let mut patches = 0;
    for entry in walkdir::WalkDir::new(common::root().join("out/apps/overlays")) {
        let entry = entry.unwrap();
        let path = entry.path();
        if !path.to_string_lossy().contains("/patches/") || !entry.file_type().is_file() {
            continue;
        }
        patches += 1;
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        // A strategic-merge patch names its target; list items go by name, never by position.
        assert!(
            doc.is_object(),
            "{}: not a strategic-merge patch",
            path.display()
        );
        assert!(
            doc["kind"].is_string() && doc["metadata"]["name"].is_string(),
            "{}",
            path.display()
        );
        for line in text.lines().filter(|l| l.trim_start().starts_with("path:")) {
            assert!(!re.is_match(line), "{}: {line}", path.display());
        }
    }
    // Every environment differs from the base at least in its host.
    assert!(
        patches >= common::environments().len(),
        "{patches} patch files"
    );
}
