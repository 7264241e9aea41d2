//! `o4g secrets`: the SOPS-encrypted Secrets.

use std::process::ExitCode;

use o4g_gitops::{Error, components, lint, policy, render, settings::Settings};

use super::Global;

/// SOPS-encrypted Secrets.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SecretsCommand {
    /// Print a plaintext Secret skeleton with the expected keys to stdout (never to disk),
    /// ready to pipe into `sops encrypt`.
    Template {
        /// Scope: an environment (a folder overlays/<name>/ with an env.toml) or `platform`.
        #[arg(long = "env", value_name = "SCOPE")]
        scope: String,
        /// Secret name (see `o4g secrets list`).
        name: String,
    },
    /// Run the structural check on overlays/ and out/ (sops block, MAC, recipients, no
    /// plaintext value).
    Check {
        /// Also decrypt each Secret under overlays/ with `sops` (keys from SOPS_AGE_KEY_FILE)
        /// and refuse values an upstream program mishandles (e.g. characters the XWiki
        /// entrypoint breaks on). Values stay in memory and are never printed.
        #[arg(long)]
        decrypt: bool,
        /// Check one scope only (an environment or `platform`): the one whose age key you hold.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List the Secrets the platform needs, and which are missing.
    List,
    /// After changing a scope's recipients in overlays/cluster.toml: regenerate .sops.yaml
    /// and re-encrypt the scope's files for them with `sops updatekeys` and a new data key
    /// (`sops rotate`; needs a current recipient's private key). Then run `render`.
    Rotate {
        /// Scope: an environment or `platform`.
        #[arg(long)]
        scope: String,
    },
}

/// Says so when `.sops.yaml` lacks the current creation rules, which the printed `sops
/// encrypt` commands need (`render` writes them first; `render --check` writes nothing).
pub(super) fn sops_rules_note(root: &std::path::Path, settings: &Settings) -> String {
    if render::sops_rules_current(root, settings) {
        String::new()
    } else {
        "note: .sops.yaml does not hold the creation rules of overlays/cluster.toml yet, and sops needs them to run these commands: `cargo run -- render` writes it first\n".to_string()
    }
}

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let command = &args.command;
    // A template is printed while its file does not exist yet: no Secret file is read then.
    let settings = match command {
        SecretsCommand::Template { .. } | SecretsCommand::Rotate { .. } => {
            Settings::load_without_secrets(&global.root)?
        }
        _ => {
            let settings = Settings::load(&global.root)?;
            components::secrets::check_platform_files(
                &settings,
                &components::required_secrets(&settings)?,
            )?;
            settings
        }
    };
    match command {
        SecretsCommand::Template { scope, name } => {
            let required = components::required_secrets(&settings)?;
            let Some(r) = required
                .iter()
                .find(|r| &r.scope == scope && &r.name == name)
            else {
                let known: Vec<String> = required
                    .iter()
                    .map(|r| format!("--env {} {}", r.scope, r.name))
                    .collect();
                eprintln!(
                    "error: no Secret `{name}` in scope `{scope}`; known: {}",
                    known.join("; ")
                );
                return Ok(ExitCode::from(2));
            };
            let file = o4g_gitops::secrets::secrets_dir(scope).join(format!("{name}.sops.yaml"));
            if std::fs::symlink_metadata(global.root.join(&file)).is_ok() {
                eprintln!(
                    "error: {} already exists: a new template would replace the deployed Secret; change a value with `sops edit {0}`",
                    file.display()
                );
                return Ok(ExitCode::from(2));
            }
            let text = o4g_gitops::secrets::template(r)
                .map_err(|e| Error::Build(format!("randomness: {e}")))?;
            print!("{text}");
            let todo = o4g_gitops::secrets::placeholder_keys(r);
            if !todo.is_empty() {
                eprintln!(
                    "placeholders to fill in with `sops edit {}` after encrypting: {}",
                    file.display(),
                    todo.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Rotate { scope } => {
            let write_rules = || {
                render::write_sops_rules(&global.root, &settings)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            match o4g_gitops::secrets::rotate(
                &global.root,
                scope,
                &settings.recipients(),
                write_rules,
            ) {
                Ok(files) => {
                    println!("wrote   .sops.yaml");
                    for f in &files {
                        println!("updated {}", f.display());
                    }
                    println!(
                        "{} file(s) of `{scope}` re-encrypted for its recipients with a new data key; run `cargo run -- render` and commit. If a recipient was removed, change every value it could read (`sops edit`): it may have kept them",
                        files.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        SecretsCommand::List => {
            let missing = components::missing_secrets(&settings)?;
            for r in components::required_secrets(&settings)? {
                let state = if missing.iter().any(|(m, _)| m == &r) {
                    "MISSING"
                } else {
                    "ok"
                };
                println!(
                    "{state:8} {:12} {:28} {}",
                    r.scope,
                    r.name,
                    r.keys.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Check { decrypt, scope } => {
            if let Some(s) = scope
                && !settings.scopes().contains(&s.as_str())
            {
                eprintln!(
                    "error: --scope `{}` is not a scope: expected one of {}",
                    s.escape_default(),
                    settings.scopes().join(", ")
                );
                return Ok(ExitCode::from(2));
            }
            let mut value_problems = 0usize;
            if *decrypt {
                let found = o4g_gitops::secret_values::check(&settings, scope.as_deref());
                for p in found.problems.iter().chain(&found.not_decrypted) {
                    println!("{p}");
                }
                value_problems += found.problems.len() + found.not_decrypted.len();
            }
            // Required Secrets without a file are a failed check, as `secrets list` shows them.
            let mut missing = components::missing_secrets(&settings)?;
            missing.retain(|(r, _)| scope.as_ref().is_none_or(|s| &r.scope == s));
            for (r, keys) in &missing {
                println!(
                    "missing: Secret `{}` of `{}` (keys {}); create it with:\n    {}",
                    r.name,
                    r.scope,
                    keys.join(", "),
                    r.create_command()
                );
            }
            if !missing.is_empty() {
                print!("{}", sops_rules_note(&global.root, &settings));
            }
            value_problems += missing.len();
            // overlays/ was checked by Settings::load; now every Secret under out/.
            let cfg = policy::AuditConfig::strict(settings.allowed_registries());
            let found = lint::lint(&[global.root.join(o4g_gitops::OUT_DIR)], &cfg)
                .map_err(|e| Error::Build(e.to_string()))?;
            let bad: Vec<_> = found
                .iter()
                .filter(|v| v.violation.rule == "sops-encrypted")
                .collect();
            for v in &bad {
                println!("{}: {}", v.file, v.violation);
            }
            println!(
                "{} Secret file(s) checked under overlays/ ({}), {} problem(s) under out/",
                settings
                    .secret_files()
                    .iter()
                    .filter(|f| scope.as_ref().is_none_or(|s| &f.scope == s))
                    .count(),
                if *decrypt {
                    format!("{value_problems} value problem(s)")
                } else {
                    "structure only; --decrypt checks values".to_string()
                },
                bad.len()
            );
            Ok(if bad.is_empty() && value_problems == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
