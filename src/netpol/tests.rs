//! The evaluator's semantics, including the classic traps.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::eval::{Cluster, Endpoint, Pod};

fn pod(ns: &str, name: &str, labels: &[(&str, &str)], ports: &[(&str, u16)]) -> Pod {
    Pod {
        namespace: ns.into(),
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports: ports
            .iter()
            .map(|(n, p)| (n.to_string(), *p, "TCP".to_string()))
            .collect(),
    }
}

fn cluster(yaml: &str) -> Cluster {
    let policies = crate::yaml_read::read_documents(yaml)
        .unwrap()
        .into_iter()
        .map(|d| {
            serde_json::from_value::<k8s_openapi::api::networking::v1::NetworkPolicy>(d).unwrap()
        })
        .collect();
    let mut namespaces = BTreeMap::new();
    namespaces.insert(
        "prod".to_string(),
        BTreeMap::from([("env".to_string(), "prod".to_string())]),
    );
    namespaces.insert(
        "mon".to_string(),
        BTreeMap::from([("team".to_string(), "ops".to_string())]),
    );
    Cluster {
        namespaces,
        policies,
    }
}

fn web() -> Pod {
    pod("prod", "web", &[("app", "web")], &[("http", 8080)])
}
fn db() -> Pod {
    pod("prod", "db", &[("app", "db")], &[("mysql", 3306)])
}
fn prom() -> Pod {
    pod("mon", "prom", &[("app", "prom")], &[])
}
fn other_mon() -> Pod {
    pod("mon", "other", &[("app", "other")], &[])
}
fn prod_prom() -> Pod {
    pod("prod", "prom-in-prod", &[("app", "prom")], &[])
}

/// Lets every prod pod open any connection, so a test looks at ingress alone.
const PROD_EGRESS_OPEN: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress-open, namespace: prod}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n";

const DENY_ALL: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";

#[test]
fn no_policy_means_open() {
    let c = cluster("");
    assert!(c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"));
    assert!(!c.is_selected(&web()));
}

#[test]
fn default_deny_closes_both_directions() {
    let c = cluster(DENY_ALL);
    assert!(!c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"));
    assert!(
        !c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&db()), 3306, "TCP"),
        "ingress closed"
    );
    assert!(
        !c.allowed(
            Endpoint::Pod(&web()),
            Endpoint::Ip(Ipv4Addr::new(8, 8, 8, 8)),
            443,
            "TCP"
        ),
        "egress closed"
    );
    assert!(c.is_selected(&web()));
}

#[test]
fn a_connection_needs_egress_and_ingress() {
    let only_ingress = format!(
        "{DENY_ALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{app: web}}}}}}], ports: [{{port: 3306}}]}}]\n"
    );
    let c = cluster(&only_ingress);
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"),
        "web's egress is still denied"
    );
    let both = format!(
        "{only_ingress}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{podSelector: {{matchLabels: {{app: db}}}}}}], ports: [{{port: 3306}}]}}]\n"
    );
    let c = cluster(&both);
    assert!(c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"));
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3307, "TCP"),
        "other port"
    );
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "UDP"),
        "other protocol"
    );
}

#[test]
fn an_egress_only_policy_leaves_ingress_open() {
    let c = cluster(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: prod}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Egress]\n",
    );
    assert!(
        c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"),
        "db is not isolated for ingress"
    );
    assert!(
        !c.allowed(Endpoint::Pod(&db()), Endpoint::Pod(&web()), 8080, "TCP"),
        "db is isolated for egress"
    );
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_egress_rules_exist() {
    let c = cluster(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: prod}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  egress: [{ports: [{port: 53, protocol: UDP}]}]\n",
    );
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"),
        "Ingress is implied"
    );
    assert!(c.allowed(
        Endpoint::Pod(&db()),
        Endpoint::Ip(Ipv4Addr::new(10, 0, 0, 10)),
        53,
        "UDP"
    ));
    assert!(!c.allowed(
        Endpoint::Pod(&db()),
        Endpoint::Ip(Ipv4Addr::new(10, 0, 0, 10)),
        53,
        "TCP"
    ));
}

#[test]
fn an_empty_rule_allows_everything_but_an_empty_peer_is_refused() {
    let open = format!(
        "{DENY_ALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: open, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: [{{}}]\n"
    );
    let c = cluster(&open);
    assert!(
        c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&db()), 9999, "TCP"),
        "ingress: [{{}}] allows all sources and ports"
    );
    assert!(c.allowed(
        Endpoint::Ip(Ipv4Addr::new(1, 2, 3, 4)),
        Endpoint::Pod(&db()),
        1,
        "UDP"
    ));
    let empty_peer = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: prod}\nspec:\n  podSelector: {}\n  ingress: [{from: [{}]}]\n";
    let err = cluster(empty_peer).validate().unwrap_err();
    assert!(err.message.contains("must set"), "{err}");
    // And `podSelector: {}` as a peer means every pod of the policy's namespace only.
    let same_ns = format!(
        "{DENY_ALL}{PROD_EGRESS_OPEN}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: ns, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: [{{from: [{{podSelector: {{}}}}]}}]\n"
    );
    let c = cluster(&same_ns);
    assert!(
        c.allowed(
            Endpoint::Pod(&prod_prom()),
            Endpoint::Pod(&db()),
            3306,
            "TCP"
        ),
        "same namespace included"
    );
    assert!(
        !c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&db()), 3306, "TCP"),
        "other namespace excluded"
    );
}

#[test]
fn namespace_and_pod_selector_in_one_element_is_and_in_two_is_or() {
    let and = format!(
        "{DENY_ALL}{PROD_EGRESS_OPEN}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: and, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{team: ops}}}}, podSelector: {{matchLabels: {{app: prom}}}}}}]}}]\n"
    );
    let c = cluster(&and);
    assert!(c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&db()), 3306, "TCP"));
    assert!(
        !c.allowed(
            Endpoint::Pod(&other_mon()),
            Endpoint::Pod(&db()),
            3306,
            "TCP"
        ),
        "right namespace, wrong pod"
    );
    assert!(
        !c.allowed(
            Endpoint::Pod(&prod_prom()),
            Endpoint::Pod(&db()),
            3306,
            "TCP"
        ),
        "right pod, wrong namespace"
    );
    let or = format!(
        "{DENY_ALL}{PROD_EGRESS_OPEN}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: or, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{team: ops}}}}}}, {{podSelector: {{matchLabels: {{app: prom}}}}}}]}}]\n"
    );
    let c = cluster(&or);
    assert!(
        c.allowed(
            Endpoint::Pod(&other_mon()),
            Endpoint::Pod(&db()),
            3306,
            "TCP"
        ),
        "any pod of the namespace"
    );
    assert!(
        c.allowed(
            Endpoint::Pod(&prod_prom()),
            Endpoint::Pod(&db()),
            3306,
            "TCP"
        ),
        "the pod in the policy's namespace"
    );
    assert!(!c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"));
}

#[test]
fn match_expressions_and_the_automatic_namespace_name_label() {
    let p = format!(
        "{DENY_ALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x, namespace: prod}}\nspec:\n  podSelector: {{matchExpressions: [{{key: app, operator: In, values: [db, cache]}}]}}\n  ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: mon}}}}, podSelector: {{matchExpressions: [{{key: app, operator: NotIn, values: [other]}}, {{key: app, operator: Exists}}]}}}}]}}]\n"
    );
    let c = cluster(&p);
    assert!(c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&db()), 3306, "TCP"));
    assert!(!c.allowed(
        Endpoint::Pod(&other_mon()),
        Endpoint::Pod(&db()),
        3306,
        "TCP"
    ));
    assert!(
        !c.allowed(Endpoint::Pod(&prom()), Endpoint::Pod(&web()), 8080, "TCP"),
        "web is not selected by x, only by the deny"
    );
}

#[test]
fn named_ports_resolve_on_the_destination_pod() {
    let p = format!(
        "{DENY_ALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x, namespace: prod}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{port: http}}]}}]\n  egress: [{{ports: [{{port: mysql}}]}}]\n  policyTypes: [Ingress, Egress]\n"
    );
    let c = cluster(&p);
    assert!(c.allowed(
        Endpoint::Ip(Ipv4Addr::new(192, 168, 1, 2)),
        Endpoint::Pod(&web()),
        8080,
        "TCP"
    ));
    assert!(
        !c.allowed(
            Endpoint::Ip(Ipv4Addr::new(192, 168, 1, 2)),
            Endpoint::Pod(&db()),
            8080,
            "TCP"
        ),
        "db has no port named http"
    );
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 3306, "TCP"),
        "db's ingress has no 'http' on 3306"
    );
    assert!(
        !c.allowed(
            Endpoint::Pod(&web()),
            Endpoint::Ip(Ipv4Addr::new(8, 8, 8, 8)),
            3306,
            "TCP"
        ),
        "a named port never matches an address"
    );
}

#[test]
fn ip_blocks_with_except_and_port_ranges() {
    let p = format!(
        "{DENY_ALL}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [10.0.0.0/8, 192.168.0.0/16]}}}}], ports: [{{port: 8000, endPort: 8100}}]}}]\n"
    );
    let c = cluster(&p);
    assert!(c.allowed(
        Endpoint::Pod(&web()),
        Endpoint::Ip(Ipv4Addr::new(8, 8, 8, 8)),
        8050,
        "TCP"
    ));
    assert!(
        !c.allowed(
            Endpoint::Pod(&web()),
            Endpoint::Ip(Ipv4Addr::new(10, 1, 2, 3)),
            8050,
            "TCP"
        ),
        "excepted range"
    );
    assert!(
        !c.allowed(
            Endpoint::Pod(&web()),
            Endpoint::Ip(Ipv4Addr::new(8, 8, 8, 8)),
            8101,
            "TCP"
        ),
        "outside endPort"
    );
    assert!(
        !c.allowed(Endpoint::Pod(&web()), Endpoint::Pod(&db()), 8050, "TCP"),
        "an ipBlock does not match pods"
    );
}
