//! A closed stdout (`o4g images | head -1`) ends every command quietly, in one place.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns `EPIPE` and `println!` panics
//! with "failed printing to stdout: Broken pipe (os error 32)" (rust-lang/rust 1.95.0
//! `library/std/src/io/stdio.rs`, `print_to`), which a user sees as a panic and exit 101.
//! [`install`] turns exactly that panic into a quiet exit with the status a shell reports for a
//! coreutils program killed by SIGPIPE (128 + 13); every other panic keeps the default report.
//! SIGPIPE itself stays ignored, so a child's closed stdin (the `sops` the tool runs) is still
//! an error the tool reports.

/// Exit status of a closed pipe: 128 + SIGPIPE (13), as the shell shows for `cat | head -1`.
pub const EXIT_STATUS: i32 = 128 + 13;

/// Installs the panic hook (call once, first thing in `main`).
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_stdout(message) {
            std::process::exit(EXIT_STATUS);
        }
        default(info);
    }));
}

/// True for the panic message of `print!`/`println!` on a closed pipe.
fn is_closed_stdout(message: &str) -> bool {
    const EPIPE: i32 = 32; // Linux asm-generic/errno-base.h
    message.starts_with("failed printing to stdout")
        && message.ends_with(&std::io::Error::from_raw_os_error(EPIPE).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_on_stdout_is_quiet() {
        assert!(is_closed_stdout(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_closed_stdout("index out of bounds"));
    }
}
