//! What a platform part adds to the tree, and the trait through which it says so. A leaf of
//! `components/`: the parts depend on it and `components::build` gathers what they declare.

use super::helm::HelmComponent;
use super::namespaces::PlatformNamespace;
use super::params::Plan;
use crate::Error;
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
    /// Other files and folders it writes (the apps tree, runbooks, scripts).
    pub tree: Tree,
    /// The Secrets it reads.
    pub secrets: Vec<RequiredSecret>,
    /// Each environment's objects as kustomize builds them from what it wrote (the apps'
    /// overlays), for the audit.
    pub environments: Vec<(crate::settings::Environment, Vec<serde_json::Value>)>,
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
