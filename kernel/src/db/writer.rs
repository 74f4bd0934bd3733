//! The single writer: one OS thread owns the only read-write connection and runs write jobs
//! in order. SQLite allows one writer at a time anyway; funnelling writes here means no
//! `SQLITE_BUSY` between our own writers, and a coroutine waiting for its write parks only
//! itself (may's channel), never a worker thread. Readers use their own connections (WAL), so
//! they never wait on this thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use rusqlite::Connection;

use super::DbError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;
/// A job's result, whatever its type.
type Reply = Box<dyn std::any::Any + Send>;

/// The writer thread and the queue of jobs to it.
pub struct Writer {
    tx: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Closes the queue and waits for the thread, so the connection is closed (and SQLite
    /// has removed its `-wal`/`-shm` files) when the `Db` is gone.
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
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
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .stack_size(1024 * 1024)
            .spawn(move || {
                for job in rx {
                    // A panicking job must not take the only writer down with it.
                    if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                        log::error!("a database write job panicked; continuing");
                    }
                }
            })?;
        Ok(Writer {
            tx: std::sync::Mutex::new(Some(tx)),
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
        self.tx
            .lock()
            .map_err(|_| DbError::WriterStopped)?
            .as_ref()
            .ok_or(DbError::WriterStopped)?
            .send(job)
            .map_err(|_| DbError::WriterStopped)
    }

    /// The one instance of the round trip: each job's result travels boxed, so the channel
    /// code is compiled once, not once per result type (tens of KB in a small binary).
    fn run_erased(
        &self,
        f: Box<dyn FnOnce(&mut Connection) -> Reply + Send>,
    ) -> Result<Reply, DbError> {
        let (rtx, rrx) = may::sync::mpsc::channel::<Reply>();
        self.submit(Box::new(move |c| {
            let _ = rtx.send(f(c));
        }))?;
        // A job that panicked dropped its sender without answering.
        rrx.recv().map_err(|_| DbError::WriterStopped)
    }
}
