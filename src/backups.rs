//! `o4g backups`: the operator's view of an environment's backups in the store.
//!
//! `list` runs `rclone lsjson` against the environment's prefix as the backup scripts do
//! (the same `s3` and `vault` remotes, from environment variables only). The keys come from the
//! environment's SOPS Secrets, decrypted with `sops` in memory (the operator's age key, as for
//! `secrets check --decrypt`); they reach rclone through its environment and stdin, never its
//! arguments, and are never printed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::components::backup::{CRYPT_SECRET, DUMP_EXTS, S3_SECRET};
use crate::settings::Settings;

/// `o4g backups` sub-commands.
#[derive(Debug, clap::Subcommand)]
pub enum BackupsCommand {
    /// List the MySQL dumps and XAR exports of an environment with their age, size and commit
    /// marker (`.sha256`), newest first. Needs `rclone` on PATH and the environment's age key
    /// for sops (SOPS_AGE_KEY_FILE).
    List {
        /// The environment.
        #[arg(long)]
        env: String,
        /// The time ages are counted from (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
    },
}

/// One object of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `mysql/<stamp>.sql.zst` (or `.sql.gz`) or `xar/<stamp>.xar`.
    pub name: String,
    /// Plaintext size in bytes (the crypt remote reports it).
    pub size: u64,
    /// When the name's timestamp says it was taken.
    pub taken: Option<Timestamp>,
    /// Whether its `.sha256` commit marker is there (else a restore refuses it).
    pub committed: bool,
}

/// The folders and extensions the jobs write (`templates/scripts/*.sh`): both formats of the
/// dumps, in one listing sorted by time.
const KINDS: [(&str, &[&str]); 2] = [("mysql", &DUMP_EXTS), ("xar", &["xar"])];

/// The time in a name like `20261201T021500Z.sql.zst`.
pub fn stamp(name: &str) -> Option<Timestamp> {
    let base = name.rsplit('/').next()?;
    let s = base.get(..16)?;
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    )
    .parse()
    .ok()
}

/// The entries of one folder from `rclone lsjson` output (names relative to the folder) whose
/// name ends in `.` and one of `exts`.
pub fn entries(folder: &str, exts: &[&str], lsjson: &str) -> Result<Vec<Entry>, String> {
    let items: Vec<Value> =
        serde_json::from_str(lsjson).map_err(|e| format!("rclone lsjson output: {e}"))?;
    let names: BTreeSet<&str> = items.iter().filter_map(|i| i["Name"].as_str()).collect();
    let mut out: Vec<Entry> = items
        .iter()
        .filter_map(|i| {
            let name = i["Name"].as_str()?;
            let ours = exts
                .iter()
                .any(|ext| name.strip_suffix(ext).is_some_and(|n| n.ends_with('.')));
            ours.then(|| Entry {
                name: format!("{folder}/{name}"),
                size: i["Size"].as_u64().unwrap_or(0),
                taken: stamp(name),
                committed: names.contains(format!("{name}.sha256").as_str()),
            })
        })
        .collect();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(out)
}

/// `3 d 4 h`, `5 h 12 min`, `7 min`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

/// Bytes in binary units with one decimal.
pub fn size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// One line of the listing.
pub fn line(e: &Entry, now: Timestamp) -> String {
    let age = e
        .taken
        .map(|t| age(now.as_second() - t.as_second()))
        .unwrap_or_else(|| "?".into());
    let marker = if e.committed {
        "committed"
    } else {
        "NO .sha256: incomplete, a restore refuses it"
    };
    format!("{:<34} {:>10} {:>10}  {marker}", e.name, age, size(e.size))
}

/// The plaintext value of `key` in a decrypted Secret (`stringData`, or base64 `data`).
fn value(doc: &Value, key: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(v) = doc["stringData"][key].as_str() {
        return Some(v.to_string());
    }
    let b = base64::engine::general_purpose::STANDARD
        .decode(doc["data"][key].as_str()?)
        .ok()?;
    String::from_utf8(b).ok()
}

/// Runs rclone with `env` added and `stdin`, returns its stdout.
fn rclone(args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new("rclone")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rclone (is it on PATH?): {e}"))?;
    let mut input = child.stdin.take().ok_or("rclone has no stdin")?;
    if let Some(s) = stdin {
        input
            .write_all(s.as_bytes())
            .map_err(|e| format!("rclone: {e}"))?;
    }
    drop(input);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rclone: {e}"))?;
    if !out.status.success() {
        // rclone's errors name the remote and the HTTP status, not the keys.
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "rclone {} failed: {}",
            args.first().unwrap_or(&""),
            err.lines().last().unwrap_or("no message").trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rclone output: {e}"))
}

/// The rclone environment of `env`'s store: the remotes of `backup-lib.sh`'s `o4g_remotes`,
/// with the keys of the environment's SOPS Secrets.
fn remotes(root: &Path, settings: &Settings, env: &str) -> Result<Vec<(String, String)>, String> {
    let secret = |name: &str| -> Result<Value, String> {
        let file = crate::secrets::secrets_dir(env).join(format!("{name}.sops.yaml"));
        let text = crate::input::read_input(root, &file).map_err(|e| e.to_string())?;
        crate::secrets::decrypt(text.as_bytes()).map_err(|e| format!("{}: {e}", file.display()))
    };
    let (s3, crypt) = (secret(S3_SECRET)?, secret(CRYPT_SECRET)?);
    let get = |doc: &Value, secret: &str, key: &str| {
        value(doc, key).ok_or_else(|| format!("Secret `{secret}` of `{env}` has no key `{key}`"))
    };
    let obscure = |v: String| -> Result<String, String> {
        Ok(rclone(&["obscure", "-"], &[], Some(&v))?.trim().to_string())
    };
    let s = &settings.cluster.s3;
    let pairs = [
        ("RCLONE_CONFIG", "/dev/null".to_string()),
        ("RCLONE_CONFIG_S3_TYPE", "s3".into()),
        ("RCLONE_CONFIG_S3_PROVIDER", "Other".into()),
        ("RCLONE_CONFIG_S3_ENV_AUTH", "false".into()),
        ("RCLONE_CONFIG_S3_ENDPOINT", s.endpoint.as_str().into()),
        ("RCLONE_CONFIG_S3_REGION", s.region.clone()),
        (
            "RCLONE_CONFIG_S3_ACCESS_KEY_ID",
            get(&s3, S3_SECRET, "access-key-id")?,
        ),
        (
            "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY",
            get(&s3, S3_SECRET, "secret-access-key")?,
        ),
        ("RCLONE_CONFIG_VAULT_TYPE", "crypt".into()),
        (
            "RCLONE_CONFIG_VAULT_REMOTE",
            format!("s3:{}/{env}", s.bucket.as_str()),
        ),
        ("RCLONE_CONFIG_VAULT_FILENAME_ENCRYPTION", "off".into()),
        (
            "RCLONE_CONFIG_VAULT_DIRECTORY_NAME_ENCRYPTION",
            "false".into(),
        ),
        (
            "RCLONE_CONFIG_VAULT_PASSWORD",
            obscure(get(&crypt, CRYPT_SECRET, "password")?)?,
        ),
        (
            "RCLONE_CONFIG_VAULT_PASSWORD2",
            obscure(get(&crypt, CRYPT_SECRET, "salt")?)?,
        ),
        ("RCLONE_CONTIMEOUT", "15s".into()),
        ("RCLONE_LOW_LEVEL_RETRIES", "3".into()),
    ];
    Ok(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Runs a `backups` command.
pub fn run(root: &Path, command: &BackupsCommand) -> Result<ExitCode, crate::Error> {
    let BackupsCommand::List { env, now } = command;
    let settings = Settings::load_without_secrets(root)?;
    let fail = |why: String| {
        eprintln!("error: {why}");
        Ok(ExitCode::from(2))
    };
    if let Err(why) = settings.environment_arg("--env", env) {
        return fail(why);
    }
    let now = match now.as_deref().map(str::parse::<Timestamp>) {
        None => crate::verify::now(),
        Some(Ok(t)) => t,
        Some(Err(e)) => return fail(format!("--now is not an RFC 3339 time: {e}")),
    };
    let vars = match remotes(root, &settings, env) {
        Ok(v) => v,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::from(1));
        }
    };
    let bucket = settings.cluster.s3.bucket.as_str();
    println!("backups of {env} in s3://{bucket}/{env}/ (age at {now})");
    for (folder, exts) in KINDS {
        let listing = rclone(
            &["lsjson", "--files-only", &format!("vault:{folder}/")],
            &vars,
            None,
        )
        .and_then(|out| entries(folder, exts, &out));
        match listing {
            Ok(list) if list.is_empty() => println!("{folder}/: none"),
            Ok(list) => {
                for e in &list {
                    println!("{}", line(e, now));
                }
            }
            Err(why) => {
                eprintln!("error: listing {folder}/: {why}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_newest_first_with_the_marker_and_the_age_from_the_name() {
        let out = r#"[{"Name":"20261201T021500Z.sql.gz","Size":1572864},{"Name":"20261201T021500Z.sql.gz.sha256","Size":90},{"Name":"20261202T021500Z.sql.zst","Size":10},{"Name":"20261203T021500Z.sqlxzst","Size":10}]"#;
        let list = entries("mysql", &DUMP_EXTS, out).unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0].name, "mysql/20261202T021500Z.sql.zst");
        assert!(!list[0].committed && list[1].committed);
        let now: Timestamp = "2026-12-02T05:30:00Z".parse().unwrap();
        assert!(
            line(&list[1], now).contains("1 d 3 h"),
            "{}",
            line(&list[1], now)
        );
        assert!(line(&list[1], now).contains("1.5 MiB"));
        assert!(line(&list[0], now).contains("NO .sha256"));
        assert_eq!(stamp("xar/garbage.xar"), None);
    }
}
