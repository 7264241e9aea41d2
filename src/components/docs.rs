//! Documents rendered from `templates/` with askama.

use askama::Template;

use super::flux::Entry;
use super::namespaces::{ENFORCE_VERSION, PlatformNamespace};
use crate::Error;
use crate::settings::Settings;

/// `out/README.md`: what is deployed where.
#[derive(Template)]
#[template(path = "out-README.md", escape = "none")]
struct OutReadme<'a> {
    settings: &'a Settings,
    namespaces: &'a [PlatformNamespace],
    flux: &'a [Entry],
    enforce_version: &'a str,
    images: Vec<String>,
}

/// Renders `out/README.md`.
pub fn out_readme(
    settings: &Settings,
    namespaces: &[PlatformNamespace],
    flux: &[Entry],
) -> Result<String, Error> {
    OutReadme {
        settings,
        namespaces,
        flux,
        enforce_version: ENFORCE_VERSION,
        images: crate::images::ALL.iter().map(ToString::to_string).collect(),
    }
    .render()
    .map_err(|e| Error::Build(format!("out/README.md: {e}")))
}
