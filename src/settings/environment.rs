//! The environments: [`Environment`] (a folder `overlays/<env>/` with an `env.toml`),
//! `[environments]` of `cluster.toml` and the top of `env.toml`.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::backup::BackupSettings;
use super::image_pins;
use super::mysql::MysqlSettings;
use super::sops::PLATFORM_SCOPE;
use super::xwiki::XwikiSettings;

/// An application environment: a folder `overlays/<name>/` holding an `env.toml`. Its name
/// is also its namespace, its secret scope and the suffix of its Flux Kustomization, so
/// adding one is adding a folder (see docs/ARCHITECTURE.md), not Rust.
///
/// Names are interned, so an `Environment` is a `Copy` handle; the set of environments
/// of a checkout is [`Settings::environments`](super::Settings::environments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Environment(&'static str);

/// Longest environment name: names derived from it (`apps-<env>`, `restore-test-<env>`,
/// `<env>-secrets`) must stay within the 63 characters of a DNS label.
pub const MAX_ENVIRONMENT_NAME: usize = 40;

impl Environment {
    /// The environment called `name`, which must be a lowercase RFC 1123 DNS label of at most
    /// [`MAX_ENVIRONMENT_NAME`] characters (it becomes a namespace) and not the platform scope.
    /// Whether such an environment exists is for [`Settings`](super::Settings) to say.
    pub fn new(name: &str) -> Result<Self, String> {
        let label = !name.is_empty()
            && name.len() <= MAX_ENVIRONMENT_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.as_bytes()[0].is_ascii_lowercase()
            && !name.ends_with('-');
        if !label {
            return Err(format!(
                "`{}` is not an environment name: a namespace name of 1-{MAX_ENVIRONMENT_NAME} characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'",
                name.escape_default()
            ));
        }
        if name == PLATFORM_SCOPE {
            return Err(format!(
                "`{PLATFORM_SCOPE}` is the scope of cluster-wide Secrets, not an environment"
            ));
        }
        Ok(Self(intern(name)))
    }

    /// The environment's name, which is also its namespace and its folder name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// One `'static` copy of each distinct name, so that [`Environment`] can be `Copy`: the set
/// of names a process sees is the folders of a checkout, a handful.
fn intern(name: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::{Mutex, PoisonError};
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[environments]` of `cluster.toml`: the order and the roles of the environments. The set
/// itself is not listed: it is the folders `overlays/<name>/env.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentsSettings {
    /// Listing order (docs, Flux Kustomizations, help texts); environments not named here
    /// follow in name order. Default: name order.
    pub order: Option<Spanned<Vec<String>>>,
    /// The environment the cutover moves the legacy XWiki into and whose host the smoke test
    /// checks. Default: `prod`.
    pub production: Option<Spanned<String>>,
    /// Where the cutover is rehearsed first. Default: the first environment after
    /// `production` in the listing order.
    pub rehearsal: Option<Spanned<String>>,
}

/// `overlays/<env>/env.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSettings {
    /// XWiki exposure and storage.
    pub xwiki: XwikiSettings,
    /// MySQL storage.
    pub mysql: MysqlSettings,
    /// Backup schedule.
    pub backup: BackupSettings,
    /// This environment's own XWiki and MySQL images (default: `src/images.rs`).
    #[serde(default)]
    pub images: image_pins::ImageSettings,
}

impl EnvSettings {
    /// XWiki's image: the `[images] xwiki` pin, or `src/images.rs`.
    pub fn xwiki_image(&self) -> crate::image::PinnedImage {
        self.images
            .xwiki
            .as_ref()
            .map_or(crate::images::XWIKI, |p| p.get_ref().0)
    }

    /// MySQL's image: the `[images] mysql` pin, or the `[mysql] version` line's image.
    pub fn mysql_image(&self) -> crate::image::PinnedImage {
        self.images
            .mysql
            .as_ref()
            .map_or(self.mysql.version.image(), |p| p.get_ref().0)
    }
}
