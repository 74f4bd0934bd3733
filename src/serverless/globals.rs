//! Builds a request's global scope: the request object (`req` for `main.js`, `request` for
//! `api/main.js`), `res` or `respond`, `db`, `console` and `process.env`, `require` (the
//! site's own files only, see `require.rs`), `fetch` (through the host's SSRF guard, see
//! `fetch.rs`) and `socket`. The native objects (`res`, `db`, `console`, `fetch`, `socket`)
//! are made once per context ([`install_builtins`]): making and freeing their ~20 functions
//! on every request was a third of a trivial script's CPU. Every run then calls a small JS
//! prelude ([`install_request`]) that puts them back and adds the per-run globals. Their
//! per-run state lives in the [`Scope`] (reset each run) and the response state, both
//! shared with the context.
//!
//! Nothing else is added to QuickJS's standard library: no `std`/`os` modules, no file
//! access — a script can only reach the outside through the [`Host`] calls made here, each
//! naming the script's own site.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rquickjs::{Ctx, Function, Object, Value};

use super::bytecode;
use super::overlay::{Overlay, Writes};
use super::require::{self, ModuleCache};
use super::response::ResponseState;
use super::site_lock::SiteLocks;
use super::{api, console, fetch, kv, response, Host, JsRequest, Limits, ScriptKind};

/// What the native functions of one request share.
pub(super) struct Scope {
    pub site: Arc<str>,
    pub host: Arc<dyn Host>,
    pub limits: Arc<Limits>,
    log_lines: Cell<usize>,
    logs_dropped: Cell<usize>,
    /// When the run's time is up (set as the run starts); host calls check it.
    pub deadline: Cell<Option<Instant>>,
    locks: Arc<SiteLocks>,
    /// The site-lock stripe this run holds (from its first `db` call to its end).
    held: Cell<Option<usize>>,
    /// Compiled `require`d modules.
    pub modules: Arc<ModuleCache>,
    /// `fetch` calls made so far in this run.
    pub fetches: Cell<usize>,
    /// Other runs' writes not committed yet (see `overlay.rs`).
    pub overlay: Arc<Overlay>,
    /// This run's own writes, published and committed when it ends well.
    pub writes: RefCell<Writes>,
    /// Bytes this run's sets add, for the quota's check.
    pub pending_bytes: Cell<i64>,
}

impl Scope {
    pub fn new(
        site: Arc<str>,
        host: Arc<dyn Host>,
        limits: Arc<Limits>,
        locks: Arc<SiteLocks>,
        modules: Arc<ModuleCache>,
        overlay: Arc<Overlay>,
    ) -> Scope {
        Scope {
            site,
            host,
            limits,
            log_lines: Cell::new(0),
            logs_dropped: Cell::new(0),
            deadline: Cell::new(None),
            locks,
            held: Cell::new(None),
            modules,
            fetches: Cell::new(0),
            overlay,
            writes: RefCell::default(),
            pending_bytes: Cell::new(0),
        }
    }

    /// Before every `db` call: refuses once the run's time is up (so a loop of host calls
    /// cannot outlive its budget between two interrupt checks), and takes the site's lock
    /// on the first call (see `site_lock.rs`). The error is the message to throw.
    pub fn kv_ready(&self, what: &str) -> Result<(), String> {
        let deadline = self.deadline.get();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(format!("{what}: the script's time is up"));
        }
        if self.held.get().is_none() {
            let stripe = self.locks.acquire(&self.site, deadline).map_err(|_| {
                format!("{what}: timed out waiting for another request of this site to finish")
            })?;
            self.held.set(Some(stripe));
        }
        Ok(())
    }

    /// Makes the scope ready for another run of the same site in the same context: the
    /// counters and this run's writes start empty (the previous run published or dropped
    /// its writes and released its lock).
    pub fn reset(&self) {
        self.release_site_lock();
        self.log_lines.set(0);
        self.logs_dropped.set(0);
        self.deadline.set(None);
        self.fetches.set(0);
        self.writes.take();
        self.pending_bytes.set(0);
    }

    /// Ends the run's hold on its site's KV (also done on drop, e.g. after a panic).
    pub fn release_site_lock(&self) {
        if let Some(stripe) = self.held.take() {
            self.locks.release(stripe);
        }
    }

    /// Whether one more console line may be written; counts the ones that may not.
    pub fn take_log_slot(&self) -> bool {
        if self.log_lines.get() < self.limits.max_log_lines {
            self.log_lines.set(self.log_lines.get().saturating_add(1));
            true
        } else {
            self.logs_dropped
                .set(self.logs_dropped.get().saturating_add(1));
            false
        }
    }

    /// Writes the "lines dropped" summary, if any were.
    pub fn flush_log_summary(&self) {
        let dropped = self.logs_dropped.get();
        if dropped > 0 {
            self.host.log(
                &self.site,
                "warn",
                &format!(
                    "{dropped} more console lines dropped (limit {} per request)",
                    self.limits.max_log_lines
                ),
            );
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.release_site_lock();
    }
}

/// The native globals [`install_builtins`] makes, for each kind.
fn builtin_names(kind: ScriptKind) -> [&'static str; 5] {
    let answer = match kind {
        ScriptKind::Main => "res",
        ScriptKind::Api => "respond",
    };
    [answer, "db", "console", "fetch", "socket"]
}

/// The per-run half of the globals, as JS: called with the context's natives (`k`), it
/// returns the function each run calls with the global object and the request. That
/// function puts the natives back (the last run may have replaced one: `db = null` at the
/// top level of a sloppy script) with `require` (one function per context, its module
/// registry new on every run), and sets the request object and `process.env`. Done in
/// Rust, these ~15 property sets were a sixth of a trivial script's instructions (an atom
/// made and a shape looked up for each); here the names are atoms in the bytecode and the
/// objects are literals. Strict, so a global the script made read-only fails the run
/// instead of silently keeping its value.
///
/// `k.shapes` keeps one object of each shape the request object passes through while its
/// literal is built: QuickJS frees a shape with the last object of it, so without them
/// every run built the same five shapes again (~3K instructions a run, 3% of a trivial
/// script). For the same reason `require` is made once: a new closure each run cost
/// another 3K.
fn prelude_source(kind: ScriptKind) -> String {
    let [answer, ..] = builtin_names(kind);
    let request = match kind {
        ScriptKind::Main => "req",
        ScriptKind::Api => "request",
    };
    PRELUDE_TEMPLATE
        .replace("ANSWER", answer)
        .replace("REQUEST", request)
        .replace("BOOT", require::BOOT)
}

/// See [`prelude_source`]; `ANSWER`, `REQUEST` and `BOOT` are filled in per kind.
const PRELUDE_TEMPLATE: &str = r#"(function (k) {
  var boot = BOOT;
  k.shapes = [{}, { method: 0 }, { method: 0, path: 0 }, { method: 0, path: 0, query: 0 },
    { method: 0, path: 0, query: 0, headers: 0 },
    { method: 0, path: 0, query: 0, headers: 0, body: 0 }, { env: 0 }];
  var root;
  function require(spec) { return (root || (root = boot(k.load)))(spec); }
  return function (g, method, path, query, headers, body, env) {
    'use strict';
    root = undefined;
    g.ANSWER = k.ANSWER; g.db = k.db; g.console = k.console; g.fetch = k.fetch;
    g.socket = k.socket; g.require = require;
    g.REQUEST = { method: method, path: path, query: query, headers: headers, body: body };
    g.process = { env: env };
  };
})"#;

/// The prelude's bytecode for each kind, compiled by the first context that needs it:
/// bytecode belongs to the QuickJS build, not to a runtime, so one compilation serves
/// every worker and every later (fresh) context.
static PRELUDE: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];

/// The prelude's outer function in `ctx` (see [`prelude_source`]).
fn prelude<'js>(ctx: &Ctx<'js>, kind: ScriptKind) -> rquickjs::Result<Function<'js>> {
    let slot = match kind {
        ScriptKind::Main => &PRELUDE[0],
        ScriptKind::Api => &PRELUDE[1],
    };
    let code = match slot.get() {
        Some(bytes) => bytecode::read(ctx, bytes)?,
        None => {
            let code = bytecode::compile(ctx, &prelude_source(kind), "<prelude>")?;
            let _ = slot.set(bytecode::write(ctx, &code)?);
            code
        }
    };
    bytecode::run(ctx, &code)?.get()
}

/// Makes the native globals of a context's first run of `kind`, bound to `scope` (which
/// the context keeps for its later runs). Returns the function [`install_request`] calls
/// on every run of this context and, for `main.js`, the state `res` writes into.
pub(super) fn install_builtins<'js>(
    ctx: &Ctx<'js>,
    scope: &Rc<Scope>,
    kind: ScriptKind,
) -> rquickjs::Result<(Function<'js>, Option<Rc<RefCell<ResponseState>>>)> {
    let state = match kind {
        ScriptKind::Main => {
            let state = Rc::new(RefCell::new(ResponseState::new(&scope.limits)));
            response::install(ctx, &state)?;
            Some(state)
        }
        ScriptKind::Api => {
            api::install_respond(ctx)?;
            None
        }
    };
    kv::install(ctx, scope)?;
    console::install(ctx, scope)?;
    fetch::install(ctx, scope)?;
    super::socket::install(ctx, scope)?;
    let globals = ctx.globals();
    let kit = Object::new(ctx.clone())?;
    for name in builtin_names(kind) {
        kit.set(name, globals.get::<_, Value>(name)?)?;
    }
    kit.set("load", require::loader(ctx, scope)?)?;
    let per_run: Function = prelude(ctx, kind)?.call((kit,))?;
    Ok((per_run, state))
}

/// Installs the globals of one run: the natives back in place, the request object (`req`
/// for `main.js`, `request` for `api/main.js`), `require` (its module registry is per
/// request) and `process.env`, by calling `per_run` from [`install_builtins`].
pub(super) fn install_request<'js>(
    ctx: &Ctx<'js>,
    per_run: &Function<'js>,
    req: &JsRequest,
    env: &[(String, String)],
) -> rquickjs::Result<()> {
    let env_obj = Object::new(ctx.clone())?;
    for (k, v) in env {
        env_obj.set(k.as_str(), v.as_str())?;
    }
    per_run.call((
        ctx.globals(),
        req.method.as_str(),
        req.path.as_str(),
        req.query.as_str(),
        headers_object(ctx, req)?,
        String::from_utf8_lossy(&req.body).as_ref(),
        env_obj,
    ))
}

/// The request's headers as an object; repeated headers become one comma-joined value
/// (RFC 9110 §5.3).
fn headers_object<'js>(ctx: &Ctx<'js>, req: &JsRequest) -> rquickjs::Result<Object<'js>> {
    let headers = Object::new(ctx.clone())?;
    let mut seen: Vec<&str> = Vec::with_capacity(req.headers.len());
    for (name, _) in &req.headers {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let mut values = req
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next().unwrap_or("");
        let mut joined = first.to_owned();
        for v in values {
            joined.push_str(", ");
            joined.push_str(v);
        }
        headers.set(name.as_str(), joined)?;
    }
    Ok(headers)
}
