//! # o4g-gitops: the Open4Goods platform as typed Rust
//!
//! This crate turns typed Rust values plus a small settings file per environment into the
//! Kustomize tree that FluxCD reconciles from Git. The data flows one way:
//!
//! ```text
//! overlays/cluster.toml          ┐
//! overlays/<env>/env.toml        ├─▶ Settings ─▶ Plan ─▶ components::all() ─▶ Contributions
//! overlays/<scope>/secrets/      │   (checked)   (values     (one list of       (namespaces,
//! overlays/<scope>/extra/        ┘                per env)    parts)             releases, configs,
//!                                                                                files, Secrets)
//!   ─▶ components::build ─▶ Tree ─▶ components::audit ─▶ render::write | render::check ─▶ out/
//!      (layers, Kyverno,             (the one rule set,
//!       Flux, docs derived)           per environment too)
//! ```
//!
//! The map (components, the layout of `out/`, the layers and the rules of the house) is
//! `docs/ARCHITECTURE.md` in the repository.
//!
//! ## A tour in six steps
//!
//! 1. **Settings** ([`settings`]) are read from `overlays/cluster.toml` and
//!    `overlays/<env>/env.toml`; the environments are the folders that hold an `env.toml`
//!    ([`settings::Environment`] is a name, not an enum). Unknown keys, syntax errors and
//!    invalid values are reported with the file, line, column and key.
//! 2. **Images** ([`images`]) are `const` [`image::PinnedImage`] values: a missing or malformed
//!    digest, a `latest` tag or a registry outside the allow-list does not compile.
//! 3. **Workloads** ([`workload`]) are built through restricted builders: Pod Security
//!    `restricted` settings are set by construction, and a container cannot be finished without
//!    resources (and, when long-running, probes).
//! 4. **Components** ([`components`]): [`components::all`] lists the platform parts (the
//!    environments, Longhorn, ingress-nginx, cert-manager, Kyverno, the runners, monitoring,
//!    alerts, dashboards, network, the apps, backups, cutover); each returns a
//!    [`components::Contribution`] from the [`components::Plan`] computed once per build.
//!    [`components::build`] derives the layers, the Kyverno policies, Flux and the docs from
//!    the contributions; the [`tree::Tree`] serializes everything, in one place.
//! 5. **Audit** ([`components::audit`], [`policy`]) runs the one rule set on every object,
//!    and on each environment's objects as kustomize builds them.
//! 6. **Render** ([`render`]) writes only changed files, removes stale generated files and never
//!    writes anything when the build failed. `render --check` reports drift as unified diffs,
//!    naming the setting or module each drifted file comes from.
//!
//! ```no_run
//! # #[cfg(feature = "k8s-v1_33")]
//! # fn main() -> Result<(), o4g_gitops::Error> {
//! use std::path::Path;
//! let root = Path::new(".");
//! let settings = o4g_gitops::settings::Settings::load(root)?;
//! let tree = o4g_gitops::components::build(&settings)?;
//! let drift = o4g_gitops::render::check(root, &tree)?;
//! assert!(drift.is_clean(), "{drift}");
//! # Ok(()) }
//! # #[cfg(not(feature = "k8s-v1_33"))] fn main() {}
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backups;
#[rustfmt::skip] // one chart per line, like the images
pub mod charts;
pub mod closed_pipe;
pub mod components;
pub mod crd;
pub mod diagnostic;
pub mod diff;
mod error;
pub mod image;
pub mod immutable;
#[rustfmt::skip] // one image per line, so Renovate and reviewers read one line per bump
pub mod images;
pub mod input;
pub mod kustomize;
pub mod lint;
pub mod netpol;
pub mod object;
pub mod parallel;
pub mod policy;
pub mod quantity;
pub mod render;
pub mod secret_values;
pub mod secrets;
pub mod settings;
pub mod tree;
pub mod verify;
pub mod workload;
pub mod yaml;
pub mod yaml_read;

pub use error::Error;

/// Name of the cluster: the folder under `out/clusters/` that `flux bootstrap --path` points at.
pub const CLUSTER_NAME: &str = "open4goods";

/// Value of the `app.kubernetes.io/part-of` label on everything the platform owns.
pub const PART_OF: &str = "open4goods";

/// Folder (relative to the repository root) that holds the generated tree.
pub const OUT_DIR: &str = "out";
