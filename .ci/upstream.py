#!/usr/bin/env python3
"""The upstream test data of the suite (chart sources, PSS and Kyverno fixtures, CRD schemas).

`.ci/upstream.toml` names each piece: where it comes from (a GitHub repository at a commit and
a path in it), its version, and the sha256 of the files it must hold. The folder holding the
data is the cache: `$O4G_SHARED` (the hosted CI job's cache), else `../shared` beside the
repository (this machine's copy). Nothing of it is committed.

    upstream.py verify [ROOT]   check every entry's files against its sha256 (exit 1 on a miss)
    upstream.py fetch [ROOT [MANIFEST]]
                                fetch each entry whose files do not match, then verify; MANIFEST
                                (default .ci/upstream.toml): another revision's manifest (the
                                review fetches the base's charts with it, ci.yml `diff`)
    upstream.py hash DIR        print the tree hash of DIR (to pin a new entry)

The tree hash of a folder: sha256 of the lines `<sha256 of the file>  <path>` (paths relative
to the folder, `/`-separated, sorted bytewise), one per regular file, skipping the files an
entry's `local` globs match (notes written beside the data, not upstream content). Symlinks are
refused. Python standard library only (3.11+: `tomllib`), plus Helm's library
(`helm_python`, installed by .ci/run) for entries of kind `helm-package`.
"""
import fnmatch
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
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


def archive(repo: str, commit: str, cache: dict) -> bytes:
    key = (repo, commit)
    if key not in cache:
        url = f"https://codeload.github.com/{repo}/tar.gz/{commit}"
        with urllib.request.urlopen(url, timeout=300) as r:
            cache[key] = r.read()
    return cache[key]


def extract(data: bytes, path: str, include, out: Path) -> None:
    """Regular files under `path` of a GitHub archive (one top folder) into `out`."""
    prefix = path.strip("/") + "/" if path else ""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            top, _, rest = m.name.partition("/")
            if not m.isfile() or not rest.startswith(prefix):
                continue
            rel = rest[len(prefix):]
            if include and not any(fnmatch.fnmatchcase(rel, g) for g in include):
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(t.extractfile(m).read())


def unpack_chart(tgz: Path, out: Path) -> None:
    """A packaged chart (one top folder) into `out`."""
    with tarfile.open(tgz, mode="r:gz") as t:
        for m in t.getmembers():
            _, _, rest = m.name.partition("/")
            if m.isfile() and rest:
                target = out / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(t.extractfile(m).read())


def source(e, cache: dict, tmp: Path, name: str) -> Path:
    """The files of one source (`repo` at `commit`, `path`, `include`) in a fresh folder."""
    src = tmp / name
    extract(archive(e["repo"], e["commit"], cache), e["path"], e.get("include", []), src)
    for old, new in e.get("rename", {}).items():
        (src / old).rename(src / new)
    if "archive" in e:
        # A published chart archive committed in the repository (a gh-pages branch).
        chart = tmp / (name + "-chart")
        unpack_chart(src / e["archive"], chart)
        return chart
    return src


def fetch_entry(root: Path, e, cache: dict) -> None:
    dest = root / e["dest"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = source(e, cache, tmp, "src")
        if e["kind"] == "helm-package":
            # As ../shared/charts/INDEX.md says the charts were made: the subcharts unpacked
            # under charts/, then `helm package` (Helm's library: applies .helmignore, rewrites
            # Chart.yaml), then the archive unpacked.
            for i, dep in enumerate(e.get("dependency", [])):
                shutil.copytree(source(dep, cache, tmp, f"dep{i}"), result / "charts" / dep["name"])
            import helm_python

            tgz = helm_python.package(str(result), destination=str(tmp))
            result = tmp / "packaged"
            unpack_chart(Path(tgz), result)
        elif e["kind"] != "files":
            raise SystemExit(f"{e['name']}: unknown kind {e['kind']}")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(result, dest)


def fetch(root: Path, manifest: Path = MANIFEST) -> int:
    cache: dict = {}
    for e in entries(manifest):
        if check(root, e) is None:
            continue
        print(f"fetching {e['name']} ({e['repo']}@{e['commit'][:10]} {e['path']})")
        fetch_entry(root, e, cache)
    return verify(root, manifest)


def main(argv) -> int:
    if len(argv) >= 2 and argv[1] == "hash" and len(argv) == 3:
        print(tree_hash(Path(argv[2])))
        return 0
    if len(argv) in (2, 3) and argv[1] in ("verify", "fetch"):
        root = Path(argv[2]) if len(argv) == 3 else default_root()
        return verify(root) if argv[1] == "verify" else fetch(root)
    if len(argv) == 4 and argv[1] == "fetch":
        return fetch(Path(argv[2]), Path(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
