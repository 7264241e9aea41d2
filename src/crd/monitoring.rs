//! prometheus-operator `ServiceMonitor` (`monitoring.coreos.com/v1`): the fields we use.

use std::collections::BTreeMap;

use serde::Serialize;

use super::custom_resource;

custom_resource! {
    /// Tells Prometheus to scrape the endpoints of the Services it selects.
    ServiceMonitor, spec = ServiceMonitorSpec, group = "monitoring.coreos.com",
    version = "v1", plural = "servicemonitors", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`ServiceMonitor`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Services of the monitor's own namespace with these labels.
    pub selector: LabelSelector,
    /// One entry per scraped port.
    pub endpoints: Vec<Endpoint>,
}

/// A label selector (`matchLabels` only).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels the Service must carry.
    pub match_labels: BTreeMap<String, String>,
}

/// One scraped port of the selected Services.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Service port name.
    pub port: String,
    /// HTTP path. Default: `/metrics`.
    pub path: String,
    /// Scrape interval.
    pub interval: String,
}

custom_resource! {
    /// Alerting and recording rules that Prometheus loads.
    PrometheusRule, spec = PrometheusRuleSpec, group = "monitoring.coreos.com",
    version = "v1", plural = "prometheusrules", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`PrometheusRule`]: the groups of a Prometheus rule file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusRuleSpec {
    /// Rule groups, one per concern.
    pub groups: Vec<RuleGroup>,
}

/// A rule group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// Its alerting rules.
    pub rules: Vec<AlertingRule>,
}

/// An alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertingRule {
    /// Alert name.
    pub alert: String,
    /// PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(rename = "for")]
    pub for_: String,
    /// Labels added to the alert (`severity`).
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
}

/// A scrape of the Services labelled `labels` in `namespace`, port `port` (a Service port
/// name), every 60 s. Chart components declare theirs here instead of enabling their charts'
/// ServiceMonitors: the ServiceMonitor CRD comes with kube-prometheus-stack, so a chart monitor
/// cannot install on a fresh cluster, while ours are applied in infra-configs, after it.
pub fn service_monitor(
    name: &str,
    namespace: &str,
    labels: &[(&str, &str)],
    port: &str,
) -> ServiceMonitor {
    ServiceMonitor {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            endpoints: vec![Endpoint {
                port: port.to_string(),
                path: "/metrics".into(),
                interval: "60s".into(),
            }],
        },
    }
}

custom_resource! {
    /// Tells Prometheus to scrape the pods it selects directly (pods no Service fronts).
    PodMonitor, spec = PodMonitorSpec, group = "monitoring.coreos.com",
    version = "v1", plural = "podmonitors", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`PodMonitor`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// Pods of the monitor's own namespace with these labels.
    pub selector: LabelSelector,
    /// One entry per scraped container port.
    pub pod_metrics_endpoints: Vec<Endpoint>,
}

/// A scrape of the pods labelled `labels` in `namespace`, container port `port` (a port
/// name), every 60 s.
pub fn pod_monitor(name: &str, namespace: &str, labels: &[(&str, &str)], port: &str) -> PodMonitor {
    PodMonitor {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    crate::PART_OF.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: PodMonitorSpec {
            selector: LabelSelector {
                match_labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            pod_metrics_endpoints: vec![Endpoint {
                port: port.to_string(),
                path: "/metrics".into(),
                interval: "60s".into(),
            }],
        },
    }
}
