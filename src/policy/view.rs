//! Where the pod is inside each kind of object, and how to walk its containers.

use serde_json::Value;

/// The pod inside an object: its metadata (for annotations), its spec and the field path to it.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    /// Pod metadata (`metadata` of a Pod, `…template.metadata` of a controller).
    pub meta: &'a Value,
    /// Pod spec.
    pub spec: &'a Value,
    /// Path of the spec inside the object, e.g. `spec.template.spec`.
    pub prefix: &'static str,
}

/// One container with where it is.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// Index in that list.
    pub index: usize,
    /// The container.
    pub value: &'a Value,
}

impl ContainerRef<'_> {
    /// The container's name.
    pub fn name(&self) -> String {
        self.value["name"].as_str().unwrap_or("?").to_string()
    }
    /// Path of a field of this container.
    pub fn path(&self, prefix: &str, field: &str) -> String {
        let base = format!("{prefix}.{}[{}]", self.list, self.index);
        if field.is_empty() {
            base
        } else {
            format!("{base}.{field}")
        }
    }
}

impl<'a> PodView<'a> {
    /// The pod of a Pod, pod controller (Deployment, StatefulSet, DaemonSet, ReplicaSet,
    /// ReplicationController, Job), CronJob or PodTemplate; `None` for other kinds.
    pub fn of(object: &'a Value) -> Option<Self> {
        let (meta, spec, prefix) = match object["kind"].as_str()? {
            "Pod" => (&object["metadata"], &object["spec"], "spec"),
            "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "ReplicationController"
            | "Job" => (
                &object["spec"]["template"]["metadata"],
                &object["spec"]["template"]["spec"],
                "spec.template.spec",
            ),
            "CronJob" => (
                &object["spec"]["jobTemplate"]["spec"]["template"]["metadata"],
                &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                "spec.jobTemplate.spec.template.spec",
            ),
            "PodTemplate" => (
                &object["template"]["metadata"],
                &object["template"]["spec"],
                "template.spec",
            ),
            _ => return None,
        };
        spec.is_object().then_some(Self { meta, spec, prefix })
    }

    /// Every container, init container and ephemeral container.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + 'a {
        let spec = self.spec;
        ["containers", "initContainers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |list| {
                spec[list]
                    .as_array()
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(move |(index, value)| ContainerRef { list, index, value })
            })
    }

    /// Path of a pod spec field.
    pub fn path(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }

    /// True for `spec.os.name: windows`.
    pub fn is_windows(&self) -> bool {
        self.spec["os"]["name"].as_str() == Some("windows")
    }

    /// Pod annotations.
    pub fn annotations(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.meta["annotations"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
    }
}
