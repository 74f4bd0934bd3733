//! Managing short links ([`redirects`]: `/api/redirects`) and webhooks ([`webhooks`]:
//! `/api/webhooks`): list, create, read, update, delete — validated completely before anything
//! is written, checked and written in one writer job (so two creates cannot both take a
//! slug), and audited. Shared here ([`Table`]): listing, reading, deleting, `id`-or-name lookups
//! and key conflicts; body and field parsing; auditing. The route table authenticates (admin
//! scope) and hands each handler a [`Ctx`].

pub mod redirects;
pub mod webhooks;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use crate::access::Caller;
use crate::analytics::Analytics;
use crate::audit;
use crate::envelope::{bad_request, data, error, internal, not_found, ok};
use crate::kernel::http::{Body, Response};

const BODY_MAX: u64 = 64 * 1024;

/// Slugs and webhook endpoints: `[A-Za-z0-9_.-]{1,64}`, not only dots.
pub fn valid_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !s.bytes().all(|b| b == b'.')
}

/// The request body as a JSON object.
pub(super) fn read_object(body: &mut Body<'_>) -> Result<Map<String, Value>, Response> {
    let raw = body
        .read_all(BODY_MAX)
        .map_err(|e| error(e.status(), "BAD_REQUEST", e.to_string()).closing())?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad_request("expected a JSON object")),
        Err(e) => Err(bad_request(format!("invalid JSON: {e}"))),
    }
}

pub(super) fn opt_str<'a>(o: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Response> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(bad_request(format!("'{k}' must be a string"))),
    }
}

/// Tags as a list of strings or one comma-separated string → `a,b` (≤ 500 bytes).
pub(super) fn tags_of(o: &Map<String, Value>) -> Result<Option<String>, Response> {
    let list: Vec<String> = match o.get("tags") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| t.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad_request("'tags' must be a list of strings"))?,
        Some(_) => return Err(bad_request("'tags' must be a list of strings")),
    };
    let joined = list
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    if joined.len() > 500 {
        return Err(bad_request("'tags' may hold at most 500 characters"));
    }
    Ok(Some(joined))
}

pub(super) fn tag_list(t: &str) -> Value {
    Value::Array(
        t.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.into()))
            .collect(),
    )
}

/// `id` (digits) or the slug/endpoint itself → `WHERE` clause and parameter.
pub(super) fn key_clause(id: &str, key_col: &'static str) -> (&'static str, String) {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        ("id", id.to_string())
    } else {
        (key_col, id.to_string())
    }
}

/// What a management call works with.
pub struct Ctx<'a> {
    pub analytics: &'a Analytics,
    /// Who calls (for the audit trail).
    pub who: &'a Caller,
    /// The admin host's public URL, `http://admin.example.com/`: short links and webhook
    /// endpoints are shown with their full `url` on it.
    pub admin_url: String,
}

impl Ctx<'_> {
    fn audit(&self, action: &str, resource: &str, details: &Value) {
        audit::record(
            &self.analytics.db,
            self.who,
            action,
            resource,
            &details.to_string(),
        );
    }

    /// `path` on the admin host, as a full URL.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.admin_url)
    }
}

/// Outcome of a check-then-write job.
pub(super) enum Write<T> {
    Done(T),
    NotFound,
    Conflict,
}

/// What tells the managed tables apart; the list, read, delete and lookup code is shared.
pub struct Table {
    /// SQL table.
    pub name: &'static str,
    /// The unique name column a row can be addressed by instead of its `id`.
    pub key_col: &'static str,
    /// Columns `to_json` reads, in its order.
    pub columns: &'static str,
    /// `ORDER BY` of the list.
    pub list_order: &'static str,
    /// In messages: "no {noun} 'x'".
    pub noun: &'static str,
    /// Audit action prefix: "{action}.delete".
    pub action: &'static str,
    pub to_json: fn(&Ctx<'_>, &rusqlite::Row<'_>) -> rusqlite::Result<Value>,
}

impl Table {
    pub fn not_found(&self, id: &str) -> Response {
        not_found(format!("no {} '{id}'", self.noun))
    }

    /// `GET /api/{table}`.
    pub fn list(&self, cx: &Ctx<'_>) -> Response {
        let rows = cx.analytics.db.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {} FROM {} ORDER BY {}",
                self.columns, self.name, self.list_order
            ))?;
            let rows = st.query_map([], |r| (self.to_json)(cx, r))?;
            rows.collect::<Result<Vec<_>, _>>()
        });
        match rows {
            Ok(v) => ok(Value::Array(v)),
            Err(e) => internal(e),
        }
    }

    /// `GET /api/{table}/{id}`.
    pub fn show(&self, cx: &Ctx<'_>, id: &str) -> Response {
        match self.get(cx, id) {
            Ok(Some(v)) => ok(v),
            Ok(None) => self.not_found(id),
            Err(e) => internal(e),
        }
    }

    /// The row addressed by `id` (digits: the id; otherwise the key column), as JSON.
    pub fn get(&self, cx: &Ctx<'_>, id: &str) -> rusqlite::Result<Option<Value>> {
        let (col, key) = key_clause(id, self.key_col);
        cx.analytics.db.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM {} WHERE {col} = ?1",
                    self.columns, self.name
                ),
                [key],
                |r| (self.to_json)(cx, r),
            )
            .optional()
        })
    }

    /// The answer after a write: the row as it is now, with `status`, passed through `show`.
    pub fn saved(
        &self,
        cx: &Ctx<'_>,
        rowid: i64,
        status: u16,
        show: impl FnOnce(Value) -> Value,
    ) -> Response {
        match self.get(cx, &rowid.to_string()) {
            Ok(Some(v)) => data(status, show(v)),
            Ok(None) => self.not_found(&rowid.to_string()),
            Err(e) => internal(e),
        }
    }

    /// `DELETE /api/{table}/{id}`.
    pub fn delete(&self, cx: &Ctx<'_>, id: &str) -> Response {
        let (col, key) = key_clause(id, self.key_col);
        let table = self.name;
        let r = cx
            .analytics
            .db
            .write(move |c| c.execute(&format!("DELETE FROM {table} WHERE {col} = ?1"), [key]));
        match r {
            Ok(0) => self.not_found(id),
            Ok(_) => {
                let action = format!("{}.delete", self.action);
                cx.audit(&action, id, &json!({}));
                ok(json!({"id": id, "deleted": true}))
            }
            Err(e) => internal(e),
        }
    }

    /// The row id `id` addresses (inside a write job).
    pub fn find_id(&self, c: &Connection, id: &str) -> rusqlite::Result<Option<i64>> {
        let (col, key) = key_clause(id, self.key_col);
        c.query_row(
            &format!("SELECT id FROM {} WHERE {col} = ?1", self.name),
            [key],
            |r| r.get::<_, i64>(0),
        )
        .optional()
    }

    /// Sets one column of row `rowid` (inside a write job).
    pub fn set(
        &self,
        c: &Connection,
        rowid: i64,
        column: &'static str,
        value: &dyn rusqlite::ToSql,
    ) -> rusqlite::Result<()> {
        c.execute(
            &format!("UPDATE {} SET {column} = ?1 WHERE id = ?2", self.name),
            params![value, rowid],
        )
        .map(|_| ())
    }

    /// Whether another row (not `except`) already uses `key`.
    pub fn key_taken(&self, c: &Connection, key: &str, except: i64) -> rusqlite::Result<bool> {
        c.query_row(
            &format!(
                "SELECT COUNT(*) FROM {} WHERE {} = ?1 AND id != ?2",
                self.name, self.key_col
            ),
            params![key, except],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "launch-2024", "A_b.c", &"x".repeat(64)] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65), "a?b"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,100}") {
            let _ = valid_key(&s);
        }
    }
}
