//! Lint throughput in pod specs per second on a generated corpus of 10,000 pods
//! (goal: 20,000/s or more on one core). Run with `cargo bench --bench lint`.

use o4g_gitops::policy::{AuditConfig, audit_object};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const PODS: usize = 10_000;

/// Pods of varied shapes: compliant, privileged, unpinned, with volumes, init containers,
/// controllers and CronJobs, so every rule runs.
fn corpus() -> Vec<Value> {
    (0..PODS)
        .map(|i| {
            let image = if i % 3 == 0 {
                format!("docker.io/library/app{i}:1.{i}@sha256:{:064x}", i)
            } else {
                format!("app{i}:latest")
            };
            let container = json!({
                "name": format!("c{i}"), "image": image,
                "securityContext": {"allowPrivilegeEscalation": i % 5 != 0, "privileged": i % 7 == 0,
                                    "capabilities": {"drop": ["ALL"], "add": if i % 11 == 0 { json!(["NET_ADMIN"]) } else { json!([]) }}},
                "ports": [{"containerPort": 8080, "hostPort": if i % 13 == 0 { 80 } else { 0 }}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"path": "/", "port": 8080}},
            });
            let spec = json!({
                "securityContext": {"runAsNonRoot": i % 2 == 0, "seccompProfile": {"type": "RuntimeDefault"},
                                    "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]},
                "initContainers": [container.clone()],
                "containers": [container.clone(), container],
                "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "x"}}],
            });
            match i % 3 {
                0 => json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{i}")}, "spec": spec}),
                1 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d{i}")},
                            "spec": {"template": {"metadata": {}, "spec": spec}}}),
                _ => json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": format!("j{i}")},
                            "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
            }
        })
        .collect()
}

/// Every rule at `restricted`/`latest` on 10,000 pods; divan reports pods per second.
#[divan::bench(sample_count = 20)]
fn lint_10k_pods(bencher: divan::Bencher) {
    let pods = corpus();
    let cfg = AuditConfig::strict(vec!["docker.io".into(), "quay.io".into()]);
    bencher
        .counter(divan::counter::ItemsCount::new(PODS))
        .bench(|| {
            let mut n = 0;
            for p in &pods {
                n += audit_object(divan::black_box(p), &cfg).len();
            }
            n
        });
}

// Reading untrusted YAML (src/yaml_read.rs): time and allocated bytes per input. Run with
// `cargo bench --bench lint -- read_`; divan's allocation profiler reports the bytes allocated
// (the memory bound: a small multiple of the input size, and refusals allocate next to nothing).
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// About 1 MB of ordinary manifests (2,000 pods in one multi-document file).
fn one_megabyte() -> String {
    (0..2_000)
        .map(|i| format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {{app: x}}}}\nspec:\n  containers:\n  - name: c\n    image: docker.io/library/busybox:1.37.0@sha256:{i:064x}\n    resources: {{requests: {{cpu: 10m, memory: 16Mi}}, limits: {{cpu: 100m, memory: 64Mi}}}}\n    securityContext: {{runAsNonRoot: true, allowPrivilegeEscalation: false}}\n"))
        .collect()
}

#[divan::bench(sample_count = 10)]
fn read_one_megabyte_of_manifests(bencher: divan::Bencher) {
    let text = one_megabyte();
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| {
            o4g_gitops::yaml_read::read_documents(divan::black_box(&text))
                .unwrap()
                .len()
        });
}

#[divan::bench(sample_count = 10)]
fn read_refuses_an_alias_bomb(bencher: divan::Bencher) {
    let text = format!(
        "base: &b [{}]\nuse: [{}]\n",
        vec!["x"; 50_000].join(","),
        vec!["*b"; 40_000].join(",")
    );
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| o4g_gitops::yaml_read::read_documents(divan::black_box(&text)).is_err());
}

#[divan::bench(sample_count = 10)]
fn read_refuses_deep_nesting(bencher: divan::Bencher) {
    let text = "[".repeat(100_000);
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| o4g_gitops::yaml_read::read_documents(divan::black_box(&text)).is_err());
}
