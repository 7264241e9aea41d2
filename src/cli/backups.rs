//! `o4g backups`: an environment's backups in the store (`o4g_gitops::backups`).

use std::process::ExitCode;

use o4g_gitops::Error;

use super::Global;

/// An environment's backups in the store (`src/backups.rs`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: o4g_gitops::backups::BackupsCommand,
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    o4g_gitops::backups::run(&global.root, &args.command)
}
