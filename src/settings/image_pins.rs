//! `[images]` of `env.toml`: an environment's own XWiki and MySQL images, so that a new version
//! reaches the rehearsal environment before production (README, "Promoting an image").
//! Without a pin an environment runs the image of `src/images.rs`. A pin is checked at render
//! time as strictly as `pinned_image!` checks `src/images.rs` at compile time
//! ([`PinnedImage::parse`]), and must be the same registry and repository as the image it
//! replaces (and, for MySQL, the environment's `[mysql] version` line); errors name the file,
//! line and key.

use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::SettingsError;
use crate::image::PinnedImage;

/// `[images]` of `env.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    /// XWiki's image (default: `XWIKI` of `src/images.rs`).
    pub xwiki: Option<Spanned<ImagePin>>,
    /// MySQL's image, of the `[mysql] version` line (default: that line's image of
    /// `src/images.rs`).
    pub mysql: Option<Spanned<ImagePin>>,
}

/// A full image reference with tag and digest, as written in `env.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePin(pub PinnedImage);

impl FromStr for ImagePin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PinnedImage::parse(s)
            .map(Self)
            .map_err(|why| format!("`{}` is not a pinned image: {why}", s.escape_default()))
    }
}

impl<'de> Deserialize<'de> for ImagePin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The image `pin` gives, or `default`; an error at `key` when the pin is another image
/// than `default` (registry and repository), or, with `line`, a tag outside that line.
pub(super) fn resolve(
    file: &Path,
    src: &str,
    key: &str,
    pin: Option<&Spanned<ImagePin>>,
    default: PinnedImage,
    line: Option<&str>,
) -> Result<PinnedImage, SettingsError> {
    let Some(pin) = pin else {
        return Ok(default);
    };
    let image = pin.get_ref().0;
    let at =
        |message: String| SettingsError::at(file, src, Some(pin.span()), Some(key.into()), message);
    if (image.registry(), image.repository()) != (default.registry(), default.repository()) {
        return Err(at(format!(
            "`{image}` is not a version of {}/{}, the image this key pins",
            default.registry(),
            default.repository()
        )));
    }
    if let Some(line) = line
        && !image.tag().starts_with(&format!("{line}."))
    {
        return Err(at(format!(
            "tag `{}` is not of the MySQL {line} line that [mysql] version selects: pin an {line}.x image, or change the version",
            image.tag()
        )));
    }
    Ok(image)
}
