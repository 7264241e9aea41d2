//! `o4g render`: the tree from src/ and overlays/ into out/.

use std::process::ExitCode;

use o4g_gitops::{Error, components, render, settings::Settings};

use super::Global;

/// Build the tree from src/ and overlays/ and write out/ (only changed files).
#[derive(Debug, clap::Args)]
pub struct Args {
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
}

/// Required Secrets without a file: an error, or warnings with --allow-missing-secrets. A
/// Secret that the committed `out/` holds and that has gone from `overlays/` is always an
/// error: rendering without it would make Flux prune it (in prod, the live database
/// credentials).
fn report_missing(
    root: &std::path::Path,
    settings: &Settings,
    allow: bool,
    missing: &[(o4g_gitops::secrets::RequiredSecret, Vec<String>)],
) -> Result<(), Error> {
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
    for (r, keys) in missing {
        text.push_str(&format!(
            "{}: missing Secret `{}` (keys {}) in namespace `{}`; create it with:\n    {}\n",
            o4g_gitops::secrets::secrets_dir(&r.scope).display(),
            r.name,
            keys.join(", "),
            r.namespace,
            r.create_command()
        ));
    }
    text.push_str(&super::secrets::sops_rules_note(root, settings));
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

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let &Args {
        check,
        allow_missing_secrets,
        ..
    } = args;
    let settings = Settings::load(&global.root)?;
    // Every part's contribution, computed once: for the missing-Secrets report, then the tree.
    let parts = components::Parts::new(&settings)?;
    // The commands printed for missing Secrets need their scope's creation rule.
    let missing = parts.missing_secrets();
    if !check
        && !allow_missing_secrets
        && !missing.is_empty()
        && render::write_sops_rules(&global.root, &settings)?
    {
        println!("wrote   .sops.yaml (the creation rules the commands below need)");
    }
    report_missing(&global.root, &settings, allow_missing_secrets, &missing)?;
    check_secret_values(&settings, &o4g_gitops::secret_values::key_sources())?;
    let built = parts.build()?;
    let result = write_or_check(global, args, &settings, &built);
    // Freeing the tree and every object one by one costs a tenth of a warm render; the OS
    // takes the memory back at exit at once (rustc leaks its large structures the same way).
    std::mem::forget(built);
    std::mem::forget(settings);
    result
}

/// `render`'s second half: audit and compare, or write.
fn write_or_check(
    global: &Global,
    args: &Args,
    settings: &Settings,
    built: &components::Built,
) -> Result<ExitCode, Error> {
    let &Args {
        check,
        prune_strays,
        allow_immutable_change,
        ..
    } = args;
    if check {
        components::audit(built, settings)?;
        let drift = render::check(&global.root, &built.tree)?;
        if drift.is_clean() {
            println!("out/ is in sync ({} files)", built.tree.files().len());
            Ok(ExitCode::SUCCESS)
        } else {
            print!("{drift}");
            Ok(ExitCode::from(1))
        }
    } else {
        let done = render::render(
            &global.root,
            built,
            settings,
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
