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
];
