// A long-running container cannot be finished without readiness and liveness probes.
use o4g_gitops::images::MYSQL_8_0;
use o4g_gitops::quantity::{Bytes, Cpu};
use o4g_gitops::workload::{Compute, Container, Resources};

fn main() {
    let _c = Container::new("mysql", MYSQL_8_0)
        .resources(Resources::new(
            Compute::new(Cpu::millis(100), Bytes::mebi(256)),
            Compute::new(Cpu::millis(500), Bytes::mebi(512)),
        ))
        .build();
}
