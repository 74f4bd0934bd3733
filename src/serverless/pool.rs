//! The JS worker threads and their watchdog.
//!
//! QuickJS checks for interrupts between bytecodes, not inside its native built-ins: a
//! single call such as `new Array(1e8).join('x')` or `indexOf` over a huge sparse array
//! runs to its end however long that takes, and so would hold a worker for seconds past
//! the script's time limit (the allocator's late refusals stop the ones that allocate,
//! but not a loop whose failed writes QuickJS ignores). The watchdog bounds what such a
//! call costs everyone else: a worker still busy [`overrun`] after its run's deadline is
//! *abandoned* — its caller is answered [`JsError::Timeout`] at once and a replacement
//! thread takes its place in the pool — and when the stuck call finally returns, the
//! abandoned thread drops its result (and runtime) and either rejoins the pool, if it is
//! short, or ends. At most as many threads as the pool's size may be abandoned at once,
//! so an attack of such scripts costs a bounded number of threads and the JS memory
//! limit each, never an unbounded number.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::engine::{Job, Shared};
use super::worker::{Worker, WORKER_STACK_BYTES};
use super::{JsError, JsResponse};
use crate::kernel::queue::Queue;

/// What one worker is running, for the watchdog.
struct Running {
    /// `None` for a time limit too large to add to the clock (never overdue).
    deadline: Option<Instant>,
    reply: crate::kernel::oneshot::Sender<Result<JsResponse, JsError>>,
    site: Arc<str>,
}

/// One worker thread's state, shared with the watchdog.
#[derive(Default)]
struct Slot {
    /// `None` while idle. Whoever takes the `Running` out answers the caller.
    running: Mutex<Option<Running>>,
}

pub(super) struct Pool {
    jobs: Arc<Queue<Job>>,
    /// The workers in the pool (abandoned ones have left it).
    live: Mutex<Vec<Arc<Slot>>>,
    /// Abandoned workers still stuck in their call.
    stuck: Mutex<usize>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub fn new(jobs: Arc<Queue<Job>>) -> Pool {
        Pool {
            jobs,
            live: Mutex::new(Vec::new()),
            stuck: Mutex::new(0),
            handles: Mutex::new(Vec::new()),
        }
    }

    /// Joins every thread (the engine is stopping and its queue is closed).
    pub fn join_all(&self) {
        loop {
            let handles: Vec<_> = lock(&self.handles).drain(..).collect();
            if handles.is_empty() {
                return;
            }
            for h in handles {
                if h.join().is_err() {
                    log::error!("serverless: a JS worker thread panicked");
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long past its deadline a run may go before its worker is abandoned: a fifth of the
/// limit (so the caller hears within ~1.2× of it), at least 20 ms.
fn overrun(shared: &Shared) -> Duration {
    (shared.limits.cpu_time / 5).max(Duration::from_millis(20))
}

/// Starts one worker thread in the pool.
pub(super) fn spawn_worker(shared: &Arc<Shared>) -> std::io::Result<()> {
    let slot = Arc::new(Slot::default());
    lock(&shared.pool.live).push(slot.clone());
    let s = shared.clone();
    let started = std::thread::Builder::new()
        .name("fazt-js".into())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || worker_loop(s, slot.clone()));
    match started {
        Ok(h) => {
            lock(&shared.pool.handles).push(h);
            Ok(())
        }
        Err(e) => {
            lock(&shared.pool.live).pop();
            Err(e)
        }
    }
}

/// Starts the watchdog thread.
pub(super) fn spawn_watchdog(shared: &Arc<Shared>) -> std::io::Result<()> {
    let s = shared.clone();
    let h = std::thread::Builder::new()
        .name("fazt-js-watchdog".into())
        .stack_size(256 * 1024)
        .spawn(move || watchdog_loop(s))?;
    lock(&shared.pool.handles).push(h);
    Ok(())
}

fn worker_loop(shared: Arc<Shared>, mut slot: Arc<Slot>) {
    // No runtime until the first script runs: a server without script sites keeps its idle
    // memory (each runtime + context is a few hundred KB); the first request pays ~1 ms.
    let mut worker = Worker::new(shared.clone());
    // A job already taken from the queue (see the end of the loop).
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(j) => Some(j),
            None => shared.pool.jobs.pop(),
        };
        let Some(job) = job else { return };
        let refuse = shared.stopping.load(Ordering::Acquire)
            || job.enqueued.elapsed() > shared.limits.queue_timeout;
        let (result, abandoned) = if refuse {
            (Err(JsError::Overloaded), false)
        } else {
            *lock(&slot.running) = Some(Running {
                deadline: Instant::now().checked_add(shared.limits.cpu_time),
                reply: job.reply.clone(),
                site: job.site.clone(),
            });
            let result = worker.execute(&job);
            // Gone: the watchdog took it, answered the caller and replaced this thread.
            let abandoned = lock(&slot.running).take().is_none();
            (result, abandoned)
        };
        // Release the pending slot before answering, so a caller that got its answer
        // sees the slot free.
        let reply = job.reply.clone();
        drop(job);
        // A run that wrote is answered once its writes are committed (see `commit.rs`).
        let meet = worker.commit.take();
        if abandoned {
            // The watchdog answered our caller and replaced us while we were stuck.
            worker = Worker::new(shared.clone());
            let mut stuck = lock(&shared.pool.stuck);
            *stuck = stuck.saturating_sub(1);
            let mut live = lock(&shared.pool.live);
            if live.len() < shared.limits.threads.max(1) && !shared.stopping.load(Ordering::Acquire)
            {
                slot = Arc::new(Slot::default());
                live.push(slot.clone());
                continue;
            }
            return;
        }
        match meet {
            Some(meet) => meet.answered(result),
            // The caller may have given up waiting; nothing to do then.
            None => drop(reply.send(result)),
        }
        // With more work queued, go on with it: yielding after every run handed the CPU
        // back and forth once per request, which cost most of the throughput (Counter with
        // the server on one core: 5,000 req/s yielding, 21,900 without). With none, let the
        // woken caller run before the housekeeping below: on a busy machine it may be
        // queued on this CPU, and `tidy` can take ~0.15 ms (paced latency p50 ~270 µs
        // without the yield, ~70 µs with it, on a loaded 2-core box).
        next = shared.pool.jobs.try_pop();
        if next.is_none() {
            std::thread::yield_now();
        }
        worker.tidy();
    }
}

fn watchdog_loop(shared: Arc<Shared>) {
    let grace = overrun(&shared);
    let tick = (grace / 2).clamp(Duration::from_millis(5), Duration::from_millis(50));
    while !shared.stopping.load(Ordering::Acquire) {
        std::thread::sleep(tick);
        let live: Vec<Arc<Slot>> = lock(&shared.pool.live).clone();
        for slot in live {
            let overdue = {
                let mut running = lock(&slot.running);
                match running.as_ref() {
                    Some(Running {
                        deadline: Some(d), ..
                    }) if d.checked_add(grace).is_some_and(|t| Instant::now() > t) => {
                        running.take()
                    }
                    _ => None,
                }
            };
            let Some(run) = overdue else { continue };
            let _ = run.reply.send(Err(JsError::Timeout {
                limit: shared.limits.cpu_time,
            }));
            lock(&shared.pool.live).retain(|s| !Arc::ptr_eq(s, &slot));
            let replace = {
                let mut stuck = lock(&shared.pool.stuck);
                *stuck += 1;
                *stuck <= shared.limits.threads.max(1)
            };
            log::warn!(
                "serverless: a script of {} is still in a native call {} ms past its time limit; its caller got 503 and its JS thread {}",
                run.site,
                grace.as_millis(),
                if replace { "was replaced" } else { "was not replaced (too many are stuck)" }
            );
            if replace {
                if let Err(e) = spawn_worker(&shared) {
                    log::error!("serverless: cannot start a replacement JS thread: {e}");
                }
            }
        }
    }
}
