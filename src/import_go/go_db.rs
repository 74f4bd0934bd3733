//! Reading a Go fazt `data.db`, read-only: which schema it has (its `migrations` table, v0.5
//! through v0.29), which tables and columns exist, how its app ids map to site names, and its
//! rows with the text times Go wrote turned into unix seconds. This is the one file that names
//! Go's tables in SQL; it only ever reads (tests/table_owners.rs checks that), and nothing
//! here touches fazt.db.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use super::ImportError;
use crate::kernel::civil::days_from_civil;

/// An open Go fazt database.
pub struct GoDb {
    conn: Connection,
    /// The highest migration applied (0 when the table is missing).
    pub version: i64,
    /// What identifies this database across runs: its first migration's time, else its path.
    pub identity: String,
    tables: HashSet<String>,
    /// app id → site name (v0.8's `apps`, v0.10's `aliases`).
    apps: HashMap<String, String>,
}

/// One Go site: the key its rows use (`site_id`, or `app_id` from v0.10) and its name.
pub struct GoSite {
    pub key: String,
    pub name: String,
    pub spa: bool,
}

/// A file row's metadata (the content is read one file at a time).
pub struct GoFile {
    pub path: String,
    pub hash: String,
}

impl GoDb {
    pub fn open(path: &Path) -> Result<GoDb, ImportError> {
        let fail = |e: rusqlite::Error| ImportError::Source(format!("{}: {e}", path.display()));
        if !path.is_file() {
            return Err(ImportError::Source(format!(
                "{}: no such file",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        let tables: HashSet<String> = {
            let mut st = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(|e| ImportError::Source(format!("{}: {e}", path.display())))?;
            let names = st
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<_, _>>());
            names.map_err(fail)?
        };
        if tables.contains("schema_steps") {
            return Err(ImportError::Source(format!(
                "{} is a database of this fazt, not of Go fazt (use `fazt restore` for a snapshot)",
                path.display()
            )));
        }
        if !tables.contains("files") || !tables.contains("events") {
            return Err(ImportError::Source(format!(
                "{} is not a Go fazt database (it has no files and events tables)",
                path.display()
            )));
        }
        let mut go = GoDb {
            conn,
            version: 0,
            identity: std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            tables,
            apps: HashMap::new(),
        };
        if go.has("migrations") {
            let (version, first): (Option<i64>, Option<String>) = go
                .conn
                .query_row(
                    "SELECT MAX(version), (SELECT CAST(applied_at AS TEXT) FROM migrations ORDER BY version LIMIT 1) FROM migrations",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(fail)?;
            go.version = version.unwrap_or(0);
            if let Some(first) = first {
                go.identity = format!("migrations:{first}");
            }
        }
        go.apps = go.read_apps().map_err(fail)?;
        Ok(go)
    }

    pub fn has(&self, table: &str) -> bool {
        self.tables.contains(table)
    }

    /// Whether `table` has `column` (Go added columns over the versions).
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.has(table)
            && self
                .conn
                .prepare(&format!("SELECT {column} FROM {table} LIMIT 0"))
                .is_ok()
    }

    fn read_apps(&self) -> rusqlite::Result<HashMap<String, String>> {
        let mut apps = HashMap::new();
        // v0.8: apps(id, name); an app's rows keep `site_id` = its name.
        if self.has_column("apps", "name") {
            let mut st = self.conn.prepare("SELECT id, name FROM apps")?;
            for row in st.query_map([], |r| Ok((text(r, 0), text(r, 1))))? {
                if let (Some(id), Some(name)) = row? {
                    apps.insert(id, name);
                }
            }
        }
        // v0.10: aliases(subdomain, type, targets JSON {"app_id": …}) route names to apps.
        if self.has("aliases") {
            let mut st = self
                .conn
                .prepare("SELECT subdomain, targets FROM aliases WHERE type = 'proxy' ORDER BY created_at DESC")?;
            for row in st.query_map([], |r| Ok((text(r, 0), text(r, 1))))? {
                let (Some(name), Some(targets)) = row? else {
                    continue;
                };
                let id = serde_json::from_str::<serde_json::Value>(&targets)
                    .ok()
                    .and_then(|v| v.get("app_id")?.as_str().map(str::to_owned));
                if let Some(id) = id {
                    // The oldest alias of an app is its name (newer ones are extra names).
                    apps.insert(id, name);
                }
            }
        }
        Ok(apps)
    }

    /// The site name rows keyed `key` (a site id or app id) belong to.
    pub fn site_name(&self, key: &str) -> String {
        self.apps
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// Every site with files, by name.
    pub fn sites(&self) -> rusqlite::Result<Vec<GoSite>> {
        let key = if self.has_column("files", "app_id") {
            "COALESCE(app_id, site_id)"
        } else {
            "site_id"
        };
        let mut st = self
            .conn
            .prepare(&format!("SELECT DISTINCT {key} FROM files ORDER BY 1"))?;
        let keys: Vec<Option<String>> = st
            .query_map([], |r| Ok(text(r, 0)))?
            .collect::<Result<_, _>>()?;
        let spa = self.spa_apps()?;
        let mut out: Vec<GoSite> = keys
            .into_iter()
            .flatten()
            .map(|k| GoSite {
                name: self.site_name(&k),
                spa: spa.contains(&k),
                key: k,
            })
            .collect();
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn spa_apps(&self) -> rusqlite::Result<HashSet<String>> {
        if !self.has_column("apps", "spa") {
            return Ok(HashSet::new());
        }
        let mut st = self.conn.prepare("SELECT id FROM apps WHERE spa = 1")?;
        let ids = st.query_map([], |r| Ok(text(r, 0)))?;
        ids.filter_map(|r| r.transpose()).collect()
    }

    fn site_filter(&self) -> &'static str {
        if self.has_column("files", "app_id") {
            "COALESCE(app_id, site_id) = ?1"
        } else {
            "site_id = ?1"
        }
    }

    /// A site's files (path and Go's sha256), by path.
    pub fn files(&self, site_key: &str) -> rusqlite::Result<Vec<GoFile>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT path, COALESCE(hash, '') FROM files WHERE {} ORDER BY path",
            self.site_filter()
        ))?;
        let rows = st.query_map([site_key], |r| {
            Ok(GoFile {
                path: text(r, 0).unwrap_or_default(),
                hash: text(r, 1).unwrap_or_default().to_ascii_lowercase(),
            })
        })?;
        rows.collect()
    }

    /// One file's content.
    pub fn content(&self, site_key: &str, path: &str) -> rusqlite::Result<Vec<u8>> {
        self.conn.query_row(
            &format!(
                "SELECT content FROM files WHERE {} AND path = ?2",
                self.site_filter()
            ),
            [site_key, path],
            |r| Ok(bytes(r, 0)),
        )
    }

    /// `SELECT cols FROM table tail` over `table` (nothing when Go's version lacks it); a
    /// column this version does not have reads as NULL.
    pub fn select(
        &self,
        table: &str,
        cols: &[&str],
        tail: &str,
        params: &[&dyn rusqlite::ToSql],
        mut f: impl FnMut(&Row<'_>) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        if !self.has(table) {
            return Ok(());
        }
        let list: Vec<&str> = cols
            .iter()
            .map(|c| {
                if self.has_column(table, c) {
                    *c
                } else {
                    "NULL"
                }
            })
            .collect();
        let sql = format!("SELECT {} FROM {table} {tail}", list.join(", "));
        let err = |e: rusqlite::Error| ImportError::Source(format!("reading {table}: {e}"));
        let mut st = self.conn.prepare(&sql).map_err(err)?;
        let mut rows = st.query(params).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            f(row)?;
        }
        Ok(())
    }
}

/// A column as text (blobs decoded lossily, numbers printed); NULL is None.
pub fn text(r: &Row<'_>, i: usize) -> Option<String> {
    match r.get_ref(i).ok()? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// A column as bytes (text as its UTF-8).
pub fn bytes(r: &Row<'_>, i: usize) -> Vec<u8> {
    match r.get_ref(i) {
        Ok(ValueRef::Text(t) | ValueRef::Blob(t)) => t.to_vec(),
        Ok(ValueRef::Integer(n)) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

/// A column as an integer (text holding one is read too).
pub fn int(r: &Row<'_>, i: usize) -> Option<i64> {
    match r.get_ref(i).ok()? {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A column as unix seconds: an integer as is, or the text Go's SQLite driver and
/// `CURRENT_TIMESTAMP` wrote.
pub fn time(r: &Row<'_>, i: usize) -> Option<i64> {
    match r.get_ref(i).ok()? {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) => Some(f as i64),
        ValueRef::Text(t) => parse_time(std::str::from_utf8(t).ok()?),
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS`, with `T` or a space, optional fraction, and `Z` or `±HH:MM`
/// (Go's `2006-01-02 15:04:05.999999999-07:00`); a bare date is its midnight. UTC when no
/// offset is given, as SQLite's `CURRENT_TIMESTAMP` is.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) {
        return None;
    }
    if !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, mo, d) * 86_400;
    if b.len() == 10 {
        return Some(day);
    }
    if !matches!(b.get(10), Some(b' ' | b'T')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    let sec = if b.get(16) == Some(&b':') {
        num(17, 2)?
    } else {
        0
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[if b.get(16) == Some(&b':') { 19 } else { 16 }..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.trim_start();
    let offset = match rest {
        "" | "Z" | "UTC" | "+00:00" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest[1..].replace(':', "");
            let o = o.split_whitespace().next().unwrap_or("");
            if o.len() != 4 || !o.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (oh, om): (i64, i64) = (o[..2].parse().ok()?, o[2..].parse().ok()?);
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(day + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::parse_time;
    use proptest::prelude::*;

    #[test]
    fn go_time_formats() {
        assert_eq!(parse_time("2024-01-02 15:04:05"), Some(1_704_207_845));
        assert_eq!(parse_time("2024-01-02T15:04:05Z"), Some(1_704_207_845));
        assert_eq!(
            parse_time("2024-01-02 15:04:05.123456789-07:00"),
            Some(1_704_207_845 + 7 * 3600)
        );
        assert_eq!(parse_time("2024-01-02 15:04:05+02:00"), Some(1_704_200_645));
        assert_eq!(parse_time("2024-01-02"), Some(1_704_153_600));
        assert_eq!(parse_time("2024-01-02 15:04"), Some(1_704_207_840));
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-01-02X15:04:05",
            "2024-01-02 25:00:00",
            "2024-01-02 15:04:05 +7",
            "20240102",
            "2024-1-2",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    proptest! {
        // Any text: no panic; a time printed the way SQLite prints it reads back exactly.
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_time(&s);
        }

        #[test]
        fn round_trips(t in 0i64..4_102_444_800) {
            let (y, m, d) = crate::kernel::civil::civil_from_days(t.div_euclid(86_400));
            let s = t.rem_euclid(86_400);
            let text = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
            prop_assert_eq!(parse_time(&text), Some(t));
        }
    }
}
