// Runs Renovate's own code on a file: the regex manager's extraction (with a customManagers
// entry of renovate.json), then the branch worker's `doAutoReplace` for each requested update,
// as a Renovate branch does (renovate 44.121.2, dist/workers/repository/update/branch/
// auto-replace.js), each update applied to the result of the previous one.
//
// Input (stdin, JSON): {"renovate": "<dist folder>", "manager": {customManagers entry},
//   "packageFile": "src/…", "content": "…",
//   "updates": [{"depName", "updateType", "newValue"?, "newDigest"}]}
// Output (stdout, JSON): {"deps": [extracted before], "content": "…after", "after": [extracted after]}
// `newValue` defaults to the dependency's currentValue (a pinDigest update, lookup/index.js).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Renovate 44 declares node ^24.11 (its package.json `engines`); on an older Node (this
// machine's 20) the ES2025 Set methods its dependencies call at import time (execa's
// `Set.prototype.union`) are added here, each as the spec defines it, and nothing else.
for (const [name, fn] of Object.entries({
  union(other) { return new Set([...this, ...other.keys()]); },
  intersection(other) { return new Set([...this].filter((x) => other.has(x))); },
  difference(other) { return new Set([...this].filter((x) => !other.has(x))); },
  symmetricDifference(other) {
    const out = new Set(this);
    for (const x of other.keys()) (this.has(x) ? out.delete(x) : out.add(x));
    return out;
  },
  isSubsetOf(other) { return [...this].every((x) => other.has(x)); },
  isSupersetOf(other) { return [...other.keys()].every((x) => this.has(x)); },
  isDisjointFrom(other) { return [...this].every((x) => !other.has(x)); },
})) {
  if (!Set.prototype[name]) Object.defineProperty(Set.prototype, name, { value: fn, writable: true, configurable: true });
}

// `RegExp.escape` (ES2025, Node 24), as the spec defines EncodeForRegExpEscape: a leading
// letter or digit and the other punctuators as `\xHH`, syntax characters and `/` with a
// backslash, the control escapes, other white space as `\xHH` or `\uHHHH`.
if (!RegExp.escape) {
  const hex = (c) => {
    const n = c.codePointAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  };
  const control = { "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r" };
  RegExp.escape = (s) =>
    [...String(s)]
      .map((c, i) => {
        if (i === 0 && /[0-9A-Za-z]/.test(c)) return hex(c);
        if ("^$\\.*+?()[]{}|/".includes(c)) return `\\${c}`;
        if (c in control) return control[c];
        if (",-=<>#&!%:;@~'`\"".includes(c) || /\s/.test(c)) return hex(c);
        return c;
      })
      .join("");
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const dist = req.renovate;
const { GlobalConfig } = await import(join(dist, "config/global.js"));
const { extractPackageFile } = await import(join(dist, "modules/manager/index.js"));
const { doAutoReplace } = await import(join(dist, "workers/repository/update/branch/auto-replace.js"));

const dir = mkdtempSync(join(tmpdir(), "o4g-renovate-"));
try {
  GlobalConfig.set({ localDir: dir });
  const manager = "regex";
  const extract = (content) => extractPackageFile(manager, content, req.packageFile, req.manager);
  const before = await extract(req.content);
  let content = req.content;
  for (const u of req.updates) {
    const now = await extract(content);
    const depIndex = now.deps.findIndex((d) => d.depName === u.depName);
    if (depIndex < 0) throw new Error(`${u.depName} not extracted from ${req.packageFile}`);
    const dep = now.deps[depIndex];
    const upgrade = {
      ...req.manager,
      ...dep,
      manager,
      packageFile: req.packageFile,
      depIndex,
      updateType: u.updateType,
      isPinDigest: u.updateType === "pinDigest" ? true : undefined,
      newValue: u.newValue ?? dep.currentValue,
      newDigest: u.newDigest,
      autoReplaceStringTemplate: now.autoReplaceStringTemplate,
    };
    content = await doAutoReplace(upgrade, content, false);
  }
  const after = await extract(content);
  process.stdout.write(JSON.stringify({ deps: before?.deps ?? [], content, after: after?.deps ?? [] }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
