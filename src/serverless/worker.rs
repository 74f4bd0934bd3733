//! One JS worker: an OS thread owning one QuickJS runtime, running one request at a time.
//!
//! Per request: a fresh `Context` on the reused runtime (so nothing a request puts on
//! `globalThis`, or on `Object.prototype`, reaches the next one), the site's cached
//! bytecode loaded into it, globals installed, the script run under an armed deadline,
//! pending promise jobs drained and the response collected. After the reply has gone
//! out, [`Worker::tidy`] drops that context, runs a GC (QuickJS frees cycles only in GC,
//! and every context is full of them; collecting now keeps the next request's memory
//! budget whole) and creates the next request's context, so an idle worker answers its
//! next request without paying for context creation.
//!
//! Limits: the interrupt handler (polled by QuickJS every few thousand bytecodes and in
//! the regex engine) stops the script once the deadline passes, with an uncatchable error;
//! the runtime's allocator (`alloc.rs`) bounds the heap; `JS_SetMaxStackSize` (measured
//! from a stack top refreshed with `JS_UpdateStackTop` at the start of every run, on this
//! thread's own big stack) turns deep recursion into a catchable `RangeError` long before
//! the real stack ends. After a timeout, out-of-memory, panic, or a failed run that left
//! promise jobs queued, the runtime is thrown away and rebuilt (~0.2 ms), so no
//! half-finished state survives into another request.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::{qjs, Context, Ctx, Runtime, Value};

use super::alloc::{Budget, LimitedAllocator};
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

/// A runtime plus the cells its interrupt handler and allocator write.
struct Vm {
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
        Ok(Vm {
            rt,
            budget,
            deadline,
            interrupted,
        })
    }
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    vm: Option<Vm>,
    /// A fresh context made after the previous reply, so its ~0.1 ms creation is off the
    /// next request's path when the worker has idle time.
    next: Option<Context>,
    /// The last request's context, dropped (and its garbage collected) after the reply.
    spent: Option<Context>,
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
            shared,
            vm: None,
            next: None,
            spent: None,
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
            self.spent = None;
            if self.vm.is_none() {
                self.vm = Vm::new(limits.memory_bytes).ok();
            }
            if let Some(vm) = &self.vm {
                vm.rt.run_gc();
                if self.next.is_none() {
                    self.next = Context::full(&vm.rt).ok();
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
        let scope = Rc::new(Scope::new(
            job.site.clone(),
            self.shared.host.clone(),
            limits.clone(),
            self.shared.locks.clone(),
        ));
        vm.interrupted.set(false);
        vm.budget.reset_refused();
        let context = match self.next.take() {
            Some(c) => Ok(c),
            None => Context::full(&vm.rt),
        };
        let mut stale_jobs = false;
        let result = match context {
            Ok(context) => {
                let outcome = context.with(|ctx| {
                    // SAFETY: the runtime is alive (we hold it) and used on this thread only.
                    unsafe { qjs::JS_UpdateStackTop(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
                    // `None` (no deadline) only for a cpu_time too large to add.
                    let deadline = Instant::now().checked_add(limits.cpu_time);
                    vm.deadline.set(deadline);
                    scope.deadline.set(deadline);
                    let outcome = self.run_in(&ctx, &scope, job);
                    vm.deadline.set(None);
                    // A run that ended past its deadline (say, an out-of-memory error from
                    // the allocator's late refusals, before any interrupt check) ran out of
                    // time, whatever it threw.
                    let late = deadline.is_some_and(|d| Instant::now() >= d);
                    (outcome, late)
                });
                let (outcome, late) = outcome;
                // The run's KV writes are committed (each `db` call waits for its write):
                // the next run of this site may go.
                scope.release_site_lock();
                self.spent = Some(context);
                if vm.rt.is_job_pending() {
                    // The run failed with promise jobs still queued: they belong to this
                    // request's context and must never run during a later request.
                    stale_jobs = true;
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
    fn run_in<'js>(
        &self,
        ctx: &Ctx<'js>,
        scope: &Rc<Scope>,
        job: &Job,
    ) -> Result<JsResponse, Failure> {
        let state = globals::install(ctx, scope, job.kind, &job.req, &job.env)
            .map_err(|e| thrown(ctx, e))?;
        let func = self.load(ctx, job)?;
        let completion = bytecode::run(ctx, &func).map_err(|e| thrown(ctx, e))?;
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
        match bytecode::compile(ctx, &job.source, job.kind.file_name()) {
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
