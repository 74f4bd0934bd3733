//! Evolutionary Database Design: the embedded `schema.sql` split into numbered steps, each
//! applied once (recorded in `schema_steps`), in a transaction, at every start. Steps are
//! append-only; their hashes are pinned by the tests. `ALTER TABLE … ADD COLUMN` is skipped
//! when the column exists, so databases written by fazt's Go version upgrade in place.

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

/// The schema compiled into the binary.
pub const SCHEMA_SQL: &str = include_str!("../../../schema.sql");

#[derive(Debug, Clone)]
pub struct Step {
    pub number: u32,
    pub name: String,
    pub sql: String,
}

impl Step {
    /// sha256 of the step's SQL (trimmed), as pinned in tests/schema.lock.
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
pub fn parse_steps(sql: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    for line in sql.lines() {
        if let Some(rest) = line.trim().strip_prefix("-- step ") {
            let (num, name) = rest
                .split_once(':')
                .ok_or_else(|| format!("bad step header: {line}"))?;
            let number: u32 = num
                .trim()
                .parse()
                .map_err(|_| format!("bad step number: {line}"))?;
            let expected = steps.last().map_or(1, |s| s.number + 1);
            if number != expected {
                return Err(format!("step {number} out of order (expected {expected})"));
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

/// Applies every step not yet recorded. Returns the highest step number now applied.
pub fn migrate(conn: &mut Connection) -> Result<u32, String> {
    let steps = parse_steps(SCHEMA_SQL)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_steps (
            step INTEGER PRIMARY KEY,
            name TEXT,
            hash TEXT,
            applied_at INTEGER
        );",
    )
    .map_err(|e| format!("cannot create schema_steps: {e}"))?;
    for step in &steps {
        let done: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM schema_steps WHERE step = ?1",
                [step.number],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| e.to_string())?
            > 0;
        if done {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        for stmt in step.statements() {
            if let Some((table, column)) = alter_add_column(&stmt) {
                if has_column(&tx, &table, &column).map_err(|e| e.to_string())? {
                    continue;
                }
            }
            tx.execute_batch(&stmt)
                .map_err(|e| format!("schema step {} ({}): {e}", step.number, step.name))?;
        }
        tx.execute(
            "INSERT INTO schema_steps (step, name, hash, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![step.number, step.name, step.hash(), super::now()],
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        log::info!("applied schema step {}: {}", step.number, step.name);
    }
    conn.query_row("SELECT COALESCE(MAX(step), 0) FROM schema_steps", [], |r| {
        r.get::<_, u32>(0)
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_split() {
        let steps = parse_steps(SCHEMA_SQL).unwrap();
        assert!(steps.len() >= 2);
        assert_eq!(steps[0].number, 1);
        assert!(steps[0].statements().len() > 5);
        assert_eq!(
            alter_add_column("ALTER TABLE files ADD COLUMN gzip BLOB;"),
            Some(("files".into(), "gzip".into()))
        );
    }

    #[test]
    fn migrate_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        let v1 = migrate(&mut c).unwrap();
        let v2 = migrate(&mut c).unwrap();
        assert_eq!(v1, v2);
        assert_eq!(v1 as usize, parse_steps(SCHEMA_SQL).unwrap().len());
    }
}
