//! The kernel crate (`kernel/`) is an SDK that knows nothing of fazt: no fazt table name in
//! its SQL, no fazt path, unit or binary name, no "fazt" anywhere in its code, examples or
//! tests (the crate's own name `fazt-kernel`/`fazt_kernel` aside). fazt passes all of that in.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| {
            ["rs", "sql", "service", "toml", "md"].contains(&x.to_str().unwrap_or(""))
        }) {
            out.push(p);
        }
    }
}

fn kernel_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel");
    let mut out = Vec::new();
    for d in ["src", "examples", "tests"] {
        files(&root.join(d), &mut out);
    }
    out.push(root.join("Cargo.toml"));
    assert!(out.len() > 30, "{out:?}");
    out
}

/// Table names of fazt's schema.sql.
fn fazt_tables() -> Vec<String> {
    let schema = include_str!("../schema.sql").to_ascii_lowercase();
    let tables: Vec<String> = schema
        .split("create table if not exists ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .next()
        })
        .map(str::to_string)
        .collect();
    assert!(tables.len() >= 10, "{tables:?}");
    tables
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
    let tables = fazt_tables();
    let mut found = Vec::new();
    for f in kernel_files() {
        let text = std::fs::read_to_string(&f).unwrap().to_ascii_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            let sql_context =
                ["from", "into", "update", "join", "table", "exists"].contains(&pair[0]);
            if sql_context && tables.iter().any(|t| t == pair[1]) {
                found.push(format!("{}: {} {}", f.display(), pair[0], pair[1]));
            }
        }
    }
    assert!(
        found.is_empty(),
        "fazt tables named in the kernel:\n{}",
        found.join("\n")
    );
}
