//! Records the target triple the binary is built for, so `fazt upgrade` can refuse a release
//! built for another machine; and packs the dashboard (`src/dashboard/ui/`) into the binary
//! deflated: the files are kept readable in the repository (no build step for the UI
//! itself), and the binary carries them at a third of their size. `src/dashboard/bundle.rs`
//! inflates them when it seeds the site.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=FAZT_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = Path::new("src/dashboard/ui");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("src/dashboard/ui")
        .map(|e| {
            e.expect("a dashboard file")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut blob = Vec::new();
    let mut index = String::from("&[\n");
    for name in names {
        let raw = std::fs::read(dir.join(&name)).expect("a dashboard file");
        let packed = miniz_oxide::deflate::compress_to_vec(&raw, 10);
        writeln!(index, "    ({name:?}, {}, {}),", packed.len(), raw.len()).unwrap();
        blob.extend_from_slice(&packed);
        println!("cargo:rerun-if-changed={}", dir.join(&name).display());
    }
    index.push(']');
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join("dashboard.bin"), blob).expect("writing the bundle");
    std::fs::write(Path::new(&out).join("dashboard_index.rs"), index).expect("writing the index");
}
