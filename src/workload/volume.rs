//! Pod volumes: what a container can mount. There is no `hostPath`.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::Bytes;

/// Where a volume's data comes from. There is no `hostPath`.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeSource {
    /// Scratch space that lives as long as the pod.
    EmptyDir {
        /// Upper bound; the pod is evicted above it.
        size_limit: Option<Bytes>,
    },
    /// An existing PersistentVolumeClaim.
    Claim {
        /// Claim name.
        claim: String,
    },
    /// A claim created from a StatefulSet `volumeClaimTemplates` entry of the same name
    /// (not listed in the pod's volumes).
    ClaimTemplate,
    /// A ConfigMap's keys as files.
    ConfigMap {
        /// ConfigMap name.
        name: String,
    },
    /// A Secret's keys as files (mode 0440: owner root, group `fsGroup`, so the non-root
    /// container reads them through its group).
    Secret {
        /// Secret name.
        name: String,
        /// Only these keys (key, file name); all keys when empty.
        items: Vec<(String, String)>,
    },
}

/// A named volume; mounting it into a container is what adds it to the pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    name: String,
    source: VolumeSource,
}

impl Volume {
    /// An emptyDir without size limit.
    pub fn empty_dir(name: impl Into<String>) -> Self {
        Self::new(name, VolumeSource::EmptyDir { size_limit: None })
    }
    /// An emptyDir with a size limit.
    pub fn empty_dir_limited(name: impl Into<String>, limit: Bytes) -> Self {
        Self::new(
            name,
            VolumeSource::EmptyDir {
                size_limit: Some(limit),
            },
        )
    }
    /// An existing PersistentVolumeClaim.
    pub fn claim(name: impl Into<String>, claim: impl Into<String>) -> Self {
        Self::new(
            name,
            VolumeSource::Claim {
                claim: claim.into(),
            },
        )
    }
    /// A StatefulSet claim template of the same name.
    pub fn claim_template(name: impl Into<String>) -> Self {
        Self::new(name, VolumeSource::ClaimTemplate)
    }
    /// A ConfigMap (files mode 0444; readable by the non-root user).
    pub fn config_map(name: impl Into<String>, config_map: impl Into<String>) -> Self {
        Self::new(
            name,
            VolumeSource::ConfigMap {
                name: config_map.into(),
            },
        )
    }
    /// A Secret, every key as a file.
    pub fn secret(name: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::new(
            name,
            VolumeSource::Secret {
                name: secret.into(),
                items: Vec::new(),
            },
        )
    }
    /// Some keys of a Secret, each as the given file name.
    pub fn secret_keys(
        name: impl Into<String>,
        secret: impl Into<String>,
        keys: &[(&str, &str)],
    ) -> Self {
        let items = keys
            .iter()
            .map(|(k, p)| (k.to_string(), p.to_string()))
            .collect();
        Self::new(
            name,
            VolumeSource::Secret {
                name: secret.into(),
                items,
            },
        )
    }
    fn new(name: impl Into<String>, source: VolumeSource) -> Self {
        Self {
            name: name.into(),
            source,
        }
    }
    /// The volume name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Where its data comes from.
    pub fn source(&self) -> &VolumeSource {
        &self.source
    }

    pub(super) fn to_k8s(&self) -> Option<core::Volume> {
        let mut v = core::Volume {
            name: self.name.clone(),
            ..Default::default()
        };
        match &self.source {
            VolumeSource::EmptyDir { size_limit } => {
                v.empty_dir = Some(core::EmptyDirVolumeSource {
                    medium: None,
                    size_limit: size_limit.map(|b| Quantity(b.to_string())),
                })
            }
            VolumeSource::Claim { claim } => {
                v.persistent_volume_claim = Some(core::PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: None,
                })
            }
            VolumeSource::ClaimTemplate => return None,
            VolumeSource::ConfigMap { name } => {
                v.config_map = Some(core::ConfigMapVolumeSource {
                    name: name.clone(),
                    ..Default::default()
                })
            }
            VolumeSource::Secret { name, items } => {
                v.secret = Some(core::SecretVolumeSource {
                    secret_name: Some(name.clone()),
                    default_mode: Some(0o440),
                    items: (!items.is_empty()).then(|| {
                        items
                            .iter()
                            .map(|(key, path)| core::KeyToPath {
                                key: key.clone(),
                                path: path.clone(),
                                mode: None,
                            })
                            .collect()
                    }),
                    ..Default::default()
                })
            }
        }
        Some(v)
    }
}
