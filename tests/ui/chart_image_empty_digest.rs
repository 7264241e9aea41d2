// A chart image awaits its digest by leaving it out, never by an empty or malformed one (what a
// pin without `newDigest` would write).
const BAD: o4g_gitops::image::ChartImage =
    o4g_gitops::chart_image!("docker.io/longhornio/longhorn-ui", "v1.12.1", "");

fn main() {
    println!("{BAD}");
}
