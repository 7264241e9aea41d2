// `latest` is not a version; a pinned image needs one.
fn main() {
    let img = o4g_gitops::pinned_image!(
        "docker.io",
        "library/mysql",
        "latest",
        "sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b"
    );
    println!("{img}");
}
