//! Builds a request's global scope: the request object (`req` for `main.js`, `request` for
//! `api/main.js`), `res` or `respond`, `db`, `console` and `process.env`, `require` (the
//! site's own files only, see `require.rs`), `fetch` (through the host's SSRF guard, see
//! `fetch.rs`) and `socket`. The native objects (`res`, `db`, `console`, `fetch`, `socket`)
//! are made once per context ([`install_builtins`]) and put back on every later run of a
//! warm context ([`restore_builtins`]): making and freeing their ~20 functions on every
//! request was a third of a trivial script's CPU. Their per-run state lives in the
//! [`Scope`] (reset each run) and the response state, both shared with the context.
//!
//! Nothing else is added to QuickJS's standard library: no `std`/`os` modules, no file
//! access — a script can only reach the outside through the [`Host`] calls made here, each
//! naming the script's own site.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::{Ctx, Object, Value};

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

/// The globals [`install_builtins`] makes, for each kind.
fn builtin_names(kind: ScriptKind) -> [&'static str; 5] {
    let answer = match kind {
        ScriptKind::Main => "res",
        ScriptKind::Api => "respond",
    };
    [answer, "db", "console", "fetch", "socket"]
}

/// Makes the native globals of a context's first run of `kind`, bound to `scope` (which
/// the context keeps for its later runs). Returns them as one object, to put back with
/// [`restore_builtins`], and for `main.js` the state `res` writes into.
pub(super) fn install_builtins<'js>(
    ctx: &Ctx<'js>,
    scope: &Rc<Scope>,
    kind: ScriptKind,
) -> rquickjs::Result<(Object<'js>, Option<Rc<RefCell<ResponseState>>>)> {
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
    Ok((kit, state))
}

/// Puts the native globals made by [`install_builtins`] back, in case the last run
/// replaced one (`db = null` at the top level of a sloppy script).
pub(super) fn restore_builtins<'js>(
    ctx: &Ctx<'js>,
    kit: &Object<'js>,
    kind: ScriptKind,
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    for name in builtin_names(kind) {
        globals.set(name, kit.get::<_, Value>(name)?)?;
    }
    Ok(())
}

/// Installs the globals that are new on every run: the request object, `require` (its
/// module registry is per request) and `process.env`.
pub(super) fn install_request<'js>(
    ctx: &Ctx<'js>,
    scope: &Rc<Scope>,
    kind: ScriptKind,
    req: &JsRequest,
    env: &[(String, String)],
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    let request = request_object(ctx, req)?;
    match kind {
        ScriptKind::Main => globals.set("req", request)?,
        ScriptKind::Api => globals.set("request", request)?,
    }
    require::install(ctx, scope)?;
    let env_obj = Object::new(ctx.clone())?;
    for (k, v) in env {
        env_obj.set(k.as_str(), v.as_str())?;
    }
    let process = Object::new(ctx.clone())?;
    process.set("env", env_obj)?;
    globals.set("process", process)
}

/// `{method, path, query, headers, body}`.
fn request_object<'js>(ctx: &Ctx<'js>, req: &JsRequest) -> rquickjs::Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    obj.set("method", req.method.as_str())?;
    obj.set("path", req.path.as_str())?;
    obj.set("query", req.query.as_str())?;
    let headers = Object::new(ctx.clone())?;
    let mut seen: Vec<&str> = Vec::with_capacity(req.headers.len());
    for (name, _) in &req.headers {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        // Repeated headers become one comma-joined value (RFC 9110 §5.3).
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
    obj.set("headers", headers)?;
    obj.set("body", String::from_utf8_lossy(&req.body).as_ref())?;
    Ok(obj)
}
