//! Every container image the platform runs, in one place.
//!
//! One image per `pub const`, with a Renovate comment on the line above it so that a custom
//! regex manager can bump the tag and digest together. Each value is checked at compile time
//! by [`pinned_image!`](crate::pinned_image). Digests come from
//! `../shared/reference/workloads.md` §5 and `platform.md` §7 (with their confidence there).

use crate::image::PinnedImage;
use crate::pinned_image;

/// MySQL 8.0.46, the final 8.0 release (EOL April 2026; upgrade path is 8.4 LTS).
// renovate: datasource=docker depName=docker.io/library/mysql
pub const MYSQL_8_0: PinnedImage = pinned_image!("docker.io", "library/mysql", "8.0.46", "sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b");

/// MySQL 8.4 LTS, the upgrade target once 8.0 data has been checked against it.
// renovate: datasource=docker depName=docker.io/library/mysql
pub const MYSQL_8_4: PinnedImage = pinned_image!("docker.io", "library/mysql", "8.4.11", "sha256:b3b90af2a6552ae30c266fdb7d5dd55f3afb72404bb78d37fe8a23eb857fd3fb");

/// XWiki 17.3.0 on Tomcat with the MySQL JDBC driver (OCI index digest).
// renovate: datasource=docker depName=docker.io/library/xwiki
pub const XWIKI: PinnedImage = pinned_image!("docker.io", "library/xwiki", "17.3.0-mysql-tomcat", "sha256:5efd59a466deaeb12358dfeace10ec0cc3f9f27da90f3da0c4d4e5b078c71113");

/// Prometheus mysqld-exporter, run as a sidecar of MySQL.
// renovate: datasource=docker depName=quay.io/prometheus/mysqld-exporter
pub const MYSQLD_EXPORTER: PinnedImage = pinned_image!("quay.io", "prometheus/mysqld-exporter", "v0.19.0", "sha256:eacb4b18e2ec1e0abdf2d64851b68526c964f6d9cb3e9458fb5d5f5062ea94c1");

/// rclone, the S3 client of the backup jobs.
// renovate: datasource=docker depName=docker.io/rclone/rclone
pub const RCLONE: PinnedImage = pinned_image!("docker.io", "rclone/rclone", "1.75.1", "sha256:45401ad7410db1d67ffdb58e19059ad20b0d8e0285a60e38bbec55cc1019c7a5");

/// curl, used by the XWiki export job to call the REST API.
// renovate: datasource=docker depName=docker.io/curlimages/curl
pub const CURL: PinnedImage = pinned_image!("docker.io", "curlimages/curl", "8.21.0", "sha256:7c12af72ceb38b7432ab85e1a265cff6ae58e06f95539d539b654f2cfa64bb13");

/// GitHub Actions runner for the in-cluster self-hosted runner scale set.
// renovate: datasource=docker depName=ghcr.io/actions/actions-runner
pub const ACTIONS_RUNNER: PinnedImage = pinned_image!("ghcr.io", "actions/actions-runner", "2.338.0", "sha256:4ffadc0002b2581327e06101fc8c06cd189232baf79fe561fac9caeb76f5e807");

/// ingress-nginx controller v1.15.1, the final release of the retired project.
// renovate: datasource=docker depName=registry.k8s.io/ingress-nginx/controller
pub const INGRESS_NGINX_CONTROLLER: PinnedImage = pinned_image!("registry.k8s.io", "ingress-nginx/controller", "v1.15.1", "sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1");

// Images of kube-prometheus-stack 88.5.3 (the chart's defaults), pinned through its values.
// Digests are OCI index digests seen pinned in several public repositories (search tool,
// 2026-12); each is listed with its sources in the issue-11 note. Not verified against the
// registry from here: the CI workflow's digest check is the place for that.

/// Prometheus v3.14.0 (distroless), the chart's default.
// renovate: datasource=docker depName=quay.io/prometheus/prometheus
pub const PROMETHEUS: PinnedImage = pinned_image!("quay.io", "prometheus/prometheus", "v3.14.0-distroless", "sha256:50c707e96da5ade383cb1707790576480485e93de06aa60ad8802cb5f744bd0a");

/// Alertmanager v0.34.0, the chart's default.
// renovate: datasource=docker depName=quay.io/prometheus/alertmanager
pub const ALERTMANAGER: PinnedImage = pinned_image!("quay.io", "prometheus/alertmanager", "v0.34.0", "sha256:690c7b525f4367aa91f73e2f91c632206d32e97c6384bdbf2fb7a861b420340d");

/// Grafana 13.2.0 (grafana chart 12.11.1's appVersion).
// renovate: datasource=docker depName=docker.io/grafana/grafana
pub const GRAFANA: PinnedImage = pinned_image!("docker.io", "grafana/grafana", "13.2.0", "sha256:3fd54ae1214669f8355f065ec9f6445d5279a3d77095ab048ca045685272429b");

/// kube-state-metrics v2.20.0 (its chart 8.4.0's appVersion).
// renovate: datasource=docker depName=registry.k8s.io/kube-state-metrics/kube-state-metrics
pub const KUBE_STATE_METRICS: PinnedImage = pinned_image!("registry.k8s.io", "kube-state-metrics/kube-state-metrics", "v2.20.0", "sha256:42cfe3723a5f058171c627537fb57a3ea0f26e4380fa18555a95cb1a1b4cfc5b");

/// All images above, for audits and for the generated inventory.
pub const ALL: &[PinnedImage] = &[
    MYSQL_8_0,
    MYSQL_8_4,
    XWIKI,
    MYSQLD_EXPORTER,
    RCLONE,
    CURL,
    ACTIONS_RUNNER,
    INGRESS_NGINX_CONTROLLER,
    PROMETHEUS,
    ALERTMANAGER,
    GRAFANA,
    KUBE_STATE_METRICS,
];
