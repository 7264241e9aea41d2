//! `o4g restore-job`: the restore runbook's Job, printed.

use std::process::ExitCode;

use o4g_gitops::components::backup::{RestoreJobError, restore_job_yaml};
use o4g_gitops::{Error, settings::Settings};

use super::Global;

/// Print a restricted Job that restores a MySQL dump into an environment's MySQL (the
/// restore runbook's Job), to pipe into `kubectl apply -f -` once XWiki is scaled to 0.
/// Nothing is written or applied.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (its namespace).
    #[arg(long)]
    env: String,
    /// The dump: `s3://<bucket>/<env>/mysql/<UTC timestamp>.sql.zst`, or
    /// `mysql/<UTC timestamp>.sql.zst` (`.sql.gz`: a dump made with gzip). Default: the newest
    /// committed dump.
    #[arg(long)]
    from: Option<String>,
    /// Print a Job that only verifies the dump (download, decrypt, checksum) and does not
    /// touch the database.
    #[arg(long)]
    verify_only: bool,
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let settings = Settings::load_without_secrets(&global.root)?;
    match restore_job_yaml(&settings, &args.env, args.from.as_deref(), args.verify_only) {
        Ok(yaml) => {
            print!("{yaml}");
            Ok(ExitCode::SUCCESS)
        }
        Err(RestoreJobError::Input(msg)) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(2))
        }
        Err(RestoreJobError::Build(e)) => Err(e),
    }
}
