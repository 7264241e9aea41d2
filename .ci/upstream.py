#!/usr/bin/env python3
"""The upstream test data of the suite (chart sources, PSS and Kyverno fixtures, CRD schemas).

`.ci/upstream.toml` names each piece: where it comes from (a GitHub repository at a commit and
a path in it), its version, and the sha256 of the files it must hold. The folder holding the
data is the cache: `$O4G_SHARED` (the hosted CI job's cache), else `../shared` beside the
repository (this machine's copy). Nothing of it is committed.

    upstream.py verify [ROOT]   check every entry's files against its sha256 (exit 1 on a miss)
    upstream.py fetch [ROOT [MANIFEST]] [--only PREFIX] [--reuse DIR]
                                fetch each entry whose files do not match, then verify; MANIFEST
                                (default .ci/upstream.toml): another revision's manifest (the
                                review fetches the base's charts with it, ci.yml `diff`);
                                --only: the entries whose dest starts with PREFIX (`charts/`);
                                --reuse: an entry whose files in DIR match its sha256 is copied
                                from there (hard links) instead of downloaded
    upstream.py hash DIR        print the tree hash of DIR (to pin a new entry)

A fetch never leaves an entry's folder that does not match its sha256: a download is checked
in a temporary folder before it replaces the old one, and a folder that stays wrong (the
download failed) is removed, so a folder that exists after a fetch is the pinned one. A
download is tried 4 times, 10, 30 and 90 seconds apart ($O4G_UPSTREAM_BACKOFF). Every path the manifest names (dest,
rename, archive, a dependency's name) and every archive member must stay inside its folder:
an absolute path or `..` is refused before anything is written.

The tree hash of a folder: sha256 of the lines `<sha256 of the file>  <path>` (paths relative
to the folder, `/`-separated, sorted bytewise), one per regular file, skipping the files an
entry's `local` globs match (notes written beside the data, not upstream content). Symlinks are
refused. Python standard library only (3.11+: `tomllib`), plus Helm's library
(`helm_python`, installed by .ci/run) for entries of kind `helm-package`.
"""
import fnmatch
import hashlib
import http.client
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "upstream.toml"


def default_root() -> Path:
    env = os.environ.get("O4G_SHARED")
    return Path(env) if env else HERE.parent.parent / "shared"


def tree_hash(folder: Path, skip=()) -> str:
    lines = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(folder).as_posix()
            if any(fnmatch.fnmatchcase(rel, g) for g in skip):
                continue
            if p.is_symlink():
                raise SystemExit(f"{p}: a symlink in the upstream data")
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n")
    lines.sort(key=lambda l: l.split("  ", 1)[1].encode())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def entries(manifest: Path = MANIFEST):
    with open(manifest, "rb") as f:
        data = tomllib.load(f)
    return data["entry"]


def check(root: Path, e) -> str | None:
    """None when the entry's folder holds exactly its files, else what is wrong."""
    dest = root / e["dest"]
    if not dest.is_dir():
        return f"{e['name']}: {dest} is missing"
    got = tree_hash(dest, e.get("local", []))
    if got != e["sha256"]:
        return f"{e['name']}: {dest} has sha256 {got}, the manifest says {e['sha256']}"
    return None


def verify(root: Path, manifest: Path = MANIFEST) -> int:
    listed = entries(manifest)
    bad = [m for e in listed if (m := check(root, e))]
    for m in bad:
        print(f"::error::{m}")
    shown = ".ci/upstream.toml" if manifest == MANIFEST else manifest
    print(f"{len(listed) - len(bad)} of {len(listed)} upstream entries match {shown}")
    return 1 if bad else 0


# Seconds between the tries of a download (4 tries); $O4G_UPSTREAM_BACKOFF (seconds separated
# by spaces) replaces them (tests/ci.rs: a cache whose fetch fails, without minutes of waiting).
BACKOFF = tuple(int(x) for x in os.environ.get("O4G_UPSTREAM_BACKOFF", "10 30 90").split())


class Unsafe(SystemExit):
    """A path of the manifest or an archive that would leave its folder."""


def relative(what: str, rel: str) -> str:
    """`rel` when it is a relative path without `..` (else Unsafe, naming `what`)."""
    p = Path(rel)
    if not rel or p.is_absolute() or rel.startswith(("/", "\\")) or ".." in p.parts:
        raise Unsafe(f"{what}: {rel!r} is not a relative path inside its folder")
    return rel


def under(base: Path, rel: str, what: str) -> Path:
    """`base / rel`, refused unless it resolves inside `base` (a symlink on the way counts)."""
    target = base / relative(what, rel)
    if not target.resolve().is_relative_to(base.resolve()):
        raise Unsafe(f"{what}: {rel!r} resolves outside {base}")
    return target


def check_paths(e) -> None:
    """Every path an entry names is relative and `..`-free (before anything is written)."""
    relative(f"{e['name']}: dest", e["dest"])
    for x in [e] + e.get("dependency", []):
        for old, new in x.get("rename", {}).items():
            relative(f"{e['name']}: rename", old)
            relative(f"{e['name']}: rename", new)
        if "archive" in x:
            relative(f"{e['name']}: archive", x["archive"])
    for d in e.get("dependency", []):
        if "/" in d["name"] or "\\" in d["name"]:
            raise Unsafe(f"{e['name']}: dependency name {d['name']!r} is not one folder name")
        relative(f"{e['name']}: dependency name", d["name"])


def download(url: str) -> bytes:
    for attempt, pause in enumerate(BACKOFF + (None,), 1):
        try:
            with urllib.request.urlopen(url, timeout=300) as r:
                return r.read()
        except (OSError, http.client.HTTPException) as err:
            if pause is None:
                raise
            print(f"{url}: {err}; try {attempt + 1} in {pause}s", file=sys.stderr)
            time.sleep(pause)
    raise AssertionError("unreachable")


def archive(repo: str, commit: str, cache: dict) -> bytes:
    key = (repo, commit)
    if key not in cache:
        cache[key] = download(f"https://codeload.github.com/{repo}/tar.gz/{commit}")
    return cache[key]


def member(archive_name: str, name: str) -> str:
    """The path of an archive member below its top folder, refused when absolute or with `..`."""
    if name.startswith(("/", "\\")) or ".." in Path(name).parts:
        raise Unsafe(f"{archive_name}: member {name!r} is absolute or contains '..'")
    return name.partition("/")[2]


def extract(data: bytes, path: str, include, out: Path, name: str = "archive") -> None:
    """Regular files under `path` of a GitHub archive (one top folder) into `out`."""
    prefix = path.strip("/") + "/" if path else ""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            rest = member(name, m.name)
            if not m.isfile() or not rest.startswith(prefix):
                continue
            rel = rest[len(prefix):]
            if include and not any(fnmatch.fnmatchcase(rel, g) for g in include):
                continue
            target = under(out, rel, f"{name}: member {m.name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(t.extractfile(m).read())


def unpack_chart(tgz: Path, out: Path) -> None:
    """A packaged chart (one top folder) into `out`."""
    with tarfile.open(tgz, mode="r:gz") as t:
        for m in t.getmembers():
            rest = member(tgz.name, m.name)
            if m.isfile() and rest:
                target = under(out, rest, f"{tgz.name}: member {m.name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(t.extractfile(m).read())


def source(e, cache: dict, tmp: Path, name: str) -> Path:
    """The files of one source (`repo` at `commit`, `path`, `include`) in a fresh folder."""
    src = tmp / name
    label = f"{e['repo']}@{e['commit'][:10]}"
    extract(archive(e["repo"], e["commit"], cache), e["path"], e.get("include", []), src, label)
    for old, new in e.get("rename", {}).items():
        target = under(src, new, f"{e['name']}: rename")
        target.parent.mkdir(parents=True, exist_ok=True)
        under(src, old, f"{e['name']}: rename").rename(target)
    if "archive" in e:
        # A published chart archive committed in the repository (a gh-pages branch).
        chart = tmp / (name + "-chart")
        unpack_chart(under(src, e["archive"], f"{e['name']}: archive"), chart)
        return chart
    return src


def replace(dest: Path, result: Path, e) -> None:
    """`result` is moved to `dest` when its tree hash is the entry's (else SystemExit)."""
    got = tree_hash(result, e.get("local", []))
    if got != e["sha256"]:
        raise SystemExit(f"{e['name']}: the fetched files have sha256 {got}, the manifest says {e['sha256']}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(result, dest)


def fetch_entry(root: Path, e, cache: dict) -> None:
    dest = under(root, e["dest"], f"{e['name']}: dest")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = source(e, cache, tmp, "src")
        if e["kind"] == "helm-package":
            # As ../shared/charts/INDEX.md says the charts were made: the subcharts unpacked
            # under charts/, then `helm package` (Helm's library: applies .helmignore, rewrites
            # Chart.yaml), then the archive unpacked.
            for i, dep in enumerate(e.get("dependency", [])):
                shutil.copytree(
                    source(dep, cache, tmp, f"dep{i}"),
                    under(result / "charts", dep["name"], f"{e['name']}: dependency name"),
                )
            import helm_python

            tgz = helm_python.package(str(result), destination=str(tmp))
            result = tmp / "packaged"
            unpack_chart(Path(tgz), result)
        elif e["kind"] != "files":
            raise SystemExit(f"{e['name']}: unknown kind {e['kind']}")
        replace(dest, result, e)


def reuse_entry(root: Path, other: Path, e) -> bool:
    """Copies the entry's folder from `other` (hard links where it can) when it matches."""
    if check(other, e) is not None:
        return False
    dest = under(root, e["dest"], f"{e['name']}: dest")
    src = under(other, e["dest"], f"{e['name']}: dest")

    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    with tempfile.TemporaryDirectory(dir=root) as tmp:
        copy = Path(tmp) / "copy"
        shutil.copytree(src, copy, copy_function=link)
        replace(dest, copy, e)
    return True


def fetch(root: Path, manifest: Path = MANIFEST, only: str = "", reuse: Path | None = None) -> int:
    listed = [e for e in entries(manifest) if e["dest"].startswith(only)]
    for e in listed:
        check_paths(e)
    for e in listed:
        under(root, e["dest"], f"{e['name']}: dest")
    root.mkdir(parents=True, exist_ok=True)
    cache: dict = {}
    failed = []
    try:
        for e in listed:
            if check(root, e) is None:
                continue
            if reuse is not None and reuse_entry(root, reuse, e):
                print(f"reused {e['name']} from {reuse}")
                continue
            print(f"fetching {e['name']} ({e['repo']}@{e['commit'][:10]} {e['path']})")
            try:
                fetch_entry(root, e, cache)
            except Unsafe:
                raise
            except (SystemExit, Exception) as err:
                failed.append(e["name"])
                print(f"::error::{e['name']}: {err}")
    finally:
        # No folder that does not match stays behind, whatever stopped the fetch: a reader
        # takes an existing folder for the pinned one (src/diff/charts.rs).
        for e in listed:
            dest = root / e["dest"]
            if dest.is_dir() and check(root, e) is not None:
                shutil.rmtree(dest)
    bad = [m for e in listed if (m := check(root, e))]
    for m in bad:
        print(f"::error::{m}")
    print(f"{len(listed) - len(bad)} of {len(listed)} upstream entries match {manifest}" + (f" (dest {only}*)" if only else ""))
    return 1 if bad or failed else 0


def main(argv) -> int:
    args, only, reuse = [], "", None
    rest = iter(argv[1:])
    for a in rest:
        if a in ("--only", "--reuse"):
            value = next(rest, None)
            if value is None:
                break
            if a == "--only":
                only = value
            else:
                reuse = Path(value)
        else:
            args.append(a)
    else:
        if len(args) == 2 and args[0] == "hash" and not only and reuse is None:
            print(tree_hash(Path(args[1])))
            return 0
        if len(args) in (1, 2) and args[0] == "verify" and not only and reuse is None:
            return verify(Path(args[1]) if len(args) == 2 else default_root())
        if len(args) in (1, 2, 3) and args[0] == "fetch":
            root = Path(args[1]) if len(args) >= 2 else default_root()
            manifest = Path(args[2]) if len(args) == 3 else MANIFEST
            try:
                return fetch(root, manifest, only, reuse)
            except Unsafe as err:
                print(f"::error::{manifest}: {err}")
                return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
