//! Gateway API `Gateway` and `HTTPRoute` (`gateway.networking.k8s.io/v1`, standard channel
//! v1.5.1), as in `../shared/schemas/gateway.networking.k8s.io/`: only the fields the platform
//! sets.

use serde::Serialize;

use super::custom_resource;

/// The API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

custom_resource! {
    /// A set of listeners (address, port, protocol, TLS) a controller serves.
    Gateway, spec = GatewaySpec, group = "gateway.networking.k8s.io",
    version = "v1", plural = "gateways", scope = k8s_openapi::NamespaceResourceScope
}

custom_resource! {
    /// HTTP routing from a Gateway's listeners to Services.
    HTTPRoute, spec = HttpRouteSpec, group = "gateway.networking.k8s.io",
    version = "v1", plural = "httproutes", scope = k8s_openapi::NamespaceResourceScope
}

/// `spec` of a [`Gateway`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The GatewayClass (which controller serves it).
    pub gateway_class_name: String,
    /// Its listeners.
    pub listeners: Vec<Listener>,
}

/// One listener of a [`Gateway`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Name, referenced by routes' `sectionName`.
    pub name: String,
    /// Host name it accepts.
    pub hostname: String,
    /// Port.
    pub port: u16,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    /// TLS termination (HTTPS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
}

/// `tls` of a [`Listener`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// `Terminate`.
    pub mode: String,
    /// Secrets holding the certificate (same namespace).
    pub certificate_refs: Vec<SecretObjectReference>,
}

/// A Secret by name (`kind: Secret` of the core group, the defaults spelled out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretObjectReference {
    /// Group (`""`: core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// `spec` of an [`HTTPRoute`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateway listeners it attaches to.
    pub parent_refs: Vec<ParentReference>,
    /// Host names it matches.
    pub hostnames: Vec<String>,
    /// Its rules.
    pub rules: Vec<HttpRouteRule>,
}

/// A Gateway (listener) a route attaches to; also the shape of cert-manager's
/// `gatewayHTTPRoute.parentRefs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// `gateway.networking.k8s.io`.
    pub group: String,
    /// `Gateway`.
    pub kind: String,
    /// The Gateway's name.
    pub name: String,
    /// Its namespace (absent: the route's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The listener.
    pub section_name: String,
}

impl ParentReference {
    /// Listener `section` of Gateway `name` (in `namespace`, or the referrer's own).
    pub fn gateway(name: &str, namespace: Option<&str>, section: &str) -> Self {
        Self {
            group: GROUP.into(),
            kind: "Gateway".into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            section_name: section.into(),
        }
    }
}

/// One rule of an [`HTTPRoute`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Request matches.
    pub matches: Vec<HttpRouteMatch>,
    /// Filters (the redirect).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    /// Where matching requests go.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
}

/// A match of a rule: a path prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRouteMatch {
    /// The path.
    pub path: HttpPathMatch,
}

/// `path` of a match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpPathMatch {
    /// `PathPrefix`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The prefix.
    pub value: String,
}

impl HttpRouteMatch {
    /// Every path.
    pub fn everything() -> Self {
        Self {
            path: HttpPathMatch {
                type_: "PathPrefix".into(),
                value: "/".into(),
            },
        }
    }
}

/// A filter of a rule: a redirect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    /// `RequestRedirect`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The redirect.
    pub request_redirect: HttpRequestRedirect,
}

/// `requestRedirect` of a filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestRedirect {
    /// Scheme of the new location.
    pub scheme: String,
    /// Its port.
    pub port: u16,
    /// 301 or 302.
    pub status_code: u16,
}

/// A backend of a rule: a Service port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpBackendRef {
    /// The Service's name.
    pub name: String,
    /// Its port (the Gateway API names ports by number only).
    pub port: u16,
}
