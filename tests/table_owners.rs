//! Each table of fazt.db has one owner, and other modules go through its functions: SQL that
//! names a table (after FROM, INTO, UPDATE, JOIN, TABLE) appears only in its owner's files.
//! `files`, `file_blobs` and `deployment_files` belong to the kernel's VFS (fazt names them in
//! `src/database.rs` only), so no fazt module may name them in SQL at all. The importer's
//! reader of Go fazt databases is the one exception, and it may only read.

use std::path::Path;

#[path = "common/source.rs"]
mod source;

/// The file that reads a Go fazt database (another file, with tables of the same names): it
/// may name any table, but only to read (checked below), and never touches fazt.db.
const FOREIGN_READER: &str = "src/import_go/go_db.rs";

/// table → the files (or, ending in `/`, the folder of one vertical) allowed to name it.
const OWNERS: &[(&str, &[&str])] = &[
    ("files", &[]),
    ("file_blobs", &[]),
    ("deployment_files", &[]),
    ("certificates", &["src/https/store.rs"]),
    ("api_keys", &["src/access/tokens.rs"]),
    ("admin_sessions", &["src/access/sessions.rs"]),
    ("kv_store", &["src/scripts/kv.rs"]),
    ("env_vars", &["src/scripts/env.rs"]),
    ("site_logs", &["src/scripts/logs.rs"]),
    ("deployments", &["src/deploy/history.rs"]),
    ("configurations", &["src/settings.rs"]),
    ("audit_logs", &["src/audit.rs"]),
    ("sites", &["src/hosting/sites.rs"]),
    ("backups", &["src/backup/record.rs"]),
    ("imports", &["src/import_go/progress.rs"]),
    ("domains", &["src/hosting/domains.rs"]),
    // Analytics keeps its own tables inside its vertical.
    ("events", &["src/analytics/"]),
    ("redirects", &["src/analytics/"]),
    ("webhooks", &["src/analytics/"]),
    ("analytics_rollups", &["src/analytics/"]),
    ("analytics_top", &["src/analytics/"]),
];

#[test]
fn every_table_is_named_only_by_its_owner() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in source::schema_tables() {
        assert!(
            OWNERS.iter().any(|(n, _)| *n == name),
            "table {name} has no owner in tests/table_owners.rs"
        );
    }
    let mut files = Vec::new();
    source::files(&root.join("src"), &["rs"], &mut files);
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        if rel == FOREIGN_READER {
            let upper = text.to_ascii_uppercase();
            for verb in [
                "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "ALTER ", "DROP ", "REPLACE ",
            ] {
                assert!(
                    !upper.contains(verb),
                    "{rel} must only read, but has {verb}"
                );
            }
            continue;
        }
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (keyword, name) in source::sql_names(&code) {
            if let Some((table, owners)) = OWNERS.iter().find(|(n, _)| *n == name) {
                let owned = owners.iter().any(|o| {
                    if o.ends_with('/') {
                        rel.starts_with(o)
                    } else {
                        rel == *o
                    }
                });
                if !owned {
                    wrong.push(format!("{rel} names {table} ({keyword} {name})"));
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
