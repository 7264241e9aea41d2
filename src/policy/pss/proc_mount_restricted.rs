//! `procMount_restricted`: k8s.io/pod-security-admission v0.36.2 `policy/check_procMount_restricted.go`.

use super::check::*;
use super::proc_mount::proc_mount_unmasked;

/// The check, with the version it starts at.
pub(super) const CHECK: Check = Check {
    id: "procMount_restricted",
    level: Level::Restricted,
    since: 35,
    description: "procMount unset or Default, even in a user namespace",
    eval: proc_mount_restricted,
};

/// Restricted procMount from 1.35 (`policy/check_procMount_restricted.go`): the 1.0 rule,
/// unconditionally, overriding the relaxed baseline one.
pub(super) fn proc_mount_restricted(pod: &PodView<'_>, _: u32) -> Vec<Finding> {
    proc_mount_unmasked(pod, "procMount_restricted")
}
