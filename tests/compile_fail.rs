//! What must not compile: each file under `tests/ui/` is a mistake the types refuse.
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test --test compile_fail`.

#[test]
fn mistakes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
