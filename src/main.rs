//! `o4g`: render the Open4Goods GitOps tree, or check it for drift.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc: page faults of the heap's growth were a third of a render (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns mimalloc's purging off: by default it hands memory freed 10 ms ago back to the OS
/// (`madvise(MADV_DONTNEED)`), and a thread's heap when the thread ends, so the next
/// allocations fault fresh huge pages that the kernel zeroes again (about 1.5 ms each here).
/// A render's worker threads end after each map (src/parallel.rs): at 100 extra environments
/// that was 41 madvise calls and 270-500 page faults a render instead of 6 and 210, and
/// wall 90-130 ms instead of 80-100 ms. The process is short-lived; the OS takes everything
/// back at exit.
fn keep_freed_memory() {
    // SAFETY: sets one integer of mimalloc's option table (an index it defines, a value its
    // header documents: -1 = no purging); no memory of ours is touched.
    unsafe { libmimalloc_sys::mi_option_set(o4g_gitops::parallel::MIMALLOC_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    keep_freed_memory();
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
