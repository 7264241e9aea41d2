//! `o4g lint`: the platform's policy rules on any YAML.

use std::path::PathBuf;
use std::process::ExitCode;

use o4g_gitops::{Error, lint, policy, settings::Settings};

use super::Global;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Grouped by file and object, each finding with its fix.
    Text,
    /// The violations as a JSON array.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// Check YAML files or folders against the platform's policy rules (Pod Security,
/// image digest/tag/registry, runAsNonRoot, requests and limits).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  o4g lint out/                                   every rule on the rendered tree\n  helm template ./chart | o4g lint --rules pss -  Pod Security alone, on stdin\n  o4g lint --skip image-digest,requests-limits k8s/   adopt the rules one by one\n  o4g lint --rules pss --level baseline --pss-version v1.30 manifest.yaml\n\nPer object: annotation o4g.dev/skip: \"image-digest=<why>; requests-limits=<why>\" (a reason is\nrequired; each skip is listed in the report).\nExit codes: 0 clean, 1 violations, 2 a file that is not a manifest or cannot be parsed (the\nothers are still linted) or bad arguments."
)]
pub struct Args {
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

pub fn run(global: &Global, args: &Args) -> Result<ExitCode, Error> {
    let Args {
        level,
        pss_version,
        format,
        registries,
        rules,
        skip,
        config,
        paths,
    } = args;
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
        default_registries(&global.root)?
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
