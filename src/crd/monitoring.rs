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
