//! `o4g diff`: what a change gives the cluster.

use std::path::PathBuf;
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
    /// The chart cache (`<chart>-<version>/` folders, as `.ci/upstream.py fetch` fills it:
    /// `$O4G_SHARED/charts`, `../shared/charts`): a changed HelmRelease is shown as the objects
    /// its chart renders before and after (python3 with helm-python-sdk runs the renderer).
    #[arg(long, value_name = "DIR")]
    charts: Option<PathBuf>,
    /// The chart cache of the base's side, when its `.ci/upstream.toml` pins other charts
    /// (default: `--charts`).
    #[arg(long, value_name = "DIR", requires = "charts")]
    base_charts: Option<PathBuf>,
    /// The renderer, run as `python3 FILE` (default: `tests/helm/render.py` under the root).
    #[arg(long, value_name = "FILE", requires = "charts")]
    helm_renderer: Option<PathBuf>,
    /// Seconds one run of the renderer may take; past it, it is killed and the chart's section
    /// says it timed out.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600,
        requires = "charts"
    )]
    helm_timeout: u64,
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let charts = args
        .charts
        .as_ref()
        .map(|head| o4g_gitops::diff::ChartCache {
            head: head.clone(),
            base: args.base_charts.clone().unwrap_or_else(|| head.clone()),
            renderer: args
                .helm_renderer
                .clone()
                .unwrap_or_else(|| global.root.join("tests/helm/render.py")),
            timeout: std::time::Duration::from_secs(args.helm_timeout),
        });
    match o4g_gitops::diff::run(
        &global.root,
        args.base.as_deref(),
        args.format,
        charts.as_ref(),
    ) {
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
