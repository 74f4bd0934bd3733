//! The kernel crate (`kernel/`) is an SDK that knows nothing of fazt: no fazt table name in
//! its SQL, no fazt path, unit or binary name, no "fazt" anywhere in its code, examples or
//! tests (the crate's own name `fazt-kernel`/`fazt_kernel` aside). fazt passes all of that in.

use std::path::{Path, PathBuf};

#[path = "common/source.rs"]
mod source;

fn kernel_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel");
    let mut out = Vec::new();
    for d in ["src", "examples", "tests"] {
        source::files(
            &root.join(d),
            &["rs", "sql", "service", "toml", "md"],
            &mut out,
        );
    }
    out.push(root.join("Cargo.toml"));
    assert!(out.len() > 30, "{out:?}");
    out
}

#[test]
fn no_fazt_names_in_the_kernel() {
    let mut found = Vec::new();
    for f in kernel_files() {
        let text = std::fs::read_to_string(&f).unwrap().to_ascii_lowercase();
        for (i, _) in text.match_indices("fazt") {
            let rest = &text[i + 4..];
            if !(rest.starts_with("-kernel") || rest.starts_with("_kernel")) {
                let line = text[..i].matches('\n').count() + 1;
                found.push(format!("{}:{line}", f.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "fazt-specific text in the kernel:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_fazt_table_in_the_kernels_sql() {
    let tables = source::schema_tables();
    let mut found = Vec::new();
    for f in kernel_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for (keyword, name) in source::sql_names(&text) {
            if tables.contains(&name) {
                found.push(format!("{}: {keyword} {name}", f.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "fazt tables named in the kernel:\n{}",
        found.join("\n")
    );
}
