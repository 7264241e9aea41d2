//! Restricted workloads by construction.
//!
//! The builders here are the only way components make pods. Whatever is built carries the
//! Pod Security `restricted` settings (`runAsNonRoot`, numeric non-zero uid/gid, `fsGroup`,
//! `seccompProfile: RuntimeDefault`, `allowPrivilegeEscalation: false`, `capabilities.drop:
//! [ALL]`, `readOnlyRootFilesystem: true`); there is no method to set `privileged`, host
//! namespaces, `hostPath`, `hostPort`, added capabilities or a probe `host`. Writable paths exist
//! only as declared [`Volume`] mounts.
//!
//! The container builder is a typestate: [`ContainerBuilder::build`] (long-running) exists only
//! once resources *and* probes are given; [`ContainerBuilder::build_task`] (init and job
//! containers) only once resources are given.
//!
//! ```
//! use o4g_gitops::workload::*;
//! use o4g_gitops::quantity::{Bytes, Cpu};
//! use o4g_gitops::images::XWIKI;
//!
//! const HTTP: Port = Port::tcp("http", 8080);
//! let tmp = Volume::empty_dir("tmp");
//! let web = Container::new("xwiki", XWIKI)
//!     .port(HTTP)
//!     .mount(&tmp, "/tmp")
//!     .resources(Resources::new(
//!         Compute::new(Cpu::millis(500), Bytes::gibi(2)),
//!         Compute::new(Cpu::cores(2), Bytes::gibi(3)),
//!     ))
//!     .probes(Probe::http_get("/rest/wikis/xwiki/spaces", HTTP), Probe::http_get("/rest", HTTP))
//!     .build();
//! let pod = PodTemplate::service(RunAs::new(100, 101))
//!     .container(web)
//!     .build()
//!     .unwrap();
//! let spec = pod.spec.unwrap();
//! assert_eq!(spec.security_context.as_ref().unwrap().run_as_non_root, Some(true));
//! ```

mod container;
mod objects;
mod pod;
mod volume;

pub use container::{
    Compute, Container, ContainerBuilder, EnvVar, LongRunning, Mount, NoProbes, NoResources, Port,
    Probe, Probed, Protocol, Resourced, Resources, Task,
};
pub use objects::{AppLabels, claim, cron_job, deployment, service, stateful_set};
pub use pod::{JobPod, PodKind, PodTemplate, RunAs, ServicePod};
pub use volume::{Volume, VolumeSource};
