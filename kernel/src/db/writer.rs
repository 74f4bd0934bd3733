//! The single writer: one OS thread owns the only read-write connection and runs write jobs
//! in order. SQLite allows one writer at a time anyway; funnelling writes here means no
//! `SQLITE_BUSY` between our own writers, and a coroutine waiting for its write parks only
//! itself (a one-shot reply), never a worker thread. Readers use their own connections (WAL), so
//! they never wait on this thread.
//!
//! Small writes that many requests make at once ([`Grouped`]) share one transaction: the
//! writer takes every such job waiting in its queue, runs each inside a savepoint of one
//! `BEGIN IMMEDIATE … COMMIT`, and tells each its outcome after the `COMMIT`. Under load
//! this turns a transaction (WAL frames, file locks, a wal-index update) per request into
//! one per batch; a job that fails rolls back to its savepoint and leaves the others in.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rusqlite::Connection;

use super::DbError;
use crate::queue::Queue;

type Plain = Box<dyn FnOnce(&mut Connection) + Send>;
/// A job's result, whatever its type.
type Reply = Box<dyn std::any::Any + Send>;

/// A grouped job's statements (see [`Grouped::work`]).
pub type GroupedWork = Box<dyn FnOnce(&Connection) -> Result<(), String> + Send>;
/// A grouped job's callback (see [`Grouped::done`]).
pub type GroupedDone = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Jobs of one group at most, so one batch cannot hold the write lock for long.
const MAX_GROUP: usize = 256;

/// A write that may share its transaction with the other [`Grouped`] jobs queued beside it.
pub struct Grouped {
    /// The statements, run inside the shared transaction; an `Err` (its own message) undoes
    /// only this job's changes.
    pub work: GroupedWork,
    /// Told the job's outcome once the transaction is committed (or has failed).
    pub done: GroupedDone,
}

enum Job {
    Plain(Plain),
    Grouped(Grouped),
}

/// The writer thread and the queue of jobs to it.
pub struct Writer {
    jobs: Arc<Queue<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Closes the queue and waits for the thread, so the connection is closed (and SQLite
    /// has removed its `-wal`/`-shm` files) when the `Db` is gone.
    fn drop(&mut self) {
        // The thread runs what is queued, then ends.
        self.jobs.close();
        if let Some(t) = self.thread.take() {
            // Never join ourselves (a job that dropped the last handle to its own Db).
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub fn start(mut conn: Connection) -> std::io::Result<Writer> {
        let jobs = Arc::new(Queue::default());
        let queue = jobs.clone();
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .stack_size(1024 * 1024)
            .spawn(move || serve(&mut conn, &queue))?;
        Ok(Writer {
            jobs,
            thread: Some(thread),
        })
    }

    /// Runs `f` on the writer thread and returns its result. Callable from coroutines and
    /// threads alike.
    pub fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        let reply = self.run_erased(Box::new(move |c| Box::new(f(c)) as Reply))?;
        // The reply is the `T` this job made: the downcast cannot fail.
        reply
            .downcast::<T>()
            .map(|t| *t)
            .map_err(|_| DbError::WriterStopped)
    }

    /// Queues `job` and returns at once: the caller learns its outcome from the job itself
    /// (which runs after every job queued before it). A job that panics is dropped.
    pub fn submit(&self, job: Box<dyn FnOnce(&mut Connection) + Send>) -> Result<(), DbError> {
        self.send(Job::Plain(job))
    }

    /// Queues a write that may share a transaction with its neighbours in the queue (see
    /// the module docs) and returns at once; `job.done` hears how it ended. Jobs still run in
    /// the order they were queued, before and after any other job.
    pub fn submit_grouped(&self, job: Grouped) -> Result<(), DbError> {
        self.send(Job::Grouped(job))
    }

    fn send(&self, job: Job) -> Result<(), DbError> {
        self.jobs.push(job).map_err(|_| DbError::WriterStopped)
    }

    /// The one instance of the round trip: each job's result travels boxed, so the channel
    /// code is compiled once, not once per result type (tens of KB in a small binary).
    fn run_erased(
        &self,
        f: Box<dyn FnOnce(&mut Connection) -> Reply + Send>,
    ) -> Result<Reply, DbError> {
        let (rtx, rrx) = crate::oneshot::channel::<Reply>();
        self.submit(Box::new(move |c| {
            let _ = rtx.send(f(c));
        }))?;
        // A job that panicked dropped its sender without answering.
        rrx.recv().map_err(|_| DbError::WriterStopped)
    }
}

/// The writer thread's loop, until the queue is closed and empty.
fn serve(conn: &mut Connection, jobs: &Queue<Job>) {
    // A job taken from the queue while gathering a group, run after it.
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => match jobs.pop() {
                Some(j) => j,
                None => return,
            },
        };
        match job {
            Job::Plain(job) => {
                // A panicking job must not take the only writer down with it.
                if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
                    log::error!("a database write job panicked; continuing");
                }
            }
            Job::Grouped(first) => {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match jobs.try_pop() {
                        Some(Job::Grouped(g)) => group.push(g),
                        Some(other) => {
                            next = Some(other);
                            break;
                        }
                        None => break,
                    }
                }
                run_group(conn, group);
            }
        }
    }
}

/// Runs `group` in one transaction, a savepoint per job, and tells each job its outcome.
fn run_group(conn: &Connection, group: Vec<Grouped>) {
    let single = group.len() == 1;
    let mut outcomes: Vec<(Result<(), String>, GroupedDone)> = Vec::with_capacity(group.len());
    let began = exec(conn, "BEGIN IMMEDIATE");
    for Grouped { work, done } in group {
        let outcome = match &began {
            Err(e) => Err(e.clone()),
            Ok(()) => run_one(conn, work, single),
        };
        outcomes.push((outcome, done));
    }
    if began.is_ok() {
        // With one job and that one failed, nothing is kept: roll the whole thing back.
        let all_failed = outcomes.iter().all(|(o, _)| o.is_err());
        let end = if single && all_failed {
            exec(conn, "ROLLBACK")
        } else {
            exec(conn, "COMMIT")
        };
        if let Err(e) = end {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            for (o, _) in &mut outcomes {
                if o.is_ok() {
                    *o = Err(e.clone());
                }
            }
        }
    }
    for (outcome, done) in outcomes {
        if catch_unwind(AssertUnwindSafe(|| done(outcome))).is_err() {
            log::error!("a database write callback panicked; continuing");
        }
    }
}

/// One job of a group: inside its own savepoint unless it is alone in the transaction.
fn run_one(conn: &Connection, work: GroupedWork, single: bool) -> Result<(), String> {
    if !single {
        exec(conn, "SAVEPOINT grouped")?;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
        .unwrap_or_else(|_| Err("the write failed unexpectedly".into()));
    if !single {
        if outcome.is_err() {
            exec(conn, "ROLLBACK TO grouped")?;
        }
        exec(conn, "RELEASE grouped")?;
    }
    outcome
}

fn exec(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(|e| e.to_string())
}
