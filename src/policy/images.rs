//! Image rules: digest required, an explicit tag that is not `latest`, allowed registries.
//! Each applies to containers, init containers and ephemeral containers.

use super::rule::Finding;
use super::view::PodView;

/// The parts of an image reference `registry/path:tag@digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry host, when the first path component is one (has a `.` or `:`, or is `localhost`).
    pub registry: Option<&'a str>,
    /// Tag, if written.
    pub tag: Option<&'a str>,
    /// Digest, if written.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Splits an image reference; never fails (missing parts are `None`).
    pub fn parse(image: &'a str) -> Self {
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image, None),
        };
        let (path, last) = match name.rsplit_once('/') {
            Some((p, l)) => (Some(p), l),
            None => (None, name),
        };
        let tag = last.split_once(':').map(|(_, t)| t);
        let registry = path
            .map(|p| p.split('/').next().unwrap_or(p))
            .filter(|first| first.contains('.') || first.contains(':') || *first == "localhost");
        Self {
            registry,
            tag,
            digest,
        }
    }
}

/// `image-digest`: the image is pinned by a `sha256` digest.
pub fn has_digest(image: &str) -> bool {
    ImageRef::parse(image).digest.is_some_and(|d| {
        d.strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()))
    })
}

/// `image-tag` (first half): an explicit, non-empty tag is written.
pub fn has_tag(image: &str) -> bool {
    ImageRef::parse(image).tag.is_some_and(|t| !t.is_empty())
}

/// `image-tag` (second half): the tag is not `latest`.
pub fn tag_is_not_latest(image: &str) -> bool {
    ImageRef::parse(image).tag != Some("latest")
}

/// `image-registry`: the image is fully qualified and its registry is allowed.
pub fn registry_allowed(image: &str, allowed: &[String]) -> bool {
    ImageRef::parse(image)
        .registry
        .is_some_and(|r| allowed.iter().any(|a| a == r))
}

/// Every image rule on every container of a pod.
pub fn check(pod: &PodView<'_>, allowed: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in pod.containers() {
        let image = c.value["image"].as_str().unwrap_or("");
        let mut push = |rule: &str, message: String| {
            out.push(Finding {
                rule: rule.to_string(),
                path: c.path(pod.prefix, "image"),
                container: Some(c.name()),
                message,
            })
        };
        if !has_digest(image) {
            push(
                "image-digest",
                format!("image {image:?} is not pinned by a sha256 digest"),
            );
        }
        if !has_tag(image) {
            push("image-tag", format!("image {image:?} has no tag"));
        } else if !tag_is_not_latest(image) {
            push(
                "image-tag",
                format!("image {image:?} uses the `latest` tag"),
            );
        }
        if !registry_allowed(image, allowed) {
            push(
                "image-registry",
                format!(
                    "image {image:?} is not from an allowed registry ({}); write images fully qualified",
                    allowed.join(", ")
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_registry_tag_and_digest() {
        let d = "sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b";
        let full = format!("docker.io/library/mysql:8.0.46@{d}");
        assert_eq!(
            ImageRef::parse(&full),
            ImageRef {
                registry: Some("docker.io"),
                tag: Some("8.0.46"),
                digest: Some(d)
            }
        );
        assert_eq!(ImageRef::parse("nginx").registry, None);
        assert_eq!(ImageRef::parse("library/nginx:1").registry, None);
        assert_eq!(ImageRef::parse("localhost:5000/x").tag, None);
        assert_eq!(
            ImageRef::parse("localhost:5000/x").registry,
            Some("localhost:5000")
        );
        assert!(has_digest(&full) && has_tag(&full) && tag_is_not_latest(&full));
        assert!(!has_digest("nginx@sha256:abc"));
        assert!(
            !tag_is_not_latest("nginx:latest")
                && !has_tag("nginx")
                && !has_tag(&format!("nginx@{d}"))
        );
        assert!(registry_allowed(&full, &["docker.io".into()]));
        assert!(!registry_allowed("mysql:8.0", &["docker.io".into()]));
        assert!(!registry_allowed(
            "docker.io.evil.com/x:1",
            &["docker.io".into()]
        ));
    }
}
