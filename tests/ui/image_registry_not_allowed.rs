// Registries outside the allow-list do not compile.
fn main() {
    let img = o4g_gitops::pinned_image!(
        "registry.example.com",
        "library/mysql",
        "8.0.46",
        "sha256:7dcddc01f13bab2f15cde676d44d01f61fc9f99fe7785e86196dfc07d358ae2b"
    );
    println!("{img}");
}
