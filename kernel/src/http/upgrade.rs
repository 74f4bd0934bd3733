//! A connection handed over after `101 Switching Protocols` (a WebSocket): the HTTP loop
//! stops parsing requests and gives the protocol above the two directions of the stream
//! apart. The read side stays with the connection's coroutine; the write side can be used
//! from any thread (a broadcast from another connection or from a script's thread) and
//! never waits, so one slow client can block nothing but itself.
//!
//! TCP splits into the may socket (reads) and a second descriptor of the same socket
//! (non-blocking writes). TLS splits the same way, the rustls state shared under a mutex that
//! is never held across a wait.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::server::Lifecycle;

/// The read direction of an upgraded connection.
pub trait Inbound: Send {
    /// One read of at most `buf.len()` bytes, waiting at most `timeout` (then `WouldBlock` or
    /// `TimedOut`); `Ok(0)` once the client has closed.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
}

/// The write direction of an upgraded connection. No call waits for the client.
pub trait Outbound: Send {
    /// Writes what the connection takes now: `Ok(n)`, `n` possibly 0 (the socket is full).
    fn send_now(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Pushes out bytes the transport itself still holds (TLS records); `Ok(true)` when none
    /// remain.
    fn flush_now(&mut self) -> io::Result<bool>;
    /// Ends the connection both ways: a `recv` waiting on the other side returns.
    fn close(&mut self);
}

/// What an [`Upgrader`] gets once the `101` head is out.
pub struct Upgraded {
    /// Bytes the client sent after its request head, read with it (the new protocol's first).
    pub early: Vec<u8>,
    /// The read direction.
    pub inbound: Box<dyn Inbound>,
    /// The write direction.
    pub outbound: Box<dyn Outbound>,
}

/// Runs the upgraded protocol on a fresh coroutine of the connection (see [`Handoff`]); the
/// connection ends when it returns. It should return soon after [`Lifecycle::is_stopping`]
/// turns true (the server's graceful stop waits for it).
pub type Upgrader = Box<dyn FnOnce(Upgraded, &Lifecycle) + Send>;

/// An upgraded connection on its way from the HTTP loop to its own coroutine.
///
/// Why a new coroutine: a connection's stack keeps every page the HTTP loop (and the TLS
/// handshake) ever touched — 16 KiB or more — for as long as the connection lives, and a
/// WebSocket lives for hours. A fresh stack holds only what the protocol itself touches, a
/// few KiB per idle client. The accept loop runs it (see
/// [`run_listener`](super::server::run_listener)); [`Handoff::run`] also ends the request's
/// in-flight count, which a graceful stop waits on.
#[must_use = "an upgraded connection's protocol runs only when its Handoff is run"]
pub struct Handoff {
    run: Upgrader,
    upgraded: Upgraded,
}

impl Handoff {
    pub(super) fn new(run: Upgrader, upgraded: Upgraded) -> Handoff {
        Handoff { run, upgraded }
    }

    /// Runs the protocol to its end, then marks the upgrade request finished in `life`.
    pub fn run(self, life: &Lifecycle) {
        (self.run)(self.upgraded, life);
        life.in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A second descriptor of a may socket, written without waiting.
struct RawOut(std::net::TcpStream);

impl RawOut {
    fn of(sock: &may::net::TcpStream) -> io::Result<RawOut> {
        // The duplicate shares the open file, so it is non-blocking like may's own.
        sock.inner().try_clone().map(RawOut)
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Write for RawOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Outbound for RawOut {
    fn send_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if would_block(&e) => Ok(0),
            other => other,
        }
    }
    fn flush_now(&mut self) -> io::Result<bool> {
        Ok(true)
    }
    fn close(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

impl Inbound for may::net::TcpStream {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        self.read(buf)
    }
}

/// Splits a may socket (see [`Transport::split`](super::Transport::split)).
pub(super) fn split_tcp(
    sock: may::net::TcpStream,
) -> io::Result<(Box<dyn Inbound>, Box<dyn Outbound>)> {
    let out = RawOut::of(&sock)?;
    Ok((Box::new(sock), Box::new(out)))
}

/// A second descriptor of a transport's socket, for [`split_tls`]; `None` where there is none.
pub(super) fn raw_clone(sock: &may::net::TcpStream) -> Option<std::net::TcpStream> {
    sock.inner().try_clone().ok()
}

#[cfg(feature = "tls")]
pub(super) use tls_split::split_tls;

#[cfg(feature = "tls")]
mod tls_split {
    use super::*;
    use rustls::ServerConnection;
    use std::sync::{Arc, Mutex, MutexGuard};

    type Shared = Arc<Mutex<ServerConnection>>;

    fn lock(c: &Shared) -> MutexGuard<'_, ServerConnection> {
        // A panic while holding it left a connection we simply go on closing.
        c.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the TLS records rustls holds until none remain or the socket is full.
    fn drain(c: &mut ServerConnection, out: &mut RawOut) -> io::Result<bool> {
        while c.wants_write() {
            match c.write_tls(out) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    struct TlsIn<S> {
        sock: S,
        conn: Shared,
        out: RawOut,
    }

    struct TlsOut {
        conn: Shared,
        out: RawOut,
    }

    impl<S: super::super::Transport> Inbound for TlsIn<S> {
        fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
            loop {
                match lock(&self.conn).reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    other => return other,
                }
                self.sock
                    .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
                let mut raw = [0u8; 2048];
                let n = self.sock.read(&mut raw)?;
                if n == 0 {
                    return Ok(0);
                }
                let mut c = lock(&self.conn);
                c.read_tls(&mut &raw[..n])?;
                let state = c.process_new_packets();
                // Alerts, key updates: out now (never waits).
                let _ = drain(&mut c, &mut self.out);
                state.map_err(io::Error::other)?;
            }
        }
    }

    impl Outbound for TlsOut {
        fn send_now(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut c = lock(&self.conn);
            if !drain(&mut c, &mut self.out)? {
                return Ok(0);
            }
            let n = c.writer().write(buf)?;
            drain(&mut c, &mut self.out)?;
            Ok(n)
        }
        fn flush_now(&mut self) -> io::Result<bool> {
            drain(&mut lock(&self.conn), &mut self.out)
        }
        fn close(&mut self) {
            let mut c = lock(&self.conn);
            c.send_close_notify();
            let _ = drain(&mut c, &mut self.out);
            self.out.close();
        }
    }

    /// Splits a TLS stream whose socket has a second descriptor.
    pub(in super::super) fn split_tls<S: super::super::Transport + 'static>(
        conn: ServerConnection,
        sock: S,
        raw: std::net::TcpStream,
    ) -> io::Result<(Box<dyn Inbound>, Box<dyn Outbound>)> {
        let conn = Arc::new(Mutex::new(conn));
        let input = TlsIn {
            sock,
            conn: conn.clone(),
            out: RawOut(raw.try_clone()?),
        };
        Ok((
            Box::new(input),
            Box::new(TlsOut {
                conn,
                out: RawOut(raw),
            }),
        ))
    }
}
