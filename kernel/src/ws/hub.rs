//! Rooms of WebSocket connections and what is sent to them. Each member's writes go through
//! its own lock and never wait: what the socket does not take joins the member's queue, which
//! its own session pushes on; past [`Limits::queue`] messages the member is dropped. A
//! broadcast frame is encoded once and shared by every queue it joins.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::frame;
use crate::http::Outbound;

/// Caps and timings for every connection of a [`Hub`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections in all rooms together.
    pub max_connections: usize,
    /// Connections in one room.
    pub max_per_room: usize,
    /// The longest message (after joining its fragments), in bytes; longer ends the
    /// connection with 1009.
    pub max_message: usize,
    /// Messages one member may have waiting before it is dropped (close code 1008).
    pub queue: usize,
    /// Bytes one member may have waiting before it is dropped, whatever their count.
    pub queue_bytes: usize,
    /// A quiet client is pinged after this long…
    pub ping_after: Duration,
    /// …and dropped (1001) when nothing at all has come from it for this long.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_per_room: 1024,
            max_message: 64 * 1024,
            queue: 256,
            queue_bytes: 1024 * 1024,
            ping_after: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

/// A hub's counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections open now.
    pub connections: u64,
    /// Messages broadcast to a room (from a client or a script), since start.
    pub broadcasts: u64,
    /// Frames those broadcasts were queued as, one per receiving client.
    pub deliveries: u64,
    /// Clients closed (1008) because they did not read fast enough.
    pub dropped_slow: u64,
}

/// Why a connection could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// [`Limits::max_connections`] are open.
    Server,
    /// [`Limits::max_per_room`] are in this room.
    Room,
}

/// What is waiting to go to one member.
struct Out {
    sink: Box<dyn Outbound>,
    queue: VecDeque<Arc<[u8]>>,
    /// Bytes of the queue's first frame already written.
    sent: usize,
    /// Bytes in the queue not yet written.
    waiting: usize,
    /// Dropped (too slow, or the socket failed): nothing more is written.
    dead: bool,
}

impl Out {
    /// Writes what the socket takes now. `Ok(true)` when nothing waits any more.
    fn pump(&mut self) -> bool {
        if self.dead {
            return true;
        }
        match self.sink.flush_now() {
            Ok(true) => {}
            Ok(false) => return false,
            Err(_) => return self.kill(),
        }
        while let Some(f) = self.queue.front() {
            match self.sink.send_now(&f[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => {
                    self.sent += n;
                    self.waiting -= n;
                    if self.sent == f.len() {
                        self.queue.pop_front();
                        self.sent = 0;
                    }
                }
                Err(_) => return self.kill(),
            }
        }
        true
    }

    fn kill(&mut self) -> bool {
        self.dead = true;
        self.queue.clear();
        self.waiting = 0;
        self.sink.close();
        true
    }
}

/// One connection in a room.
struct Peer {
    id: u64,
    out: Mutex<Out>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The rooms and their members. Shared (`Arc`) by the sessions and whoever broadcasts.
pub struct Hub {
    rooms: Mutex<HashMap<Box<str>, Vec<Arc<Peer>>>>,
    total: AtomicUsize,
    next_id: AtomicU64,
    /// Counters since start: see [`Stats`].
    broadcasts: AtomicU64,
    deliveries: AtomicU64,
    slow: AtomicU64,
    /// The caps every connection is held to.
    pub limits: Limits,
}

/// A connection's place in its room; leaving is dropping it.
pub struct Member {
    hub: Arc<Hub>,
    room: Box<str>,
    peer: Arc<Peer>,
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: Limits) -> Hub {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            broadcasts: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            limits,
        }
    }

    /// Adds a connection, writing through `sink`, to `room`.
    pub fn join(self: &Arc<Self>, room: &str, sink: Box<dyn Outbound>) -> Result<Member, Full> {
        let mut rooms = lock(&self.rooms);
        if self.total.load(Ordering::Relaxed) >= self.limits.max_connections {
            return Err(Full::Server);
        }
        let members = rooms.entry(room.into()).or_default();
        if members.len() >= self.limits.max_per_room {
            return Err(Full::Room);
        }
        let peer = Arc::new(Peer {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            out: Mutex::new(Out {
                sink,
                queue: VecDeque::new(),
                sent: 0,
                waiting: 0,
                dead: false,
            }),
        });
        members.push(peer.clone());
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(Member {
            hub: self.clone(),
            room: room.into(),
            peer,
        })
    }

    /// Connections in `room`.
    pub fn count(&self, room: &str) -> usize {
        lock(&self.rooms).get(room).map_or(0, Vec::len)
    }

    /// Connections in every room.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// What the hub has carried since it was made.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.total() as u64,
            broadcasts: self.broadcasts.load(Ordering::Relaxed),
            deliveries: self.deliveries.load(Ordering::Relaxed),
            dropped_slow: self.slow.load(Ordering::Relaxed),
        }
    }

    /// Sends a text (`binary` false) or binary message to every member of `room` but
    /// `except`; returns how many it was queued for.
    pub fn broadcast(
        &self,
        room: &str,
        binary: bool,
        msg: &[u8],
        except: Option<&Member>,
    ) -> usize {
        let op = if binary { frame::BINARY } else { frame::TEXT };
        let frame: Arc<[u8]> = frame::encode(op, msg).into();
        // A snapshot: writing happens outside the rooms' lock.
        let peers = match lock(&self.rooms).get(room) {
            Some(p) => p.clone(),
            None => return 0,
        };
        let skip = except.map(|m| m.peer.id);
        let n = peers
            .iter()
            .filter(|p| Some(p.id) != skip)
            .filter(|p| self.push(p, frame.clone()))
            .count();
        self.broadcasts.fetch_add(1, Ordering::Relaxed);
        self.deliveries.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Queues `frame` for one member and writes what goes now; false when it was dropped.
    fn push(&self, peer: &Peer, frame: Arc<[u8]>) -> bool {
        let mut out = lock(&peer.out);
        if out.dead {
            return false;
        }
        if out.queue.len() >= self.limits.queue
            || out.waiting + frame.len() > self.limits.queue_bytes
        {
            // Too slow: tell it why, if a close frame still fits, and let it go.
            let _ = out.sink.send_now(&frame::close(1008, "too slow"));
            out.kill();
            self.slow.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        out.waiting += frame.len();
        out.queue.push_back(frame);
        out.pump();
        !out.dead
    }
}

impl Member {
    /// Sends one frame (a pong, a close) to this member only.
    pub fn send(&self, frame: Vec<u8>) -> bool {
        self.hub.push(&self.peer, frame.into())
    }

    /// Writes what waits for this member; `true` when nothing does.
    pub fn pump(&self) -> bool {
        lock(&self.peer.out).pump()
    }

    /// Whether this member was dropped (too slow, or its socket failed).
    pub fn dropped(&self) -> bool {
        lock(&self.peer.out).dead
    }

    /// The room it is in.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The hub it is in.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Closes the connection both ways.
    pub fn close(&self) {
        lock(&self.peer.out).kill();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut rooms = lock(&self.hub.rooms);
        if let Some(members) = rooms.get_mut(&self.room) {
            members.retain(|p| p.id != self.peer.id);
            if members.is_empty() {
                rooms.remove(&self.room);
            }
        }
        self.hub.total.fetch_sub(1, Ordering::Relaxed);
    }
}
