//! kube-prometheus-stack in `observability`, with node-exporter in its own privileged
//! namespace so that `observability` stays `restricted`.

use serde::Serialize;

use super::helm::{ChartResources, HelmComponent, Remediate};
use super::namespaces::{Level, PlatformNamespace, PodSecurity};
use crate::Error;
use crate::quantity::{Bytes, Duration};
use crate::settings::Settings;

/// Namespace of the stack (also one of the platform namespaces).
pub const NAMESPACE: &str = "observability";
/// Secret (in `observability`) with Grafana's admin credentials (`admin-user`, `admin-password`).
pub const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";
/// Prometheus's web port as the operator names it on the pod: the container port name is
/// `spec.portName` of the `Prometheus` resource (prometheus-operator v0.93.1
/// `pkg/prometheus/common.go`), which we set in the chart values from this one value, so the
/// NetworkPolicies follow it.
pub const PROMETHEUS_WEB: crate::workload::Port = crate::workload::Port::tcp("http-web", 9090);
/// Alertmanager's web port (`alertmanager.alertmanagerSpec.portName`), likewise.
pub const ALERTMANAGER_WEB: crate::workload::Port = crate::workload::Port::tcp("http-web", 9093);

/// Secret (in `observability`, platform scope) with the SMTP password (`password`).
pub const ALERTMANAGER_SMTP_SECRET: &str = "alertmanager-smtp";

pub use super::alerts::{ALERTMANAGER_HEARTBEAT_SECRET, HEARTBEAT_PERIOD};

/// Where Alertmanager reads a file of a mounted Secret (`alertmanagerSpec.secrets`).
fn secret_file(secret: &str, key: &str) -> String {
    format!("/etc/alertmanager/secrets/{secret}/{key}")
}

/// Alertmanager's configuration (the chart's `alertmanager.config`, replacing its default):
/// - every alert goes to the e-mail receiver, grouped by `alertname` and `namespace`: the
///   default route is never a black hole;
/// - the dead man's switch: kube-prometheus-stack's always-firing `Watchdog` goes to the
///   `heartbeat` webhook, whose URL is read from the mounted Secret (`url_file`: alertmanager
///   v0.34.0 `notify/webhook/config.go:40`, read at each send in `notify/webhook/webhook.go:118`;
///   added in 0.26.0, CHANGELOG #3223). When pings stop, the external service pages: Prometheus
///   or its rules stopped, Alertmanager stopped, or it cannot reach the internet. Failing
///   e-mail stops the pings too: `AlertmanagerFailedToSendAlerts` (kube-prometheus-stack 88.5.3
///   `templates/prometheus/rules-1.14/alertmanager.rules.yaml:106-130`, per failing
///   `integration`) for `email` inhibits `Watchdog`;
/// - `InfoInhibitor` (the chart's helper alert) goes to `null`;
/// - a critical alert inhibits the warning of the same object only within the project's own
///   families ([`super::alerts::INHIBITING_FAMILIES`]): Alertmanager treats a label missing on
///   both sides as equal, so an inhibition keyed on `family` alone would let any chart critical
///   (no `family`) mute every unrelated warning of its namespace;
/// - the SMTP password is read from the mounted Secret (`smtp_auth_password_file`,
///   Alertmanager ≥ 0.25), never written in the values.
pub fn alertmanager_config(a: &crate::settings::AlertingSettings) -> serde_json::Value {
    let families = format!(
        "family =~ \"{}\"",
        super::alerts::INHIBITING_FAMILIES.join("|")
    );
    serde_json::json!({
        "global": {
            "smtp_smarthost": a.smtp_smarthost.as_string(),
            "smtp_from": a.email_from.as_str(),
            "smtp_auth_username": a.smtp_username,
            "smtp_auth_password_file": secret_file(ALERTMANAGER_SMTP_SECRET, "password"),
            "smtp_require_tls": true,
        },
        "route": {
            "receiver": "email",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": "heartbeat",
                    "matchers": ["alertname = \"Watchdog\""],
                    "group_wait": "0s",
                    "group_interval": super::alerts::HEARTBEAT_GROUP_INTERVAL,
                    "repeat_interval": HEARTBEAT_PERIOD,
                },
                {"receiver": "null", "matchers": ["alertname = \"InfoInhibitor\""]},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ["severity = \"critical\"", families],
                "target_matchers": ["severity = \"warning\"", families],
                "equal": ["family", "namespace", "exported_namespace", "name", "persistentvolumeclaim", "pvc", "volume", "host"],
            },
            {
                "source_matchers": ["alertname = \"AlertmanagerFailedToSendAlerts\"", "integration = \"email\""],
                "target_matchers": ["alertname = \"Watchdog\""],
            },
        ],
        "receivers": [
            {"name": "email", "email_configs": [{"to": a.email_to.as_str(), "send_resolved": true}]},
            {"name": "heartbeat", "webhook_configs": [{
                "url_file": secret_file(ALERTMANAGER_HEARTBEAT_SECRET, "url"),
                "send_resolved": false,
            }]},
            {"name": "null"},
        ],
    })
}

/// Label value that makes Grafana load a ConfigMap as a dashboard.
pub const DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// node-exporter's namespace.
pub fn node_exporter_namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: "node-exporter",
        environment: "platform",
        pod_security: PodSecurity::relaxed(
            Level::Privileged,
            "node-exporter reads the host's metrics with hostNetwork, hostPID and a read-only hostPath mount of /",
        ),
        purpose: "Prometheus node-exporter (host metrics)",
        network_policy_reason: Some(
            "node-exporter runs on the host network, where NetworkPolicies do not apply; Prometheus's egress to it (nodes, 9100) is declared in observability",
        ),
    }
}

/// kube-prometheus-stack values we set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    crds: Flag,
    prometheus_operator: PrometheusOperator,
    prometheus: Prometheus,
    alertmanager: Alertmanager,
    grafana: Grafana,
    /// Control-plane endpoints a single-node k3s/kubeadm cluster binds to 127.0.0.1: scraping
    /// them only raises permanent TargetDown alerts.
    kube_controller_manager: Flag,
    kube_scheduler: Flag,
    kube_etcd: Flag,
    kube_proxy: Flag,
    #[serde(rename = "prometheus-node-exporter")]
    node_exporter: NodeExporter,
    #[serde(rename = "kube-state-metrics")]
    kube_state_metrics: KubeStateMetrics,
}

/// kube-state-metrics exports an object's labels (as `label_<name>` on `kube_<kind>_labels`)
/// only when allow-listed (chart kube-state-metrics 8.4.0 `values.yaml:416`
/// `metricLabelsAllowlist: []`, passed as `--metric-labels-allowlist` by
/// `templates/deployment.yaml:100-101`): the backup alerts select CronJobs and Jobs by their
/// `app.kubernetes.io/component`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeStateMetrics {
    image: KpsImage,
    resources: ChartResources,
    metric_labels_allowlist: Vec<String>,
    /// Collectors left out of the chart's list (kube-state-metrics 8.4.0 `values.yaml:471`
    /// `collectorsExclude`): without the `secrets` collector its ClusterRole no longer lists
    /// every Secret of the cluster (`templates/role.yaml:191-196`); no rule or dashboard reads
    /// `kube_secret_*`.
    collectors_exclude: Vec<&'static str>,
    /// The Flux objects' state ([`flux_resource_state`]), and the rights to read them.
    custom_resource_state: CustomResourceState,
    rbac: KsmRbac,
}

#[derive(Debug, Serialize)]
struct CustomResourceState {
    enabled: bool,
    config: serde_json::Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KsmRbac {
    extra_rules: serde_json::Value,
}

/// The Flux kinds kube-state-metrics reports as `gotk_resource_info`: (group, version, kind,
/// plural, the path of the label `revision`). The API versions are those the generator writes
/// (`crate::crd::flux`) and Flux 2.9 serves; HelmChart is what helm-controller creates.
const FLUX_KINDS: [(&str, &str, &str, &str, &[&str]); 6] = [
    (
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
        &["status", "lastAppliedRevision"],
    ),
    (
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
        &["status", "history", "0", "chartVersion"],
    ),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        "gitrepositories",
        &["status", "artifact", "revision"],
    ),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmRepository",
        "helmrepositories",
        &["status", "artifact", "revision"],
    ),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "OCIRepository",
        "ocirepositories",
        &["status", "artifact", "revision"],
    ),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmChart",
        "helmcharts",
        &["status", "artifact", "revision"],
    ),
];

/// The metric kube-state-metrics writes for each Flux object.
pub const FLUX_METRIC: &str = "gotk_resource_info";

/// kube-state-metrics' custom resource state config for the Flux objects, as Flux documents it
/// for monitoring (fluxcd/flux2-monitoring-example@7ab65dc8
/// `monitoring/controllers/kube-prometheus-stack/kube-state-metrics-config.yaml`): one
/// `gotk_resource_info` Info series per object, labelled `name`, `exported_namespace`, `ready`
/// (the `Ready` condition's status), `suspended` (`spec.suspend`) and `revision`.
/// kube-state-metrics v2.20.0 adds `customresource_group`, `_version` and `_kind`
/// (`pkg/customresourcestate/registry_factory.go:44-46`) and leaves out a label whose path is
/// absent (`addPathLabels`, lines 557-566): `suspended` exists only on suspended objects and
/// `ready` only once a controller has set the condition.
pub fn flux_resource_state() -> serde_json::Value {
    let resources: Vec<serde_json::Value> = FLUX_KINDS
        .iter()
        .map(|(group, version, kind, _, revision)| {
            serde_json::json!({
                "groupVersionKind": {"group": group, "version": version, "kind": kind},
                "metricNamePrefix": "gotk",
                "metrics": [{
                    "name": "resource_info",
                    "help": format!("The current state of a Flux {kind}."),
                    "each": {"type": "Info", "info": {"labelsFromPath": {"name": ["metadata", "name"]}}},
                    "labelsFromPath": {
                        "exported_namespace": ["metadata", "namespace"],
                        "ready": ["status", "conditions", "[type=Ready]", "status"],
                        "suspended": ["spec", "suspend"],
                        "revision": revision,
                    },
                }],
            })
        })
        .collect();
    serde_json::json!({"spec": {"resources": resources}})
}

/// What kube-state-metrics needs to read the Flux objects (the chart's `rbac.extraRules`,
/// added to its ClusterRole: kube-state-metrics 8.4.0 `templates/role.yaml:249-251`).
fn flux_rbac_rules() -> serde_json::Value {
    let mut groups: Vec<&str> = FLUX_KINDS.iter().map(|k| k.0).collect();
    groups.dedup();
    serde_json::json!([{
        "apiGroups": groups,
        "resources": FLUX_KINDS.iter().map(|k| k.3).collect::<Vec<_>>(),
        "verbs": ["list", "watch"],
    }])
}

/// The object labels kube-state-metrics exports, per resource.
pub const KSM_LABELS_ALLOWLIST: [&str; 2] = [
    "cronjobs=[app.kubernetes.io/component]",
    "jobs=[app.kubernetes.io/component]",
];

#[derive(Debug, Serialize)]
struct Flag {
    enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Prometheus {
    prometheus_spec: PrometheusSpec,
}

/// `*SelectorNilUsesHelmValues: false`: monitors and rules from every namespace, without the
/// `release` label, are picked up.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusSpec {
    service_monitor_selector_nil_uses_helm_values: bool,
    pod_monitor_selector_nil_uses_helm_values: bool,
    rule_selector_nil_uses_helm_values: bool,
    probe_selector_nil_uses_helm_values: bool,
    scrape_config_selector_nil_uses_helm_values: bool,
    retention: String,
    retention_size: String,
    port_name: &'static str,
    image: KpsImage,
    storage_spec: StorageSpec,
    resources: ChartResources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StorageSpec {
    volume_claim_template: ClaimTemplate,
}

#[derive(Debug, Serialize)]
struct ClaimTemplate {
    spec: ClaimSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimSpec {
    storage_class_name: &'static str,
    access_modes: Vec<&'static str>,
    resources: StorageRequest,
}

#[derive(Debug, Serialize)]
struct StorageRequest {
    requests: Storage,
}

#[derive(Debug, Serialize)]
struct Storage {
    storage: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Alertmanager {
    alertmanager_spec: AlertmanagerSpec,
    config: serde_json::Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerSpec {
    port_name: &'static str,
    image: KpsImage,
    storage: StorageSpec,
    /// Secrets mounted at `/etc/alertmanager/secrets/<name>/`.
    secrets: Vec<&'static str>,
    resources: ChartResources,
}

#[derive(Debug, Serialize)]
struct Grafana {
    image: KpsImage,
    resources: ChartResources,
    admin: GrafanaAdmin,
    sidecar: GrafanaSidecar,
    rbac: GrafanaRbac,
}

/// Grafana's rights. By default the grafana chart (12.11.1 `templates/clusterrole.yaml:1-20`)
/// gives its sidecars get/list/watch on the ConfigMaps *and Secrets* of every namespace:
/// the MySQL credentials and the GitHub App key included. `namespaced: true` replaces the
/// ClusterRole with a RoleBinding in `observability` (`templates/rolebinding.yaml`), bound to
/// our [`GRAFANA_ROLE`] (`useExistingRole`, so the chart's Role, which adds Secrets
/// (`templates/role.yaml:16-19`), is not rendered): ConfigMaps of `observability` only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaRbac {
    namespaced: bool,
    use_existing_role: &'static str,
}

/// The Role Grafana's sidecars use: read the ConfigMaps of `observability` (dashboards and the
/// chart's datasource), nothing else.
pub const GRAFANA_ROLE: &str = "grafana-configmaps";

/// [`GRAFANA_ROLE`].
pub fn grafana_role() -> k8s_openapi::api::rbac::v1::Role {
    k8s_openapi::api::rbac::v1::Role {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(GRAFANA_ROLE.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        rules: Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: ["get", "list", "watch"].map(String::from).to_vec(),
            ..Default::default()
        }]),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaAdmin {
    existing_secret: &'static str,
    user_key: &'static str,
    password_key: &'static str,
}

#[derive(Debug, Serialize)]
struct GrafanaSidecar {
    image: KpsImage,
    /// Every sidecar of the pod (grafana 12.11.1 `templates/_pod.tpl`, each `sidecar.resources`).
    resources: ChartResources,
    dashboards: Dashboards,
    datasources: SidecarResource,
}

/// The dashboards sidecar: ConfigMaps (`resource`; the chart's default `both` also watches
/// Secrets, grafana 12.11.1 `values.yaml:1103`) of `observability` only (kube-prometheus-stack
/// sets `searchNamespace: ALL`, which the namespaced Role could not serve).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Dashboards {
    enabled: bool,
    label: &'static str,
    label_value: &'static str,
    search_namespace: &'static str,
    resource: &'static str,
}

/// A sidecar that watches ConfigMaps only (grafana 12.11.1 `values.yaml:1201`, default `both`).
#[derive(Debug, Serialize)]
struct SidecarResource {
    resource: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeExporter {
    namespace_override: &'static str,
    image: NodeExporterImage,
    resources: ChartResources,
}

/// An image in the `{registry, repository, tag, sha}` shape of these charts. The charts differ
/// in what `sha` holds: kube-prometheus-stack's own templates and Grafana's print
/// `@sha256:{sha}` (bare hex), kube-state-metrics prints `@{sha}` (the whole digest); without
/// `sha` they print `registry/repository:tag` (kube-prometheus-stack 88.5.3
/// `templates/prometheus-operator/deployment.yaml:53-57,96-100,123-127`,
/// `admission-webhooks/job-patch/job-createSecret.yaml:39-43`, `job-patchWebhook.yaml:47-51`;
/// grafana 12.11.1 `templates/_pod.tpl:120-124`). The chart test compares the rendered strings
/// with the declarations.
#[derive(Debug, Serialize)]
struct KpsImage {
    registry: &'static str,
    repository: &'static str,
    tag: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha: Option<&'static str>,
}

impl KpsImage {
    fn hex(i: crate::image::PinnedImage) -> Self {
        Self::declared(crate::image::ChartImage::from_pinned(i))
    }
    fn full(i: crate::image::PinnedImage) -> Self {
        Self {
            sha: Some(i.digest()),
            ..Self::hex(i)
        }
    }
    /// A declared chart image: `sha` (hex) once pinned.
    fn declared(i: crate::image::ChartImage) -> Self {
        Self {
            registry: i.registry(),
            repository: i.repository(),
            tag: i.tag(),
            sha: i.digest_hex(),
        }
    }
}

/// node-exporter's `image`: the chart appends `-distroless` when `distroless` is set and prints
/// `@{digest}` (the whole digest) when `digest` is (prometheus-node-exporter 4.56.1
/// `templates/_helpers.tpl:77-93`); the declared tag names the variant itself.
#[derive(Debug, Serialize)]
struct NodeExporterImage {
    registry: &'static str,
    repository: &'static str,
    tag: &'static str,
    distroless: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'static str>,
}

/// `prometheusOperator`: its image and the images it passes on (config reloader, Thanos) or runs
/// in the admission webhook's jobs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusOperator {
    image: KpsImage,
    resources: ChartResources,
    prometheus_config_reloader: ImageAndResources,
    thanos_image: KpsImage,
    admission_webhooks: AdmissionWebhooks,
}

#[derive(Debug, Serialize)]
struct ImageAndResources {
    image: KpsImage,
    resources: ChartResources,
}

/// The webhook's certificate Jobs: `patch.resources` serves both the create and the patch Job
/// (kube-prometheus-stack 88.5.3 `templates/prometheus-operator/admission-webhooks/job-patch/`
/// `job-createSecret.yaml:54-55`, `job-patchWebhook.yaml:63-64`).
#[derive(Debug, Serialize)]
struct AdmissionWebhooks {
    patch: ImageAndResources,
}

/// Requests and limits of every container of the release, so that no pod of `observability`
/// or `node-exporter` lacks them (the `requests-limits` rule; the chart sets none). Sizes for a
/// single node: the upstream values' commented examples where they exist (cited), raised where
/// the workload here needs more. Prometheus's memory is the one to watch: it grows with the
/// number of series (its dashboard "Prometheus / Overview").
pub mod sizes {
    use super::super::helm::resources;
    use crate::workload::Resources;

    /// Prometheus: the chart's example requests 400Mi (kube-prometheus-stack 88.5.3
    /// `values.yaml:4668-4670`); 1Gi requested and 2Gi limit leave room for the head block of
    /// one node's series and for compaction. The CPU limit is above the request so compaction
    /// and rule evaluation are not throttled at their peaks.
    pub const PROMETHEUS: Resources = resources(200, 1024, 1000, 2048);
    /// Alertmanager: the chart's example requests 400Mi (`values.yaml:1165-1167`), sized for a
    /// cluster of many receivers; here it holds one small cluster's alerts and silences.
    pub const ALERTMANAGER: Resources = resources(20, 64, 200, 256);
    /// The config reloader the operator adds to the Prometheus and Alertmanager pods (and
    /// their `init-config-reloader`): the chart's example, 200m/50Mi limits
    /// (`values.yaml:3561-3567`), requesting less CPU since it idles between reloads. Passed to
    /// the operator as `--config-reloader-{cpu,memory}-{request,limit}`
    /// (`templates/prometheus-operator/deployment.yaml:101-104`; without them `0`, which the
    /// operator's flag help says "disables it and causes no request to be configured").
    /// prometheus-operator gives the same `ReloaderConfig` to the `config-reloader` sidecar and
    /// the `init-config-reloader` (`pkg/prometheus/server/statefulset.go`,
    /// `CreateConfigReloader("init-config-reloader", …)`); `tests/charts.rs`
    /// `the_pods_the_operator_makes_get_requests_and_limits` checks the flags passed.
    pub const CONFIG_RELOADER: Resources = resources(10, 50, 200, 50);
    /// prometheus-operator: the chart's example (`values.yaml:3412-3419`): 100m/100Mi
    /// requested, 200m/200Mi limit.
    pub const OPERATOR: Resources = resources(100, 100, 200, 200);
    /// The admission webhook's certificate Jobs (kube-webhook-certgen, a one-shot Go binary
    /// that writes one Secret or patches two webhook configurations); the chart gives no
    /// example (`values.yaml:3135`), ingress-nginx's for the same tool is 10m/20Mi
    /// (ingress-nginx 4.15.1 `values.yaml:804-810`).
    pub const WEBHOOK_CERTGEN: Resources = resources(10, 32, 100, 64);
    /// Grafana: its documented minimum is 512 MB of memory and one core (grafana.com
    /// docs/grafana/v13.2/setup-grafana/installation, "Hardware recommendations"), the limit;
    /// half of it is requested (no image renderer runs beside it).
    pub const GRAFANA: Resources = resources(100, 256, 1000, 512);
    /// Grafana's dashboard and datasource sidecars (k8s-sidecar): the grafana chart's example
    /// (grafana 12.11.1 `values.yaml:1048-1054`): 50m/50Mi requested, 100m/100Mi limit.
    pub const GRAFANA_SIDECAR: Resources = resources(50, 50, 100, 100);
    /// kube-state-metrics: the chart's example is 10m/32Mi requested, 100m/64Mi limit
    /// (kube-state-metrics 8.4.0 `values.yaml:515-525`); the memory is doubled for the Flux
    /// custom resource state it also watches (six kinds, [`super::FLUX_METRIC`]).
    pub const KUBE_STATE_METRICS: Resources = resources(10, 64, 100, 128);
    /// node-exporter: the chart's example (prometheus-node-exporter 4.56.1
    /// `values.yaml:334-344`): 100m/30Mi requested, 200m/50Mi limit.
    pub const NODE_EXPORTER: Resources = resources(100, 30, 200, 50);

    /// Each size with the containers it applies to (for the docs).
    pub const ALL: [(&str, Resources); 9] = [
        ("Prometheus", PROMETHEUS),
        ("Alertmanager", ALERTMANAGER),
        (
            "config reloader (Prometheus and Alertmanager pods, init included)",
            CONFIG_RELOADER,
        ),
        ("prometheus-operator", OPERATOR),
        ("admission webhook Jobs (create, patch)", WEBHOOK_CERTGEN),
        ("Grafana", GRAFANA),
        (
            "Grafana's sidecars (dashboards, datasources)",
            GRAFANA_SIDECAR,
        ),
        ("kube-state-metrics", KUBE_STATE_METRICS),
        ("node-exporter", NODE_EXPORTER),
    ];
}

/// The images kube-prometheus-stack runs that `src/images.rs` does not pin, declared beside the
/// chart: the tag, and the digest once Renovate has pinned it (`renovate.json`, the
/// chart-image manager; grouped with the chart). Passed through the values below.
#[rustfmt::skip] // Renovate reads the comment and the line below it
pub mod images {
    use crate::chart_image;
    use crate::image::ChartImage;

    /// prometheus-operator.
    pub const PROMETHEUS_OPERATOR: ChartImage =
        // renovate: datasource=docker depName=quay.io/prometheus-operator/prometheus-operator
        chart_image!("quay.io/prometheus-operator/prometheus-operator", "v0.93.1");
    /// The config reloader the operator adds to Prometheus and Alertmanager pods.
    pub const CONFIG_RELOADER: ChartImage =
        // renovate: datasource=docker depName=quay.io/prometheus-operator/prometheus-config-reloader
        chart_image!("quay.io/prometheus-operator/prometheus-config-reloader", "v0.93.1");
    /// Thanos (the operator's default sidecar image; no Thanos sidecar is configured).
    pub const THANOS: ChartImage =
        // renovate: datasource=docker depName=quay.io/thanos/thanos
        chart_image!("quay.io/thanos/thanos", "v0.42.4");
    /// The admission webhook's certificate jobs.
    pub const WEBHOOK_CERTGEN: ChartImage =
        // renovate: datasource=docker depName=ghcr.io/jkroepke/kube-webhook-certgen
        chart_image!("ghcr.io/jkroepke/kube-webhook-certgen", "1.8.7");
    /// Grafana's dashboard and datasource sidecars.
    pub const K8S_SIDECAR: ChartImage =
        // renovate: datasource=docker depName=quay.io/kiwigrid/k8s-sidecar
        chart_image!("quay.io/kiwigrid/k8s-sidecar", "2.10.1");
    /// node-exporter (its distroless variant).
    pub const NODE_EXPORTER: ChartImage =
        // renovate: datasource=docker depName=quay.io/prometheus/node-exporter
        chart_image!("quay.io/prometheus/node-exporter", "v1.12.1-distroless");

    /// The chart's images in `observability`: these and the pinned ones of `src/images.rs`.
    pub const OBSERVABILITY: [ChartImage; 9] = [
        PROMETHEUS_OPERATOR, CONFIG_RELOADER, THANOS, WEBHOOK_CERTGEN, K8S_SIDECAR,
        ChartImage::from_pinned(crate::images::PROMETHEUS),
        ChartImage::from_pinned(crate::images::ALERTMANAGER),
        ChartImage::from_pinned(crate::images::GRAFANA),
        ChartImage::from_pinned(crate::images::KUBE_STATE_METRICS),
    ];
    /// Every image the chart runs.
    pub const ALL: [ChartImage; 10] = [
        OBSERVABILITY[0], OBSERVABILITY[1], OBSERVABILITY[2], OBSERVABILITY[3], OBSERVABILITY[4],
        OBSERVABILITY[5], OBSERVABILITY[6], OBSERVABILITY[7], OBSERVABILITY[8], NODE_EXPORTER,
    ];
}

fn storage(size: Bytes) -> StorageSpec {
    StorageSpec {
        volume_claim_template: ClaimTemplate {
            spec: ClaimSpec {
                storage_class_name: super::longhorn::STORAGE_CLASS,
                access_modes: vec!["ReadWriteOnce"],
                resources: StorageRequest {
                    requests: Storage {
                        storage: size.to_string(),
                    },
                },
            },
        },
    }
}

/// Prometheus's `retentionSize`: 80% of its volume, in MiB (the operator's pattern,
/// `([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B`, kube-prometheus-stack 88.5.3
/// `charts/crds/crds/crd-prometheuses.yaml:8339`), so the TSDB deletes old blocks before the
/// volume fills up (the WAL and compaction need the rest). Without it only `retention` (time)
/// applies, and a 30Gi volume can fill silently.
pub fn retention_size(volume: Bytes) -> String {
    format!("{}MiB", volume.get() / (1 << 20) * 8 / 10)
}

/// The kube-prometheus-stack HelmRelease.
pub fn component(
    settings: &Settings,
    observability: PlatformNamespace,
) -> Result<HelmComponent, Error> {
    component_with(settings, observability, &|i| i)
}

/// The kube-prometheus-stack HelmRelease with its declared images passed through `pin`.
pub fn component_with(
    settings: &Settings,
    observability: PlatformNamespace,
    pin: crate::image::Pin<'_>,
) -> Result<HelmComponent, Error> {
    let m = &settings.cluster.monitoring;
    let node_exporter = pin(images::NODE_EXPORTER);
    let values = Values {
        crds: Flag { enabled: true },
        prometheus_operator: PrometheusOperator {
            image: KpsImage::declared(pin(images::PROMETHEUS_OPERATOR)),
            resources: sizes::OPERATOR.into(),
            prometheus_config_reloader: ImageAndResources {
                image: KpsImage::declared(pin(images::CONFIG_RELOADER)),
                resources: sizes::CONFIG_RELOADER.into(),
            },
            thanos_image: KpsImage::declared(pin(images::THANOS)),
            admission_webhooks: AdmissionWebhooks {
                patch: ImageAndResources {
                    image: KpsImage::declared(pin(images::WEBHOOK_CERTGEN)),
                    resources: sizes::WEBHOOK_CERTGEN.into(),
                },
            },
        },
        prometheus: Prometheus {
            prometheus_spec: PrometheusSpec {
                service_monitor_selector_nil_uses_helm_values: false,
                pod_monitor_selector_nil_uses_helm_values: false,
                rule_selector_nil_uses_helm_values: false,
                probe_selector_nil_uses_helm_values: false,
                scrape_config_selector_nil_uses_helm_values: false,
                retention: m.retention.to_string(),
                retention_size: retention_size(m.prometheus_storage),
                port_name: PROMETHEUS_WEB.name,
                image: KpsImage::hex(crate::images::PROMETHEUS),
                storage_spec: storage(m.prometheus_storage),
                resources: sizes::PROMETHEUS.into(),
            },
        },
        alertmanager: Alertmanager {
            alertmanager_spec: AlertmanagerSpec {
                port_name: ALERTMANAGER_WEB.name,
                image: KpsImage::hex(crate::images::ALERTMANAGER),
                storage: storage(m.alertmanager_storage),
                secrets: vec![ALERTMANAGER_SMTP_SECRET, ALERTMANAGER_HEARTBEAT_SECRET],
                resources: sizes::ALERTMANAGER.into(),
            },
            config: alertmanager_config(&m.alerting),
        },
        grafana: Grafana {
            image: KpsImage::hex(crate::images::GRAFANA),
            resources: sizes::GRAFANA.into(),
            admin: GrafanaAdmin {
                existing_secret: GRAFANA_ADMIN_SECRET,
                user_key: "admin-user",
                password_key: "admin-password",
            },
            sidecar: GrafanaSidecar {
                image: KpsImage::declared(pin(images::K8S_SIDECAR)),
                resources: sizes::GRAFANA_SIDECAR.into(),
                dashboards: Dashboards {
                    enabled: true,
                    label: DASHBOARD_LABEL.0,
                    label_value: DASHBOARD_LABEL.1,
                    search_namespace: NAMESPACE,
                    resource: "configmap",
                },
                datasources: SidecarResource {
                    resource: "configmap",
                },
            },
            rbac: GrafanaRbac {
                namespaced: true,
                use_existing_role: GRAFANA_ROLE,
            },
        },
        kube_controller_manager: Flag { enabled: false },
        kube_scheduler: Flag { enabled: false },
        kube_etcd: Flag { enabled: false },
        kube_proxy: Flag { enabled: false },
        node_exporter: NodeExporter {
            namespace_override: node_exporter_namespace().name,
            image: NodeExporterImage {
                registry: node_exporter.registry(),
                repository: node_exporter.repository(),
                tag: node_exporter.tag(),
                distroless: false,
                digest: node_exporter.digest(),
            },
            resources: sizes::NODE_EXPORTER.into(),
        },
        kube_state_metrics: KubeStateMetrics {
            image: KpsImage::full(crate::images::KUBE_STATE_METRICS),
            resources: sizes::KUBE_STATE_METRICS.into(),
            metric_labels_allowlist: KSM_LABELS_ALLOWLIST.map(String::from).to_vec(),
            collectors_exclude: vec!["secrets"],
            custom_resource_state: CustomResourceState {
                enabled: true,
                config: flux_resource_state(),
            },
            rbac: KsmRbac {
                extra_rules: flux_rbac_rules(),
            },
        },
    };
    let mut c = HelmComponent::new(
        "kube-prometheus-stack",
        observability,
        crate::charts::KUBE_PROMETHEUS_STACK,
        &values,
    )?;
    c.remediate = Remediate::RetryInPlace;
    c.timeout = Duration::minutes(15);
    c.extra_files = vec![(
        "grafana-role.yaml".into(),
        vec![crate::object::Object::new(&grafana_role())?],
    )];
    // Prometheus and Alertmanager claim volumes on `longhorn-db`: Longhorn first.
    c.depends_on = vec![("longhorn", super::longhorn::namespace().name)];
    Ok(c)
}

/// The scrapes of the chart-installed components (their Services as the charts render them;
/// `tests/charts.rs` checks each selects a rendered Service with that port name).
pub fn chart_monitors(
    ingress: crate::settings::IngressController,
) -> Vec<crate::crd::monitoring::ServiceMonitor> {
    vec![
        super::ingress::service_monitor_of(ingress),
        super::cert_manager::service_monitor(),
        super::longhorn::service_monitor(),
    ]
}

/// kube-prometheus-stack: its release (node-exporter's namespace in its folder), the
/// ServiceMonitors of the charts, and the Grafana and Alertmanager Secrets.
pub struct Monitoring;

impl super::contribution::Component for Monitoring {
    fn name(&self) -> &'static str {
        "monitoring"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        let node_exporter = node_exporter_namespace();
        let namespace_file = (
            "node-exporter-namespace.yaml".to_string(),
            vec![crate::object::Object::new(&super::namespaces::namespace(
                &node_exporter,
            ))?],
        );
        let monitors = chart_monitors(plan.settings.cluster.ingress.controller)
            .iter()
            .map(crate::object::Object::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(super::contribution::Contribution {
            releases: vec![(
                component(plan.settings, super::namespaces::observability())?,
                vec![namespace_file],
            )],
            other_namespaces: vec![node_exporter],
            chart_namespaces: vec![
                super::contribution::ChartNamespace {
                    namespace: NAMESPACE,
                    images: images::OBSERVABILITY.to_vec(),
                    held_by: vec![],
                },
                super::contribution::ChartNamespace {
                    namespace: node_exporter_namespace().name,
                    images: vec![images::NODE_EXPORTER],
                    held_by: vec![],
                },
            ],
            configs: vec![("monitoring", "servicemonitors.yaml".into(), monitors)],
            secrets: vec![
                crate::secrets::RequiredSecret {
                    scope: crate::settings::PLATFORM_SCOPE.into(),
                    namespace: NAMESPACE.into(),
                    name: GRAFANA_ADMIN_SECRET.into(),
                    keys: vec!["admin-password".into(), "admin-user".into()],
                },
                crate::secrets::RequiredSecret {
                    scope: crate::settings::PLATFORM_SCOPE.into(),
                    namespace: NAMESPACE.into(),
                    name: ALERTMANAGER_SMTP_SECRET.into(),
                    keys: vec!["password".into()],
                },
                crate::secrets::RequiredSecret {
                    scope: crate::settings::PLATFORM_SCOPE.into(),
                    namespace: NAMESPACE.into(),
                    name: ALERTMANAGER_HEARTBEAT_SECRET.into(),
                    keys: vec!["url".into()],
                },
            ],
            ..Default::default()
        })
    }
}
