//! The self-hosted GitHub Actions runners: actions-runner-controller in runner scale set mode.
//! The controller runs in `arc-systems`, one scale set (`o4g-runners`, its `runs-on:` label)
//! in `arc-runners`; both `restricted`. Runner pods run the pinned
//! `actions-runner` image as uid 1001 without Docker-in-Docker, with no service account token,
//! and may reach DNS and any public address on 443 (GitHub's addresses are not fixed; a
//! NetworkPolicy cannot name hosts), nothing private. No workflow of the repository sends a job
//! here today: the CI runs on hosted runners (`out/docs/ci.md`).

use serde::Serialize;
use serde_json::json;

use super::helm::HelmComponent;
use super::namespaces::{PlatformNamespace, PodSecurity};
use crate::Error;
use crate::settings::Settings;

/// The controller's namespace.
pub const CONTROLLER_NAMESPACE: &str = "arc-systems";
/// The runners' namespace.
pub const RUNNER_NAMESPACE: &str = "arc-runners";
/// The runner scale set's name, which is the `runs-on:` label.
pub const SCALE_SET: &str = "o4g-runners";
/// The controller's service account (set, so the scale set can name it).
pub const CONTROLLER_SA: &str = "arc-controller";
/// The SOPS Secret (platform scope, in `arc-runners`) with the GitHub App credentials.
pub const GITHUB_APP_SECRET: &str = "arc-github-app";
/// Its keys (the chart's names; the ids are strings).
pub const GITHUB_APP_KEYS: [&str; 3] = [
    "github_app_id",
    "github_app_installation_id",
    "github_app_private_key",
];
/// The runner image's user: actions/runner@00242473a2 `images/Dockerfile` creates `runner`
/// with `adduser --uid 1001` and ends with `USER runner`; `/home/runner/run.sh` is its
/// entrypoint (the chart's own example, gha-runner-scale-set 0.14.2 `values.yaml:420`).
pub const RUNNER_UID: u32 = 1001;

/// The controller's metrics port: `metrics.controllerManagerAddr` of the controller chart
/// (gha-runner-scale-set-controller 0.14.2 `templates/deployment.yaml:73-82,109-112`: the
/// `--metrics-addr` flag and a container port named `metrics`; without `metrics` the chart
/// passes `--metrics-addr=0`, metrics off).
pub const CONTROLLER_METRICS: crate::workload::Port = crate::workload::Port::tcp("metrics", 8080);
/// The listener's metrics port (`metrics.listenerAddr`, passed as `--listener-metrics-addr`):
/// the controller gives the listener pod a container port named `metrics` with that number
/// (actions/actions-runner-controller@2ee6b3b8e8
/// `controllers/actions.github.com/resourcebuilder.go:194-208,364-371`).
pub const LISTENER_METRICS: crate::workload::Port = crate::workload::Port::tcp("metrics", 8080);
/// The controller's pods (the chart's selector labels, `templates/_helpers.tpl:69-73`; the
/// name is `gha-rs-controller`).
pub const CONTROLLER_POD_LABELS: [(&str, &str); 1] =
    [("app.kubernetes.io/name", "gha-rs-controller")];
/// The listener pod of our scale set, which the controller creates in its own namespace with
/// these labels among others (`resourcebuilder.go:155-160`, copied to the pod at 412-413).
pub const LISTENER_POD_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/component", "runner-scale-set-listener"),
    ("actions.github.com/scale-set-name", SCALE_SET),
];

/// The scrapes of the controller and of the listener (no Service fronts either).
pub fn pod_monitors() -> Vec<crate::crd::monitoring::PodMonitor> {
    vec![
        crate::crd::monitoring::pod_monitor(
            "arc-controller",
            CONTROLLER_NAMESPACE,
            &CONTROLLER_POD_LABELS,
            CONTROLLER_METRICS.name,
        ),
        crate::crd::monitoring::pod_monitor(
            "arc-listener",
            CONTROLLER_NAMESPACE,
            &LISTENER_POD_LABELS,
            LISTENER_METRICS.name,
        ),
    ]
}

/// `arc-systems`.
pub fn controller_namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: CONTROLLER_NAMESPACE,
        environment: "platform",
        pod_security: PodSecurity::RESTRICTED,
        purpose: "actions-runner-controller and the scale set's listener",
        network_policy_reason: None,
    }
}

/// `arc-runners`.
pub fn runner_namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: RUNNER_NAMESPACE,
        environment: "platform",
        pod_security: PodSecurity::RESTRICTED,
        purpose: "self-hosted GitHub Actions runners (no Docker-in-Docker)",
        network_policy_reason: None,
    }
}

/// What Pod Security `restricted` asks of a container.
fn restricted_container() -> serde_json::Value {
    json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": true,
    })
}

/// The controller image, declared beside its chart: the tag, and the digest once Renovate has
/// pinned it (`renovate.json`, the chart-image manager; grouped with the chart). The chart
/// prints `repository:tag` (gha-runner-scale-set-controller 0.14.2
/// `templates/deployment.yaml:48`) and hands the same string to the controller as
/// `CONTROLLER_MANAGER_CONTAINER_IMAGE` (`:134-135`), the listener pods' image; a pinned one
/// passes `tag@digest`.
#[rustfmt::skip] // Renovate reads the comment and the line below it
pub mod images {
    use crate::chart_image;
    use crate::image::ChartImage;

    /// The controller (and the listener).
    pub const CONTROLLER: ChartImage =
        // renovate: datasource=docker depName=ghcr.io/actions/gha-runner-scale-set-controller
        chart_image!("ghcr.io/actions/gha-runner-scale-set-controller", "0.14.2");
}

/// The controller chart's `image`.
#[derive(Debug, Serialize)]
struct RepositoryTag {
    repository: String,
    tag: String,
}

/// The controller's values.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ControllerValues {
    image: RepositoryTag,
    service_account: serde_json::Value,
    pod_security_context: serde_json::Value,
    security_context: serde_json::Value,
    resources: super::helm::ChartResources,
    flags: serde_json::Value,
    metrics: serde_json::Value,
}

/// The controller HelmRelease (ships the `actions.github.com` CRDs).
pub fn controller() -> Result<HelmComponent, Error> {
    controller_with(&|i| i)
}

/// The controller HelmRelease with its image passed through `pin`.
pub fn controller_with(pin: crate::image::Pin<'_>) -> Result<HelmComponent, Error> {
    let image = pin(images::CONTROLLER);
    let values = ControllerValues {
        image: RepositoryTag {
            repository: image.name(),
            tag: image.tag_with_digest(),
        },
        service_account: json!({"create": true, "name": CONTROLLER_SA}),
        // The controller image is distroless `nonroot` (uid 65532; `USER 65532:65532` in
        // actions/actions-runner-controller@2ee6b3b8e8 (gha-runner-scale-set-0.14.2)
        // `Dockerfile:57`), set numerically so the kubelet can verify runAsNonRoot.
        pod_security_context: json!({
            "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }),
        security_context: restricted_container(),
        resources: super::helm::resources(50, 64, 500, 256).into(),
        flags: json!({"logLevel": "info", "logFormat": "json"}),
        metrics: json!({
            "controllerManagerAddr": format!(":{}", CONTROLLER_METRICS.number),
            "listenerAddr": format!(":{}", LISTENER_METRICS.number),
            "listenerEndpoint": "/metrics",
        }),
    };
    HelmComponent::new(
        "gha-runner-scale-set-controller",
        controller_namespace(),
        crate::charts::ARC_CONTROLLER,
        &values,
    )
}

/// The repository's web address (`https://github.com/<owner>/<repo>`) from the Git URL.
pub fn github_config_url(settings: &Settings) -> String {
    let url = settings.cluster.git.url.as_str();
    let path = url
        .strip_prefix("ssh://git@github.com/")
        .or_else(|| url.strip_prefix("https://github.com/"))
        .unwrap_or(url)
        .trim_end_matches(".git");
    format!("https://github.com/{path}")
}

/// The runner scale set HelmRelease: 0 to 2 runners, restricted pods.
pub fn runner_set(settings: &Settings) -> Result<HelmComponent, Error> {
    let image = crate::images::ACTIONS_RUNNER;
    let res = super::helm::ChartResources::from(super::helm::resources(500, 1024, 2000, 4096));
    let values = json!({
        "githubConfigUrl": github_config_url(settings),
        "githubConfigSecret": GITHUB_APP_SECRET,
        "runnerScaleSetName": SCALE_SET,
        "minRunners": 0,
        "maxRunners": 2,
        "controllerServiceAccount": {"namespace": CONTROLLER_NAMESPACE, "name": CONTROLLER_SA},
        // The controller creates the listener pod in its own (restricted) namespace from this
        // template, merged by container name (chart values.yaml:132-140 `listenerTemplate`;
        // the container is named "listener" in actions/actions-runner-controller@2ee6b3b8e8
        // `controllers/actions.github.com/autoscalinglistener_controller.go:46`, and
        // `resourcebuilder.go` `mergeListenerPodWithTemplate` takes the pod securityContext and
        // the container's securityContext and resources from the template). Without it the
        // listener would carry no securityContext and Pod Security would refuse it.
        // Its image is the controller's (distroless nonroot, uid 65532).
        "listenerTemplate": {
            "spec": {
                "securityContext": {
                    "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{
                    "name": "listener",
                    "securityContext": restricted_container(),
                    "resources": super::helm::ChartResources::from(super::helm::resources(20, 32, 200, 128)),
                }],
            },
        },
        "template": {
            "spec": {
                "automountServiceAccountToken": false,
                "securityContext": {
                    "runAsNonRoot": true, "runAsUser": RUNNER_UID, "runAsGroup": RUNNER_UID,
                    "fsGroup": RUNNER_UID, "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{
                    "name": "runner",
                    "image": image.to_string(),
                    "command": ["/home/runner/run.sh"],
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": true,
                    },
                    "resources": res,
                }],
            },
        },
    });
    let mut c = HelmComponent::new(
        SCALE_SET,
        runner_namespace(),
        crate::charts::ARC_RUNNER_SET,
        &values,
    )?;
    // The AutoscalingRunnerSet CRD comes with the controller; the scale set chart has none.
    c.crds = false;
    c.depends_on = vec![("gha-runner-scale-set-controller", CONTROLLER_NAMESPACE)];
    Ok(c)
}

/// The self-hosted GitHub runners: the controller and the runner set, whose pods are all
/// ours (so under Kyverno's Deny), and the GitHub App Secret.
pub struct Runner;

impl super::contribution::Component for Runner {
    fn name(&self) -> &'static str {
        "runner"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        let mut keys: Vec<String> = GITHUB_APP_KEYS.iter().map(|k| k.to_string()).collect();
        keys.sort();
        Ok(super::contribution::Contribution {
            releases: vec![
                (controller()?, vec![]),
                (runner_set(plan.settings)?, vec![]),
            ],
            enforced_namespaces: vec![RUNNER_NAMESPACE],
            // The controller and the listeners: their pods meet every rule once the image is
            // pinned (tests/charts.rs), so Deny follows the pin.
            chart_namespaces: vec![super::contribution::ChartNamespace {
                namespace: CONTROLLER_NAMESPACE,
                images: vec![images::CONTROLLER],
                held_by: vec![],
            }],
            configs: vec![(
                "monitoring",
                "podmonitors.yaml".into(),
                pod_monitors()
                    .iter()
                    .map(crate::object::Object::new)
                    .collect::<Result<Vec<_>, _>>()?,
            )],
            secrets: vec![crate::secrets::RequiredSecret {
                scope: crate::settings::PLATFORM_SCOPE.into(),
                namespace: RUNNER_NAMESPACE.into(),
                name: GITHUB_APP_SECRET.into(),
                keys,
            }],
            ..Default::default()
        })
    }
}
