//! What a platform part adds to the tree, and the trait through which it says so. A leaf of
//! `components/`: the parts depend on it and `components::build` gathers what they declare.

use super::helm::HelmComponent;
use super::namespaces::PlatformNamespace;
use super::params::Plan;
use crate::Error;
use crate::image::ChartImage;
use crate::object::Object;
use crate::secrets::RequiredSecret;
use crate::tree::Tree;

/// A Helm release with the extra files of its folder (name, objects).
pub type Release = (HelmComponent, Vec<(String, Vec<Object>)>);

/// One platform part, listed in `components::all()`.
pub trait Component {
    /// Its name, as errors and the docs name it.
    fn name(&self) -> &'static str;
    /// What it adds, from the plan of the build.
    fn contribute(&self, plan: &Plan<'_>) -> Result<Contribution, Error>;
}

/// What one part adds. `components::build` derives from the contributions of every part the
/// controllers and configs layers, the namespace list (the docs, the audit's Pod Security
/// levels, the check that an environment is not named like a platform namespace), the
/// Kyverno policies' namespace lists and the Secrets the platform reads.
#[derive(Debug, Default)]
pub struct Contribution {
    /// Namespaces created in `out/infrastructure/controllers/namespaces.yaml` (the
    /// environments').
    pub namespaces: Vec<PlatformNamespace>,
    /// Namespaces created elsewhere (in a release's folder) that are not a release's own.
    pub other_namespaces: Vec<PlatformNamespace>,
    /// Helm releases: a folder each in the controllers layer, with extra files in it.
    pub releases: Vec<Release>,
    /// Files of the configs layer (objects that need the controllers' CRDs), as (folder under
    /// `out/infrastructure/configs/`, file name, objects); the folders are listed in
    /// `layout::CONFIG_FOLDERS` order.
    pub configs: Vec<(&'static str, String, Vec<Object>)>,
    /// Namespaces where Kyverno denies what the rules refuse (every pod there is built by us).
    pub enforced_namespaces: Vec<&'static str>,
    /// Namespaces of chart pods, with the images the charts run there and what else holds
    /// them in Kyverno's Audit: each goes to Deny by itself once nothing holds it
    /// ([`ChartNamespace::denies`]).
    pub chart_namespaces: Vec<ChartNamespace>,
    /// Other files and folders it writes (the apps tree, runbooks, scripts).
    pub tree: Tree,
    /// The Secrets it reads.
    pub secrets: Vec<RequiredSecret>,
    /// What the audit finds in each environment's objects as kustomize builds them from what
    /// it wrote (the apps' overlays), each object named with its overlay folder: they are
    /// audited as they are built, not kept until the audit.
    pub environment_violations: Vec<crate::error::Violation>,
}

impl Contribution {
    /// Every namespace it creates: its own, its releases', and the others.
    pub fn all_namespaces(&self) -> Vec<PlatformNamespace> {
        self.namespaces
            .iter()
            .cloned()
            .chain(self.releases.iter().map(|(r, _)| r.namespace.clone()))
            .chain(self.other_namespaces.iter().cloned())
            .collect()
    }
}

/// A namespace whose pods a chart renders, and what holds Kyverno in `Audit` there.
/// `tests/charts.rs` renders the charts and checks the declaration against their pods: every
/// rule a pod there breaks is a pin rule of an image awaiting its digest or a rule of
/// `held_by`, and every `held_by` rule is broken by some pod (so a fixed one must go).
#[derive(Debug, Clone)]
pub struct ChartNamespace {
    /// The namespace.
    pub namespace: &'static str,
    /// Every image the charts run there, as declared beside them.
    pub images: Vec<ChartImage>,
    /// Rules of `src/policy/` the chart's pods there break besides pins (rule name, why).
    pub held_by: Vec<(&'static str, &'static str)>,
}

impl ChartNamespace {
    /// The images still awaiting their digest.
    pub fn awaiting(&self) -> Vec<ChartImage> {
        self.images
            .iter()
            .filter(|i| i.digest().is_none())
            .copied()
            .collect()
    }

    /// Kyverno denies here: every image is pinned and no other rule holds it in Audit.
    pub fn denies(&self) -> bool {
        self.held_by.is_empty() && self.awaiting().is_empty()
    }
}

/// Where Kyverno denies: the namespaces the parts put under Deny, then the chart namespaces
/// that nothing holds in Audit any more.
pub fn enforced_namespaces<'a>(
    parts: impl IntoIterator<Item = &'a Contribution>,
) -> Vec<&'static str> {
    let mut declared = Vec::new();
    let mut derived = Vec::new();
    for c in parts {
        declared.extend(c.enforced_namespaces.iter().copied());
        derived.extend(
            c.chart_namespaces
                .iter()
                .filter(|n| n.denies())
                .map(|n| n.namespace),
        );
    }
    declared.extend(derived);
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn part(images: Vec<ChartImage>, held_by: Vec<(&'static str, &'static str)>) -> Contribution {
        Contribution {
            enforced_namespaces: vec!["own"],
            chart_namespaces: vec![ChartNamespace {
                namespace: "charted",
                images,
                held_by,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_chart_namespace_goes_to_deny_when_its_last_image_is_pinned() {
        let awaiting =
            crate::chart_image!("ghcr.io/actions/gha-runner-scale-set-controller", "1.0.0");
        let pinned = crate::chart_image!(
            "ghcr.io/actions/gha-runner-scale-set-controller",
            "1.0.0",
            D
        );
        let other = crate::chart_image!("quay.io/thanos/thanos", "v0.42.4", D);
        assert_eq!(
            enforced_namespaces(&[part(vec![other, awaiting], vec![])]),
            ["own"]
        );
        // Renovate's pin PR: the same declaration with its digest.
        assert_eq!(
            enforced_namespaces(&[part(vec![other, pinned], vec![])]),
            ["own", "charted"]
        );
        // Another rule still holds it.
        assert_eq!(
            enforced_namespaces(&[part(vec![other, pinned], vec![("requests-limits", "why")])]),
            ["own"]
        );
    }
}
