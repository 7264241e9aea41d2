"""Renders Helm releases with Helm's own library (PyPI helm-python-sdk: the Helm v4 Go library).

Input (stdin, JSON): {"kube_version": "v1.33.0", "api_versions": [...],
  "releases": [{"name", "namespace", "chart_dir", "values", "crds"[, "upgrade", "api_versions"]}]}
A release with "upgrade": true renders as Helm's upgrade action does (.Release.IsUpgrade true,
IsInstall false, revision 2: helm/helm@v4.2.3 pkg/action/upgrade.go:284-292), else as an
install; its "api_versions" (default: the request's) are added to Helm's built-in set.
Output (stdout, JSON): {"releases": [{"name", "manifests": [yaml...], "crds": [yaml...]}]}

The 0.2.2 wrapper's Chart.render does not pass kube_version/api_versions, so the C symbol
helm_render is called through helm_python._native, as ../shared/charts/INDEX.md says.
Test hooks (templates/tests/) are dropped, as Flux does without spec.test.enable.
"""
import json
import re
import sys

import helm_python
from helm_python import _native


# Helm splits a template's output on this separator (helm v4 pkg/release/v1/util/manifest.go,
# SplitManifests), so `---# comment` starts a new document there, unlike in a YAML parser.
SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def split(text):
    return [d for d in SEPARATOR.split(text) if d.strip()]


def main():
    req = json.load(sys.stdin)
    out = []
    for r in req["releases"]:
        chart = helm_python.Chart.load(r["chart_dir"])
        upgrade = bool(r.get("upgrade", False))
        opts = {
            "name": r["name"],
            "namespace": r["namespace"],
            "is_install": not upgrade,
            "is_upgrade": upgrade,
            "revision": 2 if upgrade else 1,
            "kube_version": req["kube_version"],
            "api_versions": r.get("api_versions", req["api_versions"]),
        }
        rendered = json.loads(
            _native.call_string("helm_render", chart._raw(), json.dumps(r["values"]), json.dumps(opts))
        )
        manifests = [
            doc
            for path, text in sorted(rendered.items())
            if path.endswith((".yaml", ".yml")) and "/templates/tests/" not in path
            for doc in split(text)
        ]
        crds = [d for c in chart.crds for d in split(c["data"])] if r["crds"] else []
        out.append({"name": r["name"], "manifests": manifests, "crds": crds})
    json.dump({"releases": out}, sys.stdout)


if __name__ == "__main__":
    main()
