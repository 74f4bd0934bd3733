//! Go fazt v0.8's analytics routes, in its shapes: `GET /api/domains` and `/api/tags` (event
//! counts) and `GET /api/stats?format=v0` (its dashboard totals). Go kept a hosted site's
//! name in `events.domain`; here that is `site`, so "domain" below means the site for
//! hosting rows and the recorded host otherwise — what Go's queries found.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::dates::{day_floor, DAY};
use super::Analytics;
use crate::envelope::{internal, ok};
use crate::kernel::db::now;
use crate::kernel::http::Response;

/// The `domain` Go would have recorded, as SQL.
pub const GO_DOMAIN: &str =
    "CASE WHEN source_type = 'hosting' THEN COALESCE(site, domain) ELSE domain END";

/// Go's `/api/events?domain=D` filter: rows Go would have recorded under `D`.
pub const DOMAIN_FILTER: &str = "(domain = ?4 OR (source_type = 'hosting' AND site = ?4))";

fn counts(c: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn domains(c: &Connection, limit: i64) -> rusqlite::Result<Vec<Value>> {
    Ok(counts(
        c,
        &format!(
            "SELECT {GO_DOMAIN} AS d, SUM(COALESCE(hits, 1)) AS n FROM events
             WHERE COALESCE({GO_DOMAIN}, '') != '' GROUP BY d ORDER BY n DESC, d LIMIT {limit}"
        ),
    )?
    .into_iter()
    .map(|(d, n)| json!({"domain": d, "count": n}))
    .collect())
}

fn tags(c: &Connection) -> rusqlite::Result<Vec<Value>> {
    let mut by_tag: HashMap<String, i64> = HashMap::new();
    for (t, n) in counts(
        c,
        "SELECT tags, SUM(COALESCE(hits, 1)) FROM events WHERE COALESCE(tags, '') != '' GROUP BY tags",
    )? {
        for tag in t.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            *by_tag.entry(tag.to_string()).or_insert(0) += n;
        }
    }
    let mut v: Vec<(String, i64)> = by_tag.into_iter().collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(v.into_iter()
        .map(|(tag, count)| json!({"tag": tag, "count": count}))
        .collect())
}

/// `GET /api/domains`.
pub fn list_domains(a: &Analytics) -> Response {
    match a.db.read(|c| domains(c, 1000)) {
        Ok(v) => ok(Value::Array(v)),
        Err(e) => internal(e),
    }
}

/// `GET /api/tags`.
pub fn list_tags(a: &Analytics) -> Response {
    match a.db.read(tags) {
        Ok(v) => ok(Value::Array(v)),
        Err(e) => internal(e),
    }
}

/// `GET /api/stats?format=v0`: Go's `Stats` (totals today, 7 and 30 days, all time, by source
/// type, top domains and tags, the last 24 hours by hour, unique domains, redirect clicks),
/// over the raw events kept (rolled-up days past retention are not in it).
pub fn stats_v0(a: &Analytics) -> Response {
    let t = now();
    let r = a.db.read(|c| -> rusqlite::Result<Value> {
        let count = |since: i64| -> rusqlite::Result<i64> {
            c.query_row(
                "SELECT COALESCE(SUM(COALESCE(hits, 1)), 0) FROM events WHERE created_at >= ?1",
                [since],
                |r| r.get(0),
            )
        };
        let mut by_source = serde_json::Map::new();
        for (s, n) in counts(
            c,
            "SELECT COALESCE(source_type, ''), SUM(COALESCE(hits, 1)) FROM events GROUP BY 1",
        )? {
            by_source.insert(s, Value::from(n));
        }
        let timeline: Vec<Value> = {
            let mut st = c.prepare(
                "SELECT strftime('%Y-%m-%d %H:00', created_at, 'unixepoch') AS h, SUM(COALESCE(hits, 1))
                 FROM events WHERE created_at >= ?1 GROUP BY h ORDER BY h",
            )?;
            let rows = st.query_map([t - DAY], |r| {
                Ok(json!({"timestamp": r.get::<_, String>(0)?, "count": r.get::<_, i64>(1)?}))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let unique: i64 = c.query_row(
            &format!("SELECT COUNT(DISTINCT {GO_DOMAIN}) FROM events"),
            [],
            |r| r.get(0),
        )?;
        let clicks: i64 = c.query_row(
            "SELECT COALESCE(SUM(click_count), 0) FROM redirects",
            [],
            |r| r.get(0),
        )?;
        let mut top_tags = tags(c)?;
        top_tags.truncate(10);
        Ok(json!({
            "total_events_today": count(day_floor(t))?,
            "total_events_week": count(t - 7 * DAY)?,
            "total_events_month": count(t - 30 * DAY)?,
            "total_events_all_time": count(i64::MIN)?,
            "events_by_source_type": by_source,
            "top_domains": domains(c, 10)?,
            "top_tags": top_tags,
            "events_timeline": timeline,
            "total_unique_domains": unique,
            "total_redirect_clicks": clicks,
        }))
    });
    match r {
        Ok(v) => ok(v),
        Err(e) => internal(e),
    }
}
