//! One module per platform part; [`build`] assembles them into the [`Tree`].
//!
//! Components return typed objects and know nothing about each other's internals: shared
//! names (paths, namespaces, labels) are values passed between them.

pub mod apps;
pub mod docs;
pub mod flux;
pub mod ingress;
pub mod layout;
pub mod mysql;
pub mod namespaces;
pub mod policies;
pub mod xwiki;

use crate::Error;
use crate::settings::Settings;
use crate::tree::{Folder, Tree};

/// Builds the whole tree from settings: a pure function, no clock, no network, no
/// environment variables.
pub fn build(settings: &Settings) -> Result<Tree, Error> {
    let mut tree = Tree::new();
    let namespaces = namespaces::platform();

    tree.add_folder(
        Folder::new(layout::CONTROLLERS).file("namespaces.yaml", namespaces::objects(&namespaces)?),
    )?;
    let enforced: Vec<&str> = namespaces
        .iter()
        .filter(|ns| ns.pod_security.level() == crate::policy::Level::Restricted)
        .map(|ns| ns.name)
        .collect();
    let mut policies = Folder::new(format!("{}/policies", layout::CONFIGS));
    for (file, objects) in policies::objects(&enforced, &settings.allowed_registries())? {
        policies = policies.file(file, objects);
    }
    tree.add_folder(policies)?;
    tree.add_folder(Folder::new(layout::CONFIGS).resource("policies"))?;
    apps::add_to_tree(&mut tree, settings)?;

    let kustomizations =
        flux::kustomizations(&settings.cluster.flux, settings.envs().map(|(e, _)| e));
    for (file, objects) in flux::files(&kustomizations)? {
        let bytes = crate::tree::to_yaml(&objects.iter().map(|o| o.body()).collect::<Vec<_>>())?;
        tree.insert(format!("{}/{file}", layout::CLUSTER), bytes)?;
    }

    tree.insert("out/docs/apps.md", docs::apps(settings)?.into_bytes())?;
    tree.insert(
        "out/README.md",
        docs::out_readme(settings, &namespaces, &kustomizations)?.into_bytes(),
    )?;
    tree.seal()
}

/// Audits every object of the tree with the platform's rules: objects in a namespace the
/// platform declares get that namespace's Pod Security level; everything else (the
/// environment-agnostic app base included) gets `restricted`.
pub fn audit(tree: &Tree, settings: &Settings) -> Result<(), Error> {
    let levels: Vec<(&str, crate::policy::Level)> = namespaces::platform()
        .iter()
        .map(|ns| (ns.name, ns.pod_security.level()))
        .collect();
    let violations = crate::policy::audit_tree(tree, &settings.allowed_registries(), |ns| {
        levels
            .iter()
            .find(|(n, _)| Some(*n) == ns)
            .map_or(crate::policy::Level::Restricted, |(_, l)| *l)
    })?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Violations(violations))
    }
}
