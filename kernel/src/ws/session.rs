//! One WebSocket connection, on its HTTP connection's coroutine: reads frames, joins
//! fragments, answers pings and closes, relays each message to the rest of its room, pings a
//! quiet client and drops a silent one, and pushes on its own queue when the socket was full.

use std::io;
use std::time::{Duration, Instant};

use super::frame::{self, FrameError};
use super::hub::Member;
use crate::http::{Inbound, Lifecycle};

/// How often a waiting session looks at the server's state (a graceful stop ends it within
/// this), and how soon it retries a queue the socket did not take.
const POLL: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(20);

/// A message the session received whole.
pub enum Message<'a> {
    /// Text (valid UTF-8).
    Text(&'a str),
    /// Binary.
    Binary(&'a [u8]),
}

/// How the session ended, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed (a close frame or end of stream).
    Client,
    /// The client broke the protocol or a limit (the close code sent).
    Refused(u16),
    /// Silent past the idle timeout.
    Idle,
    /// Dropped for not reading its messages (or its socket failed).
    Dropped,
    /// The server is stopping.
    Stopping,
}

impl End {
    /// A name for the log (shipped builds format `Debug` as nothing).
    pub fn name(self) -> &'static str {
        match self {
            End::Client => "closed by the client",
            End::Refused(_) => "refused",
            End::Idle => "idle",
            End::Dropped => "dropped (too slow or broken)",
            End::Stopping => "server stopping",
        }
    }
}

/// Runs the connection until it ends; `on_message` sees each message before it goes to the
/// rest of the room (return `false` to keep it from them).
pub fn serve(
    mut early: Vec<u8>,
    inbound: &mut dyn Inbound,
    member: &Member,
    life: &Lifecycle,
    on_message: &mut dyn FnMut(&Message) -> bool,
) -> End {
    let limits = member.hub().limits.clone();
    let mut buf = std::mem::take(&mut early);
    let mut message: Vec<u8> = Vec::new();
    let mut message_op: Option<u8> = None;
    let mut heard = Instant::now();
    let mut pinged = false;
    let refuse = |code: u16, why: &str| {
        member.send(frame::close(code, why));
        End::Refused(code)
    };
    loop {
        // Every whole frame in the buffer.
        let mut used = 0;
        loop {
            let parsed = match frame::parse(&buf[used..], limits.max_message) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => return refuse(e.code(), e.reason()),
            };
            let (f, n) = parsed;
            used += n;
            heard = Instant::now();
            pinged = false;
            match f.opcode {
                frame::PING => {
                    member.send(frame::encode(frame::PONG, &f.payload));
                }
                frame::PONG => {}
                frame::CLOSE => {
                    let code = match f.payload.get(..2) {
                        Some(c) => u16::from_be_bytes([c[0], c[1]]),
                        None => 1000,
                    };
                    // Echo the code (RFC 6455 §5.5.1), except those no endpoint may send.
                    let code = if matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999) {
                        code
                    } else {
                        1002
                    };
                    member.send(frame::close(code, ""));
                    return End::Client;
                }
                op => {
                    let op = match (op, message_op) {
                        (frame::CONTINUATION, Some(op)) => op,
                        (frame::CONTINUATION, None) => {
                            return refuse(1002, "continuation of no message")
                        }
                        (_, Some(_)) => {
                            return refuse(1002, "a new message inside a fragmented one")
                        }
                        (op, None) => op,
                    };
                    if message.len() + f.payload.len() > limits.max_message {
                        return refuse(1009, FrameError::TooBig.reason());
                    }
                    if message_op.is_none() && f.fin {
                        // The common case: a whole message in one frame, not copied again.
                        if let Some(end) = deliver(op, &f.payload, member, on_message) {
                            return refuse(end, "text is not UTF-8");
                        }
                        continue;
                    }
                    message.extend_from_slice(&f.payload);
                    message_op = Some(op);
                    if f.fin {
                        let whole = std::mem::take(&mut message);
                        message_op = None;
                        if let Some(end) = deliver(op, &whole, member, on_message) {
                            return refuse(end, "text is not UTF-8");
                        }
                    }
                }
            }
        }
        buf.drain(..used);
        if buf.is_empty() {
            // An idle connection keeps no buffer.
            buf = Vec::new();
        }

        // Wait for more, bounded so the server's stop, the ping and the queue are looked at.
        if member.dropped() {
            return End::Dropped;
        }
        let drained = member.pump();
        if life.is_stopping() {
            member.send(frame::close(1001, "server stopping"));
            return End::Stopping;
        }
        let quiet = heard.elapsed();
        if quiet >= limits.idle_timeout {
            member.send(frame::close(1001, "idle"));
            return End::Idle;
        }
        if quiet >= limits.ping_after && !pinged {
            member.send(frame::encode(frame::PING, b""));
            pinged = true;
        }
        let mut wait = if drained { POLL } else { RETRY };
        if !pinged {
            wait = wait.min(limits.ping_after.saturating_sub(quiet));
        }
        wait = wait.min(limits.idle_timeout.saturating_sub(quiet));
        match read_more(inbound, &mut buf, wait) {
            Ok(0) => return End::Client,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                return if member.dropped() {
                    End::Dropped
                } else {
                    End::Client
                }
            }
        }
    }
}

/// One read into `buf`. Waiting with nothing buffered (an idle client, the usual state for
/// hours) it reads into a small buffer on the stack: the coroutine's whole stack then fits
/// in one page, 4 KiB less resident per idle client than with a 2 KiB buffer there (measured
/// 12 → 8 KiB per client). With part of a frame buffered, it reads straight into the heap
/// buffer, in larger steps.
fn read_more(inbound: &mut dyn Inbound, buf: &mut Vec<u8>, wait: Duration) -> io::Result<usize> {
    if buf.is_empty() {
        let mut chunk = [0u8; IDLE_READ];
        let n = inbound.recv(&mut chunk, wait)?;
        buf.extend_from_slice(&chunk[..n]);
        return Ok(n);
    }
    let at = buf.len();
    buf.resize(at + BUSY_READ, 0);
    let got = inbound.recv(&mut buf[at..], wait);
    buf.truncate(at + *got.as_ref().unwrap_or(&0));
    got
}

/// Read sizes: idle (on the stack, see [`read_more`]) and mid-frame (on the heap).
const IDLE_READ: usize = 512;
const BUSY_READ: usize = 4096;

/// Hands a whole message on; `Some(1007)` when text is not UTF-8.
fn deliver(
    op: u8,
    payload: &[u8],
    member: &Member,
    on_message: &mut dyn FnMut(&Message) -> bool,
) -> Option<u16> {
    let binary = op == frame::BINARY;
    let msg = if binary {
        Message::Binary(payload)
    } else {
        match std::str::from_utf8(payload) {
            Ok(t) => Message::Text(t),
            Err(_) => return Some(1007),
        }
    };
    if on_message(&msg) {
        member
            .hub()
            .broadcast(member.room(), binary, payload, Some(member));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{frame, handshake, Full, Hub, Limits};
    use crate::http::{
        server::serve_http, Body, Handler, Lifecycle, Request, Response, TcpListener,
    };
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    struct Rooms(Arc<Hub>);

    impl Handler for Rooms {
        fn handle(&self, req: &Request, _: &mut Body<'_>) -> Response {
            let hub = self.0.clone();
            let room = req.path().to_string();
            handshake::accept(
                req,
                Box::new(move |up, life| {
                    let mut inbound = up.inbound;
                    let Ok(member) = hub.join(&room, up.outbound) else {
                        return;
                    };
                    super::serve(up.early, inbound.as_mut(), &member, life, &mut |_| true);
                    member.pump();
                    member.close();
                }),
            )
        }
    }

    fn start(limits: Limits) -> (SocketAddr, Arc<Hub>, Arc<Lifecycle>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = Arc::new(Hub::new(limits));
        let life = Arc::new(Lifecycle::default());
        serve_http(
            listener,
            Arc::new(Rooms(hub.clone())),
            Arc::new(crate::http::Limits::default()),
            life.clone(),
        )
        .unwrap();
        (addr, hub, life)
    }

    /// Opens `/room` and returns the socket after the 101 head.
    fn open(addr: SocketAddr, room: &str) -> TcpStream {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /{room} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1);
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"));
        s
    }

    /// The next server frame (opcode, payload), `None` at the end of the stream.
    fn next(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).ok()?;
        let mut p = vec![0u8; (h[1] & 0x7f) as usize];
        s.read_exact(&mut p).ok()?;
        Some((h[0] & 0x0f, p))
    }

    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < until, "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_quiet_client_is_pinged_then_dropped_and_a_stop_says_going_away() {
        let (addr, hub, life) = start(Limits {
            ping_after: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(1500),
            ..Limits::default()
        });
        let mut quiet = open(addr, "a");
        let mut lively = open(addr, "a");
        wait_for("both joined", || hub.count("/a") == 2);
        let started = Instant::now();
        assert_eq!(next(&mut quiet), Some((frame::PING, vec![])));
        assert_eq!(next(&mut lively), Some((frame::PING, vec![])));
        // `lively` answers every ping; `quiet` never does and is dropped as idle.
        let pong = frame::tests::client_frame(true, frame::PONG, b"", [9, 8, 7, 6]);
        lively.write_all(&pong).unwrap();
        let (op, p) = next(&mut quiet).unwrap();
        assert_eq!((op, &p[..2]), (frame::CLOSE, &1001u16.to_be_bytes()[..]));
        assert!(started.elapsed() >= Duration::from_millis(1400));
        wait_for("the quiet one left", || hub.count("/a") == 1);
        // A graceful stop closes the rest with 1001 and waits for them.
        assert!(life.shutdown(Duration::from_secs(5)));
        loop {
            match next(&mut lively) {
                Some((frame::PING, _)) => lively.write_all(&pong).unwrap(),
                Some((op, p)) => {
                    assert_eq!((op, &p[..2]), (frame::CLOSE, &1001u16.to_be_bytes()[..]));
                    break;
                }
                None => panic!("no close frame at the stop"),
            }
        }
        assert_eq!(hub.total(), 0);
    }

    #[test]
    fn caps_per_room_and_over_all() {
        let (addr, hub, _life) = start(Limits {
            max_per_room: 2,
            max_connections: 3,
            ..Limits::default()
        });
        let _a = [open(addr, "x"), open(addr, "x")];
        wait_for("two in x", || hub.count("/x") == 2);
        let none = Box::new(NoSocket);
        assert_eq!(hub.join("/x", none).err(), Some(Full::Room));
        let _b = open(addr, "y");
        wait_for("one in y", || hub.total() == 3);
        assert_eq!(hub.join("/z", Box::new(NoSocket)).err(), Some(Full::Server));
        // A member's place is given back when it goes.
        let m = {
            drop(_b);
            wait_for("y left", || hub.total() == 2);
            hub.join("/z", Box::new(NoSocket)).unwrap()
        };
        assert_eq!((hub.count("/z"), hub.total()), (1, 3));
        drop(m);
        assert_eq!((hub.count("/z"), hub.total()), (0, 2));
    }

    struct NoSocket;

    impl crate::http::Outbound for NoSocket {
        fn send_now(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Ok(0)
        }
        fn flush_now(&mut self) -> std::io::Result<bool> {
            Ok(true)
        }
        fn close(&mut self) {}
    }
}
