// A container cannot be finished without requests and limits.
use o4g_gitops::images::MYSQL_8_0;
use o4g_gitops::workload::{Container, Port, Probe};

const DB: Port = Port::tcp("mysql", 3306);

fn main() {
    let _c = Container::new("mysql", MYSQL_8_0)
        .port(DB)
        .probes(Probe::tcp(DB), Probe::tcp(DB))
        .build();
    let _init = Container::new("init", MYSQL_8_0).build_task();
}
