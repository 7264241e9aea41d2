//! Every command survives a closed stdout (`o4g images | head -1`): it ends quietly with the
//! status a shell shows for a coreutils program killed by SIGPIPE, never a panic (exit 101).
//! Run on the fixture site `tests/sites/fresh`.

mod common;

use common::fresh_site::{Site, tools_present};

/// Runs `o4g ARGS` from the site's root with stdout a pipe whose reading end is already
/// closed, so the first write fails with EPIPE.
fn into_closed_pipe(site: &Site, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    site.command(env!("CARGO_BIN_EXE_o4g"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run o4g")
}

#[test]
fn every_command_ends_quietly_on_a_closed_pipe() {
    if let Err(why) = tools_present() {
        skip_or_fail!("{why}");
    }
    let site = Site::with_keys();
    let commands: &[&[&str]] = &[
        &["images"],
        &["secrets", "list"],
        &["secrets", "template", "--env", "live", "mysql-credentials"],
        &["secrets", "check"],
        &["render", "--allow-missing-secrets"],
        &["render", "--check", "--allow-missing-secrets"],
        &["restore-job", "--env", "live"],
        &["verify", "--print-command"],
        &["lint", "overlays"],
    ];
    for args in commands {
        let out = into_closed_pipe(&site, args);
        assert_eq!(
            out.status.code(),
            Some(o4g_gitops::closed_pipe::EXIT_STATUS),
            "o4g {}: {}",
            args.join(" "),
            common::text(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "o4g {}: {stderr}",
            args.join(" ")
        );
    }
}
