//! Managing short links ([`redirects`]: `/api/redirects`) and webhooks ([`webhooks`]:
//! `/api/webhooks`): list, create, read, update, delete — validated completely before anything
//! is written, checked and written in one writer job (so two creates cannot both take a
//! slug), and audited. Shared here: body and field parsing, `id`-or-name lookups, auditing.

pub mod redirects;
pub mod webhooks;

use serde_json::{Map, Value};

use crate::api::envelope::{bad_request, error};
use crate::api::{audit, Api};
use crate::kernel::http::{Body, Request, Response};

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

pub(super) fn audit(
    api: &Api,
    req: &Request,
    actor: &str,
    action: &str,
    resource: &str,
    details: &Value,
) {
    audit::record(
        &api.db,
        actor,
        action,
        resource,
        &details.to_string(),
        &api.client_ip(req).to_string(),
    );
}

/// Outcome of a check-then-write job.
pub(super) enum Write<T> {
    Done(T),
    NotFound,
    Conflict,
}

pub(super) fn admin_url(api: &Api, req: &Request, path: &str) -> String {
    format!("{}{path}", api.site_url("admin", req))
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
