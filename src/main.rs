//! `o4g`: render the Open4Goods GitOps tree, or check it for drift.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use o4g_gitops::{Error, components, render, settings::Settings};

/// The Open4Goods platform as typed Rust: renders the Kustomize tree Flux reconciles.
#[derive(Debug, Parser)]
#[command(name = "o4g", version)]
struct Cli {
    /// Repository root (holds overlays/ and out/).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the tree from src/ and overlays/ and write out/ (only changed files).
    Render {
        /// Write nothing; exit 1 and print a diff when out/ differs from a fresh render.
        #[arg(long)]
        check: bool,
    },
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Render { check } => {
            let settings = Settings::load(&cli.root)?;
            let tree = components::build(&settings)?;
            if check {
                let drift = render::check(&cli.root, &tree)?;
                if drift.is_clean() {
                    println!("out/ is in sync ({} files)", tree.files().len());
                    Ok(ExitCode::SUCCESS)
                } else {
                    print!("{drift}");
                    Ok(ExitCode::from(1))
                }
            } else {
                let done = render::write(&cli.root, &tree)?;
                for path in &done.written {
                    println!("wrote   {path}");
                }
                for path in &done.removed {
                    println!("removed {path}");
                }
                println!(
                    "{} written, {} removed, {} unchanged",
                    done.written.len(),
                    done.removed.len(),
                    done.unchanged
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
