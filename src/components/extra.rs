//! Hand-written manifests in the tree: `overlays/<env>/extra/*.yaml` become resources of the
//! environment's overlay (`out/apps/overlays/<env>/extra/`), `overlays/platform/extra/*.yaml`
//! resources of the configs layer (`out/infrastructure/configs/extra/`, applied after the
//! controllers' CRDs). `settings::extra` has checked them (no Secret, no cluster-scoped kind in
//! an environment, one named object per document); here they are written through the one YAML
//! writer and then audited with everything else (`components::audit`: Pod Security of the
//! namespace, pinned images, resources) and enforced by the same Kyverno policies.

use serde_json::Value;

use crate::Error;
use crate::settings::extra::{ExtraFile, object_key};
use crate::settings::{Environment, PLATFORM_SCOPE, Settings, SettingsError};
use crate::tree::{Folder, Tree};

/// Folder of the hand-written files, in an overlay and under the configs layer.
pub const FOLDER: &str = "extra";

/// An environment's hand-written objects as kustomize builds them: in its namespace.
pub fn env_objects(settings: &Settings, env: Environment) -> Vec<Value> {
    settings
        .extra_files_of(env.name())
        .flat_map(|f| f.objects.iter().cloned())
        .map(|mut o| {
            o["metadata"]["namespace"] = Value::String(env.name().to_string());
            o
        })
        .collect()
}

/// Writes `file` as `dir/relative` (its objects re-serialized; comments are not kept).
fn write(tree: &mut Tree, dir: &str, relative: String, file: &ExtraFile) -> Result<String, Error> {
    let objects: Vec<&Value> = file.objects.iter().collect();
    tree.insert_with_objects(
        format!("{dir}/{relative}"),
        crate::tree::to_yaml(&objects)?,
        file.objects.clone(),
    )?;
    Ok(relative)
}

/// Adds `env`'s hand-written files to its overlay folder `dir`. An object the generator also
/// makes (same kind and name) is an error: kustomize would refuse the duplicate, and the
/// generated one is changed through `env.toml` or the code.
pub fn add_env(
    tree: &mut Tree,
    mut folder: Folder,
    dir: &str,
    settings: &Settings,
    env: Environment,
    generated: &[&Value],
) -> Result<Folder, Error> {
    for file in settings.extra_files_of(env.name()) {
        for o in &file.objects {
            let key = object_key(o);
            if generated.iter().any(|g| object_key(g) == key) {
                return Err(Error::Settings(SettingsError::unreadable(
                    &file.path,
                    format!(
                        "defines {} `{}`, which the generator makes too: change that one through overlays/{env}/env.toml (or the code), not by a second copy",
                        key.0, key.1
                    ),
                )));
            }
        }
        let relative = format!("{FOLDER}/{}", file.file_name);
        folder = folder.resource(write(tree, dir, relative, file)?);
    }
    Ok(folder)
}

/// Adds the cluster-wide hand-written files under the configs layer; true if there were any
/// (the configs kustomization then lists the folder).
pub fn add_platform(tree: &mut Tree, settings: &Settings) -> Result<bool, Error> {
    let dir = format!("{}/{FOLDER}", super::layout::CONFIGS);
    let mut folder = Folder::new(&dir);
    let mut any = false;
    for file in settings.extra_files_of(PLATFORM_SCOPE) {
        folder = folder.resource(write(tree, &dir, file.file_name.clone(), file)?);
        any = true;
    }
    if any {
        tree.add_folder(folder)?;
    }
    Ok(any)
}
