//! `o4g diff`: what a change gives the cluster.

use std::process::ExitCode;

use o4g_gitops::Error;

use super::Global;

/// Show what a change gives the cluster: the committed out/ of BASE against the working
/// tree's, per Flux Kustomization, with danger notes (exit 2 on a bad BASE).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A git ref; default: the merge base with main.
    base: Option<String>,
    /// `markdown` (a PR comment) or `json`.
    #[arg(long, value_enum, default_value = "markdown")]
    format: o4g_gitops::diff::Format,
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    match o4g_gitops::diff::run(&global.root, args.base.as_deref(), args.format) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
