//! One module per platform part, listed once in [`all`]; [`build`] gathers their
//! [`Contribution`]s into the [`Tree`].
//!
//! Components return typed objects and know nothing about each other's internals: shared
//! names (paths, namespaces, labels) are values passed between them, and the values every part
//! is built from are computed once in [`Plan`]. Adding a part is a module with a
//! [`Component`] impl and a line in [`all`]; what is derived from all parts (the layers'
//! kustomizations, the namespace list and audit levels, the Kyverno policies' namespaces, the
//! required Secrets, Flux, the docs) follows without further edits.

pub mod alerts;
pub mod apps;
pub mod backup;
pub mod cert_manager;
pub mod contribution;
pub mod cutover;
pub mod dashboards;
pub mod docs;
pub mod environments;
pub mod extra;
pub mod flux;
pub mod helm;
pub mod ingress;
pub mod layout;
pub mod longhorn;
pub mod monitoring;
pub mod mysql;
pub mod namespaces;
pub mod network;
pub mod params;
pub mod policies;
pub mod policy_engine;
pub mod runner;
pub mod secrets;
pub mod traefik;
pub mod xwiki;

pub use contribution::{Component, Contribution};
pub use params::Plan;

use crate::Error;
use crate::settings::Settings;
use crate::tree::{Folder, Tree};

/// Every image the platform pins by tag and digest: `crate::images`, the chart images set
/// through values (cert-manager's) and, with `settings`, each environment's `[images]` pins,
/// as `registry/repository:tag@digest`.
pub fn pinned_images(settings: Option<&Settings>) -> Vec<String> {
    let mut out: Vec<String> = crate::images::ALL.iter().map(ToString::to_string).collect();
    out.extend(cert_manager::pinned_images());
    out.extend(traefik::images::ALL.iter().map(ToString::to_string));
    // The chart images once Renovate has pinned them (chart_image! with its digest).
    out.extend(
        chart_images()
            .into_iter()
            .flat_map(|(_, images)| images)
            .filter_map(|i| i.pinned())
            .map(|i| i.to_string()),
    );
    out.extend(settings.into_iter().flat_map(environment_images));
    out.sort();
    out.dedup();
    out
}

/// The XWiki and MySQL images the environments run (their `[images]` pins or `src/images.rs`).
pub fn environment_images(settings: &Settings) -> Vec<String> {
    settings
        .envs()
        .flat_map(|(_, e)| [e.xwiki_image().to_string(), e.mysql_image().to_string()])
        .collect()
}

/// Every platform part, in the order the tree lists them: the environments' namespaces, the
/// Helm-installed controllers (their releases in this order in the controllers layer), the
/// observability parts, the network, the applications and the runbooks. Adding a part is one
/// module with a [`Component`] impl and one line here.
pub fn all() -> Vec<Box<dyn Component>> {
    vec![
        Box::new(environments::Environments),
        Box::new(longhorn::Longhorn),
        Box::new(ingress::Ingress),
        Box::new(cert_manager::CertManager),
        Box::new(policy_engine::PolicyEngine),
        Box::new(runner::Runner),
        Box::new(monitoring::Monitoring),
        Box::new(alerts::Alerts),
        Box::new(dashboards::Dashboards),
        Box::new(network::Network),
        Box::new(apps::Apps),
        Box::new(backup::Backup),
        Box::new(cutover::Cutover),
    ]
}

/// The contributions of [`all`], with the name of each part.
pub fn contributions(plan: &Plan<'_>) -> Result<Vec<(&'static str, Contribution)>, Error> {
    all()
        .iter()
        .map(|c| Ok((c.name(), c.contribute(plan)?)))
        .collect()
}

/// The contributions of every part, gathered once per render: what they declare (the Secrets
/// the platform reads) is known before the tree is built, so `render` reports missing Secrets
/// first, then [`Parts::build`] turns the same contributions into the tree.
pub struct Parts<'a> {
    plan: Plan<'a>,
    parts: Vec<(&'static str, Contribution)>,
}

impl<'a> Parts<'a> {
    /// Every part's contribution to the plan of `settings`.
    pub fn new(settings: &'a Settings) -> Result<Self, Error> {
        let plan = Plan::new(settings);
        let parts = contributions(&plan)?;
        Ok(Self { plan, parts })
    }

    /// Every Secret the platform reads: what the parts declare, scope by scope (the
    /// environments in listing order, then `platform`), each scope in part order.
    pub fn required_secrets(&self) -> Vec<crate::secrets::RequiredSecret> {
        secrets::sorted(
            self.plan.settings,
            self.parts
                .iter()
                .flat_map(|(_, c)| c.secrets.iter().cloned()),
        )
    }

    /// Required Secrets that have no encrypted file, or lack keys.
    pub fn missing_secrets(&self) -> Vec<(crate::secrets::RequiredSecret, Vec<String>)> {
        secrets::missing(self.plan.settings, self.required_secrets())
    }

    /// Every namespace the platform creates, in the order of [`all`].
    pub fn namespaces(&self) -> Vec<namespaces::PlatformNamespace> {
        namespaces_of(&self.parts)
    }

    /// The tree, with what the checks after it need (see [`Built`]).
    pub fn build(self) -> Result<Built, Error> {
        build_parts(self.plan, self.parts)
    }
}

/// What one build yields: the tree, and what the audit and the reports need from the same
/// contributions, so that nothing is built twice in a render.
#[derive(Debug)]
pub struct Built {
    /// The files.
    pub tree: Tree,
    /// Every Secret the platform reads ([`Parts::required_secrets`]).
    pub required_secrets: Vec<crate::secrets::RequiredSecret>,
    /// Every namespace the platform creates, with its Pod Security level. Read from the
    /// contributions, not from the tree's Namespace objects: the charts' namespaces are
    /// created by their releases (`install.createNamespace`), not by a file of the tree.
    pub namespaces: Vec<namespaces::PlatformNamespace>,
    /// What the audit finds in each environment's objects as kustomize builds them (its
    /// overlay over the base, [`apps::final_objects`]), in listing order: they are audited
    /// while the build makes them, at their namespace's level, and not kept (at 100
    /// environments they were a third of the memory a render touches).
    pub environment_violations: Vec<crate::error::Violation>,
}

/// Every Secret the platform reads: what the parts of [`all`] declare, scope by scope (the
/// environments in listing order, then `platform`), each scope in part order.
pub fn required_secrets(settings: &Settings) -> Result<Vec<crate::secrets::RequiredSecret>, Error> {
    Ok(Parts::new(settings)?.required_secrets())
}

/// Required Secrets that have no encrypted file, or lack keys.
pub fn missing_secrets(
    settings: &Settings,
) -> Result<Vec<(crate::secrets::RequiredSecret, Vec<String>)>, Error> {
    Ok(Parts::new(settings)?.missing_secrets())
}

/// The namespaces of chart pods with what holds Kyverno in Audit there, in the order of [`all`].
pub fn chart_namespaces(settings: &Settings) -> Result<Vec<contribution::ChartNamespace>, Error> {
    Ok(contributions(&Plan::new(settings))?
        .into_iter()
        .flat_map(|(_, c)| c.chart_namespaces)
        .collect())
}

/// The namespaces where Kyverno denies (what `components::build` writes into the policies).
pub fn enforced_namespaces(settings: &Settings) -> Result<Vec<&'static str>, Error> {
    let parts = contributions(&Plan::new(settings))?;
    Ok(contribution::enforced_namespaces(
        parts.iter().map(|(_, c)| c),
    ))
}

/// Every image each chart runs, as declared beside it (pinned, or awaiting its digest); the
/// ratchet of `tests/charts.rs` compares them with what Helm renders. Images a chart pins
/// itself (ingress-nginx's webhook job) move with the chart and are not declared.
pub fn chart_images() -> Vec<(crate::charts::Chart, Vec<crate::image::ChartImage>)> {
    use crate::image::ChartImage;
    vec![
        (crate::charts::LONGHORN, longhorn::images::ALL.to_vec()),
        (
            crate::charts::INGRESS_NGINX,
            vec![ChartImage::from_pinned(
                crate::images::INGRESS_NGINX_CONTROLLER,
            )],
        ),
        (
            crate::charts::TRAEFIK,
            traefik::images::ALL.map(ChartImage::from_pinned).to_vec(),
        ),
        (
            crate::charts::CERT_MANAGER,
            cert_manager::images::ALL
                .map(ChartImage::from_pinned)
                .to_vec(),
        ),
        (crate::charts::KYVERNO, policy_engine::images::ALL.to_vec()),
        (
            crate::charts::KUBE_PROMETHEUS_STACK,
            monitoring::images::ALL.to_vec(),
        ),
        (
            crate::charts::ARC_CONTROLLER,
            vec![runner::images::CONTROLLER],
        ),
        (
            crate::charts::ARC_RUNNER_SET,
            vec![ChartImage::from_pinned(crate::images::ACTIONS_RUNNER)],
        ),
    ]
}

/// Every namespace the platform creates, in the order of [`all`].
pub fn all_namespaces(settings: &Settings) -> Result<Vec<namespaces::PlatformNamespace>, Error> {
    Ok(Parts::new(settings)?.namespaces())
}

fn namespaces_of(parts: &[(&'static str, Contribution)]) -> Vec<namespaces::PlatformNamespace> {
    parts.iter().flat_map(|(_, c)| c.all_namespaces()).collect()
}

/// An environment is a namespace: one named like a platform namespace (`observability`,
/// `longhorn-system`, ...) would merge its objects and NetworkPolicies into the platform's.
fn check_environment_names(
    settings: &Settings,
    platform: &[namespaces::PlatformNamespace],
) -> Result<(), Error> {
    for env in settings.environments() {
        if let Some(ns) = platform
            .iter()
            .find(|ns| ns.name == env.name() && ns.environment != env.name())
        {
            return Err(Error::Settings(crate::settings::SettingsError::unreadable(
                std::path::Path::new(crate::settings::OVERLAYS_DIR).join(env.name()),
                format!(
                    "`{env}` is a platform namespace ({}): an environment needs a namespace of its own",
                    ns.purpose
                ),
            )));
        }
    }
    Ok(())
}

/// Builds the whole tree from settings: a pure function, no clock, no network, no
/// environment variables. Each part of [`all`] contributes; the layers' kustomizations, the
/// Kyverno policies, `.sops.yaml`, the Flux Kustomizations and the docs are derived from the
/// contributions.
pub fn build(settings: &Settings) -> Result<Tree, Error> {
    Ok(build_all(settings)?.tree)
}

/// [`build`], with what the audit and the reports need ([`Built`]).
pub fn build_all(settings: &Settings) -> Result<Built, Error> {
    Parts::new(settings)?.build()
}

fn build_parts(
    plan: Plan<'_>,
    mut parts: Vec<(&'static str, Contribution)>,
) -> Result<Built, Error> {
    let settings = plan.settings;
    let mut tree = Tree::new();
    let mut environment_violations = Vec::new();
    // The files each part wrote itself, and its configs, moved (not copied) out of it.
    let mut configs_of = Vec::new();
    for (part, c) in parts.iter_mut() {
        tree.merge(std::mem::take(&mut c.tree))?;
        environment_violations.append(&mut c.environment_violations);
        configs_of.push((*part, std::mem::take(&mut c.configs)));
    }
    let all_ns = namespaces_of(&parts);
    check_environment_names(settings, &all_ns)?;
    let required = secrets::sorted(settings, parts.iter().flat_map(|(_, c)| c.secrets.clone()));
    secrets::check_platform_files(settings, &required)?;

    // Controllers: the environments' namespaces, then one folder per Helm release.
    let own_namespaces: Vec<_> = parts
        .iter()
        .flat_map(|(_, c)| c.namespaces.clone())
        .collect();
    let mut controllers = Folder::new(layout::CONTROLLERS)
        .file("namespaces.yaml", namespaces::objects(&own_namespaces)?);
    let releases: Vec<&helm::HelmComponent> = parts
        .iter()
        .flat_map(|(_, c)| c.releases.iter().map(|(r, _)| r))
        .collect();
    for (_, c) in &parts {
        for (release, extra) in &c.releases {
            tree.add_folder(release.folder(layout::CONTROLLERS, extra.clone())?)?;
            controllers = controllers.resource(release.name);
        }
    }
    if secrets::add_to_tree(&mut tree, settings)? {
        controllers = controllers.resource(secrets::PLATFORM_SECRETS);
    }
    tree.add_folder(controllers)?;

    let longest_release = releases
        .iter()
        .map(|r| r.timeout)
        .max()
        .unwrap_or(crate::quantity::Duration::minutes(5));
    let kustomizations = flux::kustomizations(
        &settings.cluster.flux,
        settings.environments(),
        longest_release,
        settings.cluster.ingress.controller == crate::settings::IngressController::Traefik,
    );
    // The GitOps loop's alerts: each layer's Flux objects (in the tree so far: the controllers
    // and the apps overlays; the configs layer holds none) held to the layer's timeout.
    let flux_layers = flux_layers(&tree, &kustomizations)?;
    let flux_rule = alerts::flux_rule(settings, &flux_layers);
    tree.insert(
        "out/docs/runbooks/alerts.md",
        alerts::runbook(settings, &flux_rule.1).into_bytes(),
    )?;

    // Configs: objects that need the controllers' CRDs, one folder per kind of config.
    // Kyverno Deny where every pod is pinned: the namespaces the parts put under it, and the
    // chart namespaces nothing holds in Audit any more (no image awaiting its digest, no rule).
    let enforced: Vec<&str> = contribution::enforced_namespaces(parts.iter().map(|(_, c)| c));
    let mut configs = Folder::new(layout::CONFIGS);
    for folder_name in layout::CONFIG_FOLDERS {
        let mut folder = Folder::new(format!("{}/{folder_name}", layout::CONFIGS));
        let mut any = false;
        if *folder_name == alerts::FOLDER {
            folder = folder.file(
                "flux-alerts.yaml",
                vec![crate::object::Object::new(&flux_rule.0)?],
            );
            any = true;
        }
        if *folder_name == "policies" {
            for (file, objects) in policies::objects(&enforced, &settings.allowed_registries())? {
                folder = folder.file(file, objects);
                any = true;
            }
        }
        for (_, configs) in configs_of.iter_mut() {
            for (name, file, objects) in configs.iter_mut() {
                if name == folder_name {
                    folder = folder.file(std::mem::take(file), std::mem::take(objects));
                    any = true;
                }
            }
        }
        if any {
            tree.add_folder(folder)?;
            configs = configs.resource(*folder_name);
        }
    }
    if let Some((part, (name, _, _))) = configs_of.iter().find_map(|(p, configs)| {
        configs
            .iter()
            .find(|(n, _, _)| !layout::CONFIG_FOLDERS.contains(n))
            .map(|x| (p, x))
    }) {
        return Err(Error::Build(format!(
            "{part} contributes configs folder `{name}`, which layout::CONFIG_FOLDERS does not list"
        )));
    }
    if extra::add_platform(&mut tree, settings)? {
        configs = configs.resource(extra::FOLDER);
    }
    tree.add_folder(configs)?;

    // Derived: the docs and the Flux Kustomizations.
    let namespace_rows: Vec<docs::NamespaceRow> = all_ns
        .iter()
        .map(namespaces::PlatformNamespace::doc_row)
        .collect();
    let infrastructure = docs::Infrastructure {
        components: releases.iter().map(|r| r.doc_row()).collect(),
        namespaces: &namespace_rows,
        enforce_version: namespaces::ENFORCE_VERSION,
        enforced: enforced.clone(),
        held: parts
            .iter()
            .flat_map(|(_, c)| &c.chart_namespaces)
            .filter(|n| !n.denies())
            .map(|n| docs::HeldRow {
                namespace: n.namespace,
                awaiting: n.awaiting().iter().map(ToString::to_string).collect(),
                rules: n.held_by.clone(),
            })
            .collect(),
        excluded: policies::EXCLUDED_NAMESPACES.to_vec(),
        issuers: (
            cert_manager::LETSENCRYPT_STAGING,
            cert_manager::LETSENCRYPT_PROD,
        ),
        gateway_api: traefik::GATEWAY_API_VERSION,
        monitoring_sizes: monitoring::sizes::ALL
            .iter()
            .map(|(which, r)| {
                let c = |x: crate::workload::Compute| format!("{} CPU, {}", x.cpu, x.memory);
                (*which, c(r.requests), c(r.limits))
            })
            .collect(),
    };
    tree.insert(
        "out/docs/infrastructure.md",
        docs::infrastructure(settings, infrastructure)?.into_bytes(),
    )?;

    for (file, objects) in flux::files(&kustomizations)? {
        let bytes = crate::tree::to_yaml(&objects.iter().map(|o| o.body()).collect::<Vec<_>>())?;
        tree.insert_with_objects(
            format!("{}/{file}", layout::CLUSTER),
            bytes,
            objects.into_iter().map(|o| o.into_body()).collect(),
        )?;
    }

    let (env_rows, secret_rows) = apps::doc_rows(&plan);
    tree.insert(
        "out/docs/apps.md",
        docs::apps(env_rows, secret_rows)?.into_bytes(),
    )?;
    let secrets_doc = docs::secrets(settings, secrets::doc_rows(settings), required.clone())?;
    tree.insert("out/docs/secrets.md", secrets_doc.into_bytes())?;
    let awaiting: Vec<String> = chart_images()
        .iter()
        .flat_map(|(_, images)| images)
        .filter(|i| i.digest().is_none())
        .map(ToString::to_string)
        .collect();
    tree.insert("out/docs/ci.md", docs::ci(settings, awaiting)?.into_bytes())?;
    tree.insert(
        "out/docs/runbooks/ingress.md",
        docs::ingress_runbook(
            settings,
            traefik::images::TRAEFIK.tag(),
            traefik::GATEWAY_API_VERSION,
        )?
        .into_bytes(),
    )?;
    tree.insert(
        "out/docs/network.md",
        docs::network(settings, network::flows_of(&plan))?.into_bytes(),
    )?;
    tree.insert(
        "out/README.md",
        docs::out_readme(
            settings,
            &namespace_rows,
            &flux::doc_rows(&kustomizations),
            namespaces::ENFORCE_VERSION,
            // Traefik's image is pinned beside its values (src/components/traefik.rs).
            match settings.cluster.ingress.controller {
                crate::settings::IngressController::Traefik => traefik::images::ALL
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                crate::settings::IngressController::IngressNginx => Vec::new(),
            },
        )?
        .into_bytes(),
    )?;
    Ok(Built {
        tree: tree.seal()?,
        required_secrets: required,
        namespaces: all_ns,
        environment_violations,
    })
}

/// The Flux objects each Kustomization applies: itself, and every `*.toolkit.fluxcd.io`
/// object of the tree under its path.
fn flux_layers(
    tree: &Tree,
    kustomizations: &[flux::Entry],
) -> Result<Vec<alerts::FluxLayer>, Error> {
    kustomizations
        .iter()
        .map(|e| {
            let k = &e.kustomization;
            let name = k.metadata.name.clone().unwrap_or_default();
            let dir = format!("{}/", k.spec.path.trim_start_matches("./"));
            let mut objects = vec![alerts::FluxObject {
                kind: "Kustomization".into(),
                namespace: flux::FLUX_NAMESPACE.into(),
                name: name.clone(),
            }];
            for (path, bytes) in tree.files().range(dir.clone()..) {
                if !path.starts_with(&dir) {
                    break;
                }
                if !path.ends_with(".yaml") {
                    continue;
                }
                // A file audited when added holds no Flux object (`Tree::insert_audited`).
                if tree.audited(path).is_some() {
                    continue;
                }
                // The objects the tree kept; only a file added as bytes alone is parsed.
                let parsed;
                let docs = match tree.objects_of(path) {
                    Some(objects) => objects,
                    None => {
                        parsed = crate::yaml_read::parse_documents(
                            std::path::Path::new(path),
                            &String::from_utf8_lossy(bytes),
                        )
                        .map_err(|err| Error::Build(err.to_string()))?;
                        &parsed
                    }
                };
                for d in docs {
                    if let (true, Some(kind), Some(ns), Some(n)) = (
                        crate::tree::is_flux_object(d),
                        d["kind"].as_str(),
                        d["metadata"]["namespace"].as_str(),
                        d["metadata"]["name"].as_str(),
                    ) {
                        objects.push(alerts::FluxObject {
                            kind: kind.into(),
                            namespace: ns.into(),
                            name: n.into(),
                        });
                    }
                }
            }
            Ok(alerts::FluxLayer {
                name,
                timeout: k.spec.timeout,
                objects,
            })
        })
        .collect()
}

/// Audits every object of the built tree with the platform's rules: objects in a namespace the
/// platform declares get that namespace's Pod Security level; everything else (the
/// environment-agnostic app base included) gets `restricted`. Each environment's objects were
/// also audited as kustomize builds them (base plus its overlay's patches), at its level, by
/// the build ([`Built::environment_violations`]); their findings are reported here.
pub fn audit(built: &Built, settings: &Settings) -> Result<(), Error> {
    let levels: Vec<(&str, crate::policy::Level)> = built
        .namespaces
        .iter()
        .map(|ns| (ns.name, ns.pod_security.level()))
        .collect();
    let level_of = |ns: Option<&str>| {
        levels
            .iter()
            .find(|(n, _)| Some(*n) == ns)
            .map_or(crate::policy::Level::Restricted, |(_, l)| *l)
    };
    let allowed_registries = settings.allowed_registries();
    let mut violations = crate::policy::audit_tree(&built.tree, &allowed_registries, level_of)?;
    violations.extend(built.environment_violations.iter().cloned());
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Violations(violations))
    }
}
