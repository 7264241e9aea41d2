// An image reference without a digest is refused at compile time.
const BAD: o4g_gitops::image::PinnedImage =
    o4g_gitops::pinned_image!("docker.io", "library/mysql", "8.0.46", "");

fn main() {
    println!("{BAD}");
}
