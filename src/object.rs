//! Typed Kubernetes objects reduced to one uniform value for the tree and the audits.
//!
//! Components build k8s-openapi structs or the custom resources of [`crate::crd`]; an
//! [`Object`] keeps their identity (`apiVersion`, `kind`, namespace, name) and their serialized
//! body in declaration order. The resource scope is a type-level fact: a cluster-scoped kind
//! with a namespace is refused, and sub-resources do not compile.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ClusterResourceScope, Metadata, NamespaceResourceScope, Resource};
use serde::Serialize;

use crate::Error;

/// Scope rules for the two scopes an object in a manifest can have.
pub trait ScopeRule: sealed::Sealed {
    /// True for cluster-scoped kinds, which must not carry a namespace.
    const CLUSTER: bool;
}
impl ScopeRule for ClusterResourceScope {
    const CLUSTER: bool = true;
}
impl ScopeRule for NamespaceResourceScope {
    const CLUSTER: bool = false;
}
mod sealed {
    pub trait Sealed {}
    impl Sealed for k8s_openapi::ClusterResourceScope {}
    impl Sealed for k8s_openapi::NamespaceResourceScope {}
}

/// One object of the generated tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    api_version: &'static str,
    kind: &'static str,
    cluster_scoped: bool,
    name: String,
    namespace: Option<String>,
    body: serde_json::Value,
}

impl Object {
    /// Wraps a typed resource. Fails when the name is missing, or when a cluster-scoped kind
    /// carries a namespace.
    pub fn new<T>(resource: &T) -> Result<Self, Error>
    where
        T: Resource + Metadata<Ty = ObjectMeta> + Serialize,
        T::Scope: ScopeRule,
    {
        let meta = resource.metadata();
        let name = meta
            .name
            .clone()
            .ok_or_else(|| Error::Build(format!("a {} has no metadata.name", T::KIND)))?;
        let cluster_scoped = <T::Scope as ScopeRule>::CLUSTER;
        if cluster_scoped && meta.namespace.is_some() {
            return Err(Error::Build(format!(
                "{}/{name} is cluster-scoped and cannot have a namespace",
                T::KIND
            )));
        }
        // k8s-openapi types and `crd::custom_resource!` both write apiVersion and kind first.
        let body = serde_json::to_value(resource)
            .map_err(|e| Error::Build(format!("{}/{name}: {e}", T::KIND)))?;
        Ok(Self {
            api_version: T::API_VERSION,
            kind: T::KIND,
            cluster_scoped,
            name,
            namespace: meta.namespace.clone(),
            body,
        })
    }

    /// The serialized body, moved out.
    pub fn into_body(self) -> serde_json::Value {
        self.body
    }

    /// `apiVersion`, e.g. `apps/v1`.
    pub fn api_version(&self) -> &'static str {
        self.api_version
    }
    /// `kind`, e.g. `Deployment`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `metadata.namespace`, if written (base objects leave it to the overlay).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
    /// True for cluster-scoped kinds.
    pub fn is_cluster_scoped(&self) -> bool {
        self.cluster_scoped
    }
    /// The serialized object, keys in declaration order.
    pub fn body(&self) -> &serde_json::Value {
        &self.body
    }
    /// True when `other` is the same object (kind, namespace, name): [`Object::id`] without
    /// building the strings.
    pub fn same_id(&self, other: &Object) -> bool {
        self.kind == other.kind && self.namespace == other.namespace && self.name == other.name
    }
    /// `metadata.labels`, to change in place (labels do not name the object), when it has any.
    pub fn labels_mut(&mut self) -> Option<&mut serde_json::Map<String, serde_json::Value>> {
        self.body["metadata"]
            .get_mut("labels")
            .and_then(serde_json::Value::as_object_mut)
    }
    /// `kind/namespace/name` (or `kind/name`), for messages.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

    #[test]
    fn cluster_scoped_object_with_namespace_is_refused() {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some("prod".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = Object::new(&ns).unwrap_err().to_string();
        assert!(err.contains("cluster-scoped"), "{err}");
    }

    #[test]
    fn object_keeps_identity_and_declaration_order() {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let obj = Object::new(&cm).unwrap();
        assert_eq!(obj.id(), "ConfigMap/x");
        let keys: Vec<_> = obj.body().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata"]);
    }

    #[test]
    fn object_without_name_is_refused() {
        assert!(Object::new(&ConfigMap::default()).is_err());
    }
}
