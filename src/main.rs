//! `o4g`: render the Open4Goods GitOps tree, or check it for drift.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc: page faults of the heap's growth were a third of a render (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    o4g_gitops::closed_pipe::install();
    let cli = cli::Cli::parse();
    match cli.command.run(&cli.global) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
