//! `o4g lint`: the policy rules on any YAML files or folders.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::policy::{self, AuditConfig, Violation};

use crate::yaml_read::input_error;
pub use crate::yaml_read::{InputError as LintInputError, parse_documents};

/// A violation with the file it was found in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileViolation {
    /// The file.
    pub file: String,
    /// 1-based line of the offending field (or of its nearest ancestor in the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The violation.
    #[serde(flatten)]
    pub violation: Violation,
}

/// The YAML files under `paths` (files as given, folders walked in name order).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LintInputError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p).sort_by_file_name() {
                let e = e.map_err(|e| input_error(p, 0, 0, e.to_string()))?;
                let yaml = e
                    .path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml");
                if e.file_type().is_file() && yaml {
                    files.push(e.into_path());
                }
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(input_error(p, 0, 0, "no such file or folder".into()));
        }
    }
    Ok(files)
}

/// Symlinks inside the folders of `paths`: never followed by [`collect_files`], reported by
/// the command so that nothing is skipped silently.
pub fn symlinks_in(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| p.is_dir())
        .flat_map(|p| {
            walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.path_is_symlink())
                .map(walkdir::DirEntry::into_path)
        })
        .collect()
}

/// Rules that are not Pod Security checks, by name.
pub const OTHER_RULES: &[&str] = &[
    "image-digest",
    "image-tag",
    "image-registry",
    "run-as-non-root",
    "requests-limits",
    "sops-encrypted",
];

/// The annotation that exempts one object from rules, each with a mandatory reason:
/// `o4g.dev/skip: "image-digest=vendor image, pinned by the chart; requests-limits=…"`.
pub const SKIP_ANNOTATION: &str = "o4g.dev/skip";

/// Which rules run: a rule runs when `only` is empty or one of its selectors matches, and no
/// `skip` selector matches. A selector is a rule name (`image-digest`, `pss:privileged`) or
/// `pss` for every Pod Security check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSelection {
    /// `--rules`.
    pub only: Vec<String>,
    /// `--skip`.
    pub skip: Vec<String>,
}

fn matches(selector: &str, rule: &str) -> bool {
    selector == rule
        || rule
            .strip_prefix(selector)
            .is_some_and(|r| r.starts_with(':'))
}

/// Every rule name a selector may give.
pub fn known_rules() -> Vec<String> {
    let mut all = vec!["pss".to_string()];
    all.extend(policy::pss::CHECKS.iter().map(|c| format!("pss:{}", c.id)));
    all.extend(OTHER_RULES.iter().map(|r| r.to_string()));
    all.sort();
    all.dedup();
    all
}

impl RuleSelection {
    /// Refuses a selector that names no rule (a typo would silently select nothing).
    pub fn check(&self) -> Result<(), String> {
        let known = known_rules();
        for s in self.only.iter().chain(&self.skip) {
            if !known.iter().any(|k| k == s) {
                return Err(format!(
                    "unknown rule `{s}`: expected one of {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
    /// Whether `rule` runs.
    pub fn runs(&self, rule: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|s| matches(s, rule)))
            && !self.skip.iter().any(|s| matches(s, rule))
    }
}

/// `.o4g-lint.toml` (or `--config FILE`): the team's rule selection, so every run of
/// `o4g lint` in the repository applies it.
///
/// ```toml
/// [lint]
/// rules = ["pss", "image-digest"]   # default: every rule
/// skip = ["requests-limits"]
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// `[lint]`.
    #[serde(default)]
    pub lint: LintSection,
}

/// `[lint]` of [`LintConfig`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintSection {
    /// Rules that run (empty: all).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Rules that do not.
    #[serde(default)]
    pub skip: Vec<String>,
}

/// The default config file, looked for in the current directory.
pub const CONFIG_FILE: &str = ".o4g-lint.toml";

/// Reads a config file; errors name the file, line, column and key.
pub fn read_config(path: &Path) -> Result<RuleSelection, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cfg: LintConfig = toml::from_str(&text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| {
            let before = &text[..s.start.min(text.len())];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            (
                before.matches('\n').count() + 1,
                before.len() - line_start + 1,
            )
        });
        format!("{}:{line}:{col}: {}", path.display(), e.message())
    })?;
    let selection = RuleSelection {
        only: cfg.lint.rules,
        skip: cfg.lint.skip,
    };
    selection
        .check()
        .map_err(|why| format!("{}: [lint]: {why}", path.display()))?;
    Ok(selection)
}

/// A rule an object's annotation exempted it from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Exemption {
    /// The file.
    pub file: String,
    /// The object.
    pub object: String,
    /// The rule (selector) exempted.
    pub rule: String,
    /// Why (mandatory).
    pub reason: String,
}

/// What a lint run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Violations, sorted by file, object, rule and path.
    pub violations: Vec<FileViolation>,
    /// Files that could not be read or parsed (exit 2), the others still linted.
    pub input_errors: Vec<LintInputError>,
    /// Rules skipped by annotation.
    pub exemptions: Vec<Exemption>,
    /// Files linted.
    pub files: usize,
    /// Objects checked in them (the items of `List`s counted one by one).
    pub objects: usize,
}

/// Parses `o4g.dev/skip`: `rule=reason; rule=reason`. An entry without a reason or with an
/// unknown rule is an error.
fn exemptions_of(object: &serde_json::Value) -> Result<Vec<(String, String)>, String> {
    let Some(text) = object["metadata"]["annotations"][SKIP_ANNOTATION].as_str() else {
        return Ok(Vec::new());
    };
    let known = known_rules();
    let mut out = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((rule, reason)) = entry.split_once('=') else {
            return Err(format!("`{entry}` has no reason: write `{entry}=<why>`"));
        };
        let (rule, reason) = (rule.trim(), reason.trim());
        if reason.is_empty() {
            return Err(format!("`{rule}` has an empty reason"));
        }
        if !known.iter().any(|k| k == rule) {
            return Err(format!("`{rule}` is not a rule"));
        }
        out.push((rule.to_string(), reason.to_string()));
    }
    Ok(out)
}

/// Text that is a Helm template or a Kustomize file, not a manifest.
fn not_a_manifest(
    file: &Path,
    text: &str,
    docs: Option<&[serde_json::Value]>,
) -> Option<LintInputError> {
    let kustomize = docs.is_some_and(|d| {
        d.iter().any(|o| {
            o["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("kustomize.config.k8s.io/"))
        })
    });
    let template = docs.is_none() && text.contains("{{");
    (kustomize || template).then(|| {
        input_error(
            file,
            0,
            0,
            "not a manifest: render it first (helm template / kubectl kustomize)".into(),
        )
    })
}

/// The files the kustomizations under `dir` list as `patches:`: fragments of objects, not
/// manifests, so a folder walk skips them (lint what `kubectl kustomize` builds instead).
fn kustomize_patches(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_name() != "kustomization.yaml" || !e.file_type().is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let Ok(docs) = crate::yaml_read::read_documents(&text) else {
            continue;
        };
        let folder = e.path().parent().unwrap_or(dir);
        for p in docs
            .iter()
            .flat_map(|k| k["patches"].as_array().cloned().unwrap_or_default())
        {
            if let Some(path) = p["path"].as_str() {
                out.push(folder.join(path));
            }
        }
    }
    out
}

/// Why a symlink found in a linted folder is not linted.
pub const SYMLINK_NOT_LINTED: &str =
    "not linted: a symlink (never followed; lint the file it points to by its own path)";

/// One input: its name, where to read it (or why it cannot be), and whether it was named on
/// the command line (a Kustomize file found in a folder is skipped; one named directly is an
/// error).
struct Input {
    name: String,
    source: Result<Option<PathBuf>, LintInputError>,
    named: bool,
}

/// The inputs: files under `paths` (`None`: stdin for `-`), and the symlinks of the folders,
/// each an input that is not linted.
fn inputs(paths: &[PathBuf], errors: &mut Vec<LintInputError>) -> Vec<Input> {
    let mut out = Vec::new();
    if paths.iter().any(|p| p.as_os_str() == "-") {
        out.push(Input {
            name: "-".into(),
            source: Ok(None),
            named: true,
        });
    }
    for p in paths.iter().filter(|p| p.as_os_str() != "-") {
        let patches = if p.is_dir() {
            kustomize_patches(p)
        } else {
            Vec::new()
        };
        match collect_files(std::slice::from_ref(p)) {
            Ok(files) => {
                for f in files.into_iter().filter(|f| !patches.contains(f)) {
                    out.push(Input {
                        name: f.display().to_string(),
                        source: Ok(Some(f)),
                        named: !p.is_dir(),
                    });
                }
            }
            Err(e) => errors.push(e),
        }
        for link in symlinks_in(std::slice::from_ref(p)) {
            let yaml = link.extension().is_some_and(|x| x == "yaml" || x == "yml");
            // A link to a folder could hold manifests; a link named like a manifest is one.
            if yaml || std::fs::metadata(&link).is_ok_and(|m| m.is_dir()) {
                out.push(Input {
                    name: link.display().to_string(),
                    source: Err(input_error(&link, 0, 0, SYMLINK_NOT_LINTED.into())),
                    named: false,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Opens an input for reading; a file found in a folder is opened without following a
/// symlink swapped in since the folder was listed.
fn open(source: &Option<PathBuf>) -> Result<Box<dyn std::io::BufRead>, LintInputError> {
    use std::os::unix::fs::OpenOptionsExt;
    match source {
        None => Ok(Box::new(std::io::BufReader::new(std::io::stdin()))),
        Some(f) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o400000)
            .open(f)
            .map(|file| Box::new(std::io::BufReader::new(file)) as Box<dyn std::io::BufRead>)
            .map_err(|e| input_error(f, 0, 0, format!("cannot read: {e}"))),
    }
}

/// What one file gave: its findings and skips, how many objects it holds, or why it was not
/// linted. A file is linted whole or not at all.
#[derive(Default)]
struct FileResult {
    violations: Vec<FileViolation>,
    exemptions: Vec<Exemption>,
    /// Objects whose skip annotation is wrong (the file's other objects are linted).
    errors: Vec<LintInputError>,
    objects: usize,
    /// Why the file is not linted.
    fatal: Option<LintInputError>,
    /// A Kustomize file (skipped in a folder).
    kustomize: bool,
}

/// Lints one input, one document at a time (memory holds one document, whatever the size of
/// the stream; bounds per document in [`crate::yaml_read`]).
fn lint_input(
    name: &str,
    reader: Box<dyn std::io::BufRead>,
    cfg: &AuditConfig,
    rules: &RuleSelection,
) -> FileResult {
    let file = Path::new(name);
    let mut result = FileResult::default();
    for doc in crate::yaml_read::documents(reader) {
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                result.fatal = Some(input_error(file, e.line, e.column, e.message));
                return result;
            }
        };
        let offset = doc.first_line - 1;
        let values = match crate::yaml_read::read_located(&doc.text, true) {
            Ok(v) => v,
            Err(e) => {
                let line = if e.line == 0 { 0 } else { e.line + offset };
                let e = input_error(file, line, e.column, e.message);
                result.fatal = Some(not_a_manifest(file, &doc.text, None).unwrap_or(e));
                return result;
            }
        };
        let (values, positions): (Vec<_>, Vec<_>) =
            values.into_iter().map(|d| (d.value, d.positions)).unzip();
        if let Some(e) = not_a_manifest(file, &doc.text, Some(&values)) {
            result.kustomize = true;
            result.fatal = Some(e);
            return result;
        }
        for (index, value) in values.into_iter().enumerate() {
            for (prefix, object) in crate::yaml_read::flatten_located(value) {
                result.objects += 1;
                let at = |path: &str| {
                    positions
                        .get(index)
                        .and_then(|p| crate::yaml_read::position_of(p, &format!("{prefix}{path}")))
                        .map(|(l, c)| (l + offset, c))
                };
                lint_object(name, &object, cfg, rules, at, &mut result);
            }
        }
    }
    result
}

/// The findings of one object, after the rule selection and its exemptions.
fn lint_object(
    name: &str,
    object: &serde_json::Value,
    cfg: &AuditConfig,
    rules: &RuleSelection,
    at: impl Fn(&str) -> Option<(usize, usize)>,
    result: &mut FileResult,
) {
    let exempt = match exemptions_of(object) {
        Ok(x) => x,
        Err(why) => {
            result.errors.push(input_error(
                Path::new(name),
                0,
                0,
                format!(
                    "{}: annotation {SKIP_ANNOTATION}: {why}",
                    policy::object_id(object)
                ),
            ));
            return;
        }
    };
    let found = policy::audit_object(object, cfg);
    // One defect, one finding: Pod Security's runAsNonRoot already says it.
    let pss_non_root = found
        .iter()
        .any(|v| v.rule == "pss:runAsNonRoot" && rules.runs(&v.rule));
    for (rule, reason) in &exempt {
        result.exemptions.push(Exemption {
            file: name.to_string(),
            object: policy::object_id(object),
            rule: rule.clone(),
            reason: reason.clone(),
        });
    }
    for violation in found {
        if !rules.runs(&violation.rule)
            || exempt.iter().any(|(r, _)| matches(r, &violation.rule))
            || (pss_non_root && violation.rule == "run-as-non-root")
        {
            continue;
        }
        let position = at(&violation.path);
        result.violations.push(FileViolation {
            file: name.to_string(),
            line: position.map(|(l, _)| l),
            column: position.map(|(_, c)| c),
            violation,
        });
    }
}

/// Lints files and folders (`-`: stdin) with `rules`; a file that cannot be parsed, or a
/// symlink found in a folder, is reported as not linted and the others are still linted.
pub fn lint_report(paths: &[PathBuf], cfg: &AuditConfig, rules: &RuleSelection) -> Report {
    let mut report = Report::default();
    for input in inputs(paths, &mut report.input_errors) {
        let reader = match input.source.and_then(|s| open(&s)) {
            Ok(r) => r,
            Err(e) => {
                report.input_errors.push(e);
                continue;
            }
        };
        let result = lint_input(&input.name, reader, cfg, rules);
        if let Some(e) = result.fatal {
            // A kustomization.yaml beside the manifests it lists holds no workload.
            if !result.kustomize || input.named {
                report.input_errors.push(e);
            }
        } else {
            report.files += 1;
            report.objects += result.objects;
            report.violations.extend(result.violations);
            report.exemptions.extend(result.exemptions);
            report.input_errors.extend(result.errors);
        }
    }
    report
        .violations
        .sort_by(|a, b| (&a.file, &a.violation).cmp(&(&b.file, &b.violation)));
    report.exemptions.sort();
    report
}

/// Lints files and folders with every rule; violations sorted by file, object, rule and path.
/// The first file that cannot be read or parsed is the error.
pub fn lint(paths: &[PathBuf], cfg: &AuditConfig) -> Result<Vec<FileViolation>, LintInputError> {
    let mut out = Vec::new();
    for file in collect_files(paths)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| input_error(&file, 0, 0, format!("cannot read: {e}")))?;
        for object in parse_documents(&file, &text)? {
            for violation in policy::audit_object(&object, cfg) {
                out.push(FileViolation {
                    file: file.display().to_string(),
                    line: None,
                    column: None,
                    violation,
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// How to fix a finding of `rule`, one sentence.
pub fn fix(rule: &str) -> String {
    let known = match rule {
        "image-digest" => {
            "pin the image by digest: `name:tag@sha256:<digest>` (`crane digest name:tag` prints it)"
        }
        "image-tag" => "give the image an explicit version tag (never `latest`), with its digest",
        "image-registry" => {
            "pull from an allowed registry (`--registry`, or `registries.allowed` in overlays/cluster.toml), written fully qualified"
        }
        "run-as-non-root" => {
            "set `securityContext.runAsNonRoot: true` on the pod or on every container"
        }
        "requests-limits" => "set `resources.requests` and `resources.limits` for cpu and memory",
        "sops-encrypted" => {
            "encrypt the Secret with sops (`o4g secrets template … | sops encrypt …`)"
        }
        "pss:privileged" => "set `securityContext.privileged: false` or remove it",
        "pss:allowPrivilegeEscalation" => {
            "set `securityContext.allowPrivilegeEscalation: false` on every container"
        }
        "pss:capabilities_restricted" => {
            "set `securityContext.capabilities.drop: [ALL]` and add back at most `NET_BIND_SERVICE`"
        }
        "pss:capabilities_baseline" => {
            "remove the added capabilities that are not in the default set"
        }
        "pss:runAsNonRoot" => {
            "set `securityContext.runAsNonRoot: true` on the pod or on every container"
        }
        "pss:runAsUser" => "remove `runAsUser: 0`: run as a non-zero uid",
        "pss:seccompProfile_restricted" => {
            "set `securityContext.seccompProfile.type: RuntimeDefault` (or `Localhost`) on the pod"
        }
        "pss:seccompProfile_baseline" => "do not set `seccompProfile.type: Unconfined`",
        "pss:hostNamespaces" => {
            "remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to false)"
        }
        "pss:hostPathVolumes" => {
            "replace the hostPath volume (emptyDir, a PersistentVolumeClaim, a ConfigMap)"
        }
        "pss:hostPorts" => {
            "remove `hostPort` from the container ports (expose them through a Service)"
        }
        "pss:restrictedVolumes" => {
            "use only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret volumes"
        }
        "pss:procMount" | "pss:procMount_restricted" => {
            "remove `procMount` (or set it to `Default`)"
        }
        "pss:sysctls" => "set only the safe sysctls",
        "pss:appArmorProfile" => "do not set the AppArmor profile to `Unconfined`",
        "pss:seLinuxOptions" => {
            "remove the SELinux `user` and `role`, and use a container type (`container_t`, `container_init_t`, `container_kvm_t`)"
        }
        "pss:windowsHostProcess" => "remove `windowsOptions.hostProcess: true`",
        "pss:hostProbesAndHostLifecycle" => {
            "remove `host` from the probes and lifecycle handlers (they target the pod)"
        }
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let id = rule.strip_prefix("pss:").unwrap_or(rule);
    policy::pss::CHECKS.iter().find(|c| c.id == id).map_or_else(
        || "see the rule's description".to_string(),
        |c| format!("Pod Security forbids: {}", c.description),
    )
}

/// The human report: findings grouped by file and object, each with its fix, then the skips,
/// then one summary line.
pub fn human(report: &Report) -> String {
    use std::fmt::Write as _;
    let esc = |s: &str| crate::input::escape(s);
    let mut out = String::new();
    let mut last: Option<(&str, &str)> = None;
    for v in &report.violations {
        let (file, object) = (v.file.as_str(), v.violation.object.as_str());
        if last.map(|(f, _)| f) != Some(file) {
            let _ = writeln!(out, "{}", esc(file));
        }
        if last != Some((file, object)) {
            let _ = writeln!(out, "  {}", esc(object));
        }
        last = Some((file, object));
        let container = v
            .violation
            .container
            .as_ref()
            .map(|c| format!(" (container {})", esc(c)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    [{}] {}{container}: {}",
            v.violation.rule,
            esc(&v.violation.path),
            esc(&v.violation.message),
        );
        if let (Some(l), Some(c)) = (v.line, v.column) {
            let _ = writeln!(out, "      at {}:{l}:{c}", esc(file));
        }
        let _ = writeln!(out, "      fix: {}", fix(&v.violation.rule));
    }
    for x in &report.exemptions {
        let _ = writeln!(
            out,
            "{}: {}: {} skipped by {SKIP_ANNOTATION}: {}",
            esc(&x.file),
            esc(&x.object),
            x.rule,
            esc(&x.reason)
        );
    }
    let objects: std::collections::BTreeSet<(&str, &str)> = report
        .violations
        .iter()
        .map(|v| (v.file.as_str(), v.violation.object.as_str()))
        .collect();
    let found = if report.violations.is_empty() {
        "no violation".to_string()
    } else {
        format!(
            "{} violation(s) in {} object(s)",
            report.violations.len(),
            objects.len()
        )
    };
    let _ = writeln!(
        out,
        "{} object(s) checked in {} file(s): {found}, {} rule(s) skipped by annotation, {} file(s) not linted",
        report.objects,
        report.files,
        report.exemptions.len(),
        report.input_errors.len()
    );
    out
}

/// The report as JSON: the violations, each with its fix.
pub fn json(report: &Report) -> serde_json::Value {
    report
        .violations
        .iter()
        .map(|v| {
            let mut value = serde_json::to_value(v).unwrap_or_default();
            value["fix"] = fix(&v.violation.rule).into();
            value
        })
        .collect()
}

/// The report as SARIF 2.1.0 (GitHub code scanning shows it on the pull request): one rule
/// per rule that fired, with its fix as help; one result per violation at its file, and one
/// error notification per file that was not linted.
pub fn sarif(report: &Report) -> serde_json::Value {
    use serde_sarif::sarif as s;
    let mut rule_ids: Vec<&str> = report
        .violations
        .iter()
        .map(|v| v.violation.rule.as_str())
        .collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<s::ReportingDescriptor> = rule_ids
        .iter()
        .map(|id| {
            s::ReportingDescriptor::builder()
                .id(*id)
                .short_description(s::MultiformatMessageString::builder().text(*id).build())
                .help(s::MultiformatMessageString::builder().text(fix(id)).build())
                .build()
        })
        .collect();
    let results: Vec<s::Result> = report
        .violations
        .iter()
        .map(|v| {
            let container = v
                .violation
                .container
                .as_ref()
                .map(|c| format!(" (container {c})"))
                .unwrap_or_default();
            let text = format!(
                "{}: {}{container}: {}. Fix: {}",
                v.violation.object,
                v.violation.path,
                v.violation.message,
                fix(&v.violation.rule)
            );
            let artifact = s::ArtifactLocation::builder().uri(v.file.clone()).build();
            let physical = match (v.line, v.column) {
                (Some(line), Some(column)) => s::PhysicalLocation::builder()
                    .artifact_location(artifact)
                    .region(
                        s::Region::builder()
                            .start_line(line as i64)
                            .start_column(column as i64)
                            .build(),
                    )
                    .build(),
                _ => s::PhysicalLocation::builder()
                    .artifact_location(artifact)
                    .build(),
            };
            let location = s::Location::builder().physical_location(physical).build();
            s::Result::builder()
                .rule_id(v.violation.rule.clone())
                .rule_index(
                    rule_ids
                        .iter()
                        .position(|r| *r == v.violation.rule)
                        .unwrap_or(0) as i64,
                )
                .level(s::ResultLevel::Error)
                .message(s::Message::builder().text(text).build())
                .locations(vec![location])
                .build()
        })
        .collect();
    let notifications: Vec<s::Notification> = report
        .input_errors
        .iter()
        .map(|e| {
            s::Notification::builder()
                .message(s::Message::builder().text(e.to_string()).build())
                .level(serde_json::json!("error"))
                .build()
        })
        .collect();
    let invocation = s::Invocation::builder()
        .execution_successful(report.input_errors.is_empty())
        .tool_execution_notifications(notifications)
        .build();
    let run = s::Run::builder()
        .tool(
            s::Tool::builder()
                .driver(
                    s::ToolComponent::builder()
                        .name("o4g lint")
                        .information_uri("https://github.com/open4goods/o4g-gitops")
                        .version(env!("CARGO_PKG_VERSION"))
                        .rules(rules)
                        .build(),
                )
                .build(),
        )
        .results(results)
        .invocations(vec![invocation])
        .build();
    let log = s::Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_value(log).unwrap_or_default()
}
