//! The real charts of `../shared/charts/`, rendered with Helm's own library for each generated
//! HelmRelease (`tests/helm/render.py`, PyPI `helm-python-sdk`), mapped the way helm-controller
//! maps a HelmRelease to an install (`../shared/charts/INDEX.md`, "Rendering them").
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

/// Kubernetes version the charts are rendered for (the API level of the generator).
pub const KUBE_VERSION: &str = "v1.33.0";

/// One HelmRelease and what its chart renders.
#[derive(Debug, Clone)]
pub struct Release {
    /// The HelmRelease object as generated.
    pub helm_release: Value,
    /// Release name (Flux: `spec.releaseName`, else `<targetNamespace>-<name>`, else the name).
    pub name: String,
    /// Namespace of the install.
    pub namespace: String,
    /// Rendered template objects, each with its namespace filled in.
    pub objects: Vec<Value>,
    /// CRDs of the chart's `crds/` folders (applied when `install.crds` is not `Skip`).
    pub crds: Vec<Value>,
}

impl Release {
    /// Every object (templates and CRDs).
    pub fn all(&self) -> impl Iterator<Item = &Value> {
        self.crds.iter().chain(&self.objects)
    }
}

fn chart_dir(chart: &str, version: &str) -> std::path::PathBuf {
    super::shared()
        .unwrap_or_else(|| super::root().join("../shared"))
        .join(format!("charts/{chart}-{version}"))
}

/// The generated HelmReleases (with their chart name and version), from the in-memory tree.
pub fn helm_releases() -> Vec<Value> {
    helm_releases_of(super::Tree::Live)
}

/// The HelmReleases of one tree.
pub fn helm_releases_of(tree: super::Tree) -> Vec<Value> {
    let settings = tree.settings();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        if !path.ends_with(".yaml") {
            continue;
        }
        let docs = o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(bytes),
        )
        .unwrap();
        out.extend(docs.into_iter().filter(|d| d["kind"] == "HelmRelease"));
    }
    out
}

/// (chart, version) of a HelmRelease: its `chart.spec`, or the OCIRepository its `chartRef` names.
pub fn chart_of(hr: &Value) -> (String, String) {
    let spec = &hr["spec"];
    if let Some(c) = spec["chart"]["spec"].as_object() {
        return (
            c["chart"].as_str().unwrap().to_string(),
            c["version"].as_str().unwrap().to_string(),
        );
    }
    // chartRef → the OCIRepository it names: the chart is the last path segment of its URL,
    // the version its tag.
    let name = hr["spec"]["chartRef"]["name"].as_str().unwrap();
    let repo = oci_repositories()
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("OCIRepository {name}"));
    let url = repo["spec"]["url"].as_str().unwrap();
    (
        url.rsplit('/').next().unwrap().to_string(),
        repo["spec"]["ref"]["tag"].as_str().unwrap().to_string(),
    )
}

fn oci_repositories() -> Vec<Value> {
    let settings = o4g_gitops::settings::Settings::load(&super::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    tree.files()
        .iter()
        .filter(|(p, _)| p.ends_with("source.yaml"))
        .flat_map(|(p, b)| {
            o4g_gitops::lint::parse_documents(std::path::Path::new(p), &String::from_utf8_lossy(b))
                .unwrap()
        })
        .filter(|o| o["kind"] == "OCIRepository")
        .collect()
}

/// Why the charts cannot be rendered here, if they cannot.
pub fn available() -> Result<(), String> {
    if super::shared().is_none() {
        return Err("../shared is absent (the chart sources)".into());
    }
    let ok = Command::new("python3")
        .args(["-c", "import helm_python"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(())
    } else {
        Err(
            "python3 with helm-python-sdk is not installed (pip install helm-python-sdk==0.2.2)"
                .into(),
        )
    }
}

/// Every release of the live tree rendered, once per test binary.
pub fn releases() -> &'static [Release] {
    releases_of(super::Tree::Live)
}

/// Every release of one tree rendered, once per test binary.
pub fn releases_of(tree: super::Tree) -> &'static [Release] {
    static LIVE: OnceLock<Vec<Release>> = OnceLock::new();
    static TRAEFIK: OnceLock<Vec<Release>> = OnceLock::new();
    match tree {
        super::Tree::Live => LIVE.get_or_init(|| render_all(tree)),
        super::Tree::Traefik => TRAEFIK.get_or_init(|| render_all(tree)),
    }
}

fn render_all(tree: super::Tree) -> Vec<Release> {
    render(&helm_releases_of(tree))
}

/// Renders the given HelmReleases (as generated, or with changed values) with Helm's library.
pub fn render(hrs: &[Value]) -> Vec<Release> {
    let mut requests = Vec::new();
    let mut meta = Vec::new();
    for hr in hrs {
        let spec = &hr["spec"];
        let target = spec["targetNamespace"].as_str();
        let name = spec["releaseName"]
            .as_str()
            .map(String::from)
            .or_else(|| target.map(|t| format!("{t}-{}", hr["metadata"]["name"].as_str().unwrap())))
            .unwrap_or_else(|| hr["metadata"]["name"].as_str().unwrap().to_string());
        let namespace = target
            .or(hr["metadata"]["namespace"].as_str())
            .unwrap()
            .to_string();
        let (chart, version) = chart_of(hr);
        let dir = chart_dir(&chart, &version);
        assert!(
            dir.is_dir(),
            "{} has no chart source at {}",
            name,
            dir.display()
        );
        let crds = spec["install"]["crds"].as_str().unwrap_or("Create") != "Skip";
        requests.push(json!({
            "name": name,
            "namespace": namespace,
            "chart_dir": dir,
            "values": spec["values"].clone(),
            "crds": crds,
        }));
        meta.push((hr.clone(), name, namespace));
    }
    let request = json!({"kube_version": KUBE_VERSION, "api_versions": [], "releases": requests});
    let mut child = Command::new("python3")
        .arg(super::root().join("tests/helm/render.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "helm render: {}", super::text(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |texts: &Value, ns: Option<&str>| -> Vec<Value> {
        let mut objects = Vec::new();
        for t in texts.as_array().unwrap() {
            let text = t.as_str().unwrap();
            let docs = o4g_gitops::lint::parse_documents(std::path::Path::new("chart"), text)
                .unwrap_or_else(|e| {
                    let line = e.line;
                    let around: Vec<&str> =
                        text.lines().skip(line.saturating_sub(3)).take(4).collect();
                    panic!("{e}: {around:#?}")
                });
            for mut d in docs.into_iter().flat_map(o4g_gitops::yaml_read::flatten) {
                if !d.is_object() {
                    continue;
                }
                if let Some(ns) = ns
                    && d["metadata"]["namespace"].is_null()
                    && is_namespaced(&d)
                {
                    d["metadata"]["namespace"] = json!(ns);
                }
                objects.push(d);
            }
        }
        objects
    };
    answer["releases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(meta)
        .map(|(r, (helm_release, name, namespace))| Release {
            objects: parse(&r["manifests"], Some(&namespace)),
            crds: parse(&r["crds"], None),
            helm_release,
            name,
            namespace,
        })
        .collect()
}

/// Kinds without a namespace (the ones these charts render).
fn is_namespaced(o: &Value) -> bool {
    !matches!(
        o["kind"].as_str().unwrap_or(""),
        "CustomResourceDefinition"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "Namespace"
            | "StorageClass"
            | "PriorityClass"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "IngressClass"
            | "CSIDriver"
            | "APIService"
            | "PodSecurityPolicy"
            | "ClusterIssuer"
            | "GatewayClass"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
    )
}

/// The ARC controller's image as it hands it to the listeners
/// (`CONTROLLER_MANAGER_CONTAINER_IMAGE` of its Deployment), if the controller is rendered.
fn controller_image(objects: &[Value]) -> Option<String> {
    objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .flat_map(|c| c["env"].as_array().into_iter().flatten())
        .find(|e| e["name"] == "CONTROLLER_MANAGER_CONTAINER_IMAGE")
        .and_then(|e| e["value"].as_str().map(String::from))
}

/// The pods a chart's objects lead to: pod templates of its workloads, plus the pods the
/// prometheus-operator creates from `Prometheus` and `Alertmanager` resources. Their labels
/// and ports follow prometheus-operator v0.93.1: container port name = `spec.portName`
/// (`pkg/prometheus/common.go`, `pkg/alertmanager/statefulset.go`), labels
/// `app.kubernetes.io/name: prometheus|alertmanager`, `app.kubernetes.io/instance: <name>`,
/// `operator.prometheus.io/name: <name>`, `prometheus: <name>` / `alertmanager: <name>`; the
/// config-reloader sidecar listens on `reloader-web` 8080.
pub fn pods(objects: &[Value]) -> Vec<(Value, o4g_gitops::netpol::eval::Pod)> {
    let mut out = Vec::new();
    for o in objects {
        let ns = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = o["metadata"]["name"].as_str().unwrap_or("?").to_string();
        match o["kind"].as_str() {
            Some("Deployment" | "DaemonSet" | "StatefulSet" | "Job" | "CronJob") => {
                let template = if o["kind"] == "CronJob" {
                    &o["spec"]["jobTemplate"]["spec"]["template"]
                } else {
                    &o["spec"]["template"]
                };
                let labels = template["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                let ports = template["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap_or("").to_string(),
                            p["containerPort"].as_u64().unwrap_or(0) as u16,
                            p["protocol"].as_str().unwrap_or("TCP").to_string(),
                        )
                    })
                    .collect();
                out.push((
                    o.clone(),
                    o4g_gitops::netpol::eval::Pod {
                        namespace: ns,
                        name,
                        labels,
                        ports,
                    },
                ));
            }
            // The runner pods the ARC controller creates from the scale set's template
            // (EphemeralRunner pods), as a Pod object for the checks.
            Some("AutoscalingRunnerSet") => {
                let template = &o["spec"]["template"];
                let pod = serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{name}-runner"), "namespace": ns},
                    "spec": template["spec"],
                });
                // The listener the controller creates in its own namespace from
                // `listenerTemplate` (the controller's image fills the container in).
                // Without a listenerTemplate the controller's default spec has no
                // securityContext, which the model reproduces so the checks catch it.
                let default = serde_json::json!({"spec": {"containers": [{"name": "listener"}]}});
                let listener = if o["spec"]["listenerTemplate"].is_object() {
                    &o["spec"]["listenerTemplate"]
                } else {
                    &default
                };
                // The listener's image is the controller's own: the controller chart passes
                // its image as `CONTROLLER_MANAGER_CONTAINER_IMAGE`
                // (gha-runner-scale-set-controller 0.14.2 `templates/deployment.yaml:134-135`),
                // which the controller makes `DefaultRunnerScaleSetListenerImage`
                // (actions/actions-runner-controller `main.go`). Filled in when the controller
                // is among `objects`.
                let mut listener = listener.clone();
                if let Some(image) = controller_image(objects)
                    && let Some(c) = listener["spec"]["containers"]
                        .as_array_mut()
                        .and_then(|cs| cs.iter_mut().find(|c| c["name"] == "listener"))
                    && c.get("image").is_none_or(|i| i.as_str() == Some(""))
                {
                    c["image"] = Value::String(image);
                }
                {
                    let controller_ns = o["metadata"]["annotations"]
                        ["actions.github.com/controller-service-account-namespace"]
                        .as_str()
                        .unwrap_or("arc-systems")
                        .to_string();
                    out.push((
                        serde_json::json!({
                            "apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": format!("{name}-listener"), "namespace": controller_ns},
                            "spec": listener["spec"],
                        }),
                        o4g_gitops::netpol::eval::Pod {
                            namespace: controller_ns,
                            name: format!("{name}-listener"),
                            labels: listener_labels(o),
                            ports: listener_ports(objects),
                        },
                    ));
                }
                out.push((
                    pod,
                    o4g_gitops::netpol::eval::Pod {
                        namespace: ns,
                        name: format!("{name}-runner"),
                        labels: BTreeMap::from([(
                            "actions-ephemeral-runner".to_string(),
                            "True".to_string(),
                        )]),
                        ports: vec![],
                    },
                ));
            }
            Some(kind @ ("Prometheus" | "Alertmanager")) => {
                let (app, number) = if kind == "Prometheus" {
                    ("prometheus", 9090)
                } else {
                    ("alertmanager", 9093)
                };
                let port_name = o["spec"]["portName"].as_str().unwrap_or("web").to_string();
                let labels = BTreeMap::from([
                    ("app.kubernetes.io/name".to_string(), app.to_string()),
                    ("app.kubernetes.io/instance".to_string(), name.clone()),
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "prometheus-operator".into(),
                    ),
                    ("operator.prometheus.io/name".to_string(), name.clone()),
                    (app.to_string(), name.clone()),
                ]);
                out.push((
                    o.clone(),
                    o4g_gitops::netpol::eval::Pod {
                        namespace: ns,
                        name,
                        labels,
                        ports: vec![
                            (port_name, number, "TCP".into()),
                            ("reloader-web".into(), 8080, "TCP".into()),
                        ],
                    },
                ));
            }
            _ => {}
        }
    }
    out
}

/// The listener pod's labels: the scale set's own, then those the controller sets
/// (actions/actions-runner-controller@2ee6b3b8e8 `controllers/actions.github.com/resourcebuilder.go:155-160`,
/// `filterAndMergeLabels` at 1096; copied onto the pod at 412-413).
fn listener_labels(set: &Value) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = set["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let name = set["metadata"]["name"].as_str().unwrap_or("").to_string();
    let ns = set["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    labels.insert("actions.github.com/scale-set-namespace".into(), ns);
    labels.insert("actions.github.com/scale-set-name".into(), name);
    labels.insert(
        "app.kubernetes.io/part-of".into(),
        "gha-runner-scale-set".into(),
    );
    labels.insert(
        "app.kubernetes.io/component".into(),
        "runner-scale-set-listener".into(),
    );
    labels
}

/// The listener's container ports: `metrics` on the port of the controller's
/// `--listener-metrics-addr` (none when it is `0`), `resourcebuilder.go:194-208,364-371`.
fn listener_ports(objects: &[Value]) -> Vec<(String, u16, String)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|c| c["args"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| {
            a.as_str()?
                .strip_prefix("--listener-metrics-addr=")?
                .rsplit(':')
                .next()?
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
        })
        .map(|p| ("metrics".to_string(), p, "TCP".to_string()))
        .collect()
}

/// True when a workload's pods run on the host network (they then have the node's address).
pub fn host_network(workload: &Value) -> bool {
    workload["spec"]["template"]["spec"]["hostNetwork"] == true
}
