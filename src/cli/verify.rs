//! `o4g verify`: a cluster snapshot against what the rendered tree declares.

use std::path::PathBuf;
use std::process::ExitCode;

use o4g_gitops::{Error, settings::Settings};

use super::Global;

/// Check a cluster snapshot against what the rendered tree declares for one environment
/// (NetworkPolicies, pods Ready with their probes, backups within 24 h, dashboards,
/// certificates, Flux): one ✓/✗ line per item; exit 1 if any fails, 2 on a bad snapshot.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment.
    #[arg(long, required_unless_present = "print_command")]
    env: Option<String>,
    /// The JSON output of the command `--print-command` shows (`-` for stdin).
    #[arg(long, required_unless_present = "print_command")]
    snapshot: Option<PathBuf>,
    /// The Git revision every Flux Kustomization must have applied (`main@sha1:<sha>`).
    #[arg(long)]
    revision: Option<String>,
    /// The time the snapshot was taken (RFC 3339); default: now.
    #[arg(long)]
    now: Option<String>,
    /// Each backup (MySQL dump and XAR export) must have succeeded after this time (RFC
    /// 3339): the cutover passes the import's end. A completed restore Job in the snapshot
    /// sets it too.
    #[arg(long)]
    since: Option<String>,
    /// Print the kubectl command that makes the snapshot, and exit.
    #[arg(long)]
    print_command: bool,
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let Args {
        env,
        snapshot,
        revision,
        now,
        since,
        print_command,
    } = args;
    if *print_command {
        println!("{}", o4g_gitops::verify::SNAPSHOT_COMMAND);
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(env), Some(snapshot)) = (env, snapshot) else {
        return Ok(ExitCode::from(2));
    };
    let settings = Settings::load_without_secrets(&global.root)?;
    let environment = match settings.environment_arg("--env", env) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let now = match now {
        Some(t) => match t.parse() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: --now `{t}` is not an RFC 3339 time: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => o4g_gitops::verify::now(),
    };
    let since = match since.as_deref().map(str::parse) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!(
                "error: --since `{}` is not an RFC 3339 time: {e}",
                since.as_deref().unwrap_or_default().escape_default()
            );
            return Ok(ExitCode::from(2));
        }
    };
    let (label, text) = if snapshot.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| Error::Io {
            path: "-".into(),
            source: e,
        })?;
        ("stdin".to_string(), s)
    } else {
        match std::fs::read_to_string(snapshot) {
            Ok(s) => (snapshot.display().to_string(), s),
            Err(e) => {
                eprintln!("error: {}: {e}", snapshot.display());
                return Ok(ExitCode::from(2));
            }
        }
    };
    let items = match o4g_gitops::verify::parse_snapshot(&label, &text) {
        Ok(items) => items,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let checks = o4g_gitops::verify::check(
        &settings,
        environment,
        &items,
        now,
        revision.as_deref(),
        since,
    )?;
    for c in &checks {
        println!("{c}");
    }
    let s = o4g_gitops::verify::summary(&checks);
    println!("{} passed, {} failed", s["passed"], s["failed"]);
    Ok(if s["failed"] == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
