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
//! A chart image may await its digest ([`chart_image!`](crate::chart_image)); a digest it
//! carries is checked as strictly:
//!
//! ```compile_fail
//! let img = o4g_gitops::chart_image!("docker.io/longhornio/longhorn-ui", "v1.12.1", "sha256:abc");
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
/// `reg.kyverno.io`: where Kyverno's chart pulls its own images (kyverno 3.9.0 `values.yaml`,
/// `defaultRegistry: reg.kyverno.io` for every controller), declared in
/// `components::policy_engine::images`.
pub const ALLOWED_REGISTRIES: &[&str] = &[
    "docker.io",
    "quay.io",
    "ghcr.io",
    "registry.k8s.io",
    "reg.kyverno.io",
];

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
    match check_name_and_tag(registry, repository, tag) {
        Ok(()) => check_digest(digest),
        Err(why) => Err(why),
    }
}

/// The registry, repository and tag checks of [`check`].
const fn check_name_and_tag(
    registry: &str,
    repository: &str,
    tag: &str,
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
    Ok(())
}

/// `sha256:` followed by 64 lowercase hex digits.
const fn check_digest(digest: &str) -> Result<(), &'static str> {
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

/// An image a chart runs, declared beside its chart: the tag is known, the digest is there once
/// Renovate has pinned it (`renovate.json`, the chart-image manager, whose
/// `autoReplaceStringTemplate` turns `chart_image!(name, tag)` into `chart_image!(name, tag,
/// digest)`). Made with [`chart_image!`](crate::chart_image), checked at compile time like
/// [`pinned_image!`](crate::pinned_image) (the digest, when present, too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChartImage {
    registry: &'static str,
    repository: &'static str,
    tag: &'static str,
    digest: Option<&'static str>,
}

/// How a chart's values builder takes its declared images: the identity for the tree; a test
/// passes one that pins the awaiting ones, to render the chart as it will be after Renovate's
/// pin PR.
pub type Pin<'a> = &'a dyn Fn(ChartImage) -> ChartImage;

/// Splits `registry/repository` at its first `/`.
const fn split_name(name: &'static str) -> Result<(&'static str, &'static str), &'static str> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' {
            let (registry, rest) = name.split_at(i);
            let (_, repository) = rest.split_at(1);
            return Ok((registry, repository));
        }
        i += 1;
    }
    Err("name must be `registry/repository`")
}

impl ChartImage {
    /// Checks and builds a declaration; use [`chart_image!`](crate::chart_image), which runs
    /// this in a `const` item so that a bad reference fails compilation.
    #[doc(hidden)]
    pub const fn checked(
        name: &'static str,
        tag: &'static str,
        digest: Option<&'static str>,
    ) -> Self {
        let (registry, repository) = match split_name(name) {
            Ok(parts) => parts,
            Err(why) => panic!("{}", why),
        };
        if let Err(why) = check_name_and_tag(registry, repository, tag) {
            panic!("{}", why);
        }
        if let Some(d) = digest
            && let Err(why) = check_digest(d)
        {
            panic!("{}", why);
        }
        Self {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// The checks [`chart_image!`](crate::chart_image) runs at compile time, at run time: for
    /// a line written by another tool (Renovate's pin) before it is compiled.
    pub fn check(name: &'static str, tag: &str, digest: Option<&str>) -> Result<(), &'static str> {
        let (registry, repository) = split_name(name)?;
        check_name_and_tag(registry, repository, tag)?;
        digest.map_or(Ok(()), check_digest)
    }

    /// This image with `digest` (checked): what Renovate's pin makes of the declaration.
    pub fn with_digest(self, digest: &'static str) -> Result<Self, &'static str> {
        check_digest(digest)?;
        Ok(Self {
            digest: Some(digest),
            ..self
        })
    }

    /// A chart image already pinned as a [`PinnedImage`] (`src/images.rs`, cert-manager's).
    pub const fn from_pinned(i: PinnedImage) -> Self {
        Self {
            registry: i.registry,
            repository: i.repository,
            tag: i.tag,
            digest: Some(i.digest),
        }
    }

    /// Registry host, e.g. `docker.io`.
    pub const fn registry(&self) -> &'static str {
        self.registry
    }
    /// Repository path inside the registry, e.g. `longhornio/longhorn-manager`.
    pub const fn repository(&self) -> &'static str {
        self.repository
    }
    /// The tag, e.g. `v1.12.1`.
    pub const fn tag(&self) -> &'static str {
        self.tag
    }
    /// The digest once pinned.
    pub const fn digest(&self) -> Option<&'static str> {
        self.digest
    }
    /// The digest's hex digits (the `sha` field of the charts that print `@sha256:{sha}`).
    pub fn digest_hex(&self) -> Option<&'static str> {
        self.digest.map(|d| d.trim_start_matches("sha256:"))
    }
    /// The pinned image, once it has its digest.
    pub const fn pinned(&self) -> Option<PinnedImage> {
        match self.digest {
            Some(digest) => Some(PinnedImage {
                registry: self.registry,
                repository: self.repository,
                tag: self.tag,
                digest,
            }),
            None => None,
        }
    }
    /// `tag`, or `tag@digest` once pinned: the value for charts whose template prints
    /// `repository:tag` and has no digest field of its own.
    pub fn tag_with_digest(&self) -> String {
        match self.digest {
            Some(d) => format!("{}@{d}", self.tag),
            None => self.tag.to_string(),
        }
    }
    /// `registry/repository`, as Renovate's `depName`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ChartImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)?;
        match self.digest {
            Some(d) => write!(f, "@{d}"),
            None => Ok(()),
        }
    }
}

/// Declares a [`ChartImage`](crate::image::ChartImage) checked at compile time:
/// `chart_image!("registry/repository", tag)` while it awaits its digest,
/// `chart_image!("registry/repository", tag, digest)` once pinned. One argument list Renovate
/// can write whole from its `depName`, `newValue` and `newDigest`.
#[macro_export]
macro_rules! chart_image {
    ($name:expr, $tag:expr $(,)?) => {{
        const IMAGE: $crate::image::ChartImage =
            $crate::image::ChartImage::checked($name, $tag, None);
        IMAGE
    }};
    ($name:expr, $tag:expr, $digest:expr $(,)?) => {{
        const IMAGE: $crate::image::ChartImage =
            $crate::image::ChartImage::checked($name, $tag, Some($digest));
        IMAGE
    }};
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
    fn a_chart_image_awaits_or_carries_its_digest() {
        let awaiting = crate::chart_image!("docker.io/longhornio/longhorn-manager", "v1.12.1");
        assert_eq!(awaiting.registry(), "docker.io");
        assert_eq!(awaiting.repository(), "longhornio/longhorn-manager");
        assert_eq!(awaiting.pinned(), None);
        assert_eq!(awaiting.tag_with_digest(), "v1.12.1");
        assert_eq!(
            awaiting.to_string(),
            "docker.io/longhornio/longhorn-manager:v1.12.1"
        );
        let pinned = crate::chart_image!("docker.io/longhornio/longhorn-manager", "v1.12.1", D);
        assert_eq!(pinned.tag_with_digest(), format!("v1.12.1@{D}"));
        assert_eq!(
            pinned.pinned().map(|p| p.to_string()),
            Some(pinned.to_string())
        );
        assert_eq!(pinned.digest_hex(), Some(&D[7..]));
        let mysql = crate::pinned_image!("docker.io", "library/mysql", "8.0.46", D);
        assert_eq!(ChartImage::from_pinned(mysql).pinned(), Some(mysql));
        assert_eq!(split_name("quay.io/a/b"), Ok(("quay.io", "a/b")));
        assert!(ChartImage::check("quay.io/a/b", "v1", Some(D)).is_ok());
        assert!(ChartImage::check("quay.io/a/b", "v1", None).is_ok());
        assert!(ChartImage::check("quay.io/a/b", "v1", Some("sha256:ab")).is_err());
        assert!(ChartImage::check("evil.example/a", "v1", None).is_err());
        assert!(ChartImage::check("quay.io/a/b", "latest", None).is_err());
        assert_eq!(awaiting.with_digest(D), Ok(pinned));
        assert!(awaiting.with_digest("sha256:ab").is_err());
        assert!(split_name("nothing").is_err());
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
