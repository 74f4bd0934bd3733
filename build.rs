//! Records the target triple the binary is built for, so `fazt upgrade` can refuse a release
//! built for another machine; and packs the dashboard (`src/dashboard/ui/`) and the CLI's
//! help texts (`src/cli/help/`) into the binary deflated: the files stay readable in the
//! repository (no build step for the UI itself), and the binary carries them at a third of
//! their size. `src/dashboard/bundle.rs` and `cli::common::Help` inflate them.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=FAZT_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
    pack(Path::new("src/dashboard/ui"), "dashboard");
    pack(Path::new("src/cli/help"), "help");
}

/// Deflates every file of `dir` into OUT_DIR/`stem`.bin, one raw-deflate stream after the
/// other, and writes their index, `&[(name, packed length, length)]`, to
/// OUT_DIR/`stem`_index.rs.
fn pack(dir: &Path, stem: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a folder to pack")
        .map(|e| {
            e.expect("a file to pack")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut blob = Vec::new();
    let mut index = String::from("&[\n");
    for name in names {
        let mut raw = std::fs::read(dir.join(&name)).expect("a file to pack");
        if name.ends_with(".js") || name.ends_with(".css") {
            raw = trim(&raw);
        }
        let packed = miniz_oxide::deflate::compress_to_vec(&raw, 10);
        let key = name.strip_suffix(".txt").unwrap_or(&name);
        writeln!(index, "    ({key:?}, {}, {}),", packed.len(), raw.len()).unwrap();
        blob.extend_from_slice(&packed);
        println!("cargo:rerun-if-changed={}", dir.join(&name).display());
    }
    index.push(']');
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join(format!("{stem}.bin")), blob).expect("writing a pack");
    std::fs::write(Path::new(&out).join(format!("{stem}_index.rs")), index)
        .expect("writing a pack's index");
}

/// A script or style sheet without its indentation and whole-line `//` comments (lines are
/// kept, so nothing changes meaning: the dashboard has no multi-line strings). The
/// repository keeps the readable file; `src/dashboard/bundle.rs`'s test checks the result.
fn trim(src: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(src);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with("// ") || t == "//" {
            continue;
        }
        out.push_str(t);
        out.push('\n');
    }
    out.into_bytes()
}
