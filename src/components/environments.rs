//! The environments: one namespace each (`restricted`, under Kyverno's Deny), from the
//! folders `overlays/<name>/env.toml`.

/// The environments' namespaces, all `restricted` and all under Kyverno's Deny.
pub struct Environments;

impl super::contribution::Component for Environments {
    fn name(&self) -> &'static str {
        "namespaces"
    }
    fn contribute(
        &self,
        plan: &super::params::Plan<'_>,
    ) -> Result<super::contribution::Contribution, crate::Error> {
        let namespaces = super::namespaces::applications(plan.settings.environments());
        Ok(super::contribution::Contribution {
            enforced_namespaces: namespaces.iter().map(|ns| ns.name).collect(),
            namespaces,
            ..Default::default()
        })
    }
}
