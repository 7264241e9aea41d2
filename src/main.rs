//! `o4g`: render the Open4Goods GitOps tree, or check it for drift.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use o4g_gitops::{Error, components, lint, policy, render, settings::Settings};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check YAML files or folders against the platform's policy rules (Pod Security,
    /// image digest/tag/registry, runAsNonRoot, requests and limits).
    Lint {
        /// Pod Security level.
        #[arg(long, default_value = "restricted")]
        level: policy::Level,
        /// Pod Security policy version: `latest` or `v1.N`.
        #[arg(long, default_value = "latest")]
        pss_version: policy::PssVersion,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Allowed registry (repeatable). Default: `registries.allowed` of overlays/cluster.toml
        /// under --root, or the compile-time list when there is none.
        #[arg(long = "registry")]
        registries: Vec<String>,
        /// Files or folders (folders are searched for *.yaml and *.yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Build the tree from src/ and overlays/ and write out/ (only changed files).
    Render {
        /// Write nothing; exit 1 and print a diff when out/ differs from a fresh render.
        #[arg(long)]
        check: bool,
    },
}

/// The registries lint accepts when none are given on the command line.
fn default_registries(root: &std::path::Path) -> Result<Vec<String>, Error> {
    if root.join("overlays/cluster.toml").is_file() {
        let settings = Settings::load(root)?;
        Ok(settings.allowed_registries())
    } else {
        Ok(o4g_gitops::image::ALLOWED_REGISTRIES
            .iter()
            .map(|r| r.to_string())
            .collect())
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    match &cli.command {
        Command::Lint {
            level,
            pss_version,
            format,
            registries,
            paths,
        } => {
            let allowed_registries = if registries.is_empty() {
                default_registries(&cli.root)?
            } else {
                registries.clone()
            };
            let cfg = policy::AuditConfig {
                level: *level,
                version: *pss_version,
                allowed_registries,
            };
            let found = match lint::lint(paths, &cfg) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&found).unwrap_or_default()
                ),
                Format::Text => {
                    for v in &found {
                        println!("{}: {}", v.file, v.violation);
                    }
                    println!("{} violation(s)", found.len());
                }
            }
            Ok(if found.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        &Command::Render { check } => {
            let settings = Settings::load(&cli.root)?;
            let tree = components::build(&settings)?;
            if check {
                components::audit(&tree, &settings)?;
                let drift = render::check(&cli.root, &tree)?;
                if drift.is_clean() {
                    println!("out/ is in sync ({} files)", tree.files().len());
                    Ok(ExitCode::SUCCESS)
                } else {
                    print!("{drift}");
                    Ok(ExitCode::from(1))
                }
            } else {
                let done = render::render(&cli.root, &tree, &settings)?;
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
