//! `resources` of `[xwiki]` and `[mysql]`: requests and limits.

use serde::Deserialize;

use crate::quantity::Bytes;

/// CPU and memory, as in `{ cpu = "500m", memory = "2Gi" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeSettings {
    /// CPU.
    pub cpu: crate::quantity::Cpu,
    /// Memory.
    pub memory: Bytes,
}

/// `requests` and `limits` of a container.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSettings {
    /// Reserved by the scheduler.
    pub requests: ComputeSettings,
    /// Upper bound.
    pub limits: ComputeSettings,
}

impl ResourceSettings {
    /// As the workload builders' value (checked: requests never exceed limits).
    pub fn to_resources(self) -> crate::workload::Resources {
        let c = |x: ComputeSettings| crate::workload::Compute::new(x.cpu, x.memory);
        crate::workload::Resources::new(c(self.requests), c(self.limits))
    }

    pub(super) fn check(&self) -> Result<(), String> {
        let (r, l) = (self.requests, self.limits);
        if r.cpu > l.cpu || r.memory > l.memory {
            return Err(format!(
                "requests ({} CPU, {} memory) must not exceed limits ({} CPU, {} memory)",
                r.cpu, r.memory, l.cpu, l.memory
            ));
        }
        Ok(())
    }
}
