//! Evolutionary Database Design at run time: the caller's schema text (compiled into its
//! binary) split into numbered steps, each applied once (recorded in `schema_steps`), in a
//! transaction, at every start. Steps are append-only; their hashes are pinned by the
//! caller's tests ([`super::edd`]). `ALTER TABLE … ADD COLUMN` is skipped when the column
//! exists, so databases written by an earlier program that created the column upgrade in
//! place.

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use super::DbError;

/// One numbered step of a schema: the SQL between its `-- step N: name` header and the next.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's number (1, 2, … without gaps).
    pub number: u32,
    /// The name after the colon in the header.
    pub name: String,
    /// The step's SQL text, without the header line.
    pub sql: String,
}

impl Step {
    /// sha256 of the step's SQL (trimmed), as pinned in the caller's lock file.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.sql.trim().as_bytes()))
    }

    /// Statements, each ending with `;` at the end of a line (a rule of schema.sql).
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for line in self.sql.lines() {
            let t = line.trim();
            if t.starts_with("--") || (t.is_empty() && cur.is_empty()) {
                continue;
            }
            cur.push_str(line);
            cur.push('\n');
            if t.ends_with(';') {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur);
        }
        out
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Splits schema text into steps at `-- step N: name` lines.
pub fn parse_steps(sql: &str) -> Result<Vec<Step>, DbError> {
    let mut steps: Vec<Step> = Vec::new();
    for line in sql.lines() {
        if let Some(rest) = line.trim().strip_prefix("-- step ") {
            let (num, name) = rest
                .split_once(':')
                .ok_or_else(|| DbError::BadSchema(format!("bad step header: {line}")))?;
            let number: u32 = num
                .trim()
                .parse()
                .map_err(|_| DbError::BadSchema(format!("bad step number: {line}")))?;
            let expected = steps.last().map_or(1, |s| s.number + 1);
            if number != expected {
                return Err(DbError::BadSchema(format!(
                    "step {number} out of order (expected {expected})"
                )));
            }
            steps.push(Step {
                number,
                name: name.trim().to_string(),
                sql: String::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.sql.push_str(line);
            step.sql.push('\n');
        }
    }
    Ok(steps)
}

/// `ALTER TABLE t ADD COLUMN c …` → (t, c).
fn alter_add_column(stmt: &str) -> Option<(String, String)> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    let up = |i: usize| words.get(i).map(|w| w.to_ascii_uppercase());
    if up(0)? == "ALTER" && up(1)? == "TABLE" && up(3)? == "ADD" && up(4)? == "COLUMN" {
        Some((words.get(2)?.to_string(), words.get(5)?.to_string()))
    } else {
        None
    }
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    for n in names {
        if n?.eq_ignore_ascii_case(column) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Applies every step of `schema` not yet recorded. Returns the highest step number now
/// applied (higher than the schema's last step when a newer program extended the file).
pub fn migrate(conn: &mut Connection, schema: &str) -> Result<u32, DbError> {
    let steps = parse_steps(schema)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_steps (
            step INTEGER PRIMARY KEY,
            name TEXT,
            hash TEXT,
            applied_at INTEGER
        );",
    )?;
    for step in &steps {
        let done: bool = conn.query_row(
            "SELECT COUNT(*) FROM schema_steps WHERE step = ?1",
            [step.number],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if done {
            continue;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for stmt in step.statements() {
            if let Some((table, column)) = alter_add_column(&stmt) {
                if has_column(&tx, &table, &column)? {
                    continue;
                }
            }
            tx.execute_batch(&stmt).map_err(|source| DbError::Step {
                number: step.number,
                name: step.name.clone(),
                source,
            })?;
        }
        tx.execute(
            "INSERT INTO schema_steps (step, name, hash, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![step.number, step.name, step.hash(), super::now()],
        )?;
        tx.commit()?;
        log::info!("applied schema step {}: {}", step.number, step.name);
    }
    Ok(
        conn.query_row("SELECT COALESCE(MAX(step), 0) FROM schema_steps", [], |r| {
            r.get::<_, u32>(0)
        })?,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const TEST_SCHEMA: &str = "\
-- step 1: notes
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    body TEXT
);
CREATE INDEX IF NOT EXISTS idx_notes_body ON notes(body);
-- step 2: a column added later
ALTER TABLE notes ADD COLUMN tag TEXT;
";

    #[test]
    fn steps_parse_and_split() {
        let steps = parse_steps(TEST_SCHEMA).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].number, 1);
        assert_eq!(steps[0].statements().len(), 2);
        assert_eq!(
            alter_add_column("ALTER TABLE notes ADD COLUMN tag TEXT;"),
            Some(("notes".into(), "tag".into()))
        );
        assert!(matches!(
            parse_steps("-- step 2: skipped one\n"),
            Err(DbError::BadSchema(_))
        ));
    }

    #[test]
    fn migrate_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        let v1 = migrate(&mut c, TEST_SCHEMA).unwrap();
        let v2 = migrate(&mut c, TEST_SCHEMA).unwrap();
        assert_eq!(v1, v2);
        assert_eq!(v1 as usize, parse_steps(TEST_SCHEMA).unwrap().len());
    }

    #[test]
    fn an_existing_column_is_not_added_twice() {
        let mut c = Connection::open_in_memory().unwrap();
        // An earlier program made the table with the column already there.
        c.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);")
            .unwrap();
        assert_eq!(migrate(&mut c, TEST_SCHEMA).unwrap(), 2);
    }

    #[test]
    fn a_failing_step_names_itself_and_keeps_nothing() {
        let mut c = Connection::open_in_memory().unwrap();
        let bad = "-- step 1: ok\nCREATE TABLE IF NOT EXISTS a (x);\n-- step 2: broken\nCREATE TABLE IF NOT EXISTS b (y);\nNOT SQL;\n";
        match migrate(&mut c, bad) {
            Err(DbError::Step {
                number: 2, name, ..
            }) => assert_eq!(name, "broken"),
            other => panic!("{other:?}"),
        }
        let b: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b, 0, "step 2 was rolled back");
    }
}
