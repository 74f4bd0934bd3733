//! The `res` global of `main.js` and the response it accumulates.
//!
//! - `res.send(value)`: appends `value` (a string as it is, `undefined` as nothing,
//!   anything else as `String(value)`) to the body; Content-Type defaults to
//!   `text/html; charset=utf-8`. Several calls append.
//! - `res.json(value)`: replaces the body with `JSON.stringify(value)` (`null` when the
//!   value has no JSON form); Content-Type defaults to `application/json`.
//! - `res.status(code)`: an integer in 100..=599, else `RangeError`.
//! - `res.header(name, value)`: `value` is `String(value)`; replaces an earlier header of
//!   the same name (case-insensitive) except `Set-Cookie`, which adds another line; names
//!   must be HTTP tokens and values free of control characters (`TypeError`); framing
//!   headers (`Content-Length`, `Transfer-Encoding`, `Connection`, …) are refused
//!   (`TypeError`); more than `max_headers` headers → `RangeError`.
//!
//! All four return `res`, so calls chain (`res.status(201).json(x)`). A body growing past
//! `max_response_body` throws a `RangeError`. The default Content-Type is the one of the
//! last `send`/`json` call and only applies when the script set no `Content-Type`; a
//! script that never calls either gets an empty 200 with no Content-Type.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::{
    function::{Opt, This},
    Ctx, Exception, Function, Object, Value,
};

use super::convert::{guard, lossy, to_text};
use super::headers::{set_header, HeaderError};
use super::{JsResponse, Limits};

pub(super) const HTML: &str = "text/html; charset=utf-8";
pub(super) const JSON: &str = "application/json";

/// What `res` has been told so far.
pub(super) struct ResponseState {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    default_type: Option<&'static str>,
    max_body: usize,
    max_headers: usize,
}

impl ResponseState {
    pub fn new(limits: &Limits) -> ResponseState {
        ResponseState {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            default_type: None,
            max_body: limits.max_response_body,
            max_headers: limits.max_headers,
        }
    }

    pub fn into_response(self) -> JsResponse {
        with_default_type(self.status, self.headers, self.body, self.default_type)
    }
}

/// Builds a response, adding `Content-Type: default_type` unless one is set.
pub(super) fn with_default_type(
    status: u16,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
    default_type: Option<&'static str>,
) -> JsResponse {
    if let Some(t) = default_type {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".to_owned(), t.to_owned()));
        }
    }
    JsResponse {
        status,
        headers,
        body,
    }
}

/// Whether `v` is an integer HTTP status in 100..=599.
pub(super) fn as_status(v: &Value<'_>) -> Option<u16> {
    let n = v.as_number()?;
    if n.fract() == 0.0 && (100.0..=599.0).contains(&n) {
        Some(n as u16)
    } else {
        None
    }
}

/// Maps a refused header to the JS error the script sees.
pub(super) fn throw_header_error(ctx: &Ctx<'_>, what: &str, e: HeaderError) -> rquickjs::Error {
    match e {
        HeaderError::Invalid(m) => Exception::throw_type(ctx, &format!("{what}: {m}")),
        HeaderError::TooMany(m) => Exception::throw_range(ctx, &format!("{what}: {m}")),
    }
}

fn too_big(ctx: &Ctx<'_>, what: &str, len: usize, max: usize) -> rquickjs::Error {
    Exception::throw_range(
        ctx,
        &format!("{what}: response body of {len} bytes would exceed the limit of {max} bytes"),
    )
}

pub(super) fn install<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<RefCell<ResponseState>>,
) -> rquickjs::Result<()> {
    let res = Object::new(ctx.clone())?;

    let st = state.clone();
    res.set(
        "send",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, v: Opt<Value<'js>>| {
                guard(&ctx, "res.send", || {
                    let text = match v.0 {
                        Some(v) if !v.is_undefined() => to_text(&v)?,
                        _ => String::new(),
                    };
                    let mut st = st.borrow_mut();
                    let len = st.body.len().saturating_add(text.len());
                    if len > st.max_body {
                        return Err(too_big(&ctx, "res.send", len, st.max_body));
                    }
                    st.body.extend_from_slice(text.as_bytes());
                    st.default_type = Some(HTML);
                    Ok(this.0)
                })
            },
        )?,
    )?;

    let st = state.clone();
    res.set(
        "json",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, v: Opt<Value<'js>>| {
                guard(&ctx, "res.json", || {
                    let v = v.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                    let json = match ctx.json_stringify(v)? {
                        Some(s) => lossy(&s)?,
                        None => "null".to_owned(),
                    };
                    let mut st = st.borrow_mut();
                    if json.len() > st.max_body {
                        return Err(too_big(&ctx, "res.json", json.len(), st.max_body));
                    }
                    st.body = json.into_bytes();
                    st.default_type = Some(JSON);
                    Ok(this.0)
                })
            },
        )?,
    )?;

    let st = state.clone();
    res.set(
        "status",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, code: Opt<Value<'js>>| {
                guard(&ctx, "res.status", || {
                    let status = code.0.as_ref().and_then(as_status).ok_or_else(|| {
                        Exception::throw_range(
                            &ctx,
                            "res.status: code must be an integer from 100 to 599",
                        )
                    })?;
                    st.borrow_mut().status = status;
                    Ok(this.0)
                })
            },
        )?,
    )?;

    let st = state.clone();
    res.set(
        "header",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  this: This<Value<'js>>,
                  name: Opt<Value<'js>>,
                  value: Opt<Value<'js>>| {
                guard(&ctx, "res.header", || {
                    let name = match name.0.as_ref().and_then(|n| n.as_string()) {
                        Some(n) => lossy(n)?,
                        None => {
                            return Err(Exception::throw_type(
                                &ctx,
                                "res.header: name must be a string",
                            ))
                        }
                    };
                    let value = match value.0 {
                        Some(v) if !v.is_undefined() => to_text(&v)?,
                        _ => {
                            return Err(Exception::throw_type(&ctx, "res.header: value is missing"))
                        }
                    };
                    let mut st = st.borrow_mut();
                    let max = st.max_headers;
                    set_header(&mut st.headers, &name, &value, max)
                        .map_err(|e| throw_header_error(&ctx, "res.header", e))?;
                    Ok(this.0)
                })
            },
        )?,
    )?;

    ctx.globals().set("res", res)
}
