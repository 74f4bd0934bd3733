//! Where the request path puts events: one buffer per serving thread, bounded, swapped out
//! whole by the recorder.
//!
//! Appending locks only the calling thread's own buffer — a lock no other thread touches
//! except the recorder, for the instant of a swap — so there is no cross-core contention, and
//! the buffers' memory is reused batch after batch (no allocation per request once warm, and
//! nothing allocated on one thread and freed on another). When a thread's buffer is full the
//! event is dropped and counted; when it is half full the recorder is woken.
//!
//! Coroutines may move between threads, but never during an append (nothing in it yields).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

use super::event::{Hit, Pending};

/// One thread's events since the last swap.
#[derive(Default)]
pub struct Local {
    pub hits: Vec<Hit>,
    /// The strings of `hits`.
    pub text: String,
    pub events: Vec<Pending>,
}

/// Text capacity kept across batches; a flood of long requests may grow it, once, beyond.
const KEEP_TEXT: usize = 256 * 1024;
/// Most text one thread's buffer holds (a capture adds at most ~1.6 KB past it), so a flood
/// of requests with huge headers cannot hold `capacity` times the longest capture.
pub const MAX_TEXT: usize = 1024 * 1024;

impl Local {
    pub fn len(&self) -> usize {
        self.hits.len() + self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties it for reuse, handing back memory a flood grew it to.
    pub fn recycle(&mut self, capacity: usize) {
        self.hits.clear();
        self.text.clear();
        self.events.clear();
        self.hits.shrink_to(capacity);
        self.text.shrink_to(KEEP_TEXT);
        self.events.shrink_to(64);
    }
}

type Slot = Arc<Mutex<Local>>;

thread_local! {
    /// This thread's buffer for each `Buffers` (one per server, so normally one).
    static MINE: RefCell<Vec<(usize, Slot)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn lock(slot: &Mutex<Local>) -> MutexGuard<'_, Local> {
    // Nothing panics while holding it; if something did, the data is still just events.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Buffers {
    id: usize,
    capacity: usize,
    wake_at: usize,
    registry: Mutex<Vec<Slot>>,
    dropped: AtomicU64,
    recorder: OnceLock<Thread>,
}

impl Buffers {
    /// `capacity`: events one thread may hold before new ones are dropped.
    pub fn new(capacity: usize) -> Buffers {
        let capacity = capacity.max(1);
        Buffers {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            capacity,
            wake_at: (capacity / 2).max(1),
            registry: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            recorder: OnceLock::new(),
        }
    }

    /// The thread to wake when a buffer is half full.
    pub fn set_recorder(&self, t: Thread) {
        let _ = self.recorder.set(t);
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends one event with `add` unless this thread's buffer is full. Returns false when
    /// the event was dropped (and counted).
    pub fn push(&self, add: impl FnOnce(&mut Local)) -> bool {
        let outcome = MINE.try_with(|mine| {
            let mut mine = mine.borrow_mut();
            let i = match mine.iter().position(|(id, _)| *id == self.id) {
                Some(i) => i,
                None => {
                    let slot: Slot = Arc::default();
                    self.registry
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(slot.clone());
                    mine.push((self.id, slot));
                    mine.len() - 1
                }
            };
            let (_, slot) = mine.get(i)?;
            let mut local = lock(slot);
            let n = local.len();
            if n >= self.capacity || local.text.len() >= MAX_TEXT {
                return None;
            }
            add(&mut local);
            Some(n + 1 == self.wake_at)
        });
        match outcome {
            Ok(Some(wake)) => {
                if wake {
                    if let Some(t) = self.recorder.get() {
                        t.unpark();
                    }
                }
                true
            }
            // Full, or a thread being torn down.
            Ok(None) | Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    fn slots(&self) -> Vec<Slot> {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes every non-empty buffer, leaving an empty one from `spares` in its place.
    pub fn collect(&self, spares: &mut Vec<Local>) -> Vec<Local> {
        let mut full = Vec::new();
        for slot in self.slots() {
            let mut local = lock(&slot);
            if !local.is_empty() {
                let spare = spares.pop().unwrap_or_default();
                full.push(std::mem::replace(&mut *local, spare));
            }
        }
        full
    }

    /// Events waiting in the buffers.
    pub fn queued(&self) -> usize {
        self.slots().iter().map(|s| lock(s).len()).sum()
    }

    /// Whether some thread's buffer is at least half full.
    pub fn behind(&self) -> bool {
        self.slots().iter().any(|s| lock(s).len() >= self.wake_at)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Number of threads that have recorded (buffers to recycle).
    pub fn threads(&self) -> usize {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::event::Row;

    fn pending() -> Pending {
        Pending {
            row: Row::default(),
            ip: "127.0.0.1".parse().unwrap(),
            user_agent: String::new(),
            redirect_id: None,
        }
    }

    #[test]
    fn bounded_per_thread_collected_whole_and_reused() {
        let b = Arc::new(Buffers::new(3));
        for _ in 0..5 {
            b.push(|l| l.events.push(pending()));
        }
        assert_eq!(b.dropped(), 2);
        assert_eq!(b.queued(), 3);
        // Another thread has its own buffer.
        let b2 = b.clone();
        std::thread::spawn(move || {
            assert!(b2.push(|l| l.events.push(pending())));
        })
        .join()
        .unwrap();
        assert_eq!((b.queued(), b.threads()), (4, 2));
        assert!(b.behind());
        let mut spares = Vec::new();
        let mut full = b.collect(&mut spares);
        assert_eq!(full.iter().map(Local::len).sum::<usize>(), 4);
        assert_eq!(b.queued(), 0);
        assert!(!b.behind());
        for l in &mut full {
            l.recycle(3);
        }
        spares.extend(full);
        assert!(b.push(|l| l.events.push(pending())));
        let again = b.collect(&mut spares);
        assert_eq!(again.len(), 1);
        assert_eq!(spares.len(), 1, "an emptied buffer was put back in service");
        // Text is bounded too.
        let t = Buffers::new(100);
        let big = "x".repeat(MAX_TEXT);
        assert!(t.push(|l| l.text.push_str(&big)));
        assert!(!t.push(|l| l.events.push(pending())));
        assert_eq!(t.dropped(), 1);
        // Two sets of buffers never mix.
        let other = Buffers::new(3);
        assert!(other.push(|l| l.events.push(pending())));
        assert_eq!((other.queued(), b.queued()), (1, 0));
    }
}
