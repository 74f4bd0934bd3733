//! [`Engine`]: the pool of JS worker threads and the call the HTTP layer makes.
//!
//! Why OS threads and not the caller's coroutine: QuickJS needs a deep native stack
//! (its own budget here is 2 MiB, see `worker.rs`) while fazt's `may`
//! connection coroutines have 64–128 KiB, and a script that spins for its whole CPU
//! budget would pin a `may` worker thread and stall every other connection on it —
//! static files included. So [`Engine::run`] queues the request for a small pool of OS
//! threads (8 MiB stacks, one QuickJS runtime each) and waits for the answer on a
//! `kernel::oneshot`, which parks only the calling coroutine (or blocks the calling thread
//! when called from a plain thread, e.g. the CLI). The queue is bounded
//! ([`Limits::max_pending`]) and a request that waited longer than
//! [`Limits::queue_timeout`] is refused, so overload degrades into quick 503s.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::bytecode::BytecodeCache;
use super::pool::{self, Pool};
use super::site_lock::SiteLocks;
use super::{Host, JsError, JsRequest, JsResponse, Limits, Script, ScriptKind};
use crate::kernel::queue::Queue;

/// State shared by the engine handle and its workers.
pub(super) struct Shared {
    pub host: Arc<dyn Host>,
    pub limits: Arc<Limits>,
    pub cache: BytecodeCache,
    pub locks: Arc<SiteLocks>,
    /// Finished runs' KV writes on their way to the host's commit.
    pub overlay: Arc<super::overlay::Overlay>,
    /// Compiled `require`d modules of every site.
    pub modules: Arc<super::require::ModuleCache>,
    /// Bumped by [`Engine::forget`]: workers drop the warm contexts made before it.
    pub forgotten: std::sync::atomic::AtomicU64,
    pending: AtomicUsize,
    pub(super) stopping: AtomicBool,
    /// The worker threads and the watchdog that replaces the ones stuck in native code.
    pub(super) pool: Pool,
}

/// A queued request. Holding it holds one of the `max_pending` slots.
pub(super) struct Job {
    pub site: Arc<str>,
    pub kind: ScriptKind,
    pub hash: String,
    pub source: Arc<str>,
    pub env: Vec<(String, String)>,
    pub req: JsRequest,
    pub(super) enqueued: Instant,
    pub(super) reply: crate::kernel::oneshot::Sender<Result<JsResponse, JsError>>,
    _slot: PendingSlot,
}

/// Releases a pending slot when the job is dropped, however it ends.
struct PendingSlot(Arc<Shared>);

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The serverless engine: owns the worker threads and the bytecode cache. `Send + Sync`;
/// share it behind an `Arc`. Dropping it lets the running scripts finish (each within its
/// CPU limit), answers queued requests with [`JsError::Overloaded`] and joins the threads.
pub struct Engine {
    shared: Arc<Shared>,
    jobs: Arc<Queue<Job>>,
}

impl Engine {
    /// Starts `limits.threads` (at least 1) worker threads. Fails only if the OS refuses
    /// to create a thread.
    pub fn new(host: Arc<dyn Host>, limits: Limits) -> std::io::Result<Engine> {
        let threads = limits.threads.max(1);
        let jobs = Arc::new(Queue::default());
        let shared = Arc::new(Shared {
            host,
            limits: Arc::new(limits),
            cache: BytecodeCache::default(),
            locks: Arc::new(SiteLocks::default()),
            overlay: Arc::default(),
            modules: Arc::default(),
            forgotten: std::sync::atomic::AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            pool: Pool::new(jobs.clone()),
        });
        for _ in 0..threads {
            pool::spawn_worker(&shared)?;
        }
        pool::spawn_watchdog(&shared)?;
        Ok(Engine { shared, jobs })
    }

    /// Runs `script` for one request and returns its response. Callable from a `may`
    /// coroutine (parks only the coroutine) or a plain thread (blocks it). `env` becomes
    /// `process.env`. Script failures have already been written to the site's logs when
    /// this returns (see [`JsError`]).
    pub fn run(
        &self,
        script: &Script,
        env: &[(String, String)],
        req: JsRequest,
    ) -> Result<JsResponse, JsError> {
        let limits = &self.shared.limits;
        if req.body.len() > limits.max_request_body {
            return Err(JsError::RequestTooLarge {
                size: req.body.len(),
                limit: limits.max_request_body,
            });
        }
        let previous = self.shared.pending.fetch_add(1, Ordering::AcqRel);
        let slot = PendingSlot(self.shared.clone());
        if previous >= limits.max_pending {
            return Err(JsError::Overloaded);
        }
        let (reply, answer) = crate::kernel::oneshot::channel();
        let job = Job {
            site: Arc::from(script.site.as_str()),
            kind: script.kind,
            hash: script.hash.clone(),
            source: script.source.clone(),
            env: env.to_vec(),
            req,
            enqueued: Instant::now(),
            reply,
            _slot: slot,
        };
        if self.jobs.push(job).is_err() {
            return Err(JsError::Internal("the engine is stopped".to_owned()));
        }
        // No timeout on this wait, on purpose: every path answers or drops its sender — the
        // worker, the watchdog at the deadline, the queue's own timeout, the commit — and a
        // may timer lives until its deadline whether or not the answer came first (a 36 s
        // bound here kept ~1 M timers alive at 30,000 requests/s: 200 MB of RSS).
        match answer.recv() {
            Ok(result) => result,
            Err(_) => Err(JsError::Internal(
                "the JS worker went away without an answer".to_owned(),
            )),
        }
    }

    /// Drops the cached bytecode of `site` (call when a site is deleted). Redeployments
    /// need no call: a new content hash recompiles and replaces the entry.
    pub fn forget(&self, site: &str) {
        self.shared.cache.forget(site);
        self.shared.modules.forget(site);
        self.shared.forgotten.fetch_add(1, Ordering::AcqRel);
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Requests queued or running right now.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::Acquire)
    }

    #[cfg(test)]
    pub(super) fn cached_sites(&self) -> usize {
        self.shared.cache.sites()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        // Closing the queue ends each worker's loop once the queue is empty.
        self.jobs.close();
        self.shared.pool.join_all();
    }
}
