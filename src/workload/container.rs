//! The container typestate builder and its value objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::volume::Volume;
use crate::image::PinnedImage;
use crate::quantity::{Bytes, Cpu};

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The Kubernetes spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }
}

/// A named container port: one value feeds the container, its probes, its Service and its
/// NetworkPolicy, so a port changes in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// IANA-style name (≤ 15 characters), used by probes and Services.
    pub name: &'static str,
    /// Port number in the container.
    pub number: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl Port {
    /// A TCP port.
    pub const fn tcp(name: &'static str, number: u16) -> Self {
        assert!(
            !name.is_empty() && name.len() <= 15,
            "port names are 1-15 characters"
        );
        Self {
            name,
            number,
            protocol: Protocol::Tcp,
        }
    }
}

/// CPU and memory, as a request or a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compute {
    /// CPU.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Bytes,
}

impl Compute {
    /// CPU and memory.
    pub const fn new(cpu: Cpu, memory: Bytes) -> Self {
        Self { cpu, memory }
    }

    fn to_map(self) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(self.cpu.to_string())),
            ("memory".to_string(), Quantity(self.memory.to_string())),
        ])
    }
}

/// Requests and limits; both are required, so no container exists without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: Compute,
    /// What the container may use at most (memory above it is OOM-killed).
    pub limits: Compute,
}

impl Resources {
    /// Requests and limits. Panics (at compile time in a `const`) when a request exceeds its
    /// limit, which the API server would refuse.
    pub const fn new(requests: Compute, limits: Compute) -> Self {
        assert!(
            requests.cpu.as_millis() <= limits.cpu.as_millis()
                && requests.memory.get() <= limits.memory.get(),
            "requests must not exceed limits"
        );
        Self { requests, limits }
    }
}

/// How a probe checks the container. There is deliberately no `host` field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    HttpGet { path: String, port: Port },
    Tcp { port: Port },
    Exec { command: Vec<String> },
}

/// A readiness, liveness or startup probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    check: Check,
    initial_delay_seconds: i32,
    period_seconds: i32,
    timeout_seconds: i32,
    failure_threshold: i32,
}

impl Probe {
    fn with(check: Check) -> Self {
        // Defaults: Kubernetes' own (period 10 s, timeout 1 s, 3 failures), except a 5 s
        // timeout, because JVM and database probes answer slowly under load.
        Self {
            check,
            initial_delay_seconds: 0,
            period_seconds: 10,
            timeout_seconds: 5,
            failure_threshold: 3,
        }
    }
    /// HTTP GET on a declared port of the container.
    pub fn http_get(path: impl Into<String>, port: Port) -> Self {
        Self::with(Check::HttpGet {
            path: path.into(),
            port,
        })
    }
    /// TCP connect to a declared port.
    pub fn tcp(port: Port) -> Self {
        Self::with(Check::Tcp { port })
    }
    /// A command run in the container; exit 0 is success.
    pub fn exec<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        Self::with(Check::Exec {
            command: command.into_iter().map(Into::into).collect(),
        })
    }
    /// Seconds between checks. Default: 10.
    pub fn period(mut self, seconds: i32) -> Self {
        self.period_seconds = seconds;
        self
    }
    /// Seconds before a check counts as failed. Default: 5.
    pub fn timeout(mut self, seconds: i32) -> Self {
        self.timeout_seconds = seconds;
        self
    }
    /// Consecutive failures before acting. Default: 3.
    pub fn failures(mut self, n: i32) -> Self {
        self.failure_threshold = n;
        self
    }
    /// Seconds to wait after start. Default: 0 (use a startup probe for slow starts).
    pub fn initial_delay(mut self, seconds: i32) -> Self {
        self.initial_delay_seconds = seconds;
        self
    }

    fn port(&self) -> Option<Port> {
        match &self.check {
            Check::HttpGet { port, .. } | Check::Tcp { port } => Some(*port),
            Check::Exec { .. } => None,
        }
    }

    fn to_k8s(&self) -> core::Probe {
        let mut probe = core::Probe {
            initial_delay_seconds: (self.initial_delay_seconds > 0)
                .then_some(self.initial_delay_seconds),
            period_seconds: Some(self.period_seconds),
            timeout_seconds: Some(self.timeout_seconds),
            failure_threshold: Some(self.failure_threshold),
            ..Default::default()
        };
        match &self.check {
            Check::HttpGet { path, port } => {
                probe.http_get = Some(core::HTTPGetAction {
                    path: Some(path.clone()),
                    port: IntOrString::String(port.name.to_string()),
                    ..Default::default()
                })
            }
            Check::Tcp { port } => {
                probe.tcp_socket = Some(core::TCPSocketAction {
                    port: IntOrString::String(port.name.to_string()),
                    ..Default::default()
                })
            }
            Check::Exec { command } => {
                probe.exec = Some(core::ExecAction {
                    command: Some(command.clone()),
                })
            }
        }
        probe
    }
}

/// An environment variable.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvVar {
    /// A literal value.
    Value(String, String),
    /// A key of a Secret.
    SecretKey {
        /// Variable name.
        name: String,
        /// Secret name.
        secret: String,
        /// Key in the Secret.
        key: String,
    },
}

/// A volume mounted into a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// The volume (collected into the pod by the pod builder).
    pub volume: Volume,
    /// Where it is mounted.
    pub path: String,
    /// Optional sub-path inside the volume.
    pub sub_path: Option<String>,
    /// Mounted read-only.
    pub read_only: bool,
}

/// Typestate: resources not given yet.
#[derive(Debug, Clone)]
pub struct NoResources;
/// Typestate: resources given.
#[derive(Debug, Clone)]
pub struct Resourced(Resources);
/// Typestate: probes not given yet.
#[derive(Debug, Clone)]
pub struct NoProbes;
/// Typestate: readiness and liveness probes given (startup optional).
#[derive(Debug, Clone)]
pub struct Probed {
    readiness: Probe,
    liveness: Probe,
    startup: Option<Probe>,
}

/// Entry point of the container builder.
#[derive(Debug)]
pub struct Container;

impl Container {
    /// Starts a container from a pinned image (the only kind of image there is).
    #[allow(clippy::new_ret_no_self)] // the typestate builder is the container until finished
    pub fn new(
        name: impl Into<String>,
        image: PinnedImage,
    ) -> ContainerBuilder<NoResources, NoProbes> {
        ContainerBuilder {
            name: name.into(),
            image,
            command: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            ports: Vec::new(),
            mounts: Vec::new(),
            run_as_user: None,
            post_start: None,
            resources: NoResources,
            probes: NoProbes,
        }
    }
}

/// A container being built; `R` and `P` record whether resources and probes were given.
#[derive(Debug, Clone)]
pub struct ContainerBuilder<R, P> {
    name: String,
    image: PinnedImage,
    command: Vec<String>,
    args: Vec<String>,
    env: Vec<EnvVar>,
    ports: Vec<Port>,
    mounts: Vec<Mount>,
    run_as_user: Option<i64>,
    post_start: Option<Vec<String>>,
    resources: R,
    probes: P,
}

impl<R, P> ContainerBuilder<R, P> {
    /// Overrides the image entrypoint.
    pub fn command<S: Into<String>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }
    /// Arguments to the entrypoint.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
    /// A literal environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(EnvVar::Value(name.into(), value.into()));
        self
    }
    /// An environment variable read from a Secret key.
    pub fn env_from_secret(
        mut self,
        name: impl Into<String>,
        secret: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.env.push(EnvVar::SecretKey {
            name: name.into(),
            secret: secret.into(),
            key: key.into(),
        });
        self
    }
    /// Declares a container port.
    pub fn port(mut self, port: Port) -> Self {
        self.ports.push(port);
        self
    }
    /// Mounts a volume read-write (the only way to get a writable path).
    pub fn mount(self, volume: &Volume, path: impl Into<String>) -> Self {
        self.mount_with(volume, path, None, false)
    }
    /// Mounts a volume read-only.
    pub fn mount_read_only(self, volume: &Volume, path: impl Into<String>) -> Self {
        self.mount_with(volume, path, None, true)
    }
    /// Mounts a sub-path of a volume.
    pub fn mount_sub_path(
        self,
        volume: &Volume,
        path: impl Into<String>,
        sub_path: impl Into<String>,
    ) -> Self {
        self.mount_with(volume, path, Some(sub_path.into()), false)
    }
    fn mount_with(
        mut self,
        volume: &Volume,
        path: impl Into<String>,
        sub_path: Option<String>,
        read_only: bool,
    ) -> Self {
        self.mounts.push(Mount {
            volume: volume.clone(),
            path: path.into(),
            sub_path,
            read_only,
        });
        self
    }
    /// A command the kubelet runs in the container right after it starts, on every start
    /// (`lifecycle.postStart.exec`). Probes wait for it; if it fails the container is killed
    /// and restarted, so a failure is loud (`FailedPostStartHook` events).
    pub fn post_start<S: Into<String>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.post_start = Some(command.into_iter().map(Into::into).collect());
        self
    }
    /// Runs this container under another non-zero uid than the pod's (e.g. an image whose
    /// `USER` is a name). Zero is refused at compile time in a `const`, or panics.
    pub fn run_as_user(mut self, uid: u32) -> Self {
        assert!(uid != 0, "containers never run as root");
        self.run_as_user = Some(i64::from(uid));
        self
    }
}

impl<P> ContainerBuilder<NoResources, P> {
    /// CPU and memory requests and limits (required before the container can be built).
    pub fn resources(self, resources: Resources) -> ContainerBuilder<Resourced, P> {
        let Self {
            name,
            image,
            command,
            args,
            env,
            ports,
            mounts,
            run_as_user,
            post_start,
            probes,
            ..
        } = self;
        ContainerBuilder {
            name,
            image,
            command,
            args,
            env,
            ports,
            mounts,
            run_as_user,
            post_start,
            resources: Resourced(resources),
            probes,
        }
    }
}

impl<R> ContainerBuilder<R, NoProbes> {
    /// Readiness and liveness probes (required for a long-running container).
    pub fn probes(self, readiness: Probe, liveness: Probe) -> ContainerBuilder<R, Probed> {
        let Self {
            name,
            image,
            command,
            args,
            env,
            ports,
            mounts,
            run_as_user,
            post_start,
            resources,
            ..
        } = self;
        ContainerBuilder {
            name,
            image,
            command,
            args,
            env,
            ports,
            mounts,
            run_as_user,
            post_start,
            resources,
            probes: Probed {
                readiness,
                liveness,
                startup: None,
            },
        }
    }
}

impl<R> ContainerBuilder<R, Probed> {
    /// A startup probe, for slow first starts; liveness waits until it succeeds.
    pub fn startup_probe(mut self, probe: Probe) -> Self {
        self.probes.startup = Some(probe);
        self
    }
}

impl<P> ContainerBuilder<Resourced, P> {
    fn to_k8s(&self) -> core::Container {
        let env: Vec<core::EnvVar> = self
            .env
            .iter()
            .map(|e| match e {
                EnvVar::Value(name, value) => core::EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    ..Default::default()
                },
                EnvVar::SecretKey { name, secret, key } => core::EnvVar {
                    name: name.clone(),
                    value_from: Some(core::EnvVarSource {
                        secret_key_ref: Some(core::SecretKeySelector {
                            name: secret.clone(),
                            key: key.clone(),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            })
            .collect();
        let Resourced(resources) = self.resources;
        core::Container {
            name: self.name.clone(),
            image: Some(self.image.to_string()),
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            args: (!self.args.is_empty()).then(|| self.args.clone()),
            env: (!env.is_empty()).then_some(env),
            ports: (!self.ports.is_empty()).then(|| {
                self.ports
                    .iter()
                    .map(|p| core::ContainerPort {
                        name: Some(p.name.to_string()),
                        container_port: i32::from(p.number),
                        protocol: Some(p.protocol.as_str().to_string()),
                        ..Default::default()
                    })
                    .collect()
            }),
            volume_mounts: (!self.mounts.is_empty()).then(|| {
                self.mounts
                    .iter()
                    .map(|m| core::VolumeMount {
                        name: m.volume.name().to_string(),
                        mount_path: m.path.clone(),
                        sub_path: m.sub_path.clone(),
                        read_only: m.read_only.then_some(true),
                        ..Default::default()
                    })
                    .collect()
            }),
            resources: Some(core::ResourceRequirements {
                requests: Some(resources.requests.to_map()),
                limits: Some(resources.limits.to_map()),
                ..Default::default()
            }),
            security_context: Some(core::SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(core::Capabilities {
                    drop: Some(vec!["ALL".to_string()]),
                    add: None,
                }),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                run_as_user: self.run_as_user,
                ..Default::default()
            }),
            lifecycle: self.post_start.as_ref().map(|command| core::Lifecycle {
                post_start: Some(core::LifecycleHandler {
                    exec: Some(core::ExecAction {
                        command: Some(command.clone()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// A finished long-running container (with resources and probes).
#[derive(Debug, Clone)]
pub struct LongRunning {
    pub(super) container: core::Container,
    pub(super) mounts: Vec<Mount>,
    pub(super) ports: Vec<Port>,
    pub(super) probe_ports: Vec<Port>,
}

/// A finished run-to-completion container (init container or job), with resources.
#[derive(Debug, Clone)]
pub struct Task {
    pub(super) container: core::Container,
    pub(super) mounts: Vec<Mount>,
}

impl LongRunning {
    /// The ports the container declares.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }
    /// The ports its probes use (each must be declared, which Services and tests check).
    pub fn probe_ports(&self) -> &[Port] {
        &self.probe_ports
    }
}

impl ContainerBuilder<Resourced, Probed> {
    /// Finishes a long-running container.
    pub fn build(self) -> LongRunning {
        let mut container = self.to_k8s();
        container.readiness_probe = Some(self.probes.readiness.to_k8s());
        container.liveness_probe = Some(self.probes.liveness.to_k8s());
        container.startup_probe = self.probes.startup.as_ref().map(Probe::to_k8s);
        let probe_ports = [
            Some(&self.probes.readiness),
            Some(&self.probes.liveness),
            self.probes.startup.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(Probe::port)
        .collect();
        LongRunning {
            container,
            mounts: self.mounts,
            ports: self.ports,
            probe_ports,
        }
    }
}

impl ContainerBuilder<Resourced, NoProbes> {
    /// Finishes a container that runs to completion (init container, Job, CronJob).
    pub fn build_task(self) -> Task {
        Task {
            container: self.to_k8s(),
            mounts: self.mounts,
        }
    }
}
