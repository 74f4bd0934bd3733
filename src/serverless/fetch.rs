//! The `fetch` global, synchronous as in fazt's Go runtime: `fetch(url, {method, headers,
//! body})` returns `{status, ok, url, headers, text(), json()}` once the answer is in. The
//! engine checks what it can without the network — an `http`/`https` URL, a method token,
//! header names and values that cannot split a request, at most [`MAX_FETCHES`] per
//! request, the script's time left — and the [`Host`](super::Host) does the rest (its
//! address policy, redirects, the size cap). Failures throw a `TypeError`, as a browser's
//! network errors do.

use std::rc::Rc;
use std::time::Instant;

use rquickjs::{function::Opt, Ctx, Exception, Function, Object, Value};

use super::convert::{guard, to_text};
use super::globals::Scope;
use super::FetchRequest;

/// Fetches one request may make.
pub(super) const MAX_FETCHES: usize = 16;

/// `text()` and `json()` of every response, on its prototype.
const PROTO: &str =
    "({ text: function () { return this.body; }, json: function () { return JSON.parse(this.body); } })";

pub(super) fn install<'js>(ctx: &Ctx<'js>, scope: &Rc<Scope>) -> rquickjs::Result<()> {
    let s = scope.clone();
    let fetch = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, url: Opt<Value<'js>>, init: Opt<Value<'js>>| {
            guard(&ctx, "fetch", || run(&ctx, &s, url.0, init.0))
        },
    )?;
    ctx.globals().set("fetch", fetch)
}

fn run<'js>(
    ctx: &Ctx<'js>,
    s: &Scope,
    url: Option<Value<'js>>,
    init: Option<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let fail = |m: String| Exception::throw_type(ctx, &format!("fetch: {m}"));
    let url = match url.as_ref().and_then(|u| u.as_string()) {
        Some(u) => u.to_string()?,
        None => return Err(fail("the URL must be a string".into())),
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(fail(format!("only http:// and https:// URLs, not {url:?}")));
    }
    let n = s.fetches.get() + 1;
    if n > MAX_FETCHES {
        return Err(fail(format!(
            "more than {MAX_FETCHES} fetches in one request"
        )));
    }
    s.fetches.set(n);
    let timeout = match s.deadline.get() {
        Some(d) => d
            .checked_duration_since(Instant::now())
            .filter(|t| !t.is_zero())
            .ok_or_else(|| fail("the script's time is up".into()))?,
        None => s.limits.cpu_time,
    };
    let mut req = FetchRequest {
        method: "GET".into(),
        url,
        headers: Vec::new(),
        body: Vec::new(),
        timeout,
    };
    if let Some(init) = init.as_ref().and_then(|v| v.as_object()) {
        if let Some(m) = init.get::<_, Option<String>>("method")? {
            let m = m.to_ascii_uppercase();
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(fail(format!("invalid method {m:?}")));
            }
            req.method = m;
        }
        if let Some(h) = init.get::<_, Option<Object>>("headers")? {
            for key in h.keys::<String>() {
                let k = key?;
                let v: Value = h.get(k.as_str())?;
                let v = to_text(&v)?;
                let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
                if k.is_empty()
                    || !k.bytes().all(token)
                    || v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
                {
                    return Err(fail(format!("invalid header {k:?}")));
                }
                req.headers.push((k, v));
            }
        }
        let body: Value = init.get("body")?;
        if !body.is_undefined() && !body.is_null() {
            req.body = to_text(&body)?.into_bytes();
        }
    }
    let r = s.host.fetch(&s.site, &req).map_err(fail)?;
    let proto: Object = ctx.eval(PROTO)?;
    let out = Object::new(ctx.clone())?;
    out.set_prototype(Some(&proto))?;
    out.set("status", r.status)?;
    out.set("ok", (200..300).contains(&r.status))?;
    out.set("url", r.url.as_str())?;
    let headers = Object::new(ctx.clone())?;
    for (k, v) in &r.headers {
        // Repeated headers are joined, as the Fetch standard's Headers.get does.
        let joined = match headers.get::<_, Option<String>>(k.as_str())? {
            Some(prev) => format!("{prev}, {v}"),
            None => v.clone(),
        };
        headers.set(k.as_str(), joined)?;
    }
    out.set("headers", headers)?;
    out.set("body", String::from_utf8_lossy(&r.body).as_ref())?;
    Ok(out.into_value())
}
