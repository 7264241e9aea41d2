//! The commands of `o4g`, one module each, as cargo's `src/bin/cargo/commands/`: a module
//! holds its arguments (`Args`, whose doc comment is the command's help) and its `run`. The
//! options every command takes are [`Global`]. Adding a command is one file and one line in
//! the [`commands!`] list below.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use o4g_gitops::Error;

mod backups;
mod diff;
mod images;
mod lint;
mod render;
mod restore_job;
mod secrets;
mod verify;

/// The Open4Goods platform as typed Rust: renders the Kustomize tree Flux reconciles.
#[derive(Debug, Parser)]
#[command(name = "o4g", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

// The options every command takes (no doc comment: it would become the help's about text).
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Repository root (holds overlays/ and out/).
    #[arg(long, global = true, default_value = ".")]
    pub root: PathBuf,
}

/// Declares [`Command`] (one variant per module, in `--help` order) and its dispatch.
macro_rules! commands {
    ($($variant:ident => $module:ident),* $(,)?) => {
        #[derive(Debug, clap::Subcommand)]
        pub enum Command {
            $($variant($module::Args),)*
        }

        impl Command {
            /// Runs the command.
            pub fn run(&self, global: &Global) -> Result<ExitCode, Error> {
                match self {
                    $(Command::$variant(args) => $module::run(global, args),)*
                }
            }
        }
    };
}

commands! {
    Lint => lint,
    Render => render,
    Diff => diff,
    Images => images,
    RestoreJob => restore_job,
    Verify => verify,
    Backups => backups,
    Secrets => secrets,
}
