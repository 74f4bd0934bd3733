//! The safety rails of Evolutionary Database Design, as functions a product calls from its
//! own tests: released schema steps never change (their hashes pinned in a lock file the
//! product keeps), steps only add (no DROP, RENAME, foreign keys, NOT NULL without a default,
//! data rewrites), code names its columns (no `SELECT *`), and a database extended by a newer
//! program (extra tables, columns everywhere, an unknown step) for the product to run its
//! flows on.
//!
//! Each check returns the rules broken, one [`Violation`] each (empty: all kept);
//! [`assert_kept`] turns them into one test failure listing all of them.
//!
//! ```no_run
//! use fazt_kernel::db::edd;
//! const SCHEMA: &str = "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n";
//! let lock = std::path::Path::new("tests/schema.lock");
//! edd::assert_kept(edd::steps_only_add(SCHEMA));
//! edd::assert_kept(edd::pinned(SCHEMA, lock, std::env::var_os("PIN_SCHEMA").is_some()));
//! edd::assert_kept(edd::names_its_columns(std::path::Path::new("src")));
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use super::migrate::parse_steps;

/// One broken rule, described for the person who broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Panics with every violation, one per line, when there is any (for tests).
///
/// # Panics
/// When `violations` is not empty.
pub fn assert_kept(violations: Vec<Violation>) {
    if !violations.is_empty() {
        let lines: Vec<String> = violations.iter().map(|v| v.0.clone()).collect();
        panic!("{}", lines.join("\n"));
    }
}

/// Statements the schema may never contain, and why each would break an older program or
/// an existing database.
const BANNED: [&str; 6] = [
    "DROP ",
    "RENAME",
    "FOREIGN KEY",
    "REFERENCES",
    "DELETE ",
    "UPDATE ",
];

/// Checks that every step of `schema` only adds: no banned statement, `NOT NULL` only with
/// a `DEFAULT`, `ALTER TABLE` only to `ADD COLUMN`, `CREATE TABLE/INDEX` with `IF NOT
/// EXISTS`.
pub fn steps_only_add(schema: &str) -> Vec<Violation> {
    let steps = match parse_steps(schema) {
        Ok(s) => s,
        Err(e) => return vec![Violation(e.to_string())],
    };
    let mut out = Vec::new();
    for step in steps {
        for stmt in step.statements() {
            let up = stmt.to_ascii_uppercase();
            let n = step.number;
            for banned in BANNED {
                if up.contains(banned) {
                    out.push(Violation(format!("step {n} uses {banned}: {stmt}")));
                }
            }
            for line in up.lines() {
                if line.contains("NOT NULL") && !line.contains("DEFAULT") {
                    out.push(Violation(format!(
                        "step {n}: NOT NULL without DEFAULT: {line}"
                    )));
                }
            }
            let head = up.trim_start();
            if head.starts_with("ALTER TABLE") && !up.contains("ADD COLUMN") {
                out.push(Violation(format!("step {n}: only ADD COLUMN: {stmt}")));
            }
            if (head.starts_with("CREATE TABLE") || head.starts_with("CREATE INDEX"))
                && !up.contains("IF NOT EXISTS")
            {
                out.push(Violation(format!("step {n}: CREATE without IF NOT EXISTS")));
            }
        }
    }
    out
}

/// Checks the steps of `schema` against the lock file at `lock` (lines `N name sha256`,
/// `#` comments): every pinned step still has its hash, none was removed, and every step
/// is pinned. With `pin_new`, unpinned steps are appended to the lock instead of being a
/// violation (it never rewrites a pinned line). A missing lock file pins nothing yet.
pub fn pinned(schema: &str, lock: &Path, pin_new: bool) -> Vec<Violation> {
    let steps = match parse_steps(schema) {
        Ok(s) => s,
        Err(e) => return vec![Violation(e.to_string())],
    };
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut pins: Vec<(u32, String)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let mut w = l.split_whitespace();
        match (w.next().and_then(|n| n.parse().ok()), w.last()) {
            (Some(n), Some(h)) => pins.push((n, h.to_string())),
            _ => {
                return vec![Violation(format!(
                    "{} line {}: expected `N name sha256`",
                    lock.display(),
                    i + 1
                ))]
            }
        }
    }
    if pins.len() > steps.len() {
        return vec![Violation(format!(
            "{} pins {} steps but the schema has {}: a released step was removed",
            lock.display(),
            pins.len(),
            steps.len()
        ))];
    }
    let mut out = Vec::new();
    for (i, ((n, h), step)) in pins.iter().zip(&steps).enumerate() {
        if *n != step.number {
            out.push(Violation(format!(
                "{} out of order at line {}",
                lock.display(),
                i + 1
            )));
        } else if *h != step.hash() {
            out.push(Violation(format!(
                "released schema step {} ({}) was changed: add a new step instead",
                step.number, step.name
            )));
        }
    }
    let unpinned: Vec<String> = steps[pins.len()..]
        .iter()
        .map(|s| format!("{} {} {}", s.number, s.name.replace(' ', "_"), s.hash()))
        .collect();
    if !unpinned.is_empty() && out.is_empty() {
        if pin_new {
            let mut text = text;
            for l in &unpinned {
                text.push_str(l);
                text.push('\n');
            }
            if let Err(e) = std::fs::write(lock, text) {
                out.push(Violation(format!("cannot write {}: {e}", lock.display())));
            }
        } else {
            out.push(Violation(format!(
                "schema steps not pinned in {} (run the test with pinning on):\n{}",
                lock.display(),
                unpinned.join("\n")
            )));
        }
    }
    out
}

/// What a select-star looks like once whitespace is squeezed (spelled in pieces so this
/// file passes its own check).
const STAR: [&str; 2] = [concat!("SELECT", " *"), concat!(".*", " FROM")];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            rust_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// Checks that no `.rs` file under `dir` selects `*` (`SELECT *`, `t.* FROM`): code that
/// names its columns keeps working when a newer program adds some.
pub fn names_its_columns(dir: &Path) -> Vec<Violation> {
    let mut files = Vec::new();
    if let Err(e) = rust_files(dir, &mut files) {
        return vec![Violation(format!("cannot read {}: {e}", dir.display()))];
    }
    if files.is_empty() {
        return vec![Violation(format!("no .rs files under {}", dir.display()))];
    }
    let mut out = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            // Comments may talk about the rule; only code can break it.
            Ok(t) => t
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n")
                .to_ascii_uppercase(),
            Err(e) => {
                out.push(Violation(format!("cannot read {}: {e}", f.display())));
                continue;
            }
        };
        let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if STAR.iter().any(|s| squeezed.contains(s)) {
            out.push(Violation(format!(
                "{} uses SELECT {}: name the columns instead",
                f.display(),
                '*'
            )));
        }
    }
    out
}

/// Makes the database at `path` look written by a newer program: a column `future_col`
/// (with a default) on every table, a table `future_things` with a row, and a schema step
/// 999 this program does not know. The product then runs its main flows on it.
pub fn extend_as_newer(path: &Path) -> rusqlite::Result<()> {
    let c = rusqlite::Connection::open(path)?;
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for t in &tables {
        c.execute_batch(&format!(
            "ALTER TABLE \"{}\" ADD COLUMN future_col TEXT DEFAULT 'from the future';",
            t.replace('"', "\"\"")
        ))?;
    }
    c.execute_batch(
        "CREATE TABLE future_things (id INTEGER PRIMARY KEY, payload BLOB);
         INSERT INTO future_things (payload) VALUES (x'00');
         INSERT INTO schema_steps (step, name, hash, applied_at) VALUES (999, 'future', 'x', 0);",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate::tests::TEST_SCHEMA;

    fn lock_file(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("edd-lock-{tag}-{}", std::process::id()))
    }

    #[test]
    fn additive_schema_passes() {
        assert_eq!(steps_only_add(TEST_SCHEMA), vec![]);
    }

    #[test]
    fn destructive_statements_are_each_reported() {
        let bad = "-- step 1: bad\n\
            CREATE TABLE t (a TEXT NOT NULL, b INTEGER REFERENCES u(id));\n\
            ALTER TABLE t DROP COLUMN a;\n\
            UPDATE t SET a = 1;\n";
        let v = steps_only_add(bad);
        let text: Vec<&str> = v.iter().map(|v| v.0.as_str()).collect();
        for needle in [
            "uses REFERENCES",
            "NOT NULL without DEFAULT",
            "CREATE without IF NOT EXISTS",
            "uses DROP",
            "only ADD COLUMN",
            "uses UPDATE",
        ] {
            assert!(
                text.iter().any(|t| t.contains(needle)),
                "{needle}: {text:?}"
            );
        }
    }

    #[test]
    fn pins_new_steps_then_catches_a_changed_one() {
        let lock = lock_file("pin");
        let _ = std::fs::remove_file(&lock);
        let v = pinned(TEST_SCHEMA, &lock, false);
        assert!(v[0].0.contains("not pinned"), "{v:?}");
        assert_eq!(pinned(TEST_SCHEMA, &lock, true), vec![]);
        assert_eq!(pinned(TEST_SCHEMA, &lock, false), vec![]);
        let changed = TEST_SCHEMA.replace("tag TEXT", "tag BLOB");
        let v = pinned(&changed, &lock, true);
        assert!(
            v[0].0.contains("step 2 (a column added later) was changed"),
            "{v:?}"
        );
        let removed = TEST_SCHEMA.split("-- step 2").next().unwrap();
        assert!(pinned(removed, &lock, true)[0].0.contains("was removed"));
        let _ = std::fs::remove_file(&lock);
    }

    #[test]
    fn select_star_is_found() {
        let dir = std::env::temp_dir().join(format!("edd-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("ok.rs"), "const Q: &str = \"SELECT id FROM t\";").unwrap();
        assert_eq!(names_its_columns(&dir), vec![]);
        std::fs::write(
            dir.join("sub/bad.rs"),
            concat!("const Q: &str = \"select\n  ", "* from t\";"),
        )
        .unwrap();
        std::fs::write(
            dir.join("doc.rs"),
            concat!("// never `SELECT", " *`\nconst Q: u8 = 1;"),
        )
        .unwrap();
        let v = names_its_columns(&dir);
        assert!(
            v.len() == 1 && v[0].0.contains("bad.rs uses SELECT"),
            "{v:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_database_still_opens() {
        let dir = std::env::temp_dir().join(format!("edd-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.db");
        drop(crate::db::Db::open(&path, TEST_SCHEMA).unwrap());
        extend_as_newer(&path).unwrap();
        let db = crate::db::Db::open(&path, TEST_SCHEMA).unwrap();
        assert_eq!(db.schema_version(), 999);
        db.write(|c| c.execute("INSERT INTO notes (body, tag) VALUES ('x', 'y')", []))
            .unwrap();
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
