//! A one-shot answer: one value from any thread to the coroutine or thread that waits for
//! it. Any number of senders may hold it (a worker, a watchdog, a commit callback); the
//! first to send wins, and the wait ends with [`Closed`] when the last sender is dropped
//! without sending. For a single reply this is much cheaper than a may `mpsc` channel,
//! which allocates and initialises a 64-slot block per channel (a few KiB for a response:
//! 3% of a serverless request's CPU, measured with perf).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use may::sync::Blocker;

/// Every sender was dropped without sending.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed;

struct Inner<T> {
    /// The value, and whether one was ever sent (a later send is refused).
    slot: Mutex<(Option<T>, bool)>,
    senders: AtomicUsize,
    /// Parks the receiver: a coroutine's park when the channel was made in one, else the
    /// thread's. An unpark before the park is kept, so no wake-up is lost.
    blocker: Blocker,
}

impl<T> Inner<T> {
    fn take(&self) -> Option<T> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).0.take()
    }
}

/// The sending side; clone it for each party that may answer.
pub struct Sender<T>(Arc<Inner<T>>);

/// The receiving side.
pub struct Receiver<T>(Arc<Inner<T>>);

/// A new one-shot channel. Make it where the answer will be waited for (the coroutine or
/// thread that calls [`Receiver::recv`]): that is whom the blocker parks.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        slot: Mutex::new((None, false)),
        senders: AtomicUsize::new(1),
        blocker: Blocker::new(false),
    });
    (Sender(inner.clone()), Receiver(inner))
}

impl<T> Sender<T> {
    /// Sends `value` unless another sender did first (then it comes back).
    pub fn send(&self, value: T) -> Result<(), T> {
        {
            let mut slot = self.0.slot.lock().unwrap_or_else(|p| p.into_inner());
            if slot.1 {
                return Err(value);
            }
            *slot = (Some(value), true);
        }
        self.0.blocker.unpark();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::AcqRel);
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.blocker.unpark();
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for the answer; [`Closed`] when no sender is left to give one (or the waiting
    /// coroutine is being cancelled).
    pub fn recv(self) -> Result<T, Closed> {
        loop {
            if let Some(v) = self.0.take() {
                return Ok(v);
            }
            if self.0.senders.load(Ordering::Acquire) == 0 {
                // The last sender may have sent just before it went.
                return self.0.take().ok_or(Closed);
            }
            if self.0.blocker.park(None).is_err() {
                return Err(Closed);
            }
        }
    }

    /// [`Receiver::recv`] for at most `limit`: `None` when no answer came in time (or none
    /// can come).
    pub fn recv_timeout(self, limit: std::time::Duration) -> Option<T> {
        let until = std::time::Instant::now() + limit;
        loop {
            if let Some(v) = self.0.take() {
                return Some(v);
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if self.0.senders.load(Ordering::Acquire) == 0 || left.is_zero() {
                return self.0.take();
            }
            // A timeout or a cancellation: the loop looks once more, then gives up.
            if self.0.blocker.park(Some(left)).is_err()
                && self.0.senders.load(Ordering::Acquire) > 0
            {
                return self.0.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_answer_wins_from_any_thread() {
        let (tx, rx) = channel::<u32>();
        let other = tx.clone();
        let t = std::thread::spawn(move || other.send(1));
        assert_eq!(t.join().unwrap(), Ok(()));
        assert_eq!(tx.send(2), Err(2), "only one answer");
        assert_eq!(rx.recv(), Ok(1));
    }

    #[test]
    fn the_wait_ends_when_every_sender_is_gone() {
        let (tx, rx) = channel::<u32>();
        let copies: Vec<_> = (0..3).map(|_| tx.clone()).collect();
        drop(tx);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(copies);
        });
        assert_eq!(rx.recv(), Err(Closed));
        t.join().unwrap();
        // A value sent by the last sender just before it went is still received.
        let (tx, rx) = channel::<u32>();
        std::thread::spawn(move || tx.send(7))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(rx.recv(), Ok(7));
    }

    #[test]
    fn a_bounded_wait_gives_up_in_time_or_takes_a_late_enough_answer() {
        let (tx, rx) = channel::<u32>();
        let started = std::time::Instant::now();
        assert_eq!(rx.recv_timeout(std::time::Duration::from_millis(30)), None);
        assert!(started.elapsed() >= std::time::Duration::from_millis(30));
        drop(tx);
        let (tx, rx) = channel::<u32>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.send(5)
        });
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Some(5));
        t.join().unwrap().unwrap();
        let (tx, rx) = channel::<u32>();
        drop(tx);
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(10)),
            None,
            "closed: at once"
        );
    }

    #[test]
    fn a_coroutine_waits_without_blocking_its_thread() {
        let (tx, rx) = channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let waiting = may::go!(move || {
            let (tx2, rx2) = channel::<&'static str>();
            let answer = std::thread::spawn(move || tx2.send("hi"));
            assert_eq!(rx2.recv(), Ok("hi"));
            answer.join().unwrap().unwrap();
            assert_eq!(rx.recv(), Ok(()));
            done_tx.send(()).unwrap();
        });
        // Another coroutine still runs while the first waits.
        may::go!(move || tx.send(()).unwrap()).join().unwrap();
        waiting.join().unwrap();
        done_rx.recv().unwrap();
    }
}
