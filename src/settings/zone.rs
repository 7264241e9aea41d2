//! Every environment's host lies in `[cutover] dns_zone`: the cutover runbooks tell people to
//! create and switch the host's record in that zone, so a host outside it would send them to
//! the wrong zone.

use std::path::Path;

use toml::Spanned;

use super::values::DnsName;
use crate::diagnostic::SettingsError;

/// `host` (at `xwiki.host` of `file`) equals `zone` or is a name under it.
pub(super) fn check_host_in_zone(
    file: &Path,
    src: &str,
    host: &Spanned<DnsName>,
    zone: &DnsName,
) -> Result<(), SettingsError> {
    let (h, z) = (host.get_ref().as_str(), zone.as_str());
    if h == z || h.strip_suffix(z).is_some_and(|rest| rest.ends_with('.')) {
        return Ok(());
    }
    Err(SettingsError::at(
        file,
        src,
        Some(host.span()),
        Some("xwiki.host".into()),
        format!(
            "`{h}` is not in the DNS zone `{z}` ([cutover] dns_zone of overlays/cluster.toml), where the cutover runbook creates its record: use a name under `{z}`, or change dns_zone"
        ),
    ))
}
