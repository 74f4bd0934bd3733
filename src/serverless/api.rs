//! `api/main.js` conventions (fazt's later Go runtime): the `respond` global and the
//! mapping from the script's completion value to the HTTP response.
//!
//! `respond` builds a response envelope, like the Go runtime:
//! - `respond()` → `{status: 200, body: null}`
//! - `respond(404)` (one number) → `{status: 404, body: null}`
//! - `respond(x)` (one non-number) → `{status: 200, body: x}`
//! - `respond(status, body[, headers])` → `{status, body[, headers]}`
//!
//! A status must be an integer in 100..=599 (`RangeError` otherwise). `respond` only
//! builds the object; what counts is the script's completion value (the value of its last
//! expression statement, as `eval` returns it), so a script typically ends with
//! `respond(...)` or an `if` whose branches do. The completion value maps to:
//! - `undefined` / `null` → 200, empty body, no Content-Type.
//! - a string → 200, that body, `text/html; charset=utf-8`.
//! - an envelope: a plain object whose own enumerable keys are a non-empty subset of
//!   `status`, `body`, `headers`, with `status` (if present) a number → that status
//!   (default 200; not an integer in 100..=599 → error), `headers` an object of
//!   name → `String(value)` (same rules as `res.header`), and `body` mapped like a bare
//!   value below but never itself treated as an envelope.
//! - a Promise (e.g. from an async IIFE) → its fulfilled value, mapped as above; a
//!   rejection is an uncaught exception; still pending once all jobs ran → error.
//! - anything else (number, boolean, array, other object) → `JSON.stringify(value)`,
//!   `application/json` (no JSON form, e.g. a function → empty body).
//!
//! Content-Type comes from the envelope's headers when set there. Errors in the shape
//! are thrown as JS `TypeError`/`RangeError`s and reported like uncaught exceptions.

use rquickjs::{function::Rest, Ctx, Exception, Function, Object, Value};

use super::convert::{guard, lossy, to_text};
use super::headers::set_header;
use super::response::{as_status, throw_header_error, with_default_type, HTML, JSON};
use super::{JsResponse, Limits};

pub(super) fn install_respond<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
    let respond = Function::new(ctx.clone(), |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        guard(&ctx, "respond", || {
            let envelope = Object::new(ctx.clone())?;
            let mut args = args.0.into_iter();
            match (args.next(), args.next(), args.next()) {
                (None, ..) => {
                    envelope.set("status", 200)?;
                    envelope.set("body", Value::new_null(ctx.clone()))?;
                }
                (Some(first), None, _) => {
                    if first.is_number() {
                        envelope.set("status", checked_status(&ctx, &first)?)?;
                        envelope.set("body", Value::new_null(ctx.clone()))?;
                    } else {
                        envelope.set("status", 200)?;
                        envelope.set("body", first)?;
                    }
                }
                (Some(status), Some(body), headers) => {
                    envelope.set("status", checked_status(&ctx, &status)?)?;
                    envelope.set("body", body)?;
                    if let Some(h) = headers.filter(|h| !h.is_undefined()) {
                        envelope.set("headers", h)?;
                    }
                }
            }
            Ok(envelope)
        })
    })?;
    ctx.globals().set("respond", respond)
}

fn checked_status(ctx: &Ctx<'_>, v: &Value<'_>) -> rquickjs::Result<u16> {
    as_status(v).ok_or_else(|| {
        Exception::throw_range(ctx, "respond: status must be an integer from 100 to 599")
    })
}

/// Maps a settled completion value (not a Promise) to the response; see the module doc.
pub(super) fn completion_to_response<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
    limits: &Limits,
) -> rquickjs::Result<JsResponse> {
    if let Some(obj) = envelope(value)? {
        let status = match obj.get::<_, Value>("status")? {
            v if v.is_undefined() => 200,
            v => as_status(&v).ok_or_else(|| {
                Exception::throw_range(
                    ctx,
                    "api/main.js result: status must be an integer from 100 to 599",
                )
            })?,
        };
        let mut headers = Vec::new();
        let h: Value = obj.get("headers")?;
        if !h.is_undefined() && !h.is_null() {
            let h = h.into_object().ok_or_else(|| {
                Exception::throw_type(ctx, "api/main.js result: headers must be an object")
            })?;
            for key in h.keys::<String>() {
                let name = key?;
                let v: Value = h.get(name.as_str())?;
                let value = to_text(&v)?;
                set_header(&mut headers, &name, &value, limits.max_headers)
                    .map_err(|e| throw_header_error(ctx, "api/main.js result", e))?;
            }
        }
        let (body, default_type) = body_of(ctx, &obj.get("body")?, limits)?;
        return Ok(with_default_type(status, headers, body, default_type));
    }
    let (body, default_type) = body_of(ctx, value, limits)?;
    Ok(with_default_type(200, Vec::new(), body, default_type))
}

/// The envelope object if `value` has the envelope shape.
fn envelope<'js>(value: &Value<'js>) -> rquickjs::Result<Option<Object<'js>>> {
    let obj = match value.as_object() {
        Some(o) if !value.is_array() && !value.is_function() && !value.is_promise() => o,
        _ => return Ok(None),
    };
    let mut any = false;
    for key in obj.keys::<String>() {
        let key = key?;
        match key.as_str() {
            "status" => {
                if !obj.get::<_, Value>("status")?.is_number() {
                    return Ok(None);
                }
            }
            "body" | "headers" => {}
            _ => return Ok(None),
        }
        any = true;
    }
    Ok(any.then(|| obj.clone()))
}

/// A bare value as a body and its default Content-Type.
fn body_of<'js>(
    ctx: &Ctx<'js>,
    v: &Value<'js>,
    limits: &Limits,
) -> rquickjs::Result<(Vec<u8>, Option<&'static str>)> {
    let (text, kind) = if v.is_undefined() || v.is_null() {
        return Ok((Vec::new(), None));
    } else if let Some(s) = v.as_string() {
        (lossy(s)?, HTML)
    } else {
        match ctx.json_stringify(v.clone())? {
            Some(s) => (lossy(&s)?, JSON),
            None => return Ok((Vec::new(), None)),
        }
    };
    if text.len() > limits.max_response_body {
        return Err(Exception::throw_range(
            ctx,
            &format!(
                "api/main.js result: body of {} bytes exceeds the limit of {} bytes",
                text.len(),
                limits.max_response_body
            ),
        ));
    }
    Ok((text.into_bytes(), Some(kind)))
}
