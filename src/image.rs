//! Container images that can only exist with a digest.
//!
//! A [`PinnedImage`] is made with the [`pinned_image!`](crate::pinned_image) macro, which
//! evaluates its checks in a `const` item: a digest that is not `sha256:` followed by 64
//! lowercase hex digits, an empty or `latest` tag, or a registry outside
//! [`ALLOWED_REGISTRIES`] stops compilation.
//!
//! ```
//! use o4g_gitops::pinned_image;
//! let busybox = pinned_image!(
//!     "docker.io", "library/busybox", "1.37.0",
//!     "sha256:0000000000000000000000000000000000000000000000000000000000000000"
//! );
//! assert!(busybox.to_string().starts_with("docker.io/library/busybox:1.37.0@sha256:"));
//! ```
//!
//! ```compile_fail
//! // `latest` is refused at compile time.
//! let img = o4g_gitops::pinned_image!("docker.io", "library/busybox", "latest",
//!     "sha256:0000000000000000000000000000000000000000000000000000000000000000");
//! ```

use std::fmt;

/// Registries an image may come from; checked at compile time.
///
/// Default: the four public registries the platform's images and charts use. The runtime
/// allow-list in `overlays/cluster.toml` (enforced by the policy audit and Kyverno) must
/// contain at least these.
pub const ALLOWED_REGISTRIES: &[&str] = &["docker.io", "quay.io", "ghcr.io", "registry.k8s.io"];

/// A fully qualified image reference with a tag kept for readability and a digest that pins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PinnedImage {
    registry: &'static str,
    repository: &'static str,
    tag: &'static str,
    digest: &'static str,
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Why an image reference is refused; `const` so that the checks run at compile time.
const fn check(
    registry: &str,
    repository: &str,
    tag: &str,
    digest: &str,
) -> Result<(), &'static str> {
    let mut allowed = false;
    let mut i = 0;
    while i < ALLOWED_REGISTRIES.len() {
        if str_eq(registry, ALLOWED_REGISTRIES[i]) {
            allowed = true;
        }
        i += 1;
    }
    if !allowed {
        return Err("registry is not in ALLOWED_REGISTRIES");
    }
    let repo = repository.as_bytes();
    if repo.is_empty() {
        return Err("repository is empty");
    }
    let mut i = 0;
    while i < repo.len() {
        let c = repo[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'/' | b'.' | b'_' | b'-'))
        {
            return Err("repository must be lowercase [a-z0-9._/-]");
        }
        i += 1;
    }
    let t = tag.as_bytes();
    if t.is_empty() {
        return Err("tag is empty: write the version the digest belongs to");
    }
    if str_eq(tag, "latest") {
        return Err("tag `latest` is not allowed: pin a version");
    }
    if t.len() > 128 {
        return Err("tag is longer than 128 characters");
    }
    let mut i = 0;
    while i < t.len() {
        let c = t[i];
        if !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')) {
            return Err("tag must match [A-Za-z0-9_.-]");
        }
        i += 1;
    }
    let d = digest.as_bytes();
    let prefix = b"sha256:";
    if d.len() != prefix.len() + 64 {
        return Err("digest must be `sha256:` followed by 64 lowercase hex digits");
    }
    let mut i = 0;
    while i < d.len() {
        let c = d[i];
        let ok = if i < prefix.len() {
            c == prefix[i]
        } else {
            c.is_ascii_digit() || matches!(c, b'a'..=b'f')
        };
        if !ok {
            return Err("digest must be `sha256:` followed by 64 lowercase hex digits");
        }
        i += 1;
    }
    Ok(())
}

impl PinnedImage {
    /// Checks and builds an image; use [`pinned_image!`](crate::pinned_image), which runs this
    /// in a `const` item so that a bad reference fails compilation instead of panicking.
    #[doc(hidden)]
    pub const fn checked(
        registry: &'static str,
        repository: &'static str,
        tag: &'static str,
        digest: &'static str,
    ) -> Self {
        match check(registry, repository, tag, digest) {
            Ok(()) => Self {
                registry,
                repository,
                tag,
                digest,
            },
            Err(why) => panic!("{}", why),
        }
    }

    /// Parses `registry/repository:tag@sha256:<64 hex>` read from settings, with the same
    /// checks [`pinned_image!`](crate::pinned_image) runs at compile time (registry in
    /// [`ALLOWED_REGISTRIES`], no `latest`, a well-formed digest). The parts are leaked:
    /// settings are read once per process.
    pub fn parse(reference: &str) -> Result<Self, String> {
        let form = "expected `registry/repository:tag@sha256:<64 lowercase hex digits>`";
        let (name, digest) = reference
            .split_once('@')
            .ok_or_else(|| format!("has no digest: {form}"))?;
        let (path, tag) = name
            .rsplit_once(':')
            .ok_or_else(|| format!("has no tag: {form}"))?;
        let (registry, repository) = path
            .split_once('/')
            .ok_or_else(|| format!("has no registry: {form}"))?;
        check(registry, repository, tag, digest)?;
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        Ok(Self {
            registry: leak(registry),
            repository: leak(repository),
            tag: leak(tag),
            digest: leak(digest),
        })
    }

    /// Registry host, e.g. `docker.io`.
    pub const fn registry(&self) -> &'static str {
        self.registry
    }
    /// Repository path inside the registry, e.g. `library/mysql`.
    pub const fn repository(&self) -> &'static str {
        self.repository
    }
    /// Tag kept for readability (and Renovate), e.g. `8.0.46`.
    pub const fn tag(&self) -> &'static str {
        self.tag
    }
    /// Content digest, `sha256:` + 64 hex digits.
    pub const fn digest(&self) -> &'static str {
        self.digest
    }
}

impl fmt::Display for PinnedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}:{}@{}",
            self.registry, self.repository, self.tag, self.digest
        )
    }
}

/// Builds a [`PinnedImage`](crate::image::PinnedImage) checked at compile time:
/// `pinned_image!(registry, repository, tag, digest)`.
#[macro_export]
macro_rules! pinned_image {
    ($registry:expr, $repository:expr, $tag:expr, $digest:expr $(,)?) => {{
        // A const item (not an inline `const {}` block) so that even `cargo check` evaluates it.
        const IMAGE: $crate::image::PinnedImage =
            $crate::image::PinnedImage::checked($registry, $repository, $tag, $digest);
        IMAGE
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b";

    #[test]
    fn display_is_fully_qualified_with_tag_and_digest() {
        let img = crate::pinned_image!("docker.io", "library/mysql", "8.0.46", D);
        assert_eq!(
            img.to_string(),
            format!("docker.io/library/mysql:8.0.46@{D}")
        );
    }

    #[test]
    fn check_rejects_each_malformed_part() {
        assert!(check("docker.io", "library/mysql", "8.0.46", D).is_ok());
        assert!(check("evil.example", "x", "1", D).is_err());
        assert!(check("docker.io", "x", "latest", D).is_err());
        assert!(check("docker.io", "x", "", D).is_err());
        assert!(check("docker.io", "x", "1", "sha256:abc").is_err());
        assert!(check("docker.io", "x", "1", &D.to_uppercase()).is_err());
        assert!(check("docker.io", "x", "1", &D.replace("sha256", "sha512")).is_err());
        assert!(check("docker.io", "Upper", "1", D).is_err());
    }

    #[test]
    fn parse_reads_what_display_writes_and_checks_like_the_macro() {
        let img = crate::pinned_image!("docker.io", "library/mysql", "8.0.46", D);
        assert_eq!(PinnedImage::parse(&img.to_string()), Ok(img));
        for bad in [
            format!("docker.io/library/mysql:latest@{D}"),
            "docker.io/library/mysql:8.0.46".to_string(),
            format!("docker.io/library/mysql@{D}"),
            format!("evil.example/library/mysql:8.0.46@{D}"),
            format!("mysql:8.0.46@{D}"),
        ] {
            assert!(PinnedImage::parse(&bad).is_err(), "{bad}");
        }
    }
}
