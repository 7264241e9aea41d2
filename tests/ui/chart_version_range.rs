// Chart versions are exact: a range does not compile.
use o4g_gitops::charts::ChartSource;

const RANGE: o4g_gitops::charts::Chart =
    o4g_gitops::chart!("longhorn", "^1.12", ChartSource::Https("https://charts.longhorn.io"));

fn main() {
    let _ = RANGE;
}
