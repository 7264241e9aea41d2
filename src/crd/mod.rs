//! Custom resources the platform emits, as typed Rust structs.
//!
//! Each kind gets the same type-level facts as k8s-openapi's own types (`k8s_openapi::Resource`
//! with its scope, `k8s_openapi::Metadata`), so it goes through [`crate::object::Object`] like
//! any built-in kind. Field names follow the CRD schemas in `../shared/schemas/`.

pub mod cert_manager;
pub mod flux;
pub mod gateway;
pub mod kyverno;
pub mod longhorn;
pub mod monitoring;

/// Declares a custom resource `$kind { metadata, spec }` with its `Resource`, `Metadata` and
/// `Serialize` implementations (`apiVersion` and `kind` written first, as Kubernetes does).
macro_rules! custom_resource {
    (
        $(#[$doc:meta])*
        $kind:ident, spec = $spec:ty, group = $group:literal, version = $version:literal,
        plural = $plural:literal, scope = $scope:ty
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $kind {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// The desired state.
            pub spec: $spec,
        }

        impl k8s_openapi::Resource for $kind {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($kind);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::Metadata for $kind {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $kind {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut s = serializer.serialize_struct(stringify!($kind), 4)?;
                s.serialize_field(
                    "apiVersion",
                    <Self as k8s_openapi::Resource>::API_VERSION,
                )?;
                s.serialize_field("kind", <Self as k8s_openapi::Resource>::KIND)?;
                s.serialize_field("metadata", &self.metadata)?;
                s.serialize_field("spec", &self.spec)?;
                s.end()
            }
        }
    };
}
pub(crate) use custom_resource;
