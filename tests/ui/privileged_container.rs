// There is no way to make a privileged container, add capabilities or use host namespaces.
use o4g_gitops::images::MYSQL_8_0;
use o4g_gitops::workload::{Container, PodTemplate, RunAs};

fn main() {
    let _c = Container::new("mysql", MYSQL_8_0).privileged(true);
    let _d = Container::new("mysql", MYSQL_8_0).add_capability("NET_ADMIN");
    let _p = PodTemplate::service(RunAs::new(999, 999)).host_network(true);
}
