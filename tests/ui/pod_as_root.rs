// uid 0 is refused at compile time when the identity is a constant.
use o4g_gitops::workload::RunAs;

const ROOT: RunAs = RunAs::new(0, 0);

fn main() {
    let _ = ROOT;
}
