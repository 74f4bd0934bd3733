//! Compile-once bytecode: turning a script's source into QuickJS bytecode, the in-memory
//! cache of that bytecode shared by all workers, and loading + running it in a fresh
//! context.
//!
//! rquickjs only exposes bytecode for ES modules, but `main.js` / `api/main.js` are
//! classic scripts (top-level `var`s, a completion value), so this file talks to the
//! QuickJS C API directly: `JS_Eval(.., JS_EVAL_FLAG_COMPILE_ONLY)` to compile,
//! `JS_WriteObject` / `JS_ReadObject` to (de)serialise and `JS_EvalFunction` to run.
//!
//! Why cache bytes and not function objects: a compiled function object is bound to the
//! context (realm) it was created in, and every request gets a fresh context, so the
//! cacheable unit is the serialised form. Reading it back is a copy of the already-parsed
//! code, far cheaper than parsing (see the engine doc for numbers). Bytecode is only ever
//! produced by this process from the same QuickJS build, which is what makes
//! `JS_READ_OBJ_BYTECODE` safe here (QuickJS does not validate bytecode it reads).

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Mutex};

use rquickjs::{qjs, Ctx, Value};

use super::ScriptKind;

/// The outcome of compiling one version of a script. Syntax errors are cached too, so a
/// broken deployment costs one parse, not one per request.
#[derive(Debug)]
pub(super) struct Compiled {
    pub hash: String,
    pub code: Result<Vec<u8>, String>,
}

#[derive(Default)]
struct SiteEntry {
    main: Option<Arc<Compiled>>,
    api: Option<Arc<Compiled>>,
}

impl SiteEntry {
    fn slot(&mut self, kind: ScriptKind) -> &mut Option<Arc<Compiled>> {
        match kind {
            ScriptKind::Main => &mut self.main,
            ScriptKind::Api => &mut self.api,
        }
    }
}

/// One entry per (site, kind): a new hash replaces the old entry, so the cache holds at
/// most two scripts per site and never grows with redeployments.
#[derive(Default)]
pub(super) struct BytecodeCache {
    sites: Mutex<HashMap<String, SiteEntry>>,
}

impl BytecodeCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SiteEntry>> {
        // A panic while holding this lock cannot leave the map half-updated (every
        // update is a single assignment), so a poisoned lock is safe to keep using.
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached compilation of (`site`, `kind`) if it is of content `hash`.
    pub fn get(&self, site: &str, kind: ScriptKind, hash: &str) -> Option<Arc<Compiled>> {
        let mut sites = self.lock();
        let entry = sites.get_mut(site)?;
        entry
            .slot(kind)
            .as_ref()
            .filter(|c| c.hash == hash)
            .cloned()
    }

    pub fn put(&self, site: &str, kind: ScriptKind, compiled: Arc<Compiled>) {
        let mut sites = self.lock();
        *sites.entry(site.to_owned()).or_default().slot(kind) = Some(compiled);
    }

    /// Drops everything cached for `site` (site deleted or renamed).
    pub fn forget(&self, site: &str) {
        self.lock().remove(site);
    }

    #[cfg(test)]
    pub fn sites(&self) -> usize {
        self.lock().len()
    }
}

/// `main.js` as the body of a function expression, on its first line (so line numbers
/// in errors and stacks stay the script's own): what a warm context calls per request.
pub(super) fn as_function_body(source: &str) -> String {
    format!("(function () {{{source}\n}})")
}

/// Compiles `source` as a global (non-module) script named `file_name`. On failure the
/// exception (a `SyntaxError`, or an out-of-memory `InternalError`) is left pending on
/// `ctx` for [`Ctx::catch`].
pub(super) fn compile<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    file_name: &str,
) -> rquickjs::Result<Value<'js>> {
    // JS_Eval requires input[len] == 0 even though it is also given the length.
    let mut input = Vec::with_capacity(source.len().saturating_add(1));
    input.extend_from_slice(source.as_bytes());
    input.push(0);
    let file = CString::new(file_name)?;
    let flags = (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    // SAFETY: `input` is NUL-terminated and outlives the call; the returned value is
    // owned and handed to `Value`, which frees it.
    unsafe {
        let v = qjs::JS_Eval(
            ctx.as_raw().as_ptr(),
            input.as_ptr().cast(),
            source.len() as _,
            file.as_ptr(),
            flags as _,
        );
        owned(ctx, v)
    }
}

/// Serialises a compiled script (from [`compile`]) to bytes.
pub(super) fn write(ctx: &Ctx<'_>, func: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    let mut len: qjs::size_t = 0;
    // SAFETY: `func` is a live value of this context; the buffer returned is allocated
    // with js_malloc on this context, copied out, then freed with js_free.
    unsafe {
        let raw = ctx.as_raw().as_ptr();
        let buf = qjs::JS_WriteObject(
            raw,
            &mut len,
            func.as_raw(),
            qjs::JS_WRITE_OBJ_BYTECODE as _,
        );
        if buf.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let bytes = std::slice::from_raw_parts(buf, len as usize).to_vec();
        qjs::js_free(raw, buf.cast());
        Ok(bytes)
    }
}

/// Loads bytes written by [`write`] into `ctx` as a function object.
pub(super) fn read<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    // SAFETY: `bytes` was produced by `write` in this process (same QuickJS build), the
    // only input JS_READ_OBJ_BYTECODE may be trusted with.
    unsafe {
        let v = qjs::JS_ReadObject(
            ctx.as_raw().as_ptr(),
            bytes.as_ptr(),
            bytes.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as _,
        );
        owned(ctx, v)
    }
}

/// Runs a compiled script; returns its completion value.
pub(super) fn run<'js>(ctx: &Ctx<'js>, func: &Value<'js>) -> rquickjs::Result<Value<'js>> {
    // SAFETY: JS_EvalFunction consumes its argument, so it gets its own reference.
    unsafe {
        let raw = ctx.as_raw().as_ptr();
        let v = qjs::JS_EvalFunction(raw, qjs::JS_DupValue(raw, func.as_raw()));
        owned(ctx, v)
    }
}

/// Wraps an owned C value, mapping `JS_EXCEPTION` to `Error::Exception` (the exception
/// itself stays pending on the context).
///
/// # Safety
/// `v` must be owned by the caller and belong to `ctx`'s runtime.
unsafe fn owned<'js>(ctx: &Ctx<'js>, v: qjs::JSValue) -> rquickjs::Result<Value<'js>> {
    if qjs::JS_IsException(v) {
        Err(rquickjs::Error::Exception)
    } else {
        Ok(Value::from_raw(ctx.clone(), v))
    }
}
