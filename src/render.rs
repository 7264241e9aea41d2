//! Writing the tree to disk, and comparing it with disk — on a checkout that may be hostile.
//!
//! `render --check` runs in CI on pull requests, so everything under `out/` (the manifest
//! included) is untrusted input. The rules:
//! - Writes go only to the tree's own paths: under `out/`, plus the root files the generator
//!   owns ([`ROOT_FILES`]). Removals happen only under `out/`, and only for files that the
//!   previous manifest ([`MANIFEST_PATH`]) lists *and whose bytes still hash as recorded*
//!   (stale generated files). A manifest line naming anything else is reported, never acted on.
//! - No symlink is followed: a symlink anywhere under `out/` (`out` itself included) or at a
//!   root file makes `write` refuse before touching anything, and `check` report it without
//!   reading through it. Files are opened with `O_NOFOLLOW`.
//! - A file in a generated folder that the manifest does not list (a user's note) is a stray:
//!   reported and kept, removed only with `--prune-strays`. A generated file edited by hand and
//!   no longer produced is kept too.
//! - Every write is staged as `.o4g-tmp-<name>-<pid>` (covered by `.gitignore`), created
//!   exclusively, and renamed into place only when every file is staged; on any error the staged
//!   files are removed, so `out/` is unchanged. Leftovers of a killed render are removed by the
//!   next one. Files larger than the process's file-size limit are refused before writing.
//! - One render at a time per checkout: an advisory lock (`flock`) on the `out/` folder itself,
//!   released by the OS when the process ends, so a killed render never blocks the next and no
//!   lock file is left in the tree. A second render waits for it, saying so on stderr as cargo
//!   does ("Blocking waiting for file lock"), for at most [`LOCK_TIMEOUT_SECS`] seconds
//!   (environment `O4G_LOCK_TIMEOUT_SECS` to change it).
//! - Diffs of Secrets (files under a `secrets/` folder or holding `kind: Secret`) name the keys
//!   that differ, never the values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use similar::TextDiff;

use crate::Error;
use crate::tree::{MANIFEST_PATH, Tree, sha256_hex};

/// Files outside `out/` that the generator writes (and never removes).
pub const ROOT_FILES: &[&str] = &[".sops.yaml"];
/// Prefix of staged files (`.gitignore` has `.o4g-tmp*`).
pub const TMP_PREFIX: &str = ".o4g-tmp-";
/// `O_NOFOLLOW` on Linux (x86_64 and aarch64 alike): the last path component must not be a
/// symlink. Spelled out to avoid a libc dependency for one constant.
const O_NOFOLLOW: i32 = 0o400000;

/// How `out/` differs from a fresh render.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Files whose bytes differ, with a unified diff (disk → rendered), redacted for Secrets.
    pub changed: BTreeMap<String, String>,
    /// Files the render produces that are not on disk.
    pub missing: BTreeSet<String>,
    /// Generated files no longer produced whose bytes still match the manifest: `write`
    /// removes them.
    pub stale: BTreeSet<String>,
    /// Files in generated folders that the manifest does not list: kept unless
    /// `--prune-strays`.
    pub strays: BTreeSet<String>,
    /// Files left alone, with why (an edited generated file no longer produced, a manifest
    /// line outside `out/`).
    pub kept: BTreeMap<String, String>,
    /// Symlinks (or other non-files) where a file or folder of ours belongs: never followed.
    pub unsafe_paths: BTreeMap<String, String>,
    /// Files an interrupted render staged under `out/` (`.o4g-tmp-*`): not drift, `write`
    /// removes them.
    pub leftovers: BTreeSet<String>,
}

impl Drift {
    /// True when disk equals the render.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty()
            && self.missing.is_empty()
            && self.stale.is_empty()
            && self.strays.is_empty()
            && self.unsafe_paths.is_empty()
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, why) in &self.unsafe_paths {
            writeln!(f, "unexpected: {} ({why}; not followed)", escape(path))?;
        }
        if self.is_clean() {
            writeln!(f, "out/ is in sync with the code and settings")?;
        }
        for (path, diff) in &self.changed {
            write!(f, "{diff}")?;
            writeln!(
                f,
                "  {}: {}",
                escape(path),
                crate::components::layout::source_of(path)
            )?;
        }
        for path in &self.missing {
            writeln!(
                f,
                "missing: {} (render would create it; {})",
                escape(path),
                crate::components::layout::source_of(path)
            )?;
        }
        for path in &self.stale {
            writeln!(f, "stale: {} (render would remove it)", escape(path))?;
        }
        for path in &self.strays {
            writeln!(
                f,
                "stray: {} (not generated; kept, `render --prune-strays` removes it)",
                escape(path)
            )?;
        }
        for (path, why) in &self.kept {
            writeln!(f, "kept: {} ({why})", escape(path))?;
        }
        if !self.is_clean() {
            writeln!(
                f,
                "{} changed, {} missing, {} stale, {} stray, {} unexpected: run `cargo run -- render`",
                self.changed.len(),
                self.missing.len(),
                self.stale.len(),
                self.strays.len(),
                self.unsafe_paths.len()
            )?;
        }
        Ok(())
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
    /// Strays kept (not removed without `--prune-strays`).
    pub strays_kept: Vec<String>,
    /// Other files left alone, with why.
    pub kept: Vec<(String, String)>,
}

/// Options of [`write`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Also remove strays (files in generated folders that the manifest does not list).
    pub prune_strays: bool,
    /// Write even when a field the API server will not patch changes (after the procedure
    /// of [`crate::immutable`] was followed).
    pub allow_immutable_change: bool,
}

pub use crate::input::escape;

fn unsafe_error(path: &str, why: &str) -> Error {
    Error::Unsafe(format!(
        "refusing to touch {}: {why}. out/ is generated; remove it and render again",
        escape(path)
    ))
}

/// True when `rel` is a plain relative path (no `..`, no root, no empty component).
fn is_plain(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\0')
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

fn is_internal(name: &str) -> bool {
    name.starts_with(TMP_PREFIX)
}

/// What one walk of `out/` (never following a symlink) finds: every symlink or special file
/// under it and at the root files, with why, and every regular file, by relative path.
#[derive(Default)]
struct Scan {
    unsafe_paths: BTreeMap<String, String>,
    files: BTreeSet<String>,
}

/// Walks `out/` once (see [`Scan`]).
fn scan(root: &Path) -> Result<Scan, Error> {
    let mut scan = Scan::default();
    let bad = &mut scan.unsafe_paths;
    let out = root.join(crate::OUT_DIR);
    for rel in ROOT_FILES.iter().copied().chain([crate::OUT_DIR]) {
        if let Ok(meta) = fs::symlink_metadata(root.join(rel))
            && meta.file_type().is_symlink()
        {
            bad.insert(rel.to_string(), "a symlink".to_string());
        }
    }
    if bad.contains_key(crate::OUT_DIR) || !out.is_dir() {
        return Ok(scan);
    }
    for entry in walkdir::WalkDir::new(&out).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| out.clone());
            Error::io(path, std::io::Error::other(e.to_string()))
        })?;
        let kind = entry.file_type();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        if kind.is_symlink() {
            scan.unsafe_paths.insert(rel, "a symlink".into());
        } else if kind.is_file() {
            scan.files.insert(rel);
        } else if !kind.is_dir() {
            scan.unsafe_paths.insert(rel, "not a regular file".into());
        }
    }
    Ok(scan)
}

/// Reads a regular file without following a symlink into `buf` (its contents replaced,
/// `expected` bytes reserved so that a file of that size takes one read and no size query);
/// false when it does not exist. One buffer for every file of a check: no fresh memory per
/// file.
fn read_regular_into(path: &Path, expected: usize, buf: &mut Vec<u8>) -> Result<bool, Error> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path);
    match file {
        Ok(f) => {
            buf.clear();
            buf.reserve(expected + 1);
            // Through `Take`, `read_to_end` reads into the reserved room without the size
            // query `File::read_to_end` makes first.
            f.take(u64::MAX)
                .read_to_end(buf)
                .map_err(|e| Error::io(path, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Reads a regular file without following a symlink; `None` when it does not exist.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let mut bytes = Vec::new();
    Ok(read_regular_into(path, 0, &mut bytes)?.then_some(bytes))
}

/// `(sha256, path)` lines of a manifest; other lines are ignored.
fn manifest_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once("  "))
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .collect()
}

fn is_secret_file(path: &str, bytes: &[u8]) -> bool {
    path.split('/').any(|c| c == "secrets")
        || String::from_utf8_lossy(bytes)
            .lines()
            .any(|l| l.trim() == "kind: Secret")
}

/// The key names whose values differ between two Secret files (never the values).
fn secret_summary(path: &str, old: &[u8], new: &[u8]) -> String {
    fn keys(bytes: &[u8]) -> Option<BTreeMap<String, String>> {
        let docs =
            crate::yaml_read::parse_documents(Path::new("secret"), &String::from_utf8_lossy(bytes))
                .ok()?;
        let mut out = BTreeMap::new();
        for d in docs {
            let name = d["metadata"]["name"].as_str().unwrap_or("?").to_string();
            for section in ["data", "stringData"] {
                for (k, v) in d[section].as_object().into_iter().flatten() {
                    out.insert(format!("{name}.{section}.{k}"), v.to_string());
                }
            }
            out.insert(format!("{name}.sops"), d["sops"].to_string());
        }
        Some(out)
    }
    let detail = match (keys(old), keys(new)) {
        (Some(a), Some(b)) => {
            let all: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            let differ: Vec<String> = all
                .into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| escape(k))
                .collect();
            format!("keys that differ: {}", differ.join(", "))
        }
        _ => "the file on disk is not readable YAML".to_string(),
    };
    format!(
        "--- a/{p}\n+++ b/{p}\n@@ Secret file differs; {detail} (values are never shown) @@\n",
        p = escape(path)
    )
}

fn diff(path: &str, old: &[u8], new: &[u8]) -> String {
    if is_secret_file(path, old) || is_secret_file(path, new) {
        return secret_summary(path, old, new);
    }
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let text = TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    // Escape control characters line by line, keeping the newlines.
    text.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(body) => format!("{}\n", escape(body)),
            None => escape(l),
        })
        .collect()
}

/// How many files of the tree [`check`] reads with one buffer, on one thread.
const FILES_PER_RUN: usize = 32;

/// Compares disk under `root` with the tree; writes nothing, follows no symlink.
pub fn check(root: &Path, tree: &Tree) -> Result<Drift, Error> {
    let Scan {
        unsafe_paths,
        files: on_disk,
    } = scan(root)?;
    let mut drift = Drift {
        unsafe_paths,
        ..Default::default()
    };
    drift.leftovers = on_disk
        .iter()
        .filter(|rel| {
            rel.rsplit_once('/')
                .is_some_and(|(_, name)| is_internal(name))
        })
        .cloned()
        .collect();
    let blocked = |rel: &str, drift: &Drift| {
        drift
            .unsafe_paths
            .keys()
            .any(|u| rel == u || rel.starts_with(&format!("{u}/")))
    };
    let out_prefix = format!("{}/", crate::OUT_DIR);
    // Read and compared on the cores there are, in runs of files that share one buffer (no
    // fresh memory per file); the outcomes, and the first error, in path order.
    enum Disk {
        Same,
        Missing,
        Changed(String),
    }
    let files: Vec<(&String, &Vec<u8>)> = tree.files().iter().collect();
    let runs: Vec<&[(&String, &Vec<u8>)]> = files.chunks(FILES_PER_RUN).collect();
    let compared = crate::parallel::try_map(&runs, |run| {
        let mut on_disk_bytes = Vec::new();
        run.iter()
            .map(|&(path, bytes)| {
                if !is_plain(path)
                    || !(path.starts_with(&out_prefix) || ROOT_FILES.contains(&path.as_str()))
                {
                    return Err(Error::Build(format!(
                        "tree path {path} is neither under out/ nor a root file the generator owns"
                    )));
                }
                if blocked(path, &drift) {
                    return Ok(Disk::Same);
                }
                Ok(
                    if !read_regular_into(&root.join(path), bytes.len(), &mut on_disk_bytes)? {
                        Disk::Missing
                    } else if on_disk_bytes != *bytes {
                        Disk::Changed(diff(path, &on_disk_bytes, bytes))
                    } else {
                        Disk::Same
                    },
                )
            })
            .collect::<Result<Vec<Disk>, Error>>()
    })?;
    for ((path, _), disk) in files.iter().zip(compared.into_iter().flatten()) {
        match disk {
            Disk::Same => {}
            Disk::Missing => {
                drift.missing.insert((*path).clone());
            }
            Disk::Changed(diff) => {
                drift.changed.insert((*path).clone(), diff);
            }
        }
    }
    if drift.unsafe_paths.contains_key(crate::OUT_DIR) {
        return Ok(drift);
    }
    let files = tree.files();
    // Stale and kept entries of the previous manifest.
    let mut listed = BTreeSet::new();
    if !blocked(MANIFEST_PATH, &drift)
        && let Some(old) = read_regular(&root.join(MANIFEST_PATH))?
    {
        for (hash, path) in manifest_entries(&String::from_utf8_lossy(&old)) {
            listed.insert(path.clone());
            if files.contains_key(&path) || blocked(&path, &drift) {
                continue;
            }
            if !is_plain(&path) || !path.starts_with(&out_prefix) {
                drift
                    .kept
                    .insert(path, "manifest entry outside out/: ignored".into());
                continue;
            }
            match read_regular(&root.join(&path)) {
                Ok(Some(bytes)) if sha256_hex(&bytes) == hash => {
                    drift.stale.insert(path);
                }
                Ok(Some(_)) => {
                    drift.kept.insert(
                        path,
                        "no longer generated, but edited since: remove it by hand if unwanted"
                            .into(),
                    );
                }
                Ok(None) => {}
                Err(_) => {
                    drift
                        .kept
                        .insert(path, "not a readable regular file".into());
                }
            }
        }
    }
    // Strays: files in generated folders that neither the tree nor the manifest knows.
    let dirs: BTreeSet<&str> = files
        .keys()
        .filter(|p| p.starts_with(&out_prefix))
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    // The regular files the walk found directly in those folders.
    for rel in &on_disk {
        let Some((dir, name)) = rel.rsplit_once('/') else {
            continue;
        };
        if !dirs.contains(dir) || blocked(dir, &drift) || is_internal(name) {
            continue;
        }
        if !files.contains_key(rel) && !listed.contains(rel) {
            drift.strays.insert(rel.clone());
        }
    }
    Ok(drift)
}

/// Audits the tree with the platform's rules, then writes it ([`write`]); on a violation
/// nothing is written.
pub fn render(
    root: &Path,
    built: &crate::components::Built,
    settings: &crate::settings::Settings,
    options: WriteOptions,
) -> Result<Written, Error> {
    crate::components::audit(built, settings)?;
    let tree = &built.tree;
    // Locked before the committed tree is read, so the checks see what this render replaces.
    let lock = lock(root)?;
    let drift = check(root, tree)?;
    // When every generated file is on disk with the same bytes, every object kustomize builds
    // is the same: no field can change, so the committed objects are not read at all. With
    // the flag, what no procedure makes right (a smaller claim template) is still refused.
    let same = drift.changed.is_empty() && drift.missing.is_empty();
    if !same {
        let refused: Vec<_> = immutable_changes(root, tree)
            .into_iter()
            .filter(|c| !options.allow_immutable_change || c.never)
            .collect();
        if !refused.is_empty() {
            return Err(Error::Immutable(refused));
        }
    }
    write_locked(root, tree, options, drift, &lock)
}

/// The changes from the committed `out/` to `tree` that the API server would refuse, over
/// the folders the Flux Kustomizations apply. The new side is the objects the tree kept (no
/// YAML it just wrote is parsed); of the committed files only the kustomizations, the patches
/// and the resource files that may hold a guarded kind ([`crate::immutable::may_hold_guarded`])
/// are parsed, each once, without following symlinks (a symlink makes the write refuse anyway).
pub fn immutable_changes(root: &Path, tree: &Tree) -> Vec<crate::immutable::ImmutableChange> {
    use crate::immutable::{Part, parse};
    let objects_of = |p: &str| {
        tree.objects_of(p)
            .map(<[_]>::to_vec)
            .or_else(|| tree.get(p).map(|b| parse(p, b)))
    };
    let roots: Vec<(String, String)> = tree
        .files()
        .keys()
        .filter(|p| p.starts_with(crate::components::layout::CLUSTER))
        .flat_map(|p| objects_of(p).unwrap_or_default())
        .filter(|o| o["kind"] == "Kustomization")
        .filter_map(|o| {
            let name = o["metadata"]["name"].as_str()?.to_string();
            let path = o["spec"]["path"].as_str()?;
            Some((name, path.trim_start_matches("./").to_string()))
        })
        .collect();
    let new = |p: &str, _: Part| objects_of(p);
    let old = |p: &str, part: Part| {
        let bytes = is_plain(p)
            .then(|| read_regular(&root.join(p)).ok().flatten())
            .flatten()?;
        if part == Part::Resource && !crate::immutable::may_hold_guarded(&bytes) {
            return Some(Vec::new());
        }
        Some(parse(p, &bytes))
    };
    crate::immutable::changes(&old, &new, &roots)
}

/// The advisory lock of one render or check on a checkout; released when dropped or when the
/// process ends.
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

/// Locks the `out/` folder (creating it if needed), waiting (bounded) while another render
/// holds it.
pub fn lock(root: &Path) -> Result<Lock, Error> {
    let out = root.join(crate::OUT_DIR);
    if let Ok(meta) = fs::symlink_metadata(&out)
        && !meta.is_dir()
    {
        return Err(unsafe_error(
            crate::OUT_DIR,
            "it is not a folder (a symlink?)",
        ));
    }
    if !out.exists() {
        fs::create_dir(&out).map_err(|e| Error::io(&out, e))?;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(&out)
        .map_err(|e| match e.raw_os_error() {
            // ELOOP: swapped for a symlink since the check above.
            Some(40) => unsafe_error(crate::OUT_DIR, "a symlink"),
            _ => Error::io(&out, e),
        })?;
    let timeout = std::env::var("O4G_LOCK_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(LOCK_TIMEOUT_SECS);
    let start = std::time::Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(&out, e)),
        }
        if !said {
            eprintln!(
                "    Blocking waiting for the lock on out/ (another o4g render of this checkout holds it; at most {timeout} s)"
            );
            said = true;
        }
        if start.elapsed() >= std::time::Duration::from_secs(timeout) {
            return Err(Error::Busy(format!(
                "another o4g render of this checkout still holds the lock on out/: gave up after {timeout} s; run again once it has finished"
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// How long a render waits for another one's lock, in seconds.
pub const LOCK_TIMEOUT_SECS: u64 = 300;

/// The file-size limit of this process (`ulimit -f`), if any: writing past it would kill the
/// process with SIGXFSZ half-way through.
fn file_size_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max file size"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Removes `.o4g-tmp-*` leftovers of an interrupted render: those the check's walk of `out/`
/// found (regular files only), and those beside the root files.
fn remove_leftovers(root: &Path, leftovers: &BTreeSet<String>) -> Result<(), Error> {
    for rel in leftovers {
        let path = root.join(rel);
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    for rel in ROOT_FILES {
        let dir = root.join(rel);
        let Some(dir) = dir.parent() else { continue };
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{TMP_PREFIX}{rel}-"))
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Writes the tree under `root` (see the module docs for what may be written and removed).
pub fn write(root: &Path, tree: &Tree, options: WriteOptions) -> Result<Written, Error> {
    let lock = lock(root)?;
    let drift = check(root, tree)?;
    write_locked(root, tree, options, drift, &lock)
}

/// [`write`], for a caller that holds the lock.
fn write_locked(
    root: &Path,
    tree: &Tree,
    options: WriteOptions,
    drift: Drift,
    _lock: &Lock,
) -> Result<Written, Error> {
    if let Some((path, why)) = drift.unsafe_paths.iter().next() {
        return Err(unsafe_error(path, why));
    }
    remove_leftovers(root, &drift.leftovers)?;
    let mut report = Written::default();
    let to_write: Vec<&String> = tree
        .files()
        .keys()
        .filter(|p| drift.changed.contains_key(*p) || drift.missing.contains(*p))
        .collect();
    report.unchanged = tree.files().len() - to_write.len();
    if let Some(limit) = file_size_limit()
        && let Some(big) = to_write
            .iter()
            .find(|p| tree.files()[**p].len() as u64 > limit)
    {
        return Err(Error::io(
            root.join(big),
            std::io::Error::other(format!(
                "larger than this process's file-size limit ({limit} bytes, `ulimit -f`); nothing was written"
            )),
        ));
    }

    // Stage every file first, so an I/O error leaves the old files in place.
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let stage = |path: &String, staged: &mut Vec<(PathBuf, PathBuf)>| -> Result<(), Error> {
        let target = root.join(path);
        let dir = target.parent().unwrap_or(root);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        staged.push((tmp.clone(), target));
        file.write_all(&tree.files()[path])
            .and_then(|()| file.flush())
            .map_err(|e| Error::io(&tmp, e))
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

    let mut remove: Vec<&String> = drift.stale.iter().collect();
    if options.prune_strays {
        remove.extend(&drift.strays);
    } else {
        report.strays_kept = drift.strays.iter().cloned().collect();
    }
    report.kept = drift
        .kept
        .iter()
        .map(|(p, w)| (p.clone(), w.clone()))
        .collect();
    let out = root.join(crate::OUT_DIR);
    for path in remove {
        let full = root.join(path);
        fs::remove_file(&full).map_err(|e| Error::io(&full, e))?;
        report.removed.push(path.clone());
        // Remove folders emptied by the removal, up to (not including) out/.
        let mut dir = full.parent();
        while let Some(d) = dir {
            if d == out || !d.starts_with(&out) {
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

/// Writes `.sops.yaml` alone, before the rest of the tree, when a render stops because
/// Secrets are missing: the commands it prints for them (`sops encrypt --filename-override
/// overlays/<scope>/secrets/…`) find their scope's creation rule there, and sops refuses to
/// encrypt without one ("no matching creation rules found", sops v3.11.0
/// `config/config.go` `parseCreationRuleForFile`). Its text comes from the recipients of
/// `cluster.toml` alone, already validated. Same rules as [`write`]: under the render lock,
/// never through a symlink, staged and renamed. Returns true when the file changed.
pub fn write_sops_rules(root: &Path, settings: &crate::settings::Settings) -> Result<bool, Error> {
    const SOPS_YAML: &str = ".sops.yaml";
    debug_assert!(ROOT_FILES.contains(&SOPS_YAML));
    let text = crate::tree::to_yaml(&[&crate::secrets::sops_config(&settings.recipients())])?;
    let _lock = lock(root)?;
    let target = root.join(SOPS_YAML);
    if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(unsafe_error(SOPS_YAML, "not a regular file (a symlink?)"));
    }
    if read_regular(&target)?.as_deref() == Some(text.as_slice()) {
        return Ok(false);
    }
    let tmp = root.join(format!("{TMP_PREFIX}{SOPS_YAML}-{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text).and_then(|()| f.flush()));
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, &target)) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&target, e));
    }
    Ok(true)
}

/// True when `.sops.yaml` on disk holds the creation rules of `settings` (read without
/// following a symlink).
pub fn sops_rules_current(root: &Path, settings: &crate::settings::Settings) -> bool {
    let Ok(text) = crate::tree::to_yaml(&[&crate::secrets::sops_config(&settings.recipients())])
    else {
        return false;
    };
    read_regular(&root.join(".sops.yaml")).is_ok_and(|b| b.as_deref() == Some(text.as_slice()))
}
