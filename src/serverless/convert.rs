//! Turning JS values into Rust text: `ToString` coercion, console formatting, describing
//! a thrown value, and the panic guard every native function runs under.
//!
//! All of these may run script code (a user `toString`, a getter on a thrown object), so
//! callers invoke them while the request's deadline is still armed; failures fall back to
//! fixed text instead of propagating, because they happen while reporting another error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rquickjs::{convert::Coerced, qjs, Ctx, Exception, Object, Value};

/// `String(v)` as a Rust string, or a JS exception (pending on the context) if the
/// coercion throws, e.g. for an object whose `toString` throws.
pub(super) fn to_text(v: &Value<'_>) -> rquickjs::Result<String> {
    if let Some(s) = v.as_string() {
        return lossy(s);
    }
    if let Some(sym) = v.as_symbol() {
        // ToString on a Symbol throws; String(sym) does not. Match String().
        let desc = sym
            .description()
            .ok()
            .and_then(|d| d.as_string().and_then(|s| lossy(s).ok()))
            .unwrap_or_default();
        return Ok(format!("Symbol({desc})"));
    }
    lossy(&v.get::<Coerced<rquickjs::String>>()?.0)
}

/// A JS string as Rust text. JS strings may hold lone UTF-16 surrogates, which UTF-8
/// cannot; they become U+FFFD instead of failing the conversion (rquickjs's
/// `String::to_string` refuses them).
pub(super) fn lossy(s: &rquickjs::String<'_>) -> rquickjs::Result<String> {
    let raw_ctx = s.ctx().as_raw().as_ptr();
    let mut len: usize = 0;
    // SAFETY: `s` is a live string of this context; the C string is freed right after
    // being copied.
    unsafe {
        let ptr = qjs::JS_ToCStringLen(raw_ctx, &mut len, s.as_raw());
        if ptr.is_null() {
            // Out of memory; the exception is pending on the context.
            return Err(rquickjs::Error::Exception);
        }
        let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
        let text = String::from_utf8_lossy(bytes).into_owned();
        qjs::JS_FreeCString(raw_ctx, ptr);
        Ok(text)
    }
}

/// One console argument as text: strings as they are, errors by their stack, other
/// objects as JSON when they have a JSON form, everything else by `String(v)`.
pub(super) fn console_text<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> String {
    if v.is_string() {
        return text_or(ctx, v, "[unprintable string]");
    }
    if v.is_error() {
        if let Some(obj) = v.as_object() {
            let (message, stack) = describe_error_object(ctx, obj);
            return match stack {
                Some(stack) => format!("{message}\n{stack}"),
                None => message,
            };
        }
    }
    if v.is_object() && !v.is_function() {
        match ctx.json_stringify(v.clone()) {
            Ok(Some(s)) => {
                if let Ok(s) = lossy(&s) {
                    return s;
                }
            }
            Ok(None) => {}
            Err(_) => {
                // Cycles, BigInts: fall back to String(v).
                ctx.catch();
            }
        }
    }
    text_or(ctx, v, "[unprintable value]")
}

fn text_or<'js>(ctx: &Ctx<'js>, v: &Value<'js>, fallback: &str) -> String {
    match to_text(v) {
        Ok(s) => s,
        Err(_) => {
            ctx.catch();
            fallback.to_owned()
        }
    }
}

/// Describes a thrown value as (`message`, `stack`): `Name: message` and the `stack`
/// property for Error objects, `String(v)` for anything else.
pub(super) fn describe_thrown<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> (String, Option<String>) {
    if let Some(obj) = v.as_object() {
        if v.is_error() {
            return describe_error_object(ctx, obj);
        }
    }
    (text_or(ctx, v, "[unprintable thrown value]"), None)
}

fn describe_error_object<'js>(ctx: &Ctx<'js>, obj: &Object<'js>) -> (String, Option<String>) {
    let prop = |name: &str| -> Option<String> {
        match obj.get::<_, Value>(name) {
            Ok(v) if v.is_undefined() || v.is_null() => None,
            Ok(v) => Some(text_or(ctx, &v, "")).filter(|s| !s.is_empty()),
            Err(_) => {
                ctx.catch();
                None
            }
        }
    };
    let name = prop("name").unwrap_or_else(|| "Error".to_owned());
    let message = match prop("message") {
        Some(m) => format!("{name}: {m}"),
        None => name,
    };
    (message, prop("stack"))
}

/// Runs a native function's body so that a panic (from the host, or a bug here) becomes
/// a JS `InternalError` instead of unwinding through QuickJS's C frames, which rquickjs
/// would otherwise stash and re-raise far from its cause.
pub(super) fn guard<'js, R>(
    ctx: &Ctx<'js>,
    what: &str,
    f: impl FnOnce() -> rquickjs::Result<R>,
) -> rquickjs::Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            log::error!("serverless: panic inside {what}");
            Err(Exception::throw_internal(
                ctx,
                &format!("{what} failed internally"),
            ))
        }
    }
}

/// Cuts `s` to at most `max` bytes at a char boundary, marking the cut with `…`.
pub(super) fn truncate(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn truncate_marks_cut() {
        assert_eq!(truncate("hello".into(), 10), "hello");
        assert_eq!(truncate("hello world".into(), 8), "hello…");
        assert_eq!(truncate("ééé".into(), 4), "…");
    }

    proptest! {
        #[test]
        fn truncate_respects_bound(s in ".{0,50}", max in 3usize..60) {
            let t = truncate(s.clone(), max);
            prop_assert!(t.len() <= max);
            if s.len() <= max { prop_assert_eq!(t, s); }
        }
    }
}
