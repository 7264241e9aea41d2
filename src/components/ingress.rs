//! The ingress layer, in one module so that it can be replaced: ingress-nginx is retired (final
//! release 4.15.1 / v1.15.1, March 2026, no more security fixes), and a Gateway API
//! implementation can take its place by changing this file only.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1 as net;

use crate::settings::ClusterIssuer;
use crate::workload::{AppLabels, Port};

/// IngressClass served by the controller.
pub const INGRESS_CLASS: &str = "nginx";

/// Largest request body the wiki accepts (attachment uploads). Default: 256 MiB, because
/// XWiki stores attachments on the filesystem and office documents and media are often large.
pub const MAX_BODY: &str = "256m";

/// An HTTPS route from `host` to a Service port, with a certificate from `issuer`.
pub fn https_route(
    labels: &AppLabels,
    name: &str,
    host: &str,
    issuer: ClusterIssuer,
    service: &str,
    port: Port,
) -> net::Ingress {
    let mut meta = labels.meta(name);
    meta.annotations = Some(BTreeMap::from([
        (
            "cert-manager.io/cluster-issuer".to_string(),
            issuer.name().to_string(),
        ),
        (
            "nginx.ingress.kubernetes.io/proxy-body-size".to_string(),
            MAX_BODY.to_string(),
        ),
        // XWiki answers slowly on heavy pages and large exports.
        (
            "nginx.ingress.kubernetes.io/proxy-read-timeout".to_string(),
            "300".to_string(),
        ),
    ]));
    net::Ingress {
        metadata: meta,
        spec: Some(net::IngressSpec {
            ingress_class_name: Some(INGRESS_CLASS.into()),
            tls: Some(vec![net::IngressTLS {
                hosts: Some(vec![host.to_string()]),
                secret_name: Some(format!("{name}-tls")),
            }]),
            rules: Some(vec![net::IngressRule {
                host: Some(host.to_string()),
                http: Some(net::HTTPIngressRuleValue {
                    paths: vec![net::HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: net::IngressBackend {
                            service: Some(net::IngressServiceBackend {
                                name: service.to_string(),
                                port: Some(net::ServiceBackendPort {
                                    name: Some(port.name.to_string()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    }
}
