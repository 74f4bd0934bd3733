//! WebSocket (RFC 6455) on the HTTP edge's upgrade path: the opening handshake, the framing
//! (hand-written, property-tested), rooms of connections with bounded per-client queues and
//! broadcast, and one connection's session loop (fragments, ping/pong, idle and size limits,
//! close codes). No extensions and no subprotocols are negotiated.
//!
//! A product answers a request that [`handshake::is_upgrade`] with [`handshake::accept`], a
//! `101` whose upgrader joins a [`Hub`] room and runs [`session::serve`] on a fresh coroutine
//! of the connection (see [`crate::http::Handoff`]): a message from a client goes to the room's
//! other clients, and [`Hub::broadcast`] sends to all of them from any thread. Writes never
//! wait for a client: one that does not keep up gets a queue of [`Limits::queue`] messages and
//! is then dropped with close code 1008, so a slow reader costs a bounded amount of memory and
//! nobody else's time.

pub mod frame;
pub mod handshake;
pub mod hub;
pub mod session;

pub use hub::{Full, Hub, Limits, Member, Stats};
