//! An unbounded first-in first-out queue between threads: any number of producers and
//! consumers, closable. What `std::sync::mpsc` does for the writer's and the JS workers'
//! jobs, in a few hundred bytes instead of a channel's three flavours per job type (its
//! `try_recv` alone added ~2 KB per type), and with [`Queue::try_pop`] for a consumer that
//! wants to know whether more work waits before it sleeps.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The queue; share it behind an `Arc`.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Consumers asleep in [`Queue::pop`]: a push wakes one only when there is one (a
    /// condvar's notify is a syscall even with nobody waiting).
    waiting: usize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                waiting: 0,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> Queue<T> {
    /// A poisoned lock still guards a sound queue: no code panics while holding it.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `item` at the back and wakes one waiting consumer; gives it back when the
    /// queue is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut st = self.lock();
        if st.closed {
            return Err(item);
        }
        st.items.push_back(item);
        let wake = st.waiting > 0;
        drop(st);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// The front item, waiting for one; `None` once the queue is closed and empty (what
    /// was queued before the close is still handed out).
    pub fn pop(&self) -> Option<T> {
        let mut st = self.lock();
        loop {
            if let Some(item) = st.items.pop_front() {
                return Some(item);
            }
            if st.closed {
                return None;
            }
            st.waiting += 1;
            st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
            st.waiting -= 1;
        }
    }

    /// The front item if there is one, without waiting.
    pub fn try_pop(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// Refuses further pushes and wakes every consumer (they drain what is left, then get
    /// `None`).
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use std::sync::Arc;

    #[test]
    fn items_come_out_in_order_and_close_drains_first() {
        let q = Queue::default();
        assert_eq!(q.try_pop(), None);
        for i in 0..3 {
            q.push(i).unwrap();
        }
        assert_eq!(q.pop(), Some(0));
        q.close();
        assert_eq!(q.push(9), Err(9), "closed: refused");
        assert_eq!(q.try_pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn many_producers_and_consumers_lose_nothing() {
        let q = Arc::new(Queue::default());
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(i) = q.pop() {
                        got.push(i);
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || (0..1000).for_each(|i| q.push(p * 1000 + i).unwrap()))
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        q.close();
        let mut all: Vec<i32> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..4000).collect::<Vec<_>>());
    }
}
