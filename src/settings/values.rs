//! Validated setting values: each parses from its TOML string and says what is allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, de};

use crate::quantity::{Bytes, Duration};

/// Deserializes a value through `FromStr`, turning its message into a serde error (which
/// the TOML reader places at the value's line and column).
fn via_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(de::Error::custom)
}

macro_rules! deserialize_from_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                via_from_str(d)
            }
        }
    )*};
}
deserialize_from_str!(
    DnsName,
    CronSchedule,
    Email,
    GitUrl,
    GitBranch,
    RegistryHost,
    Retention,
    SmtpHost,
    StorageClassName,
    S3Endpoint,
    BucketName,
    WikiUrl
);

/// An SMTP server as `host:port`, the port non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpHost {
    host: DnsName,
    port: u16,
}

impl SmtpHost {
    /// `host:port`.
    pub fn as_string(&self) -> String {
        format!("{}:{}", self.host.as_str(), self.port)
    }
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for SmtpHost {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not an SMTP server: expected `host:port`, e.g. `smtp.example.org:587`",
                s.escape_default()
            )
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
        Ok(Self {
            host: host.parse().map_err(|_| bad())?,
            port,
        })
    }
}

impl FromStr for Bytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let b = Bytes::parse(s)?;
        if b.get() == 0 {
            return Err(format!("`{s}` is zero: a size must be positive"));
        }
        Ok(b)
    }
}
impl FromStr for crate::quantity::Cpu {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::quantity::Cpu::parse(s)
    }
}
impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Duration::parse(s)
    }
}
deserialize_from_str!(Bytes, Duration, crate::quantity::Cpu, Cidr, AgeRecipient);

/// A lowercase RFC 1123 DNS name with at least two labels, e.g. `xwiki.logo-solutions.fr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

impl DnsName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DnsName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let allowed = "a lowercase DNS name (RFC 1123) of at least two labels, each 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-', 253 characters at most, e.g. `xwiki.example.org`";
        let labels: Vec<&str> = s.split('.').collect();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if s.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return Err(format!(
                "`{s}` is not a valid host name: expected {allowed}"
            ));
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registry host such as `docker.io` or `registry.k8s.io` (optionally with a port).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryHost(String);

impl RegistryHost {
    /// The host.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegistryHost {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, port) = s.split_once(':').map_or((s, None), |(h, p)| (h, Some(p)));
        let port_ok =
            port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0) && !p.starts_with('0'));
        if host.parse::<DnsName>().is_err() || !port_ok {
            return Err(format!(
                "`{s}` is not a registry host: expected a lowercase DNS name with an optional port, without scheme or path, e.g. `ghcr.io`"
            ));
        }
        Ok(Self(s.to_string()))
    }
}

/// A contact e-mail address (for ACME registration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.chars().all(|c| c.is_ascii_graphic() && c != '@')
                && domain.parse::<DnsName>().is_ok()
        });
        if !ok {
            return Err(format!(
                "`{}` is not an e-mail address: expected `name@domain.tld` (printable ASCII) with a lowercase domain",
                s.escape_default()
            ));
        }
        Ok(Self(s.to_string()))
    }
}

/// The URL Flux clones the repository from (`https://` or `ssh://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl(String);

impl GitUrl {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GitUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{s}` is not a Git URL Flux accepts ({why}): expected `https://host/path` or `ssh://git@host/path` (scp-like `git@host:path` is not accepted by Flux)"
            )
        };
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "https" | "ssh") {
            return Err(bad("the scheme must be https or ssh"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if url.password().is_some() || (url.scheme() == "https" && !url.username().is_empty()) {
            // Never echo the credentials back.
            return Err(
                "the Git URL carries credentials: Flux reads them from the bootstrap Secret, never from the URL (remove `user:password@`)"
                    .into(),
            );
        }
        if url.path().trim_matches('/').is_empty() {
            return Err(bad("no repository path"));
        }
        if s.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad("white space or control characters"));
        }
        Ok(Self(s.to_string()))
    }
}

/// A Git branch name: `git check-ref-format --branch` rules, further limited to
/// `[A-Za-z0-9._/-]`, because it is written into the bootstrap command of `out/README.md`
/// that people paste into a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitBranch(String);

impl GitBranch {
    /// The branch.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GitBranch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for GitBranch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let chars_ok = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
        let rules_ok = !s.starts_with('-')
            && !s.starts_with('/')
            && !s.ends_with('/')
            && !s.ends_with('.')
            && !s.ends_with(".lock")
            && !s.contains("..")
            && !s.contains("//")
            && s.split('/')
                .all(|c| !c.starts_with('.') && !c.ends_with(".lock"))
            && s != "HEAD";
        if chars_ok && rules_ok && s.len() <= 255 {
            Ok(Self(s.to_string()))
        } else {
            Err(format!(
                "`{}` is not a branch name: letters, digits, `.`, `_`, `/` and `-`, not starting with `-` or `/`, without `..`, `//`, a trailing `.`, `/` or `.lock` (git check-ref-format)",
                s.escape_default()
            ))
        }
    }
}

/// A StorageClass name: a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`, starting
/// and ending with a letter or digit, at most 253 characters), as the API server requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageClassName(String);

impl StorageClassName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StorageClassName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if ok {
            Ok(Self(s.to_string()))
        } else {
            let shown: String = s.chars().take(64).collect();
            Err(format!(
                "`{}` is not a StorageClass name: a DNS-1123 subdomain (lowercase letters, digits, `-`, `.`, at most 253 characters)",
                shown.escape_default()
            ))
        }
    }
}

/// An IPv4 range in CIDR notation (`192.168.1.0/24`, `203.0.113.10/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub ipnet::Ipv4Net);

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let net: ipnet::Ipv4Net = s.parse().map_err(|_| {
            format!("`{s}` is not an IPv4 CIDR: expected `a.b.c.d/n` such as `192.168.1.0/24` (a single address is `/32`)")
        })?;
        if net.network() != net.addr() {
            return Err(format!(
                "`{s}` has host bits set: write the network address, `{}`",
                net.trunc()
            ));
        }
        Ok(Self(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An age public key (`age1` + 58 bech32 characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgeRecipient(String);

impl AgeRecipient {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AgeRecipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        let ok =
            s.len() == 62 && s.starts_with("age1") && s[4..].chars().all(|c| BECH32.contains(c));
        if !ok {
            let hint = if s.starts_with(concat!("AGE-SECRET", "-KEY-")) {
                " (this is a PRIVATE key: never put it in the repository)"
            } else {
                ""
            };
            return Err(format!(
                "not an age recipient{hint}: expected the public key printed by `age-keygen`, `age1` followed by 58 lowercase bech32 characters"
            ));
        }
        Ok(Self(s.to_string()))
    }
}

/// A Prometheus retention period: a whole number with one unit (`15d`, `4w`, `720h`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention(String);

impl Retention {
    /// The period as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Retention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let unit_at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(unit_at);
        // Prometheus keeps durations as int64 nanoseconds (prometheus/common `model.Duration`):
        // anything past about 292 years overflows.
        let unit_ms: Option<u64> = match unit {
            "ms" => Some(1),
            "s" => Some(1_000),
            "m" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            "w" => Some(604_800_000),
            "y" => Some(31_536_000_000),
            _ => None,
        };
        let ok = !n.is_empty()
            && unit_ms.is_some_and(|u| {
                n.parse::<u64>().is_ok_and(|v| {
                    v > 0
                        && v.checked_mul(u)
                            .is_some_and(|ms| ms <= i64::MAX as u64 / 1_000_000)
                })
            });
        if !ok {
            return Err(format!(
                "`{s}` is not a retention period: expected a positive whole number with one unit of ms, s, m, h, d, w, y (e.g. `15d`), at most about 292 years"
            ));
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kubernetes CronJob schedule: five fields (minute hour day-of-month month day-of-week)
/// or a macro such as `@daily`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(String);

impl CronSchedule {
    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CronSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let allowed = "five fields `minute hour day-of-month month day-of-week` (e.g. `15 2 * * *`) or one of @yearly, @monthly, @weekly, @daily, @hourly";
        let macros = [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ];
        if macros.contains(&s) {
            return Ok(Self(s.to_string()));
        }
        let fields = s.split_whitespace().count();
        // Kubernetes uses the standard five-field syntax; croner's extensions (L, W, #) are not in it.
        if fields != 5 || s.contains(['L', 'W', '#', '?']) {
            return Err(format!(
                "`{s}` is not a CronJob schedule: expected {allowed}"
            ));
        }
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(s)
            .map_err(|e| format!("`{s}` is not a CronJob schedule ({e}): expected {allowed}"))?;
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_rfc1123() {
        assert!("xwiki.logo-solutions.fr".parse::<DnsName>().is_ok());
        for bad in [
            "xwiki",
            "XWiki.example.org",
            "-a.example.org",
            "a_b.example.org",
            "a..b",
            "a.b-",
            "",
        ] {
            assert!(bad.parse::<DnsName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_are_five_field_cron() {
        for good in ["15 2 * * *", "0 3 1 * *", "*/30 * * * 1-5", "@daily"] {
            assert!(good.parse::<CronSchedule>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "0 25 * * *",
            "0 0 L * *",
            "@often",
        ] {
            assert!(bad.parse::<CronSchedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn git_urls_and_emails_and_registries() {
        assert!(
            "ssh://git@github.com/open4goods/o4g-gitops"
                .parse::<GitUrl>()
                .is_ok()
        );
        assert!(
            "git@github.com:open4goods/o4g-gitops"
                .parse::<GitUrl>()
                .is_err()
        );
        assert!("ops@logo-solutions.fr".parse::<Email>().is_ok());
        assert!("ops.logo-solutions.fr".parse::<Email>().is_err());
        assert!("registry.k8s.io".parse::<RegistryHost>().is_ok());
        assert!("localhost.localdomain:5000".parse::<RegistryHost>().is_ok());
        assert!("https://docker.io".parse::<RegistryHost>().is_err());
    }
}

/// The URL of an S3-compatible endpoint: `https://host[:port]` (`http://` only for a
/// loopback address, as in tests), no path, no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Endpoint(String);

impl S3Endpoint {
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for S3Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let allowed = "`https://host` or `https://host:port` (no path, no user), e.g. `https://s3.fr-par.scw.cloud`";
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("`{s}` is not an S3 endpoint: expected {allowed}"))?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let port_ok = port.is_none_or(|p| p.parse::<std::num::NonZeroU16>().is_ok());
        let loopback = host == "127.0.0.1" || host == "localhost";
        let host_ok = loopback || host.parse::<DnsName>().is_ok();
        let scheme_ok = scheme == "https" || (scheme == "http" && loopback);
        if !scheme_ok || !host_ok || !port_ok {
            return Err(format!("`{s}` is not an S3 endpoint: expected {allowed}"));
        }
        Ok(Self(s.to_string()))
    }
}

/// An S3 bucket name: 3-63 characters of a-z, 0-9, `-` and `.`, starting and ending with a
/// letter or digit (the AWS naming rules every S3-compatible store accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketName(String);

impl BucketName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BucketName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = (3..=63).contains(&s.len())
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !s.contains("..");
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a bucket name: expected 3-63 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit"
            ))
        }
    }
}

/// The base URL of a wiki: `https://host[:port][/context]` (or `http://`), the context path
/// letters, digits, `-`, `_`, `.` and `/` only, no query and no credentials: it is written
/// into the cutover's scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WikiUrl(String);

impl WikiUrl {
    /// The URL as written, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WikiUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let allowed = "`https://host[:port][/context]`, e.g. `https://wiki.example.org/xwiki`";
        let bad = || format!("`{s}` is not a wiki URL: expected {allowed}");
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|p| p.parse::<std::num::NonZeroU16>().is_ok());
        let path_ok = path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            && !path.split('/').any(|seg| seg == "..");
        if !(scheme == "https" || scheme == "http")
            || host.parse::<DnsName>().is_err()
            || !port_ok
            || !path_ok
        {
            return Err(bad());
        }
        Ok(Self(s.trim_end_matches('/').to_string()))
    }
}

#[cfg(test)]
mod wiki_url_tests {
    use super::WikiUrl;

    #[test]
    fn a_wiki_url_has_a_host_and_maybe_a_context_path() {
        for ok in [
            "https://wiki.example.org",
            "https://wiki.example.org/",
            "http://wiki.example.org:8080/xwiki",
        ] {
            assert!(ok.parse::<WikiUrl>().is_ok(), "{ok}");
        }
        assert_eq!(
            "https://w.example.org/xwiki/"
                .parse::<WikiUrl>()
                .unwrap()
                .as_str(),
            "https://w.example.org/xwiki"
        );
        for bad in [
            "wiki.example.org",
            "ftp://wiki.example.org",
            "https://wiki.example.org/x?y=1",
            "https://wiki.example.org/$(id)",
            "https://user@wiki.example.org",
            "https://wiki.example.org/../x",
        ] {
            assert!(bad.parse::<WikiUrl>().is_err(), "{bad}");
        }
    }
}
