//! The Kyverno controllers (the policies themselves are `components::policies`).

use serde::Serialize;

use super::helm::{HelmComponent, RegistryRepositoryTag};
use super::namespaces::{PlatformNamespace, PodSecurity};
use crate::Error;

/// Kyverno's namespace: the chart's pods run non-root with a read-only root filesystem, all
/// capabilities dropped and RuntimeDefault seccomp, so `restricted` holds.
pub fn namespace() -> PlatformNamespace {
    PlatformNamespace {
        name: "kyverno",
        environment: "platform",
        pod_security: PodSecurity::RESTRICTED,
        purpose: "Kyverno admission and background controllers",
        network_policy_reason: None,
    }
}

/// The images Kyverno's chart runs, declared beside it: the tag, and the digest once Renovate
/// has pinned it (`renovate.json`, the chart-image manager; grouped with the chart). Each is
/// printed `registry/repository:tag` (kyverno 3.9.0 `templates/_helpers/_image.tpl:13-15`;
/// `templates/{background,cleanup,reports}-controller/_helpers.tpl:22-25`), so a pinned one
/// passes `tag@digest`. The `kyverno` namespace is excluded from the policies, so these pins
/// are about what runs, not about Deny.
#[rustfmt::skip] // Renovate reads the comment and the line below it
pub mod images {
    use crate::chart_image;
    use crate::image::ChartImage;

    /// The admission controller.
    pub const KYVERNO: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/kyverno
        chart_image!("reg.kyverno.io/kyverno/kyverno", "v1.19.0");
    /// The admission controller's init container.
    pub const KYVERNOPRE: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/kyvernopre
        chart_image!("reg.kyverno.io/kyverno/kyvernopre", "v1.19.0");
    /// The background controller.
    pub const BACKGROUND_CONTROLLER: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/background-controller
        chart_image!("reg.kyverno.io/kyverno/background-controller", "v1.19.0");
    /// The cleanup controller.
    pub const CLEANUP_CONTROLLER: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/cleanup-controller
        chart_image!("reg.kyverno.io/kyverno/cleanup-controller", "v1.19.0");
    /// The reports controller.
    pub const REPORTS_CONTROLLER: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/reports-controller
        chart_image!("reg.kyverno.io/kyverno/reports-controller", "v1.19.0");
    /// The CRD migration hook (`crds.migration`).
    pub const KYVERNO_CLI: ChartImage =
        // renovate: datasource=docker depName=reg.kyverno.io/kyverno/kyverno-cli
        chart_image!("reg.kyverno.io/kyverno/kyverno-cli", "v1.19.0");
    /// The pre-delete hooks (`webhooksCleanup`).
    pub const READINESS_CHECKER: ChartImage =
        // renovate: datasource=docker depName=ghcr.io/kyverno/readiness-checker
        chart_image!("ghcr.io/kyverno/readiness-checker", "v1.19.0");

    /// Every one.
    pub const ALL: [ChartImage; 7] = [
        KYVERNO, KYVERNOPRE, BACKGROUND_CONTROLLER, CLEANUP_CONTROLLER, REPORTS_CONTROLLER,
        KYVERNO_CLI, READINESS_CHECKER,
    ];
}

/// Kyverno chart values we set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    admission_controller: AdmissionController,
    background_controller: Controller,
    cleanup_controller: Controller,
    reports_controller: Controller,
    crds: Crds,
    webhooks_cleanup: ImageOnly,
}

/// One Kyverno controller (resources: the chart's defaults, which set requests and limits).
#[derive(Debug, Serialize)]
struct Controller {
    /// One replica each: a single-node cluster gains nothing from more.
    replicas: u32,
    image: RegistryRepositoryTag,
}

/// The admission controller: its container's and its init container's images.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionController {
    replicas: u32,
    container: ImageOnly,
    init_container: ImageOnly,
}

#[derive(Debug, Serialize)]
struct ImageOnly {
    image: RegistryRepositoryTag,
}

#[derive(Debug, Serialize)]
struct Crds {
    migration: ImageOnly,
}

/// The Kyverno HelmRelease.
pub fn component() -> Result<HelmComponent, Error> {
    component_with(&|i| i)
}

/// The Kyverno HelmRelease with its images passed through `pin`.
pub fn component_with(pin: crate::image::Pin<'_>) -> Result<HelmComponent, Error> {
    use images::*;
    let c = |i: crate::image::ChartImage| Controller {
        replicas: 1,
        image: pin(i).into(),
    };
    let image = |i: crate::image::ChartImage| ImageOnly {
        image: pin(i).into(),
    };
    let values = Values {
        admission_controller: AdmissionController {
            replicas: 1,
            container: image(KYVERNO),
            init_container: image(KYVERNOPRE),
        },
        background_controller: c(BACKGROUND_CONTROLLER),
        cleanup_controller: c(CLEANUP_CONTROLLER),
        reports_controller: c(REPORTS_CONTROLLER),
        crds: Crds {
            migration: image(KYVERNO_CLI),
        },
        webhooks_cleanup: image(READINESS_CHECKER),
    };
    HelmComponent::new("kyverno", namespace(), crate::charts::KYVERNO, &values)
}

/// Kyverno: its release (the policies themselves are derived from `src/policy/` by
/// `components::build`, for the namespaces the parts put under Deny).
pub struct PolicyEngine;

impl super::contribution::Component for PolicyEngine {
    fn name(&self) -> &'static str {
        "kyverno"
    }
    fn contribute(
        &self,
        _: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, Error> {
        Ok(super::contribution::Contribution {
            releases: vec![(component()?, vec![])],
            ..Default::default()
        })
    }
}
