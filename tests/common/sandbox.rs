//! Runs a command the way a pod runs it: as the pod's uid/gid and fsGroup, without
//! capabilities, with `no_new_privs`, in a root of its own whose image paths and root filesystem
//! are read-only and whose volumes look like the kubelet's (emptyDir and PVC roots owned by root
//! with the fsGroup group and the setgid bit, ConfigMap/Secret files read-only).
//!
//! Needs root (CI runs as root): `unshare` (a private mount namespace), `mount`, `chroot` and
//! `setpriv` from util-linux. Optionally joins the network namespace of a test server
//! (`nsenter --net`), so probes reach a server on 127.0.0.1 that no other process of the machine
//! sees.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// What backs a mount.
#[derive(Debug, Clone)]
pub enum Backing {
    /// An emptyDir: the kubelet makes it `0777`, then fsGroup adds its group and setgid.
    EmptyDir,
    /// A fresh PVC: a root-owned `0755` filesystem root, then fsGroup (group, g+rwx, setgid).
    Claim,
    /// ConfigMap or Secret files (name, content) with the volume's `defaultMode` (the API
    /// default is `0644`), group fsGroup.
    Files(Vec<(String, String)>, u32),
}

/// One volume mount of the container.
#[derive(Debug, Clone)]
pub struct SandboxMount {
    /// Path in the container.
    pub path: String,
    /// What is mounted.
    pub backing: Backing,
    /// Sub-path of the volume (created by the kubelet with the volume root's mode).
    pub sub_path: Option<String>,
    /// `readOnly: true`.
    pub read_only: bool,
}

/// A file of the image (root-owned, read-only once the container runs).
#[derive(Debug, Clone)]
pub struct ImageFile {
    /// Absolute path in the container.
    pub path: String,
    /// Content.
    pub content: String,
    /// Mode, e.g. `0o644`.
    pub mode: u32,
}

/// The pod-like environment of one container.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    /// `runAsUser`.
    pub uid: u32,
    /// `runAsGroup`.
    pub gid: u32,
    /// `fsGroup`, added to the supplementary groups and given to volumes.
    pub fs_group: Option<u32>,
    /// Mounts.
    pub mounts: Vec<SandboxMount>,
    /// Image content laid under a read-only tmpfs; `image_roots` are the folders that hold it
    /// (each must have a parent that exists on the host, e.g. `/usr/local/tomcat`).
    pub image: Vec<ImageFile>,
    /// Folders of the image content.
    pub image_roots: Vec<String>,
    /// Environment variables of the container (besides PATH).
    pub env: Vec<(String, String)>,
    /// A pid whose network namespace the command joins.
    pub net_of: Option<u32>,
}

/// True when this process can build sandboxes (root with a private mount namespace).
pub fn available() -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "unshare --mount failed (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for tool in ["setpriv", "chroot", "mount"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The result of one run: its output and where each volume's bytes ended up on the host.
pub struct Run {
    /// Exit status and output.
    pub output: Output,
    /// Host folder backing each mount, in the order of [`Sandbox::mounts`].
    pub volumes: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// True when the command exited 0.
    pub fn ok(&self) -> bool {
        self.output.status.success()
    }
    /// stdout + stderr.
    pub fn text(&self) -> String {
        super::text(&self.output)
    }
    /// The host folder backing the mount at `path`.
    pub fn volume(&self, path: &str, sandbox: &Sandbox) -> &Path {
        let i = sandbox
            .mounts
            .iter()
            .position(|m| m.path == path)
            .unwrap_or_else(|| panic!("no mount at {path}"));
        &self.volumes[i]
    }
}

impl Sandbox {
    fn image_parents(&self) -> Vec<String> {
        let mut parents: Vec<String> = self
            .image_roots
            .iter()
            .map(|r| {
                Path::new(r)
                    .parent()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        parents.sort();
        parents.dedup();
        parents
    }

    /// Runs `argv` (already split, as in a pod spec) in the sandbox; `prepare` may seed the
    /// volumes' host folders (as root) before the run, like data left by an earlier start.
    pub fn run(&self, argv: &[String]) -> Run {
        self.run_prepared(argv, |_| {})
    }

    /// [`Sandbox::run`] with a hook that sees the volumes' host folders before the run.
    pub fn run_prepared(&self, argv: &[String], prepare: impl FnOnce(&[PathBuf])) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let fs_group = self.fs_group.unwrap_or(0);
        let mut volumes = Vec::new();
        for (i, m) in self.mounts.iter().enumerate() {
            let v = dir.path().join(format!("vol{i}"));
            std::fs::create_dir(&v).unwrap();
            volumes.push(v);
            let _ = m;
        }
        // Volume ownership as the kubelet leaves it.
        let mut s = String::from("set -eu\n");
        for (m, v) in self.mounts.iter().zip(&volumes) {
            let v = quote(&v.to_string_lossy());
            match &m.backing {
                Backing::EmptyDir => {
                    let _ = writeln!(s, "chown 0:{fs_group} {v}; chmod 2777 {v}");
                }
                Backing::Claim => {
                    let _ = writeln!(s, "chown 0:{fs_group} {v}; chmod 2775 {v}");
                }
                Backing::Files(files, mode) => {
                    let _ = writeln!(s, "chown 0:{fs_group} {v}; chmod 2755 {v}");
                    for (name, content) in files {
                        let f = format!("{v}/{}", quote(name));
                        let _ = writeln!(
                            s,
                            "printf '%s' {} > {f}; chown 0:{fs_group} {f}; chmod {mode:o} {f}",
                            quote(content)
                        );
                    }
                }
            }
            if let Some(sub) = &m.sub_path {
                let _ = writeln!(
                    s,
                    "mkdir -p {v}/{sub}; chown 0:{fs_group} {v}/{sub}; chmod 2775 {v}/{sub}",
                    sub = quote(sub)
                );
            }
        }
        let setup = s;
        let r = quote(&root.to_string_lossy());
        let mut s = String::from("set -eu\n");
        let _ = writeln!(s, "R={r}");
        s.push_str("mount --make-rprivate /\n");
        s.push_str("mount -t tmpfs -o mode=755 o4g-root \"$R\"\n");
        // Host tools, read-only (merged /usr: /bin, /lib, /sbin are links into it).
        s.push_str(
            "for d in usr bin sbin lib lib64 etc; do\n  if [ -L \"/$d\" ]; then ln -s \"$(readlink \"/$d\")\" \"$R/$d\";\n  elif [ -d \"/$d\" ]; then mkdir \"$R/$d\"; mount --rbind \"/$d\" \"$R/$d\"; mount -o remount,bind,ro \"$R/$d\";\n  fi\ndone\n",
        );
        s.push_str("mkdir \"$R/dev\" \"$R/proc\"; mount --rbind /dev \"$R/dev\"; mount -t proc proc \"$R/proc\"\n");
        // Image content on its own tmpfs, root-owned.
        let parents = self.image_parents();
        for parent in &parents {
            let _ = writeln!(
                s,
                "mount -t tmpfs -o mode=755 o4g-image \"$R\"{p}",
                p = quote(parent)
            );
        }
        for img_root in &self.image_roots {
            let _ = writeln!(s, "mkdir -p \"$R\"{}", quote(img_root));
        }
        for f in &self.image {
            let p = format!("\"$R\"{}", quote(&f.path));
            let _ = writeln!(
                s,
                "mkdir -p \"$(dirname {p})\"; printf '%s' {} > {p}; chmod {:o} {p}; touch -d 2025-04-28T12:00:00 {p}",
                quote(&f.content),
                f.mode
            );
        }
        // Mount points, then the volumes.
        for (m, v) in self.mounts.iter().zip(&volumes) {
            let target = format!("\"$R\"{}", quote(&m.path));
            let source = match &m.sub_path {
                Some(sub) => quote(&v.join(sub).to_string_lossy()),
                None => quote(&v.to_string_lossy()),
            };
            let _ = writeln!(s, "mkdir -p {target}; mount --bind {source} {target}");
            if m.read_only {
                let _ = writeln!(s, "mount -o remount,bind,ro {target}");
            }
        }
        // readOnlyRootFilesystem: the root and the image content become read-only.
        for parent in &parents {
            let _ = writeln!(s, "mount -o remount,ro \"$R\"{}", quote(parent));
        }
        s.push_str("mount -o remount,ro \"$R\"\n");
        let groups = self
            .fs_group
            .map_or("--clear-groups".to_string(), |g| format!("--groups={g}"));
        let mut env =
            vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
        env.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        let _ = writeln!(
            s,
            "exec chroot \"$R\" /usr/bin/env -i {env} setpriv --reuid={uid} --regid={gid} {groups} --inh-caps=-all --bounding-set=-all --no-new-privs -- {argv}",
            env = env.iter().map(|e| quote(e)).collect::<Vec<_>>().join(" "),
            uid = self.uid,
            gid = self.gid,
            argv = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        );
        let setup_out = Command::new("sh").args(["-c", &setup]).output().unwrap();
        assert!(
            setup_out.status.success(),
            "sandbox setup: {}",
            super::text(&setup_out)
        );
        prepare(&volumes);
        let mut cmd = match self.net_of {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/proc/{pid}/ns/net")).arg("unshare");
                c
            }
            None => Command::new("unshare"),
        };
        let output = cmd
            .args(["--mount", "--propagation", "private", "sh", "-c", &s])
            .output()
            .expect("unshare");
        Run {
            output,
            volumes,
            _dir: dir,
        }
    }
}

/// The pod spec of a workload object (Deployment, StatefulSet, CronJob, Job, Pod).
pub fn pod_spec(object: &Value) -> &Value {
    let spec = &object["spec"];
    if object["kind"] == "Pod" {
        spec
    } else if object["kind"] == "CronJob" {
        &spec["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &spec["template"]["spec"]
    }
}

/// A sandbox for container `name` of a workload: its uid/gid/fsGroup, its mounts with their
/// kinds (`files` gives the content of ConfigMap and Secret volumes by volume name), and its
/// literal environment.
pub fn for_container(
    object: &Value,
    name: &str,
    files: &dyn Fn(&str) -> Vec<(String, String)>,
) -> (Sandbox, Value) {
    let spec = pod_spec(object);
    let container = spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
        .clone();
    let pod_sc = &spec["securityContext"];
    let sc = &container["securityContext"];
    let uid = sc["runAsUser"]
        .as_u64()
        .or(pod_sc["runAsUser"].as_u64())
        .expect("runAsUser") as u32;
    let gid = sc["runAsGroup"]
        .as_u64()
        .or(pod_sc["runAsGroup"].as_u64())
        .unwrap_or(0) as u32;
    let fs_group = pod_sc["fsGroup"].as_u64().map(|g| g as u32);
    let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    let claim_templates: Vec<String> = object["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["metadata"]["name"].as_str().map(String::from))
        .collect();
    let mounts = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let vname = m["name"].as_str().unwrap();
            let volume = volumes.iter().find(|v| v["name"] == vname);
            let backing = match volume {
                Some(v) if v.get("emptyDir").is_some() => Backing::EmptyDir,
                Some(v) if v.get("persistentVolumeClaim").is_some() => Backing::Claim,
                Some(v) if v.get("configMap").is_some() || v.get("secret").is_some() => {
                    let source = v.get("configMap").or(v.get("secret")).unwrap();
                    let mode = source["defaultMode"].as_u64().unwrap_or(0o644) as u32;
                    Backing::Files(files(vname), mode)
                }
                None if claim_templates.iter().any(|c| c == vname) => Backing::Claim,
                other => panic!("volume {vname}: unsupported in the sandbox: {other:?}"),
            };
            SandboxMount {
                path: m["mountPath"].as_str().unwrap().to_string(),
                backing,
                sub_path: m["subPath"].as_str().map(String::from),
                read_only: m["readOnly"].as_bool().unwrap_or(false),
            }
        })
        .collect();
    let env = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    (
        Sandbox {
            uid,
            gid,
            fs_group,
            mounts,
            env,
            ..Default::default()
        },
        container,
    )
}

/// The argv of a container (`command` then `args`).
pub fn argv(container: &Value) -> Vec<String> {
    container["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(container["args"].as_array().into_iter().flatten())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The exec command of a probe or hook value (`{exec: {command: […]}}`).
pub fn exec_of(handler: &Value) -> Vec<String> {
    handler["exec"]["command"]
        .as_array()
        .unwrap_or_else(|| panic!("not an exec handler: {handler}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}
