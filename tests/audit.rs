//! `render` refuses a tree that breaks a rule, names the rule, and leaves out/ untouched.

mod common;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use o4g_gitops::quantity::{Bytes, Cpu};
use o4g_gitops::settings::Settings;
use o4g_gitops::workload::*;
use o4g_gitops::{Error, components, render};
use serde_json::{Value, json};

const HTTP: Port = Port::tcp("http", 8080);

/// Breaks one field of a compliant Deployment.
type Mutation = Box<dyn Fn(&mut Value)>;

/// A Deployment whose pod comes from the restricted builders.
fn compliant_deployment() -> Value {
    let res = Resources::new(
        Compute::new(Cpu::millis(100), Bytes::mebi(64)),
        Compute::new(Cpu::millis(200), Bytes::mebi(128)),
    );
    let tmp = Volume::empty_dir("tmp");
    let init = Container::new("init", o4g_gitops::images::CURL)
        .mount(&tmp, "/tmp")
        .resources(res)
        .build_task();
    let web = Container::new("web", o4g_gitops::images::XWIKI)
        .port(HTTP)
        .mount(&tmp, "/tmp")
        .resources(res)
        .probes(Probe::http_get("/rest", HTTP), Probe::tcp(HTTP))
        .build();
    let labels = [("app.kubernetes.io/name", "probe")];
    let template = PodTemplate::service(RunAs::new(1000, 1000))
        .labels(labels)
        .init_container(init)
        .container(web)
        .build()
        .unwrap();
    let d = Deployment {
        metadata: ObjectMeta {
            name: Some("probe".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            template,
            ..Default::default()
        }),
        ..Default::default()
    };
    serde_json::to_value(d).unwrap()
}

fn tree_with(settings: &Settings, object: &Value) -> components::Built {
    let mut built = components::build_all(settings).unwrap();
    built
        .tree
        .insert(
            "out/apps/base/probe.yaml",
            o4g_gitops::tree::to_yaml(&[object]).unwrap(),
        )
        .unwrap();
    built
}

#[test]
fn a_pod_from_the_builders_passes_every_rule() {
    let settings = common::fixture_settings();
    let tree = tree_with(&settings, &compliant_deployment());
    components::audit(&tree, &settings).expect("the builders make compliant pods");
    // And every pod the platform renders passes too, for fixture site A and the live settings.
    components::audit(&components::build_all(&settings).unwrap(), &settings).unwrap();
    let live = Settings::load(&common::root()).unwrap();
    components::audit(&components::build_all(&live).unwrap(), &live).unwrap();
}

#[test]
fn render_refuses_each_broken_rule_and_leaves_out_untouched() {
    let settings = common::fixture_settings();
    let pod = "/spec/template/spec";
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "pss:privileged",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/containers/0/securityContext"))
                    .unwrap()["privileged"] = json!(true)
            }),
        ),
        (
            "pss:hostNamespaces",
            Box::new(move |d| d.pointer_mut(pod).unwrap()["hostNetwork"] = json!(true)),
        ),
        (
            "pss:allowPrivilegeEscalation",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/initContainers/0/securityContext"))
                    .unwrap()["allowPrivilegeEscalation"] = json!(true)
            }),
        ),
        (
            "pss:seccompProfile_restricted",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/securityContext"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("seccompProfile");
            }),
        ),
        (
            "pss:restrictedVolumes",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/volumes/0")).unwrap()["hostPath"] =
                    json!({"path": "/"})
            }),
        ),
        (
            "image-digest",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/containers/0")).unwrap()["image"] =
                    json!("docker.io/library/xwiki:17.3.0-mysql-tomcat")
            }),
        ),
        (
            "image-tag",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/containers/0")).unwrap()["image"] = json!(
                    "docker.io/library/xwiki:latest@sha256:5efd59a466deaeb12358dfeace10ec0cc3f9f27da90f3da0c4d4e5b078c71113"
                )
            }),
        ),
        (
            "image-registry",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/initContainers/0")).unwrap()["image"] = json!(
                    "evil.example.com/curl:8.21.0@sha256:7c12af72ceb38b7432ab85e1a265cff6ae58e06f95539d539b654f2cfa64bb13"
                )
            }),
        ),
        (
            "run-as-non-root",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/containers/0/securityContext"))
                    .unwrap()["runAsNonRoot"] = json!(false)
            }),
        ),
        (
            "requests-limits",
            Box::new(move |d| {
                d.pointer_mut(&format!("{pod}/containers/0/resources/limits"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("cpu");
            }),
        ),
    ];
    for (rule, mutate) in cases {
        let repo = common::scratch_repo();
        let before = common::snapshot_dir(&repo.path().join("out"));
        let mut broken = compliant_deployment();
        mutate(&mut broken);
        let tree = tree_with(&settings, &broken);
        match render::render(
            repo.path(),
            &tree,
            &settings,
            render::WriteOptions::default(),
        ) {
            Err(Error::Violations(v)) => {
                assert!(
                    v.iter().any(|v| v.rule == rule),
                    "{rule} not reported: {v:#?}"
                );
                let text = Error::Violations(v).to_string();
                assert!(
                    text.contains(rule)
                        && text.contains("Deployment/probe")
                        && text.contains("nothing was written"),
                    "{text}"
                );
            }
            other => panic!("{rule}: render did not refuse: {other:?}"),
        }
        assert_eq!(
            before,
            common::snapshot_dir(&repo.path().join("out")),
            "{rule}: out/ changed"
        );
    }
}

#[test]
fn a_cron_job_from_the_builders_passes_every_rule() {
    let settings = common::fixture_settings();
    let res = Resources::new(
        Compute::new(Cpu::millis(100), Bytes::mebi(64)),
        Compute::new(Cpu::millis(200), Bytes::mebi(128)),
    );
    let tmp = Volume::empty_dir("tmp");
    let job = Container::new("dump", o4g_gitops::images::MYSQL_8_0)
        .mount(&tmp, "/tmp")
        .resources(res)
        .build_task();
    let template = PodTemplate::job(RunAs::new(999, 999))
        .container(job)
        .build()
        .unwrap();
    let labels = AppLabels {
        name: "backup",
        instance: "backup",
        component: "backup",
        version: "1".into(),
        extra: Default::default(),
    };
    let schedule = "15 2 * * *".parse().unwrap();
    let cj = serde_json::to_value(cron_job(
        &labels,
        "mysql-dump",
        &schedule,
        template,
        o4g_gitops::quantity::Duration::hours(1),
    ))
    .unwrap();
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );
    let tree = tree_with(&settings, &cj);
    components::audit(&tree, &settings).expect("the job builders make compliant pods");
}
