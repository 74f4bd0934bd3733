//! Records the target triple the binary is built for, so `fazt upgrade` can refuse a release
//! built for another machine.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=FAZT_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
