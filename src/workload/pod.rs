//! Pod templates with the restricted security context, and the volumes they may hold.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::container::{LongRunning, Mount, Task};
use super::volume::Volume;
use crate::Error;

/// The identity a pod runs under: numeric, non-zero uid and gid, and the group that owns its
/// volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    uid: u32,
    gid: u32,
    fs_group: u32,
}

impl RunAs {
    /// uid and gid (also used as `fsGroup`). Zero is refused (at compile time in a `const`).
    pub const fn new(uid: u32, gid: u32) -> Self {
        assert!(uid != 0 && gid != 0, "pods never run as root (uid/gid 0)");
        Self {
            uid,
            gid,
            fs_group: gid,
        }
    }
    /// Another `fsGroup` than the gid.
    pub const fn fs_group(mut self, group: u32) -> Self {
        assert!(group != 0, "fsGroup 0 would make volumes root-owned");
        self.fs_group = group;
        self
    }
}

/// Marker: a pod of long-running containers (Deployment, StatefulSet).
#[derive(Debug, Clone, Copy)]
pub struct ServicePod;
/// Marker: a pod that runs to completion (Job, CronJob).
#[derive(Debug, Clone, Copy)]
pub struct JobPod;

/// What differs between the two kinds of pod.
pub trait PodKind {
    /// `restartPolicy`. Services: Kubernetes' default (`Always`); jobs: `Never`, so a failed
    /// run is retried by the Job with a fresh pod (and its logs are kept).
    const RESTART_POLICY: Option<&'static str>;
}
impl PodKind for ServicePod {
    const RESTART_POLICY: Option<&'static str> = None;
}
impl PodKind for JobPod {
    const RESTART_POLICY: Option<&'static str> = Some("Never");
}

/// A pod template being built; `K` is [`ServicePod`] or [`JobPod`].
#[derive(Debug, Clone)]
pub struct PodTemplate<K> {
    run_as: RunAs,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    init: Vec<Task>,
    containers: Vec<(core::Container, Vec<Mount>)>,
    termination_grace_period: Option<i64>,
    kind: PhantomData<K>,
}

impl PodTemplate<ServicePod> {
    /// A pod of long-running containers under `run_as`.
    pub fn service(run_as: RunAs) -> Self {
        Self::new(run_as)
    }
    /// Adds a long-running container (resources and probes included by construction).
    pub fn container(mut self, c: LongRunning) -> Self {
        self.containers.push((c.container, c.mounts));
        self
    }
}

impl PodTemplate<JobPod> {
    /// A pod that runs to completion under `run_as`.
    pub fn job(run_as: RunAs) -> Self {
        Self::new(run_as)
    }
    /// Adds a job container.
    pub fn container(mut self, c: Task) -> Self {
        self.containers.push((c.container, c.mounts));
        self
    }
    /// Adds a native sidecar (an init container with `restartPolicy: Always`; the
    /// SidecarContainers feature is on by default since Kubernetes 1.29 and stable in 1.33,
    /// kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/): it starts before the job
    /// containers, in the order of the init containers, and is stopped once they have
    /// finished, so the Job completes.
    pub fn sidecar(mut self, c: LongRunning) -> Self {
        let mut container = c.container;
        container.restart_policy = Some("Always".into());
        self.init.push(Task {
            container,
            mounts: c.mounts,
        });
        self
    }
}

impl<K: PodKind> PodTemplate<K> {
    fn new(run_as: RunAs) -> Self {
        Self {
            run_as,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            init: Vec::new(),
            containers: Vec::new(),
            termination_grace_period: None,
            kind: PhantomData,
        }
    }
    /// Pod labels (selectors match on these).
    pub fn labels<K2: Into<String>, V: Into<String>>(
        mut self,
        labels: impl IntoIterator<Item = (K2, V)>,
    ) -> Self {
        self.labels
            .extend(labels.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
    /// A pod annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }
    /// An init container (runs to completion before the others start).
    pub fn init_container(mut self, c: Task) -> Self {
        self.init.push(c);
        self
    }
    /// Seconds the pod gets to stop. Default: Kubernetes' 30 s.
    pub fn termination_grace_period(mut self, seconds: i64) -> Self {
        self.termination_grace_period = Some(seconds);
        self
    }

    /// Finishes the template. Fails when there is no container, two containers share a
    /// name, or two different volumes share a name.
    pub fn build(self) -> Result<core::PodTemplateSpec, Error> {
        if self.containers.is_empty() {
            return Err(Error::Build("a pod needs at least one container".into()));
        }
        let mut names: Vec<&str> = Vec::new();
        let mut volumes: Vec<&Volume> = Vec::new();
        let all_mounts = self
            .init
            .iter()
            .map(|t| (&t.container, &t.mounts))
            .chain(self.containers.iter().map(|(c, m)| (c, m)));
        for (container, mounts) in all_mounts {
            if names.contains(&container.name.as_str()) {
                return Err(Error::Build(format!(
                    "two containers are named `{}`",
                    container.name
                )));
            }
            names.push(&container.name);
            for m in mounts {
                match volumes.iter().find(|v| v.name() == m.volume.name()) {
                    Some(v) if **v != m.volume => {
                        return Err(Error::Build(format!(
                            "two different volumes are named `{}`",
                            m.volume.name()
                        )));
                    }
                    Some(_) => {}
                    None => volumes.push(&m.volume),
                }
            }
        }
        let volumes: Vec<core::Volume> = volumes.iter().filter_map(|v| v.to_k8s()).collect();
        // The containers are moved into the spec, not copied.
        let init_containers: Vec<core::Container> =
            self.init.into_iter().map(|t| t.container).collect();
        let spec = core::PodSpec {
            // Workloads do not call the Kubernetes API; a token would only be a target.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            containers: self.containers.into_iter().map(|(c, _)| c).collect(),
            security_context: Some(core::PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(i64::from(self.run_as.uid)),
                run_as_group: Some(i64::from(self.run_as.gid)),
                fs_group: Some(i64::from(self.run_as.fs_group)),
                // Avoids a recursive chown of large volumes at every start.
                fs_group_change_policy: Some("OnRootMismatch".into()),
                seccomp_profile: Some(core::SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..Default::default()
            }),
            termination_grace_period_seconds: self.termination_grace_period,
            restart_policy: K::RESTART_POLICY.map(String::from),
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..Default::default()
        };
        Ok(core::PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: (!self.labels.is_empty()).then_some(self.labels),
                annotations: (!self.annotations.is_empty()).then_some(self.annotations),
                ..Default::default()
            }),
            spec: Some(spec),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::MYSQL_8_0;
    use crate::quantity::{Bytes, Cpu};
    use crate::workload::{Compute, Container, Port, Probe, Resources};

    const RES: Resources = Resources::new(
        Compute::new(Cpu::millis(100), Bytes::mebi(128)),
        Compute::new(Cpu::millis(500), Bytes::mebi(256)),
    );
    const DB: Port = Port::tcp("mysql", 3306);

    fn mysql(tmp: &Volume) -> LongRunning {
        Container::new("mysql", MYSQL_8_0)
            .port(DB)
            .mount(tmp, "/tmp")
            .resources(RES)
            .probes(Probe::tcp(DB), Probe::tcp(DB))
            .build()
    }

    #[test]
    fn every_pod_carries_the_restricted_security_context() {
        let tmp = Volume::empty_dir("tmp");
        let t = PodTemplate::service(RunAs::new(999, 999))
            .container(mysql(&tmp))
            .build()
            .unwrap();
        let spec = t.spec.unwrap();
        let psc = spec.security_context.unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(
            (psc.run_as_user, psc.run_as_group, psc.fs_group),
            (Some(999), Some(999), Some(999))
        );
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let c = &spec.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        assert!(sc.privileged.is_none() && sc.capabilities.as_ref().unwrap().add.is_none());
        assert!(spec.host_network.is_none() && spec.host_pid.is_none() && spec.host_ipc.is_none());
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.limits.as_ref().unwrap()["memory"].0, "256Mi");
        assert_eq!(res.requests.as_ref().unwrap()["cpu"].0, "100m");
        assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some());
        assert_eq!(spec.volumes.unwrap()[0].name, "tmp");
    }

    #[test]
    fn one_volume_mounted_twice_is_listed_once() {
        let tmp = Volume::empty_dir("tmp");
        let init = Container::new("init", MYSQL_8_0)
            .mount(&tmp, "/tmp")
            .resources(RES)
            .build_task();
        let t = PodTemplate::service(RunAs::new(1, 1))
            .init_container(init)
            .container(mysql(&tmp))
            .build()
            .unwrap();
        assert_eq!(t.spec.unwrap().volumes.unwrap().len(), 1);
    }

    #[test]
    fn two_different_volumes_with_one_name_are_refused() {
        let claim = Volume::claim("tmp", "pvc");
        let init = Container::new("init", MYSQL_8_0)
            .mount(&claim, "/tmp")
            .resources(RES)
            .build_task();
        let err = PodTemplate::service(RunAs::new(1, 1))
            .init_container(init)
            .container(mysql(&Volume::empty_dir("tmp")))
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("two different volumes are named `tmp`"),
            "{err}"
        );
    }

    #[test]
    fn two_containers_with_one_name_are_refused() {
        let tmp = Volume::empty_dir("tmp");
        let init = Container::new("mysql", MYSQL_8_0)
            .resources(RES)
            .build_task();
        let err = PodTemplate::service(RunAs::new(1, 1))
            .init_container(init)
            .container(mysql(&tmp))
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("two containers are named `mysql`"),
            "{err}"
        );
    }

    #[test]
    fn a_pod_without_container_is_refused() {
        assert!(PodTemplate::service(RunAs::new(1, 1)).build().is_err());
    }

    #[test]
    fn job_pods_never_restart_in_place() {
        let c = Container::new("dump", MYSQL_8_0)
            .resources(RES)
            .build_task();
        let t = PodTemplate::job(RunAs::new(999, 999))
            .container(c)
            .build()
            .unwrap();
        assert_eq!(t.spec.unwrap().restart_policy.as_deref(), Some("Never"));
        let t = PodTemplate::service(RunAs::new(1, 1))
            .container(mysql(&Volume::empty_dir("tmp")))
            .build()
            .unwrap();
        assert_eq!(t.spec.unwrap().restart_policy, None);
    }

    #[test]
    #[should_panic(expected = "never run as root")]
    fn uid_zero_is_refused() {
        let _ = RunAs::new(std::hint::black_box(0), 1);
    }
}
