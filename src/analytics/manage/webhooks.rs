//! `/api/webhooks`: endpoints that accept `POST /webhook/{endpoint}` on the admin host. A
//! secret is never shown again after it is set (a generated one is returned once).

use rusqlite::params;
use serde_json::{json, Map, Value};

use super::{opt_str, read_object, valid_key, Ctx, Table, Write};
use crate::envelope::{bad_request, error, internal};
use crate::kernel::db::migrate::hex;
use crate::kernel::db::now;
use crate::kernel::http::{Body, Response};

const SECRET_MAX: usize = 256;

fn webhook_json(cx: &Ctx<'_>, r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let endpoint: String = r.get(2)?;
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "name": r.get::<_, String>(1)?,
        "endpoint": endpoint,
        "has_secret": r.get::<_, bool>(3)?,
        "is_active": r.get::<_, Option<i64>>(4)?.unwrap_or(1) != 0,
        "created_at": r.get::<_, Option<i64>>(5).ok().flatten(),
        "url": cx.url(&format!("webhook/{endpoint}")),
    }))
}

pub const WEBHOOKS: Table = Table {
    name: "webhooks",
    key_col: "endpoint",
    columns: "id, COALESCE(name, ''), COALESCE(endpoint, ''), COALESCE(secret, '') != '', is_active, created_at",
    list_order: "id DESC",
    noun: "webhook",
    action: "webhook",
    to_json: webhook_json,
};

/// `"secret"`: a string (empty removes it), or `true` to generate one.
fn secret_of(o: &Map<String, Value>) -> Result<Option<(String, bool)>, Response> {
    match o.get("secret") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(true)) => {
            let mut b = [0u8; 32];
            getrandom::getrandom(&mut b).map_err(|e| internal(format!("no randomness: {e}")))?;
            Ok(Some((hex(&b), true)))
        }
        Some(Value::Bool(false)) => Ok(Some((String::new(), false))),
        Some(Value::String(s)) if s.len() <= SECRET_MAX => Ok(Some((s.clone(), false))),
        Some(Value::String(_)) => Err(bad_request(format!(
            "'secret' may be at most {SECRET_MAX} bytes"
        ))),
        Some(_) => Err(bad_request(
            "'secret' must be a string, or true to generate one",
        )),
    }
}

fn active_of(o: &Map<String, Value>) -> Result<Option<bool>, Response> {
    match o.get("is_active") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(Some(n.as_i64() == Some(1)))
        }
        Some(_) => Err(bad_request("'is_active' must be true or false")),
    }
}

fn name_of(o: &Map<String, Value>) -> Result<Option<String>, Response> {
    match opt_str(o, "name")? {
        None => Ok(None),
        Some(n) if !n.is_empty() && n.len() <= 100 => Ok(Some(n.to_string())),
        Some(_) => Err(bad_request("'name' must be 1 to 100 characters")),
    }
}

fn endpoint_of(o: &Map<String, Value>) -> Result<Option<String>, Response> {
    match opt_str(o, "endpoint")? {
        None => Ok(None),
        Some(e) if valid_key(e) => Ok(Some(e.to_string())),
        Some(e) => Err(bad_request(format!(
            "'{e}' is not a valid endpoint: use A-Z, a-z, 0-9, '_', '-' and '.', 1 to 64 characters"
        ))),
    }
}

/// The webhook as JSON, plus a freshly generated secret (shown this once).
fn with_secret(v: Value, generated: Option<&str>) -> Value {
    match (v, generated) {
        (Value::Object(mut o), Some(s)) => {
            o.insert("secret".into(), Value::String(s.to_string()));
            Value::Object(o)
        }
        (v, _) => v,
    }
}

/// `POST /api/webhooks`.
pub fn create(cx: &Ctx<'_>, body: &mut Body<'_>) -> Response {
    save(cx, body, None)
}

/// `PUT /api/webhooks/{id}`.
pub fn update(cx: &Ctx<'_>, body: &mut Body<'_>, id: &str) -> Response {
    save(cx, body, Some(id))
}

/// Creates (`id` = None) or updates a webhook.
fn save(cx: &Ctx<'_>, body: &mut Body<'_>, id: Option<&str>) -> Response {
    let o = match read_object(body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let fields = (name_of(&o), endpoint_of(&o), secret_of(&o), active_of(&o));
    let (name, endpoint, secret, active) = match fields {
        (Ok(n), Ok(e), Ok(s), Ok(act)) => (n, e, s, act),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return r,
    };
    let generated = secret.as_ref().filter(|(_, g)| *g).map(|(s, _)| s.clone());
    let secret = secret.map(|(s, _)| s);
    if id.is_none() && (name.is_none() || endpoint.is_none()) {
        return bad_request("'name' and 'endpoint' are required");
    }
    let target = id.map(str::to_string);
    let (n2, e2, s2) = (name.clone(), endpoint.clone(), secret.clone());
    let r = cx
        .analytics
        .db
        .write(move |c| -> rusqlite::Result<Write<i64>> {
            let tx = c.transaction()?;
            let wid = match &target {
                None => {
                    if WEBHOOKS.key_taken(&tx, e2.as_deref().unwrap_or(""), -1)? {
                        return Ok(Write::Conflict);
                    }
                    tx.execute(
                        "INSERT INTO webhooks (name, endpoint, secret, is_active, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            n2,
                            e2,
                            s2.unwrap_or_default(),
                            active.unwrap_or(true),
                            now()
                        ],
                    )?;
                    tx.last_insert_rowid()
                }
                Some(target) => {
                    let Some(wid) = WEBHOOKS.find_id(&tx, target)? else {
                        return Ok(Write::NotFound);
                    };
                    if let Some(e) = &e2 {
                        if WEBHOOKS.key_taken(&tx, e, wid)? {
                            return Ok(Write::Conflict);
                        }
                        WEBHOOKS.set(&tx, wid, "endpoint", e)?;
                    }
                    if let Some(n) = &n2 {
                        WEBHOOKS.set(&tx, wid, "name", n)?;
                    }
                    if let Some(s) = &s2 {
                        WEBHOOKS.set(&tx, wid, "secret", s)?;
                    }
                    if let Some(act) = active {
                        WEBHOOKS.set(&tx, wid, "is_active", &act)?;
                    }
                    wid
                }
            };
            tx.commit()?;
            Ok(Write::Done(wid))
        });
    let what = id.map_or_else(|| endpoint.clone().unwrap_or_default(), str::to_string);
    match r {
        Ok(Write::Done(wid)) => {
            let action = if id.is_some() {
                "webhook.update"
            } else {
                "webhook.create"
            };
            cx.audit(
                action,
                &what,
                &json!({
                    "name": name, "endpoint": endpoint, "secret_changed": secret.is_some(), "is_active": active,
                }),
            );
            let status = if id.is_some() { 200 } else { 201 };
            WEBHOOKS.saved(cx, wid, status, |v| with_secret(v, generated.as_deref()))
        }
        Ok(Write::NotFound) => WEBHOOKS.not_found(&what),
        Ok(Write::Conflict) => error(
            409,
            "CONFLICT",
            format!(
                "endpoint '{}' is already in use",
                endpoint.unwrap_or_default()
            ),
        ),
        Err(e) => internal(e),
    }
}
