//! One JS worker: an OS thread owning one QuickJS runtime, running one request at a time.
//!
//! Per request: a context on the reused runtime — the site's warm one for `main.js` when
//! this worker has it (see [`Warm`]: the script is a function there, called again), else a
//! fresh one with the site's cached bytecode loaded — globals installed, the script run
//! under an armed deadline, pending promise jobs drained and the response collected. A
//! fresh context for another site never sees a warm one's objects. After the reply has
//! gone out, [`Worker::tidy`] drops a spent context, runs a GC (QuickJS frees cycles only
//! in GC; collecting now keeps the next request's memory budget whole) and creates the
//! next fresh context, so an idle worker answers its next request without paying for
//! context creation.
//!
//! Limits: the interrupt handler (polled by QuickJS every few thousand bytecodes and in
//! the regex engine) stops the script once the deadline passes, with an uncatchable error;
//! the runtime's allocator (`alloc.rs`) bounds the heap; `JS_SetMaxStackSize` (measured
//! from a stack top refreshed with `JS_UpdateStackTop` at the start of every run, on this
//! thread's own big stack) turns deep recursion into a catchable `RangeError` long before
//! the real stack ends. After a timeout, out-of-memory, panic, or a failed run that left
//! promise jobs queued, the runtime is thrown away and rebuilt (~0.2 ms), so no
//! half-finished state survives into another request.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::{qjs, Context, Ctx, Function, Persistent, Runtime, Value};

use super::alloc::{Budget, LimitedAllocator};
use super::arena_pins::ArenaPins;
use super::bytecode::{self, Compiled};
use super::convert::{describe_thrown, truncate};
use super::engine::{Job, Shared};
use super::globals::{self, Scope};
use super::kv::is_out_of_memory;
use super::response::ResponseState;
use super::{api, JsError, JsResponse, ScriptKind};

/// QuickJS's stack budget. The worker thread's stack ([`WORKER_STACK_BYTES`]) is four
/// times larger, leaving room for the Rust frames below the script and for host calls
/// (SQLite) made from the deepest JS frame. 2 MiB allows ~3,300 nested JS calls in a release build (~330 in a debug build, whose
/// unoptimised C frames are larger). Only the pages a script actually touches become
/// resident.
pub(super) const JS_STACK_BYTES: usize = 2 << 20;
pub(super) const WORKER_STACK_BYTES: usize = 8 << 20;

/// Bounds on the error text kept from a thrown value.
const MAX_MESSAGE_BYTES: usize = 1024;
const MAX_STACK_BYTES: usize = 8192;

/// Promises rejected during a run and not handled (yet): (promise, message, stack).
type Unhandled = Rc<RefCell<Vec<(Persistent<Value<'static>>, String, Option<String>)>>>;

/// A runtime plus the cells its interrupt handler and allocator write.
struct Vm {
    /// Emptied after every run; before `rt`, whose values these are.
    unhandled: Unhandled,
    /// Made with the runtime's first context; before `rt`, whose blocks these are.
    pins: std::cell::OnceCell<ArenaPins>,
    rt: Runtime,
    budget: Rc<Budget>,
    deadline: Rc<Cell<Option<Instant>>>,
    interrupted: Rc<Cell<bool>>,
}

impl Vm {
    fn new(memory_bytes: usize) -> Result<Vm, JsError> {
        let deadline = Rc::new(Cell::new(None::<Instant>));
        let interrupted = Rc::new(Cell::new(false));
        let budget = Budget::new(memory_bytes, deadline.clone(), interrupted.clone());
        let rt = Runtime::new_with_alloc(LimitedAllocator(budget.clone()))
            .map_err(|e| JsError::Internal(format!("cannot create a QuickJS runtime: {e}")))?;
        rt.set_max_stack_size(JS_STACK_BYTES);
        let (d, i) = (deadline.clone(), interrupted.clone());
        rt.set_interrupt_handler(Some(Box::new(move || {
            // Once set, `interrupted` also opens the allocator's small reserve, so the
            // uncatchable "interrupted" error can be allocated even in a full heap (were it
            // not, QuickJS would throw a catchable `null` and the script could go on).
            let stop = i.get() || d.get().is_some_and(|d| Instant::now() >= d);
            if stop {
                i.set(true);
            }
            stop
        })));
        // A promise rejected with no handler by the end of the run is the run's error, as an
        // uncaught exception is (`main.js` runs as a function, so its completion value — a
        // rejected async call, say — is no longer looked at).
        let unhandled: Unhandled = Rc::default();
        let list = unhandled.clone();
        rt.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx: Ctx<'_>, promise: Value<'_>, reason: Value<'_>, handled: bool| {
                if handled {
                    if let Ok(mut l) = list.try_borrow_mut() {
                        l.retain(|(p, ..)| p.clone().restore(&ctx).map_or(true, |v| v != promise));
                    }
                } else {
                    let (message, stack) = describe_thrown(&ctx, &reason);
                    let message = truncate(message, MAX_MESSAGE_BYTES);
                    let stack = stack.map(|s| truncate(s, MAX_STACK_BYTES));
                    if let Ok(mut l) = list.try_borrow_mut() {
                        l.push((Persistent::save(&ctx, promise), message, stack));
                    }
                }
            },
        )));
        Ok(Vm {
            unhandled,
            pins: std::cell::OnceCell::new(),
            rt,
            budget,
            deadline,
            interrupted,
        })
    }
}

impl Vm {
    /// A fresh context on this runtime (see [`new_context`]); the first one also pins the
    /// runtime's small-block arenas (see `arena_pins.rs`).
    fn new_context(&self) -> rquickjs::Result<Context> {
        let ctx = new_context(&self.rt)?;
        self.pins.get_or_init(|| ArenaPins::new(&ctx));
        Ok(ctx)
    }
}

/// Warm contexts kept per worker (each a site's realm with its globals).
const MAX_WARM: usize = 4;

/// A site's context kept between its `main.js` requests: the realm (globals, built-ins)
/// stays, and the script — compiled as the body of a function — runs as a call, so its
/// top-level `var`/`let`/`function` are fresh locals on every request. Fields drop in
/// order: the function before its context.
struct Warm {
    kept: Kept,
    context: Context,
    site: Arc<str>,
    hash: String,
    /// [`Shared::forgotten`] when it was made.
    epoch: u64,
}

/// What a warm context keeps of its first run: the script's function, the per-run prelude
/// bound to the native globals (see [`globals::install_builtins`]) and what the natives
/// share — the response state and the scope, reset for each run.
struct Kept {
    func: Persistent<Function<'static>>,
    per_run: Persistent<Function<'static>>,
    state: Rc<RefCell<ResponseState>>,
    scope: Rc<Scope>,
}

pub(super) struct Worker {
    /// Before `vm`: fields drop in order, and the warm functions need their runtime.
    warm: Vec<Warm>,
    shared: Arc<Shared>,
    vm: Option<Vm>,
    /// A fresh context made after the previous reply, so its ~0.1 ms creation is off the
    /// next request's path when the worker has idle time.
    next: Option<Context>,
    /// The last request's context, dropped (and its garbage collected) after the reply.
    spent: Option<Context>,
    /// Requests run, to collect the warm contexts' cyclic garbage now and then.
    runs: u64,
    /// The last run wrote: its writes are being committed, and its answer goes here.
    pub commit: Option<Arc<super::commit::Meet>>,
}

/// Failures inside a context, before they are classified into [`JsError`]s.
enum Failure {
    /// A JS exception, already described (the value itself cannot leave the context).
    Thrown {
        message: String,
        stack: Option<String>,
        /// `null` (what QuickJS throws when it cannot even allocate its error) or
        /// `InternalError: out of memory`.
        oom_like: bool,
    },
    Compile(String),
    Timeout,
}

impl Worker {
    pub fn new(shared: Arc<Shared>) -> Worker {
        Worker {
            warm: Vec::new(),
            shared,
            vm: None,
            next: None,
            spent: None,
            commit: None,
            runs: 0,
        }
    }

    /// Runs one job, never panicking: a panic is caught, logged, reported as
    /// [`JsError::Internal`] and the runtime is rebuilt.
    pub fn execute(&mut self, job: &Job) -> Result<JsResponse, JsError> {
        match catch_unwind(AssertUnwindSafe(|| self.execute_inner(job))) {
            Ok(result) => result,
            Err(_) => {
                self.discard_vm();
                log::error!(
                    "serverless: panic while running {} of {}",
                    job.kind.file_name(),
                    job.site
                );
                Err(JsError::Internal("the JS worker panicked".to_owned()))
            }
        }
    }

    /// Housekeeping between requests, after the reply went out: frees the last
    /// request's context and garbage, and prepares the next context (and runtime, if the
    /// last one was discarded).
    pub fn tidy(&mut self) {
        let limits = self.shared.limits.clone();
        let tidied = catch_unwind(AssertUnwindSafe(|| {
            let dropped = self.spent.take().is_some();
            self.runs = self.runs.wrapping_add(1);
            if self.vm.is_none() {
                self.vm = Vm::new(limits.memory_bytes).ok();
            }
            if let Some(vm) = &self.vm {
                // A dropped context is all cycles: collect it now, so the next request has
                // its whole budget. Warm contexts mostly free by reference counting; their
                // cycles are collected every 256 runs or past an eighth of the budget (and
                // by QuickJS itself when allocation grows). Collecting after every run
                // instead cost a third of the throughput and saved little memory; every 64
                // runs still cost 3.5% of a trivial script's CPU once runs stopped making
                // native functions (see `globals.rs`).
                if dropped
                    || self.runs.is_multiple_of(256)
                    || vm.budget.used() > limits.memory_bytes / 8
                {
                    vm.rt.run_gc();
                }
                if self.next.is_none() {
                    self.next = vm.new_context().ok();
                }
            }
        }));
        if tidied.is_err() {
            log::error!("serverless: panic while preparing a JS context");
            self.discard_vm();
        }
    }

    /// Drops the runtime and every context on it (contexts first: they hold it).
    fn discard_vm(&mut self) {
        self.warm.clear();
        self.next = None;
        self.spent = None;
        self.vm = None;
    }

    fn execute_inner(&mut self, job: &Job) -> Result<JsResponse, JsError> {
        let limits = self.shared.limits.clone();
        if self.vm.is_none() {
            let vm =
                Vm::new(limits.memory_bytes).inspect_err(|e| log::error!("serverless: {e}"))?;
            self.vm = Some(vm);
        }
        let Some(vm) = &self.vm else {
            return Err(JsError::Internal("no JS runtime".to_owned()));
        };
        vm.interrupted.set(false);
        vm.budget.reset_refused();
        let epoch = self
            .shared
            .forgotten
            .load(std::sync::atomic::Ordering::Acquire);
        self.warm.retain(|w| w.epoch == epoch);
        let warm = match job.kind {
            ScriptKind::Main => self
                .warm
                .iter()
                .position(|w| w.site == job.site && w.hash == job.hash)
                .map(|i| self.warm.remove(i)),
            ScriptKind::Api => None,
        };
        let (context, warm_kept) = match warm {
            Some(w) => (Ok(w.context), Some(w.kept)),
            None => (
                match self.next.take() {
                    Some(c) => Ok(c),
                    None => vm.new_context(),
                },
                None,
            ),
        };
        let scope = match &warm_kept {
            Some(k) => {
                k.scope.reset();
                k.scope.clone()
            }
            None => Rc::new(Scope::new(
                job.site.clone(),
                self.shared.host.clone(),
                limits.clone(),
                self.shared.locks.clone(),
                self.shared.modules.clone(),
                self.shared.overlay.clone(),
            )),
        };
        let mut stale_jobs = false;
        let result = match context {
            Ok(context) => {
                let mut made = None;
                let outcome = context.with(|ctx| {
                    // SAFETY: the runtime is alive (we hold it) and used on this thread only.
                    unsafe { qjs::JS_UpdateStackTop(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
                    // `None` (no deadline) only for a cpu_time too large to add.
                    let deadline = Instant::now().checked_add(limits.cpu_time);
                    vm.deadline.set(deadline);
                    scope.deadline.set(deadline);
                    let outcome = self.run_in(&ctx, &scope, job, warm_kept.as_ref(), &mut made);
                    let rejected = vm.unhandled.borrow_mut().drain(..).next();
                    let outcome = match (outcome, rejected) {
                        // A `main.js` that never answered because a promise it made was
                        // rejected failed; one that answered has the rejection logged.
                        (Ok(r), Some((_, message, stack))) => {
                            let silent =
                                r.status == 200 && r.headers.is_empty() && r.body.is_empty();
                            if job.kind == ScriptKind::Main && silent {
                                Err(Failure::Thrown {
                                    message,
                                    stack,
                                    oom_like: false,
                                })
                            } else {
                                let file = job.kind.file_name();
                                let line =
                                    format!("{file}: unhandled promise rejection: {message}");
                                self.shared.host.log(&job.site, "warn", &line);
                                Ok(r)
                            }
                        }
                        (outcome, _) => outcome,
                    };
                    vm.deadline.set(None);
                    // A run that ended past its deadline (say, an out-of-memory error from
                    // the allocator's late refusals, before any interrupt check) ran out of
                    // time, whatever it threw.
                    let late = deadline.is_some_and(|d| Instant::now() >= d);
                    (outcome, late)
                });
                let (outcome, late) = outcome;
                // A run that went well publishes its writes before the next run of its site
                // may go (they are committed after, and the request answered then); a
                // failed one keeps none.
                let writes = scope.writes.take();
                if outcome.is_ok() && !late && !vm.interrupted.get() && !writes.is_empty() {
                    let reply = job.reply.clone();
                    self.commit = Some(super::commit::submit(
                        &self.shared,
                        &job.site,
                        writes,
                        reply,
                    ));
                }
                scope.release_site_lock();
                if vm.rt.is_job_pending() {
                    // The run failed with promise jobs still queued: they belong to this
                    // request's context and must never run during a later request.
                    stale_jobs = true;
                }
                // Only a context whose run went well stays warm: a failed run may have
                // left it half-changed, and the next request gets a fresh one.
                match warm_kept.or(made) {
                    Some(kept) if outcome.is_ok() && !late && !stale_jobs => {
                        self.warm.insert(
                            0,
                            Warm {
                                kept,
                                context,
                                site: job.site.clone(),
                                hash: job.hash.clone(),
                                epoch,
                            },
                        );
                        self.warm.truncate(MAX_WARM);
                    }
                    _ => self.spent = Some(context),
                }
                if vm.interrupted.get() || (late && outcome.is_err()) {
                    Err(Failure::Timeout)
                } else {
                    outcome
                }
            }
            // Context creation only fails when the heap limit is too small for it.
            Err(_) => Err(Failure::Thrown {
                message: "InternalError: out of memory".to_owned(),
                stack: None,
                oom_like: true,
            }),
        };
        scope.flush_log_summary();
        let refused = vm.budget.refused();
        let result = result.map_err(|f| self.report(job, f, refused));
        let broken = matches!(
            &result,
            Err(JsError::Timeout { .. } | JsError::OutOfMemory { .. } | JsError::Internal(_))
        );
        if broken || stale_jobs {
            // Rebuilt in `tidy`: no half-finished state (a huge heap, queued jobs) of
            // this run may reach another request.
            self.discard_vm();
        }
        result
    }

    /// Everything that touches the context, under the armed deadline.
    /// `warm`: what this (warm) context kept of its first run; a `main.js` run without it
    /// makes it and leaves it in `made`.
    fn run_in<'js>(
        &self,
        ctx: &Ctx<'js>,
        scope: &Rc<Scope>,
        job: &Job,
        warm: Option<&Kept>,
        made: &mut Option<Kept>,
    ) -> Result<JsResponse, Failure> {
        let (per_run, state) = match warm {
            Some(k) => {
                let per_run = k.per_run.clone().restore(ctx).map_err(|e| thrown(ctx, e))?;
                (per_run, Some(k.state.clone()))
            }
            None => globals::install_builtins(ctx, scope, job.kind).map_err(|e| thrown(ctx, e))?,
        };
        globals::install_request(ctx, &per_run, &job.req, &job.env).map_err(|e| thrown(ctx, e))?;
        let completion = match (job.kind, warm) {
            (ScriptKind::Main, Some(k)) => {
                let f = k.func.clone().restore(ctx).map_err(|e| thrown(ctx, e))?;
                f.call::<_, Value>(()).map_err(|e| thrown(ctx, e))?
            }
            (ScriptKind::Main, None) => {
                let script = self.load(ctx, job)?;
                // The compiled script is `(function () { <main.js> })`: its value is the
                // function, called now and on the next requests of this context.
                let value = bytecode::run(ctx, &script).map_err(|e| thrown(ctx, e))?;
                let Some(f) = value.into_function() else {
                    return Err(Failure::Compile(
                        "SyntaxError: main.js closes the function it is run in".to_owned(),
                    ));
                };
                if let Some(state) = state.clone() {
                    *made = Some(Kept {
                        func: Persistent::save(ctx, f.clone()),
                        per_run: Persistent::save(ctx, per_run.clone()),
                        state,
                        scope: scope.clone(),
                    });
                }
                f.call::<_, Value>(()).map_err(|e| thrown(ctx, e))?
            }
            (ScriptKind::Api, _) => {
                let func = self.load(ctx, job)?;
                bytecode::run(ctx, &func).map_err(|e| thrown(ctx, e))?
            }
        };
        // Promise jobs (async functions, .then) run now, within the same deadline. The
        // interrupt handler only ends the job it lands in: a chain that queues its next
        // link first (`function f() { return Promise.resolve().then(f) }`) would outlive
        // every interrupt, so the deadline is also checked between jobs.
        while ctx.execute_pending_job() {
            if scope.deadline.get().is_some_and(|d| Instant::now() >= d) {
                return Err(Failure::Timeout);
            }
        }
        let completion = settle(ctx, completion, job.kind)?;
        match state {
            Some(state) => {
                // The context's closures still hold clones of the Rc: take the state out.
                let fresh = ResponseState::new(&self.shared.limits);
                Ok(state.replace(fresh).into_response())
            }
            None => api::completion_to_response(ctx, &completion, &self.shared.limits)
                .map_err(|e| thrown(ctx, e)),
        }
    }

    /// The script as a function object in `ctx`, compiling (and caching) on a miss.
    fn load<'js>(&self, ctx: &Ctx<'js>, job: &Job) -> Result<Value<'js>, Failure> {
        let cache = &self.shared.cache;
        if let Some(compiled) = cache.get(&job.site, job.kind, &job.hash) {
            return match &compiled.code {
                Ok(bytes) => bytecode::read(ctx, bytes).map_err(|e| thrown(ctx, e)),
                Err(message) => Err(Failure::Compile(message.clone())),
            };
        }
        let source = match job.kind {
            ScriptKind::Main => bytecode::as_function_body(&job.source),
            ScriptKind::Api => job.source.to_string(),
        };
        match bytecode::compile(ctx, &source, job.kind.file_name()) {
            Ok(func) => {
                let bytes = bytecode::write(ctx, &func).map_err(|e| thrown(ctx, e))?;
                let compiled = Compiled {
                    hash: job.hash.clone(),
                    code: Ok(bytes),
                };
                cache.put(&job.site, job.kind, Arc::new(compiled));
                Ok(func)
            }
            Err(e) => match thrown(ctx, e) {
                Failure::Thrown {
                    message,
                    stack,
                    oom_like: false,
                } => {
                    // Only a SyntaxError is a property of the source worth caching; an
                    // out-of-memory while parsing may not recur. Its "stack" is just the
                    // position: keep it on the one line.
                    let position = stack
                        .as_deref()
                        .and_then(|s| s.lines().next())
                        .map(|l| l.trim().trim_start_matches("at ").to_owned());
                    let message = match position {
                        Some(p) if !p.is_empty() => format!("{message} ({p})"),
                        _ => message,
                    };
                    let compiled = Compiled {
                        hash: job.hash.clone(),
                        code: Err(message.clone()),
                    };
                    cache.put(&job.site, job.kind, Arc::new(compiled));
                    Err(Failure::Compile(message))
                }
                other => Err(other),
            },
        }
    }

    /// Classifies a failure and writes it to the site's logs. `refused`: the allocator
    /// refused an allocation during the run.
    fn report(&self, job: &Job, failure: Failure, refused: bool) -> JsError {
        let limits = &self.shared.limits;
        let file = job.kind.file_name();
        let (error, line) = match failure {
            Failure::Timeout => {
                let e = JsError::Timeout {
                    limit: limits.cpu_time,
                };
                let line = format!("{file}: {e}; stopped");
                (e, line)
            }
            Failure::Thrown {
                oom_like: true,
                ref message,
                ..
            } if refused || message.ends_with("out of memory") => {
                let e = JsError::OutOfMemory {
                    limit: limits.memory_bytes,
                };
                let line = format!("{file}: {e}");
                (e, line)
            }
            Failure::Thrown { message, stack, .. } => {
                let line = match &stack {
                    Some(stack) => format!("{file}: uncaught {message}\n{stack}"),
                    None => format!("{file}: uncaught {message}"),
                };
                (JsError::Exception { message, stack }, line)
            }
            Failure::Compile(message) => {
                let line = format!("{file}: {message}");
                (JsError::Compile { message }, line)
            }
        };
        let line = truncate(
            line,
            limits
                .max_log_bytes
                .max(MAX_STACK_BYTES + MAX_MESSAGE_BYTES),
        );
        self.shared.host.log(&job.site, "error", &line);
        error
    }
}

/// The pending exception behind `e`, described.
fn thrown(ctx: &Ctx<'_>, e: rquickjs::Error) -> Failure {
    match e {
        rquickjs::Error::Exception => {
            let v = ctx.catch();
            let oom_like = v.is_null() || is_out_of_memory(&v);
            let (message, stack) = describe_thrown(ctx, &v);
            // Messages travel into HTTP answers and log rows: keep them bounded.
            Failure::Thrown {
                message: truncate(message, MAX_MESSAGE_BYTES),
                stack: stack.map(|s| truncate(s, MAX_STACK_BYTES)),
                oom_like,
            }
        }
        rquickjs::Error::Allocation => Failure::Thrown {
            message: "InternalError: out of memory".to_owned(),
            stack: None,
            oom_like: true,
        },
        other => Failure::Thrown {
            message: other.to_string(),
            stack: None,
            oom_like: false,
        },
    }
}

/// Resolves a Promise completion value: fulfilled → its value; rejected → the rejection
/// as an exception; pending → an error for `api/main.js` (there is no response yet) and
/// nothing for `main.js` (whatever `res` holds is the response).
fn settle<'js>(ctx: &Ctx<'js>, v: Value<'js>, kind: ScriptKind) -> Result<Value<'js>, Failure> {
    let promise = match v.as_promise() {
        Some(p) => p.clone(),
        None => return Ok(v),
    };
    match promise.result::<Value>() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(thrown(ctx, e)),
        None if kind == ScriptKind::Api => Err(Failure::Thrown {
            message: "Error: the script's result is a Promise that never settled".to_owned(),
            stack: None,
            oom_like: false,
        }),
        None => Ok(Value::new_undefined(ctx.clone())),
    }
}

/// A context with the language's built-ins — Date, eval, RegExp, JSON, Proxy, Map/Set/WeakMap/
/// WeakSet, typed arrays, Promise, `atob`/`btoa` — and without QuickJS's browser extras
/// (`performance`, `DOMException`, `WeakRef`/`FinalizationRegistry`), which Go fazt's runtime
/// never had: the binary does not carry them.
fn new_context(rt: &Runtime) -> rquickjs::Result<Context> {
    use rquickjs::context::intrinsic::{
        Date, Eval, Json, MapSet, Promise, Proxy, RegExp, RegExpCompiler, TypedArrays,
    };
    let ctx = Context::custom::<(
        Date,
        Eval,
        RegExpCompiler,
        RegExp,
        Json,
        Proxy,
        MapSet,
        TypedArrays,
        Promise,
    )>(rt)?;
    // SAFETY: the context was just made and is not shared yet; AToB only defines two globals.
    unsafe { qjs::JS_AddIntrinsicAToB(ctx.as_raw().as_ptr()) };
    Ok(ctx)
}
