//! Each table of fazt.db has one owner, and other modules go through its functions: SQL that
//! names a table (after FROM, INTO, UPDATE, JOIN, TABLE) appears only in its owner's files.
//! `files` belongs to the kernel's VFS (fazt names it in `src/database.rs` only), so no
//! fazt module may name it in SQL at all.

use std::path::{Path, PathBuf};

/// table → the files (or, ending in `/`, the folder of one vertical) allowed to name it.
const OWNERS: &[(&str, &[&str])] = &[
    ("files", &[]),
    ("certificates", &["src/https/store.rs"]),
    ("api_keys", &["src/access/tokens.rs"]),
    ("kv_store", &["src/scripts/kv.rs"]),
    ("env_vars", &["src/scripts/env.rs"]),
    ("site_logs", &["src/scripts/logs.rs"]),
    ("deployments", &["src/deploy/history.rs"]),
    ("configurations", &["src/settings.rs"]),
    ("audit_logs", &["src/audit.rs"]),
    ("sites", &["src/hosting/sites.rs"]),
    // Analytics keeps its own tables inside its vertical.
    ("events", &["src/analytics/"]),
    ("redirects", &["src/analytics/"]),
    ("webhooks", &["src/analytics/"]),
    ("analytics_rollups", &["src/analytics/"]),
    ("analytics_top", &["src/analytics/"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_table_is_named_only_by_its_owner() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = include_str!("../schema.sql").to_ascii_lowercase();
    for t in schema.split("create table if not exists ").skip(1) {
        let name = t
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap();
        assert!(
            OWNERS.iter().any(|(n, _)| *n == name),
            "table {name} has no owner in tests/table_owners.rs"
        );
    }
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap().to_ascii_lowercase();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let words: Vec<&str> = code
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            if !["from", "into", "update", "join", "table", "exists"].contains(&pair[0]) {
                continue;
            }
            if let Some((table, owners)) = OWNERS.iter().find(|(n, _)| *n == pair[1]) {
                let owned = owners.iter().any(|o| {
                    if o.ends_with('/') {
                        rel.starts_with(o)
                    } else {
                        rel == *o
                    }
                });
                if !owned {
                    wrong.push(format!("{rel} names {table} ({} {})", pair[0], pair[1]));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "tables used outside their owner (go through its functions):\n{}",
        wrong.join("\n")
    );
}
