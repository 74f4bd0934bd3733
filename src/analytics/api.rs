//! The analytics part of the management API (admin token, `{data}` envelope): `GET
//! /api/stats` and `GET /api/events`; short links and webhooks are `super::manage`. The route
//! table authenticates before calling these.

use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use super::dates::{parse_date, DAY};
use super::{query, stats, Analytics};
use crate::envelope::{bad_request, error, internal, ok};
use crate::hosting::valid_site_name;
use crate::kernel::db::now;
use crate::kernel::http::{Request, Response};

/// `from`/`to` as unix seconds or `YYYY-MM-DD` (`to` as a date means the end of that day).
fn time_param(req: &Request, name: &str, end_of_day: bool) -> Result<Option<i64>, Response> {
    let Some(v) = query::non_empty(req.query(), name) else {
        return Ok(None);
    };
    let v = v.trim();
    if let Ok(t) = v.parse::<i64>() {
        return Ok(Some(t));
    }
    match parse_date(v) {
        Some(t) => Ok(Some(if end_of_day { t + DAY } else { t })),
        None => Err(bad_request(format!(
            "'{name}' must be unix seconds or YYYY-MM-DD, not '{v}'"
        ))),
    }
}

/// The optional `site` parameter, validated.
pub fn site_param(req: &Request) -> Result<Option<String>, Response> {
    match query::non_empty(req.query(), "site") {
        None => Ok(None),
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            if valid_site_name(&s) {
                Ok(Some(s))
            } else {
                Err(error(
                    400,
                    "INVALID_SITE_NAME",
                    format!("'{s}' is not a valid site name"),
                ))
            }
        }
    }
}

/// `GET /api/stats`.
pub fn get_stats(a: &Analytics, req: &Request) -> Response {
    match query::non_empty(req.query(), "format") {
        None => {}
        Some(f) if f == "v0" => return super::go_api::stats_v0(a),
        Some(f) => return bad_request(format!("'format' can be v0 (Go fazt's shape), not '{f}'")),
    }
    let site = match site_param(req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (from, to) = match (time_param(req, "from", false), time_param(req, "to", true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let to = to.unwrap_or_else(|| now() + 1);
    let from = match from {
        Some(f) => f,
        None => {
            let days = query::non_empty(req.query(), "days")
                .and_then(|d| d.trim().parse::<i64>().ok())
                .unwrap_or(7)
                .clamp(1, stats::MAX_RANGE / DAY);
            super::dates::day_floor(to - 1) - (days - 1) * DAY
        }
    };
    if let Err(e) = stats::align(from, to) {
        return bad_request(e);
    }
    match a
        .db
        .read(|c| Ok(stats::compute(c, site.as_deref(), from, to)))
    {
        Ok(Ok(s)) => ok(s.to_json()),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

fn json_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(format!("<{} bytes>", b.len())),
    }
}

const EVENT_COLUMNS: [&str; 17] = [
    "id",
    "domain",
    "site",
    "tags",
    "source_type",
    "event_type",
    "path",
    "status",
    "bytes",
    "referrer",
    "referrer_host",
    "ua_class",
    "visitor",
    "user_agent",
    "ip_address",
    "query_params",
    "hits",
];

/// `GET /api/events`.
pub fn list_events(a: &Analytics, req: &Request) -> Response {
    let q = req.query();
    let site = match site_param(req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let num = |name: &str, default: i64, max: i64| -> Result<i64, Response> {
        match query::non_empty(q, name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(n),
                _ => Err(bad_request(format!(
                    "'{name}' must be a number from 0 to {max}, not '{v}'"
                ))),
            },
        }
    };
    let (limit, offset) = match (num("limit", 50, 1000), num("offset", 0, 1_000_000)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    // `type` (event type) and `source`; Go's `domain` (a hosted site's name, or the host
    // recorded), `source_type` and `tags` too.
    let event_type = query::non_empty(q, "type");
    let source = query::non_empty(q, "source").or_else(|| query::non_empty(q, "source_type"));
    let domain = query::non_empty(q, "domain");
    let tags = query::non_empty(q, "tags").map(|t| format!("%{t}%"));
    let sql = format!(
        "SELECT {}, created_at FROM events
         WHERE (?1 IS NULL OR site = ?1) AND (?2 IS NULL OR event_type = ?2)
           AND (?3 IS NULL OR source_type = ?3) AND (?4 IS NULL OR {})
           AND (?5 IS NULL OR tags LIKE ?5)
         ORDER BY id DESC LIMIT ?6 OFFSET ?7",
        EVENT_COLUMNS.join(", "),
        super::go_api::DOMAIN_FILTER
    );
    let rows = a.db.read(|c| {
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(
            rusqlite::params![site, event_type, source, domain, tags, limit, offset],
            |r| {
                let mut o = Map::new();
                for (i, name) in EVENT_COLUMNS.iter().enumerate() {
                    o.insert((*name).to_string(), json_of(r.get_ref(i)?));
                }
                o.insert(
                    "created_at".into(),
                    json_of(r.get_ref(EVENT_COLUMNS.len())?),
                );
                Ok(o)
            },
        )?;
        rows.collect::<Result<Vec<_>, _>>()
    });
    match rows {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|mut o| {
                    // As the Go version: tags as a list; stored JSON payloads as JSON.
                    let tags = match o.get("tags") {
                        Some(Value::String(t)) if !t.is_empty() => Value::Array(
                            t.split(',').map(|s| Value::String(s.to_string())).collect(),
                        ),
                        _ => Value::Array(Vec::new()),
                    };
                    o.insert("tags".into(), tags);
                    if o.get("hits").is_none_or(Value::is_null) {
                        o.insert("hits".into(), Value::from(1));
                    }
                    if let Some(Value::String(qp)) = o.get("query_params") {
                        if let Ok(v) = serde_json::from_str::<Value>(qp) {
                            o.insert("query_params".into(), v);
                        }
                    }
                    Value::Object(o)
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}
