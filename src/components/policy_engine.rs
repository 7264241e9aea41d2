//! The Kyverno controllers (the policies themselves are `components::policies`).

use serde::Serialize;

use super::helm::HelmComponent;
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

/// Kyverno chart values we set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    admission_controller: Controller,
    background_controller: Controller,
    cleanup_controller: Controller,
    reports_controller: Controller,
}

/// One Kyverno controller (resources: the chart's defaults, which set requests and limits).
#[derive(Debug, Serialize)]
struct Controller {
    /// One replica each: a single-node cluster gains nothing from more.
    replicas: u32,
}

/// The Kyverno HelmRelease.
pub fn component() -> Result<HelmComponent, Error> {
    let c = || Controller { replicas: 1 };
    let values = Values {
        admission_controller: c(),
        background_controller: c(),
        cleanup_controller: c(),
        reports_controller: c(),
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
