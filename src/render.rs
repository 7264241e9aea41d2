//! Writing the tree to disk, and comparing it with disk.
//!
//! `out/` is generated territory, with one exception: a folder in which the tree puts no file
//! (such as `out/clusters/open4goods/flux-system/`, written by `flux bootstrap`) is left alone.
//! In every folder where the tree does put files, any other file is stray: `check` reports it
//! and `write` removes it. Files listed in the previous manifest ([`MANIFEST_PATH`]) that are no
//! longer produced are stale and removed too. Nothing outside `out/` is ever removed unless the
//! manifest says the generator wrote it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::Path;

use similar::TextDiff;

use crate::Error;
use crate::tree::{MANIFEST_PATH, Tree, manifest_paths};

/// How `out/` differs from a fresh render.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Files whose bytes differ, with a unified diff (disk → rendered).
    pub changed: BTreeMap<String, String>,
    /// Files the render produces that are not on disk.
    pub missing: BTreeSet<String>,
    /// Files on disk that the render would remove (stray or stale).
    pub stray: BTreeSet<String>,
}

impl Drift {
    /// True when disk equals the render.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.stray.is_empty()
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return writeln!(f, "out/ is in sync with the code and settings");
        }
        for diff in self.changed.values() {
            write!(f, "{diff}")?;
        }
        for path in &self.missing {
            writeln!(f, "missing: {path} (render would create it)")?;
        }
        for path in &self.stray {
            writeln!(f, "stray: {path} (render would remove it)")?;
        }
        writeln!(
            f,
            "{} changed, {} missing, {} stray: run `cargo run -- render`",
            self.changed.len(),
            self.missing.len(),
            self.stray.len()
        )
    }
}

/// What [`write`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// Files created or rewritten.
    pub written: Vec<String>,
    /// Files removed.
    pub removed: Vec<String>,
    /// Files already up to date.
    pub unchanged: usize,
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Files on disk the render would remove: strays in generated folders under `out/`, and
/// stale entries of the previous manifest.
fn removals(root: &Path, tree: &Tree) -> Result<BTreeSet<String>, Error> {
    let files = tree.files();
    let out_prefix = format!("{}/", crate::OUT_DIR);
    let dirs: BTreeSet<&str> = files
        .keys()
        .filter(|p| p.starts_with(&out_prefix))
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    let mut remove = BTreeSet::new();
    for dir in dirs {
        let entries = match fs::read_dir(root.join(dir)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(root.join(dir), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(root.join(dir), e))?;
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if kind.is_dir() {
                continue;
            }
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if !files.contains_key(&rel) {
                remove.insert(rel);
            }
        }
    }
    if let Some(old) = read_optional(&root.join(MANIFEST_PATH))? {
        for path in manifest_paths(&String::from_utf8_lossy(&old)) {
            let safe = !path.starts_with('/') && !path.split('/').any(|p| p == "..");
            if safe && !files.contains_key(&path) && root.join(&path).is_file() {
                remove.insert(path);
            }
        }
    }
    Ok(remove)
}

/// Compares disk under `root` with the tree; writes nothing.
pub fn check(root: &Path, tree: &Tree) -> Result<Drift, Error> {
    let mut drift = Drift::default();
    for (path, bytes) in tree.files() {
        match read_optional(&root.join(path))? {
            None => {
                drift.missing.insert(path.clone());
            }
            Some(old) if old != *bytes => {
                let (old, new) = (
                    String::from_utf8_lossy(&old),
                    String::from_utf8_lossy(bytes),
                );
                let diff = TextDiff::from_lines(old.as_ref(), new.as_ref())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string();
                drift.changed.insert(path.clone(), diff);
            }
            Some(_) => {}
        }
    }
    drift.stray = removals(root, tree)?;
    Ok(drift)
}

/// Audits the tree with the platform's rules, then writes it ([`write`]); on a violation
/// nothing is written.
pub fn render(
    root: &Path,
    tree: &Tree,
    settings: &crate::settings::Settings,
) -> Result<Written, Error> {
    crate::components::audit(tree, settings)?;
    write(root, tree)
}

/// Writes the tree under `root`: only files whose bytes changed, each through a temporary file
/// renamed into place once every temporary file is written; then removes stray and stale files.
pub fn write(root: &Path, tree: &Tree) -> Result<Written, Error> {
    let drift = check(root, tree)?;
    let mut report = Written::default();
    let to_write: Vec<&String> = tree
        .files()
        .keys()
        .filter(|p| drift.changed.contains_key(*p) || drift.missing.contains(*p))
        .collect();
    report.unchanged = tree.files().len() - to_write.len();

    // Stage every file first, so an I/O error leaves the old files in place.
    let mut staged = Vec::new();
    let stage = |path: &String, staged: &mut Vec<(std::path::PathBuf, std::path::PathBuf)>| {
        let target = root.join(path);
        let dir = target.parent().unwrap_or(root);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.o4g-tmp"));
        fs::write(&tmp, &tree.files()[path]).map_err(|e| Error::io(&tmp, e))?;
        staged.push((tmp, target));
        Ok::<(), Error>(())
    };
    for path in &to_write {
        if let Err(e) = stage(path, &mut staged) {
            for (tmp, _) in &staged {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
    }
    for (tmp, target) in &staged {
        fs::rename(tmp, target).map_err(|e| Error::io(target, e))?;
    }
    report.written = to_write.into_iter().cloned().collect();

    for path in &drift.stray {
        let full = root.join(path);
        fs::remove_file(&full).map_err(|e| Error::io(&full, e))?;
        report.removed.push(path.clone());
        // Remove folders emptied by the removal, up to (not including) out/.
        let mut dir = full.parent();
        while let Some(d) = dir {
            if d == root.join(crate::OUT_DIR) || !d.starts_with(root.join(crate::OUT_DIR)) {
                break;
            }
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(report)
}
