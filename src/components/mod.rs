//! One module per platform part; [`build`] assembles them into the [`Tree`].
//!
//! Components return typed objects and know nothing about each other's internals: shared
//! names (paths, namespaces, labels) are values passed between them.

pub mod alerts;
pub mod apps;
pub mod backup;
pub mod cert_manager;
pub mod cutover;
pub mod dashboards;
pub mod docs;
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
pub mod xwiki;

use crate::Error;
use crate::object::Object;
use crate::settings::Settings;
use crate::tree::{Folder, Tree};

/// Every image the platform pins by tag and digest: `crate::images` and the chart images set
/// through values (cert-manager's), as `registry/repository:tag@digest`.
pub fn pinned_images() -> Vec<String> {
    let mut out: Vec<String> = crate::images::ALL.iter().map(ToString::to_string).collect();
    out.extend(cert_manager::pinned_images());
    out.sort();
    out.dedup();
    out
}

/// Every namespace the platform creates, applications first.
pub fn all_namespaces(settings: &Settings) -> Vec<namespaces::PlatformNamespace> {
    let mut all = namespaces::applications(settings.environments());
    all.extend([
        namespaces::observability(),
        monitoring::node_exporter_namespace(),
        longhorn::namespace(),
        ingress::namespace(),
        cert_manager::namespace(),
        policy_engine::namespace(),
        runner::controller_namespace(),
        runner::runner_namespace(),
    ]);
    all
}

/// An environment is a namespace: one named like a platform namespace (`observability`,
/// `longhorn-system`, ...) would merge its objects and NetworkPolicies into the platform's.
fn check_environment_names(settings: &Settings) -> Result<(), Error> {
    let platform = all_namespaces(settings);
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
/// environment variables.
pub fn build(settings: &Settings) -> Result<Tree, Error> {
    check_environment_names(settings)?;
    secrets::check_platform_files(settings)?;
    let mut tree = Tree::new();
    let apps_ns = namespaces::applications(settings.environments());

    // Controllers: app namespaces, then one folder per Helm-installed component.
    let node_exporter_ns = monitoring::node_exporter_namespace();
    let helm = [
        (longhorn::component(settings)?, vec![]),
        (ingress::component()?, vec![]),
        (cert_manager::component()?, vec![]),
        (policy_engine::component()?, vec![]),
        (runner::controller()?, vec![]),
        (runner::runner_set(settings)?, vec![]),
        (
            monitoring::component(settings, namespaces::observability())?,
            vec![(
                "node-exporter-namespace.yaml".to_string(),
                vec![Object::new(&namespaces::namespace(&node_exporter_ns))?],
            )],
        ),
    ];
    let mut controllers =
        Folder::new(layout::CONTROLLERS).file("namespaces.yaml", namespaces::objects(&apps_ns)?);
    for (component, extra) in &helm {
        tree.add_folder(component.folder(layout::CONTROLLERS, extra.clone())?)?;
        controllers = controllers.resource(component.name);
    }
    if secrets::add_to_tree(&mut tree, settings)? {
        controllers = controllers.resource(secrets::PLATFORM_SECRETS);
    }
    tree.add_folder(controllers)?;

    // Configs: objects that need the controllers' CRDs.
    // Kyverno Deny where every pod is pinned: the applications and the runners.
    let mut enforced: Vec<&str> = apps_ns.iter().map(|ns| ns.name).collect();
    enforced.push(runner::RUNNER_NAMESPACE);
    let mut policies = Folder::new(format!("{}/policies", layout::CONFIGS));
    for (file, objects) in policies::objects(&enforced, &settings.allowed_registries())? {
        policies = policies.file(file, objects);
    }
    tree.add_folder(policies)?;
    tree.add_folder(Folder::new(format!("{}/issuers", layout::CONFIGS)).file(
        "clusterissuers.yaml",
        cert_manager::config_objects(settings)?,
    ))?;
    let observability_policies = network::observability_policies(settings)
        .iter()
        .map(Object::new)
        .collect::<Result<Vec<_>, _>>()?;
    let longhorn_policies = network::longhorn_policies()
        .iter()
        .map(Object::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut network_folder = Folder::new(format!("{}/network", layout::CONFIGS))
        .file("observability.yaml", observability_policies)
        .file("longhorn.yaml", longhorn_policies);
    for (ns, policies) in network::chart_namespace_policies(settings) {
        let objects = policies
            .iter()
            .map(Object::new)
            .collect::<Result<Vec<_>, _>>()?;
        network_folder = network_folder.file(format!("{ns}.yaml"), objects);
    }
    tree.add_folder(network_folder)?;
    let monitors = monitoring::chart_monitors()
        .iter()
        .map(Object::new)
        .collect::<Result<Vec<_>, _>>()?;
    tree.add_folder(
        Folder::new(format!("{}/monitoring", layout::CONFIGS))
            .file("servicemonitors.yaml", monitors)
            .file(
                "alerts.yaml",
                vec![Object::new(&alerts::prometheus_rule(settings))?],
            )
            .file(
                "dashboards.yaml",
                dashboards::config_maps()
                    .iter()
                    .map(Object::new)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
    )?;
    for (path, bytes) in backup::runbook(settings)?
        .into_iter()
        .chain(cutover::files(settings)?)
    {
        tree.insert(path, bytes)?;
    }
    tree.insert(
        "out/docs/runbooks/alerts.md",
        alerts::runbook(settings).into_bytes(),
    )?;
    tree.add_folder(Folder::new(format!("{}/backups", layout::CONFIGS)).file(
        "recurringjobs.yaml",
        vec![Object::new(&longhorn::recurring_backup(settings))?],
    ))?;
    let mut configs = Folder::new(layout::CONFIGS)
        .resource("backups")
        .resource("monitoring")
        .resource("issuers")
        .resource("policies")
        .resource("network");
    if extra::add_platform(&mut tree, settings)? {
        configs = configs.resource(extra::FOLDER);
    }
    tree.add_folder(configs)?;

    apps::add_to_tree(&mut tree, settings)?;
    let namespace_rows: Vec<docs::NamespaceRow> = all_namespaces(settings)
        .iter()
        .map(namespaces::PlatformNamespace::doc_row)
        .collect();
    let infrastructure = docs::Infrastructure {
        components: helm.iter().map(|(c, _)| c.doc_row()).collect(),
        namespaces: &namespace_rows,
        enforce_version: namespaces::ENFORCE_VERSION,
        enforced,
        excluded: policies::EXCLUDED_NAMESPACES.to_vec(),
        issuers: (
            cert_manager::LETSENCRYPT_STAGING,
            cert_manager::LETSENCRYPT_PROD,
        ),
    };
    tree.insert(
        "out/docs/infrastructure.md",
        docs::infrastructure(settings, infrastructure)?.into_bytes(),
    )?;

    let longest_release = helm
        .iter()
        .map(|(c, _)| c.timeout)
        .max()
        .unwrap_or(crate::quantity::Duration::minutes(5));
    let kustomizations = flux::kustomizations(
        &settings.cluster.flux,
        settings.envs().map(|(e, _)| e),
        longest_release,
    );
    for (file, objects) in flux::files(&kustomizations)? {
        let bytes = crate::tree::to_yaml(&objects.iter().map(|o| o.body()).collect::<Vec<_>>())?;
        tree.insert(format!("{}/{file}", layout::CLUSTER), bytes)?;
    }

    let (env_rows, secret_rows) = apps::doc_rows(settings);
    tree.insert(
        "out/docs/apps.md",
        docs::apps(env_rows, secret_rows)?.into_bytes(),
    )?;
    let secrets_doc = docs::secrets(
        settings,
        secrets::doc_rows(settings),
        secrets::required(settings),
    )?;
    tree.insert("out/docs/secrets.md", secrets_doc.into_bytes())?;
    tree.insert("out/docs/ci.md", docs::ci(settings)?.into_bytes())?;
    tree.insert(
        "out/docs/network.md",
        docs::network(settings, network::all_flows(settings))?.into_bytes(),
    )?;
    tree.insert(
        "out/README.md",
        docs::out_readme(
            settings,
            &namespace_rows,
            &flux::doc_rows(&kustomizations),
            namespaces::ENFORCE_VERSION,
        )?
        .into_bytes(),
    )?;
    tree.seal()
}

/// Audits every object of the tree with the platform's rules: objects in a namespace the
/// platform declares get that namespace's Pod Security level; everything else (the
/// environment-agnostic app base included) gets `restricted`.
pub fn audit(tree: &Tree, settings: &Settings) -> Result<(), Error> {
    let levels: Vec<(&str, crate::policy::Level)> = all_namespaces(settings)
        .iter()
        .map(|ns| (ns.name, ns.pod_security.level()))
        .collect();
    let level_of = |ns: Option<&str>| {
        levels
            .iter()
            .find(|(n, _)| Some(*n) == ns)
            .map_or(crate::policy::Level::Restricted, |(_, l)| *l)
    };
    let mut violations = crate::policy::audit_tree(tree, &settings.allowed_registries(), level_of)?;
    // Each environment's objects as kustomize builds them (base plus its overlay's patches).
    for (env, _) in settings.envs() {
        for object in apps::final_objects(settings, env)? {
            let cfg = crate::policy::AuditConfig {
                level: level_of(Some(env.name())),
                version: crate::policy::PssVersion::Latest,
                allowed_registries: settings.allowed_registries(),
            };
            violations.extend(crate::policy::audit_object(&object, &cfg).into_iter().map(
                |mut v| {
                    v.object = format!("{}: {}", layout::app_overlay(env), v.object);
                    v
                },
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Violations(violations))
    }
}
