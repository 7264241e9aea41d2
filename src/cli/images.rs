//! `o4g images`: every image the platform pins.

use std::process::ExitCode;

use o4g_gitops::{Error, settings::Settings};

use super::Global;

/// Print every image the platform pins (src/images.rs and the chart values), one per line,
/// for the CI's Trivy and digest checks.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &Global, _: &Args) -> Result<ExitCode, Error> {
    let settings = global
        .root
        .join("overlays/cluster.toml")
        .is_file()
        .then(|| Settings::load_without_secrets(&global.root))
        .transpose()?;
    for image in o4g_gitops::components::pinned_images(settings.as_ref()) {
        println!("{image}");
    }
    Ok(ExitCode::SUCCESS)
}
