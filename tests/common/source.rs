//! Reading the repository's own source for the structural tests (layers, table owners, the
//! kernel knowing nothing of fazt): walking a tree, fazt's table names, and the tables a
//! text names in SQL position. Included by path (`#[path = "common/source.rs"]`), without
//! the rest of `common`.

use std::path::{Path, PathBuf};

/// Every file under `dir` whose extension is one of `exts`, recursively.
pub fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, exts, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| exts.contains(&x))
        {
            out.push(p);
        }
    }
}

/// The tables `schema.sql` creates, lower-case.
#[allow(dead_code)]
pub fn schema_tables() -> Vec<String> {
    let schema = include_str!("../../schema.sql").to_ascii_lowercase();
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

/// (keyword, word) for every word after FROM, INTO, UPDATE, JOIN, TABLE or EXISTS in
/// `text` (lower-cased): the names SQL in it could refer to as tables.
#[allow(dead_code)]
pub fn sql_names(text: &str) -> Vec<(String, String)> {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|p| ["from", "into", "update", "join", "table", "exists"].contains(&p[0]))
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}
