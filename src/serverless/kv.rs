//! The `db` global: `db.get(key)`, `db.set(key, value)`, `db.delete(key)` and
//! `db.incr(key, by = 1)` on the site's own KV store, through [`Host`](super::Host) calls
//! that always name the site. A run's `db` calls are serialisable against every other run
//! of the same site (the site lock of `site_lock.rs`, taken at the first call), so
//! `db.get` then `db.set` never loses an update; `db.incr` stores and returns the number
//! (a missing key counts as 0, a value that is not a number throws a `TypeError`). After
//! the run's time is up every `db` call throws, so a loop of them stops at once.
//!
//! A run's writes are its own until it ends (its `db.get` reads them back): a run that ends
//! well has them committed together in one transaction before its request is answered, and
//! a run that fails (throws, times out, runs out of memory) has none of them kept. The next
//! run of the site sees them at once, committed or not yet (`overlay.rs`).
//!
//! Storage format, kept from fazt's Go runtime so existing data reads the same: a string
//! value is stored as it is, any other value as `JSON.stringify(value)` (`undefined`,
//! functions and symbols, which have no JSON form, as `null`). `get` returns
//! `JSON.parse(stored)` when the stored text is JSON and the text itself otherwise, and
//! `null` for a missing key — so `db.set('n', 5)` reads back as the number 5, and so does
//! `db.set('n', '5')`. Keys must be non-empty strings of at most `max_key_bytes`; values
//! at most `max_value_bytes` after serialisation; both caps throw a `RangeError`, a
//! wrong type a `TypeError`, and a host failure (e.g. the site's KV quota) an `Error`
//! carrying the host's message.

use std::rc::Rc;

use rquickjs::{function::Opt, Ctx, Exception, Function, Object, Value};

use super::convert::{guard, lossy};
use super::globals::Scope;

pub(super) fn install<'js>(ctx: &Ctx<'js>, scope: &Rc<Scope>) -> rquickjs::Result<()> {
    let db = Object::new(ctx.clone())?;

    let s = scope.clone();
    db.set(
        "get",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, key: Opt<Value<'js>>| {
            guard(&ctx, "db.get", || {
                let key = checked_key(&ctx, &s, "db.get", key.0)?;
                ready(&ctx, &s, "db.get")?;
                match current(&s, &key) {
                    Ok(Some(raw)) => parse_stored(&ctx, raw),
                    Ok(None) => Ok(Value::new_null(ctx.clone())),
                    Err(e) => Err(Exception::throw_message(&ctx, &format!("db.get: {e}"))),
                }
            })
        })?,
    )?;

    let s = scope.clone();
    db.set(
        "set",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, key: Opt<Value<'js>>, value: Opt<Value<'js>>| {
                guard(&ctx, "db.set", || {
                    let key = checked_key(&ctx, &s, "db.set", key.0)?;
                    let stored = serialise(&ctx, value.0)?;
                    store(&ctx, &s, "db.set", &key, &stored)
                })
            },
        )?,
    )?;

    let s = scope.clone();
    db.set(
        "delete",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, key: Opt<Value<'js>>| {
            guard(&ctx, "db.delete", || {
                let key = checked_key(&ctx, &s, "db.delete", key.0)?;
                ready(&ctx, &s, "db.delete")?;
                let earlier = s.writes.borrow_mut().insert(key.clone(), None);
                if let Some(Some(v)) = earlier {
                    s.pending_bytes
                        .set(s.pending_bytes.get() - (key.len() + v.len()) as i64);
                }
                Ok(())
            })
        })?,
    )?;

    let s = scope.clone();
    db.set(
        "incr",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, key: Opt<Value<'js>>, by: Opt<Value<'js>>| {
                guard(&ctx, "db.incr", || {
                    let key = checked_key(&ctx, &s, "db.incr", key.0)?;
                    let by = match by.0 {
                        None => 1.0,
                        Some(v) if v.is_undefined() => 1.0,
                        Some(v) => v.as_number().filter(|n| n.is_finite()).ok_or_else(|| {
                            Exception::throw_type(
                                &ctx,
                                "db.incr: the increment must be a finite number",
                            )
                        })?,
                    };
                    ready(&ctx, &s, "db.incr")?;
                    let current = match current(&s, &key) {
                        Ok(None) => 0.0,
                        // Values are JSON text; serde_json's number parser is already in
                        // the binary, core's `f64::from_str` (12 KB of tables) would not be.
                        Ok(Some(raw)) => serde_json::from_str::<f64>(raw.trim())
                            .ok()
                            .filter(|n| n.is_finite())
                            .ok_or_else(|| {
                                Exception::throw_type(
                                    &ctx,
                                    &format!("db.incr: the value of '{key}' is not a number"),
                                )
                            })?,
                        Err(e) => {
                            return Err(Exception::throw_message(&ctx, &format!("db.incr: {e}")))
                        }
                    };
                    let next = current + by;
                    let stored = ctx
                        .json_stringify(next)?
                        .map_or(Ok("null".to_owned()), |j| lossy(&j))?;
                    store(&ctx, &s, "db.incr", &key, &stored)?;
                    Ok(next)
                })
            },
        )?,
    )?;

    ctx.globals().set("db", db)
}

/// [`Scope::kv_ready`] as a JS error.
fn ready(ctx: &Ctx<'_>, scope: &Scope, what: &str) -> rquickjs::Result<()> {
    scope
        .kv_ready(what)
        .map_err(|m| Exception::throw_message(ctx, &m))
}

/// Checks the value cap, then stores `stored` under `key`.
fn store(
    ctx: &Ctx<'_>,
    scope: &Scope,
    what: &str,
    key: &str,
    stored: &str,
) -> rquickjs::Result<()> {
    let max = scope.limits.max_value_bytes;
    if stored.len() > max {
        return Err(Exception::throw_range(
            ctx,
            &format!(
                "{what}: value of {} bytes exceeds the limit of {max} bytes",
                stored.len()
            ),
        ));
    }
    ready(ctx, scope, what)?;
    // Bytes the run's other keys will add (a key set twice counts once, at its last size).
    let earlier = scope.writes.borrow().get(key).map_or(0, |v| {
        v.as_ref().map_or(0, |v| (key.len() + v.len()) as i64)
    });
    let others = scope.pending_bytes.get() - earlier;
    scope
        .host
        .kv_admit(&scope.site, key, stored, others)
        .map_err(|e| Exception::throw_message(ctx, &format!("{what}: {e}")))?;
    scope
        .pending_bytes
        .set(others + (key.len() + stored.len()) as i64);
    scope
        .writes
        .borrow_mut()
        .insert(key.to_owned(), Some(stored.to_owned()));
    Ok(())
}

/// What `key` holds for this run: its own writes, then other runs' not yet committed, then
/// the host's store.
fn current(scope: &Scope, key: &str) -> Result<Option<String>, String> {
    if let Some(v) = scope.writes.borrow().get(key) {
        return Ok(v.clone());
    }
    if let Some(v) = scope.overlay.get(&scope.site, key) {
        return Ok(v);
    }
    scope.host.kv_get(&scope.site, key)
}

fn checked_key<'js>(
    ctx: &Ctx<'js>,
    scope: &Scope,
    what: &str,
    key: Option<Value<'js>>,
) -> rquickjs::Result<String> {
    let key = match key.as_ref().and_then(|k| k.as_string()) {
        Some(k) => lossy(k)?,
        None => {
            return Err(Exception::throw_type(
                ctx,
                &format!("{what}: key must be a string"),
            ))
        }
    };
    if key.is_empty() {
        return Err(Exception::throw_type(
            ctx,
            &format!("{what}: key must not be empty"),
        ));
    }
    let max = scope.limits.max_key_bytes;
    if key.len() > max {
        return Err(Exception::throw_range(
            ctx,
            &format!(
                "{what}: key of {} bytes exceeds the limit of {max} bytes",
                key.len()
            ),
        ));
    }
    Ok(key)
}

/// The stored text for `value` (see the module doc).
fn serialise<'js>(ctx: &Ctx<'js>, value: Option<Value<'js>>) -> rquickjs::Result<String> {
    let value = match value {
        Some(v) => v,
        None => return Ok("null".to_owned()),
    };
    if let Some(s) = value.as_string() {
        return lossy(s);
    }
    match ctx.json_stringify(value)? {
        Some(json) => lossy(&json),
        None => Ok("null".to_owned()),
    }
}

/// `JSON.parse(raw)` if `raw` is JSON, else `raw` as a JS string.
fn parse_stored<'js>(ctx: &Ctx<'js>, raw: String) -> rquickjs::Result<Value<'js>> {
    // Only text that can start a JSON value is worth a parse attempt: a failed parse
    // builds a SyntaxError object, which plain text values would pay for on every get.
    let looks_json = matches!(
        raw.trim_start().bytes().next(),
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    );
    if looks_json {
        match ctx.json_parse(raw.as_str()) {
            Ok(v) => return Ok(v),
            Err(rquickjs::Error::Exception) => {
                let thrown = ctx.catch();
                // An interrupt or out-of-memory must not be swallowed as "not JSON".
                if thrown.is_uncatchable_error() || thrown.is_null() || is_out_of_memory(&thrown) {
                    return Err(ctx.throw(thrown));
                }
            }
            // e.g. a NUL byte, which JSON text cannot hold unescaped anyway.
            Err(_) => {}
        }
    }
    Ok(rquickjs::String::from_str(ctx.clone(), &raw)?.into_value())
}

/// Whether `v` is QuickJS's out-of-memory error (`InternalError: out of memory`).
pub(super) fn is_out_of_memory(v: &Value<'_>) -> bool {
    let Some(e) = v.as_exception() else {
        return false;
    };
    let name = e.get::<_, String>("name").ok();
    name.as_deref() == Some("InternalError") && e.message().as_deref() == Some("out of memory")
}
