"""Cases of .ci/upstream.py fetch, offline (tests/ci.rs `upstream_fetch_...`).

Run as `python3 tests/upstream_cases.py UPSTREAM_PY WORKDIR`: GitHub's archive download
(urllib.request.urlopen) and the pause between tries (time.sleep) are replaced by stand-ins that
record their calls; everything else is the script's own code on real folders under WORKDIR.
Prints one JSON object: per case, what the fetch returned and what it left on disk.
"""
import contextlib
import importlib.util
import io
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

spec = importlib.util.spec_from_file_location("upstream", sys.argv[1])
up = importlib.util.module_from_spec(spec)
spec.loader.exec_module(up)
work = Path(sys.argv[2])

calls = {"urlopen": [], "sleep": []}
answers = []


class Answer(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def urlopen(url, timeout=None):
    calls["urlopen"].append(url)
    a = answers.pop(0) if answers else urllib.error.URLError("no answer left")
    if isinstance(a, Exception):
        raise a
    return Answer(a)


urllib.request.urlopen = urlopen
time.sleep = lambda s: calls["sleep"].append(s)


def tgz(files: dict) -> bytes:
    """A tar.gz of {member name: bytes} (names as given: hostile ones too)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def folder_hash(files: dict) -> str:
    d = work / "hash-scratch"
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    h = up.tree_hash(d)
    up.shutil.rmtree(d)
    return h


def manifest(name: str, entries: list) -> Path:
    lines = []
    for e in entries:
        lines.append("[[entry]]")
        for k, v in e.items():
            if k != "dependency":
                lines.append(f"{k} = {json.dumps(v) if not isinstance(v, dict) else '{ ' + ', '.join(f'{json.dumps(a)} = {json.dumps(b)}' for a, b in v.items()) + ' }'}")
        for d in e.get("dependency", []):
            lines.append("[[entry.dependency]]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in d.items())
    p = work / f"{name}.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def entry(dest: str, sha: str, **more) -> dict:
    e = {"name": f"entry {dest}", "dest": dest, "repo": "o/r", "commit": "c" * 40,
         "path": "chart", "version": "1", "kind": "files", "sha256": sha}
    e.update(more)
    return e


def run(*argv) -> dict:
    calls["urlopen"].clear()
    calls["sleep"].clear()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = up.main(["upstream.py", *map(str, argv)])
        except BaseException as err:  # the script crashed: the case fails with why
            code = f"{type(err).__name__}: {err}"
    return {"code": code, "stdout": out.getvalue(), "urlopen": len(calls["urlopen"]),
            "sleep": list(calls["sleep"])}


good = {"Chart.yaml": b"name: a\n", "templates/cm.yaml": b"kind: ConfigMap\n"}
good_tgz = tgz({f"r-c/chart/{k}": v for k, v in good.items()})
good_sha = folder_hash(good)
result = {}

# A manifest whose paths leave the root: refused before any download or write.
root = work / "hostile-manifest" / "root"
for i, (field, e) in enumerate([
    ("dest", entry("../escape", good_sha)),
    ("dest", entry(str(work / "abs-escape"), good_sha)),
    ("rename", entry("charts/a", good_sha, rename={"Chart.yaml": "../../escape"})),
    ("archive", entry("charts/a", good_sha, archive="../x.tgz")),
    ("dependency", entry("charts/a", good_sha, kind="helm-package",
                         dependency=[{"name": "../../escape", "repo": "o/r", "commit": "d" * 40,
                                      "path": "sub"}])),
]):
    answers[:] = [good_tgz]
    r = run("fetch", root, manifest(f"hostile{i}", [entry("charts/ok", good_sha), e]))
    r["escaped"] = any(p.exists() for p in [work / "hostile-manifest" / "escape",
                                             work / "abs-escape", root / "charts" / "ok"])
    result[f"manifest {field} {i}"] = r

# An archive whose members leave the folder: refused, nothing written outside.
root = work / "hostile-archive" / "root"
for i, name in enumerate(["r-c/chart/../../../../evil", "/r-c/chart/evil"]):
    # A stale folder of a later entry: the aborted fetch does not leave it either.
    (root / "charts/b").mkdir(parents=True, exist_ok=True)
    (root / "charts/b/Chart.yaml").write_text("stale\n")
    answers[:] = [tgz({f"r-c/chart/{k}": v for k, v in good.items()} | {name: b"evil\n"})]
    r = run("fetch", root, manifest(f"archive{i}", [entry("charts/a", good_sha), entry("charts/b", good_sha)]))
    r["escaped"] = any(p.name == "evil" for p in work.rglob("*")) or Path("/r-c").exists()
    r["dest"] = (root / "charts/a").exists() or (root / "charts/b").exists()
    result[f"archive member {i}"] = r

# Two failed downloads, then the archive: fetched after pauses of 10 and 30 s.
root = work / "retry" / "root"
answers[:] = [urllib.error.URLError("reset"), TimeoutError("slow"), good_tgz]
r = run("fetch", root, manifest("retry", [entry("charts/a", good_sha)]))
r["dest"] = (root / "charts/a/Chart.yaml").exists()
result["retry"] = r

# Never an answer: 4 tries, and the stale folder is gone.
root = work / "gone" / "root"
(root / "charts/a").mkdir(parents=True)
(root / "charts/a/Chart.yaml").write_text("stale\n")
answers[:] = []
r = run("fetch", root, manifest("gone", [entry("charts/a", good_sha)]))
r["dest"] = (root / "charts/a").exists()
result["unreachable"] = r

# The archive does not hold the pinned files: no folder is left, an old one included.
root = work / "mismatch" / "root"
(root / "charts/a").mkdir(parents=True)
(root / "charts/a/Chart.yaml").write_text("stale\n")
answers[:] = [tgz({"r-c/chart/Chart.yaml": b"name: other\n"})]
r = run("fetch", root, manifest("mismatch", [entry("charts/a", good_sha)]))
r["dest"] = (root / "charts/a").exists()
result["mismatch"] = r

# --only charts/ with --reuse: the chart equal in the other cache is linked, nothing is
# downloaded, the fixture outside charts/ is left alone.
other = work / "reuse" / "head"
for rel, data in good.items():
    (other / "charts/a" / rel).parent.mkdir(parents=True, exist_ok=True)
    (other / "charts/a" / rel).write_bytes(data)
root = work / "reuse" / "base"
answers[:] = []
m = manifest("reuse", [entry("charts/a", good_sha), entry("fixtures/b", good_sha)])
r = run("fetch", root, m, "--only", "charts/", "--reuse", other)
r["dest"] = (root / "charts/a/Chart.yaml").exists()
r["linked"] = r["dest"] and os.stat(root / "charts/a/Chart.yaml").st_ino == os.stat(
    other / "charts/a/Chart.yaml").st_ino
r["fixture"] = (root / "fixtures").exists()
r["left"] = sorted(p.name for p in root.iterdir())
result["reuse"] = r

print(json.dumps(result, indent=1))
