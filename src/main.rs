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
    /// Grouped by file and object, each finding with its fix.
    Text,
    /// The violations as a JSON array.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check YAML files or folders against the platform's policy rules (Pod Security,
    /// image digest/tag/registry, runAsNonRoot, requests and limits).
    #[command(
        after_help = "Examples:\n  o4g lint out/                                   every rule on the rendered tree\n  helm template ./chart | o4g lint --rules pss -  Pod Security alone, on stdin\n  o4g lint --skip image-digest,requests-limits k8s/   adopt the rules one by one\n  o4g lint --rules pss --level baseline --pss-version v1.30 manifest.yaml\n\nPer object: annotation o4g.dev/skip: \"image-digest=<why>; requests-limits=<why>\" (a reason is\nrequired; each skip is listed in the report).\nExit codes: 0 clean, 1 violations, 2 a file that is not a manifest or cannot be parsed (the\nothers are still linted) or bad arguments."
    )]
    Lint {
        /// Pod Security level.
        #[arg(long, default_value = "restricted")]
        level: policy::Level,
        #[arg(long, default_value = "latest", help = policy::PssVersion::help())]
        pss_version: policy::PssVersion,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Allowed registry (repeatable). Default: `registries.allowed` of overlays/cluster.toml
        /// under --root, or the compile-time list when there is none.
        #[arg(long = "registry")]
        registries: Vec<String>,
        /// Run only these rules (comma-separated): rule names such as `image-digest` or
        /// `pss:privileged`, or `pss` for every Pod Security check. Default: all.
        #[arg(long, value_delimiter = ',')]
        rules: Vec<String>,
        /// Do not run these rules (comma-separated, repeatable), same names as --rules.
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
        /// Rule selection file (`[lint] rules = […], skip = […]`). Default: `.o4g-lint.toml` in
        /// the current directory, when there is one. --rules replaces its rules; --skip adds.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Files or folders (folders are searched for *.yaml and *.yml); `-` reads stdin.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Build the tree from src/ and overlays/ and write out/ (only changed files).
    Render {
        /// Write nothing; exit 1 and print a diff when out/ differs from a fresh render.
        #[arg(long)]
        check: bool,
        /// Report required Secrets without an encrypted file as warnings instead of errors.
        #[arg(long)]
        allow_missing_secrets: bool,
        /// Also remove files in generated folders that the generator did not write (kept and
        /// reported otherwise).
        #[arg(long)]
        prune_strays: bool,
        /// Write even when a field the API server will not patch changes (StatefulSet claims,
        /// selectors, a PVC shrink, StorageClass parameters), once its procedure is done.
        #[arg(long)]
        allow_immutable_change: bool,
    },
    /// Show what a change gives the cluster: the committed out/ of BASE against the working
    /// tree's, per Flux Kustomization, with danger notes (exit 2 on a bad BASE).
    Diff {
        /// A git ref; default: the merge base with main.
        base: Option<String>,
        /// `markdown` (a PR comment) or `json`.
        #[arg(long, value_enum, default_value = "markdown")]
        format: o4g_gitops::diff::Format,
    },
    /// Print every image the platform pins (src/images.rs and the chart values), one per line,
    /// for the CI's Trivy and digest checks.
    Images,
    /// Print a restricted Job that restores a MySQL dump into an environment's MySQL (the
    /// restore runbook's Job), to pipe into `kubectl apply -f -` once XWiki is scaled to 0.
    /// Nothing is written or applied.
    RestoreJob {
        /// The environment (its namespace).
        #[arg(long)]
        env: String,
        /// The dump: `s3://<bucket>/<env>/mysql/<UTC timestamp>.sql.gz`, or
        /// `mysql/<UTC timestamp>.sql.gz`. Default: the newest committed dump.
        #[arg(long)]
        from: Option<String>,
        /// Print a Job that only verifies the dump (download, decrypt, checksum) and does not
        /// touch the database.
        #[arg(long)]
        verify_only: bool,
    },
    /// Check a cluster snapshot against what the rendered tree declares for one environment
    /// (NetworkPolicies, pods Ready with their probes, backups within 24 h, dashboards,
    /// certificates, Flux): one ✓/✗ line per item; exit 1 if any fails, 2 on a bad snapshot.
    Verify {
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
    },
    /// An environment's backups in the store (`src/backups.rs`).
    Backups {
        #[command(subcommand)]
        command: o4g_gitops::backups::BackupsCommand,
    },
    /// SOPS-encrypted Secrets.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
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

#[derive(Debug, Subcommand)]
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

/// Required Secrets without a file: an error, or warnings with --allow-missing-secrets. A
/// Secret that the committed `out/` holds and that has gone from `overlays/` is always an
/// error: rendering without it would make Flux prune it (in prod, the live database
/// credentials).
fn report_missing(root: &std::path::Path, settings: &Settings, allow: bool) -> Result<(), Error> {
    let missing = components::missing_secrets(settings)?;
    if missing.is_empty() {
        return Ok(());
    }
    let scopes: Vec<String> = missing.iter().map(|(r, _)| r.scope.clone()).collect();
    let before = o4g_gitops::components::secrets::previously_rendered(root, &scopes);
    let vanished: Vec<String> = missing
        .iter()
        .filter_map(|(r, _)| {
            before
                .get(&(r.scope.clone(), r.name.clone()))
                .map(|file| format!("  Secret `{}` of `{}` ({file})", r.name, r.scope))
        })
        .collect();
    if !vanished.is_empty() {
        return Err(Error::Settings(
            o4g_gitops::settings::SettingsError::unreadable(
                o4g_gitops::settings::OVERLAYS_DIR,
                format!(
                    "Secrets the committed out/ holds are gone from overlays/; rendering without them would make Flux delete them from the cluster. Restore their files (git checkout), or delete them from out/ on purpose first:\n{}",
                    vanished.join("\n")
                ),
            ),
        ));
    }
    let mut text = String::new();
    for (r, keys) in &missing {
        text.push_str(&format!(
            "{}: missing Secret `{}` (keys {}) in namespace `{}`; create it with:\n    {}\n",
            o4g_gitops::secrets::secrets_dir(&r.scope).display(),
            r.name,
            keys.join(", "),
            r.namespace,
            r.create_command()
        ));
    }
    text.push_str(&sops_rules_note(root, settings));
    if allow {
        eprint!("warning: {text}");
        Ok(())
    } else {
        Err(Error::Settings(
            o4g_gitops::settings::SettingsError::unreadable(
                o4g_gitops::settings::OVERLAYS_DIR,
                format!(
                    "required Secrets are missing (use --allow-missing-secrets to render anyway):\n{text}"
                ),
            ),
        ))
    }
}

/// Says so when `.sops.yaml` lacks the current creation rules, which the printed `sops
/// encrypt` commands need (`render` writes them first; `render --check` writes nothing).
fn sops_rules_note(root: &std::path::Path, settings: &Settings) -> String {
    if render::sops_rules_current(root, settings) {
        String::new()
    } else {
        "note: .sops.yaml does not hold the creation rules of overlays/cluster.toml yet, and sops needs them to run these commands: `cargo run -- render` writes it first\n".to_string()
    }
}

/// With an age key sops can read, `render` refuses Secret values that are empty or still
/// `secrets template`'s placeholders, in the files that key decrypts; without one it says on
/// stderr that values were not checked; a key set on purpose that decrypts nothing is an error.
fn check_secret_values(
    settings: &Settings,
    sources: &[o4g_gitops::secret_values::KeySource],
) -> Result<(), Error> {
    if sources.is_empty() {
        eprintln!(
            "Secret values NOT checked: sops finds no age key (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, SOPS_AGE_KEY_CMD, SOPS_AGE_SSH_PRIVATE_KEY_FILE, ~/.config/sops/age/keys.txt); run `SOPS_AGE_KEY_FILE=<scope>.agekey cargo run -- secrets check --decrypt --scope <scope>`"
        );
        return Ok(());
    }
    let named: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let refuse = |what: String| {
        Err(Error::Settings(
            o4g_gitops::settings::SettingsError::unreadable(
                o4g_gitops::settings::OVERLAYS_DIR,
                what,
            ),
        ))
    };
    let found = o4g_gitops::secret_values::check(settings, None);
    if !found.problems.is_empty() {
        return refuse(format!(
            "Secret values refused (decrypted with the age key of {}; values are not shown):\n{}",
            named.join(", "),
            found.problems.join("\n")
        ));
    }
    if found.checked.is_empty()
        && !found.not_decrypted.is_empty()
        && sources.iter().any(|s| s.explicit)
    {
        return refuse(format!(
            "the age key of {} decrypts none of the {} Secret file(s), so no value was checked (a mistyped path?):\n{}",
            named.join(", "),
            found.not_decrypted.len(),
            found.not_decrypted[0]
        ));
    }
    eprintln!(
        "checked the values of {} Secret file(s) with the age key given to sops ({} it does not decrypt)",
        found.checked.len(),
        found.not_decrypted.len()
    );
    Ok(())
}

fn secrets(cli: &Cli, command: &SecretsCommand) -> Result<ExitCode, Error> {
    // A template is printed while its file does not exist yet: no Secret file is read then.
    let settings = match command {
        SecretsCommand::Template { .. } | SecretsCommand::Rotate { .. } => {
            Settings::load_without_secrets(&cli.root)?
        }
        _ => {
            let settings = Settings::load(&cli.root)?;
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
            if std::fs::symlink_metadata(cli.root.join(&file)).is_ok() {
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
                render::write_sops_rules(&cli.root, &settings)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            match o4g_gitops::secrets::rotate(&cli.root, scope, &settings.recipients(), write_rules)
            {
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
                print!("{}", sops_rules_note(&cli.root, &settings));
            }
            value_problems += missing.len();
            // overlays/ was checked by Settings::load; now every Secret under out/.
            let cfg = policy::AuditConfig::strict(settings.allowed_registries());
            let found = lint::lint(&[cli.root.join(o4g_gitops::OUT_DIR)], &cfg)
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

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    match &cli.command {
        Command::Lint {
            level,
            pss_version,
            format,
            registries,
            rules,
            skip,
            config,
            paths,
        } => {
            let default_config = PathBuf::from(lint::CONFIG_FILE);
            let file = config
                .clone()
                .or_else(|| default_config.is_file().then_some(default_config));
            let mut selection = match &file {
                Some(f) => match lint::read_config(f) {
                    Ok(s) => s,
                    Err(why) => {
                        eprintln!("error: {why}");
                        return Ok(ExitCode::from(2));
                    }
                },
                None => lint::RuleSelection::default(),
            };
            if !rules.is_empty() {
                selection.only = rules.clone();
            }
            selection.skip.extend(skip.iter().cloned());
            if let Err(why) = selection.check() {
                eprintln!("error: {why}");
                return Ok(ExitCode::from(2));
            }
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
            let report = lint::lint_report(paths, &cfg, &selection);
            for e in &report.input_errors {
                eprintln!("error: {}", o4g_gitops::render::escape(&e.to_string()));
            }
            let found = &report.violations;
            let code = if !report.input_errors.is_empty() {
                ExitCode::from(2)
            } else if found.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&lint::json(&report)).unwrap_or_default()
                ),
                Format::Text => print!("{}", lint::human(&report)),
                Format::Sarif => println!(
                    "{}",
                    serde_json::to_string_pretty(&lint::sarif(&report)).unwrap_or_default()
                ),
            }
            Ok(code)
        }
        Command::Secrets { command } => secrets(cli, command),
        Command::Backups { command } => o4g_gitops::backups::run(&cli.root, command),
        Command::Verify {
            env,
            snapshot,
            revision,
            now,
            since,
            print_command,
        } => {
            if *print_command {
                println!("{}", o4g_gitops::verify::SNAPSHOT_COMMAND);
                return Ok(ExitCode::SUCCESS);
            }
            let (Some(env), Some(snapshot)) = (env, snapshot) else {
                return Ok(ExitCode::from(2));
            };
            let settings = Settings::load_without_secrets(&cli.root)?;
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
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                    Error::Io {
                        path: "-".into(),
                        source: e,
                    }
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
        Command::RestoreJob {
            env,
            from,
            verify_only,
        } => {
            let settings = Settings::load_without_secrets(&cli.root)?;
            match o4g_gitops::components::backup::restore_job_yaml(
                &settings,
                env,
                from.as_deref(),
                *verify_only,
            ) {
                Ok(yaml) => {
                    print!("{yaml}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(o4g_gitops::components::backup::RestoreJobError::Input(msg)) => {
                    eprintln!("error: {msg}");
                    Ok(ExitCode::from(2))
                }
                Err(o4g_gitops::components::backup::RestoreJobError::Build(e)) => Err(e),
            }
        }
        Command::Diff { base, format } => {
            match o4g_gitops::diff::run(&cli.root, base.as_deref(), *format) {
                Ok(text) => {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Images => {
            let settings = cli
                .root
                .join("overlays/cluster.toml")
                .is_file()
                .then(|| Settings::load_without_secrets(&cli.root))
                .transpose()?;
            for image in o4g_gitops::components::pinned_images(settings.as_ref()) {
                println!("{image}");
            }
            Ok(ExitCode::SUCCESS)
        }
        &Command::Render {
            check,
            allow_missing_secrets,
            prune_strays,
            allow_immutable_change,
        } => {
            let settings = Settings::load(&cli.root)?;
            // The commands printed for missing Secrets need their scope's creation rule.
            if !check
                && !allow_missing_secrets
                && !components::missing_secrets(&settings)?.is_empty()
                && render::write_sops_rules(&cli.root, &settings)?
            {
                println!("wrote   .sops.yaml (the creation rules the commands below need)");
            }
            report_missing(&cli.root, &settings, allow_missing_secrets)?;
            check_secret_values(&settings, &o4g_gitops::secret_values::key_sources())?;
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
                let done = render::render(
                    &cli.root,
                    &tree,
                    &settings,
                    render::WriteOptions {
                        prune_strays,
                        allow_immutable_change,
                    },
                )?;
                for path in &done.written {
                    println!("wrote   {}", render::escape(path));
                }
                for path in &done.removed {
                    println!("removed {}", render::escape(path));
                }
                for path in &done.strays_kept {
                    println!(
                        "kept    {} (not generated; `render --prune-strays` removes it)",
                        render::escape(path)
                    );
                }
                for (path, why) in &done.kept {
                    println!("kept    {} ({why})", render::escape(path));
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
    o4g_gitops::closed_pipe::install();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
