//! Listening sockets and the server's lifecycle: one accepting coroutine per listener, one
//! coroutine per connection, a connection cap, and graceful shutdown (stop accepting, let
//! in-flight requests finish, then the caller flushes and exits).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::net::{TcpListener, TcpStream};

use super::body::Body;
use super::request::Request;
use super::response::Response;
use super::upgrade::Handoff;
use super::Limits;

/// What the edge calls for every request: the product's router.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request, reading `body` only if it needs it (a body left unread closes the
    /// connection after the response). Runs on a `may` coroutine; a panic becomes a 500.
    fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response;
}

/// Shared state of a running server, observed by every connection.
#[derive(Default)]
pub struct Lifecycle {
    stopping: AtomicBool,
    /// Open connections (each counted from accept to close).
    pub connections: AtomicUsize,
    /// Requests between the start of their handler and the end of their response's write
    /// (an upgraded connection counts as one until it ends).
    pub in_flight: AtomicUsize,
    /// Requests begun since the start (wraps): a count standing still means a quiet server.
    pub begun: AtomicUsize,
    /// Connections (or, behind a trusted proxy, requests) per client address.
    pub per_ip: PerIp,
    wake: std::sync::Mutex<Vec<SocketAddr>>,
    /// Accept loops still running.
    accepting: AtomicUsize,
    /// Connections accepted whose first request has not begun (by peer address): shutdown
    /// waits for them too, or a request already sent, but not yet read when the process
    /// exits, would get no answer.
    fresh: std::sync::Mutex<HashMap<SocketAddr, u32>>,
}

/// Counts per client address, for [`Limits::max_connections_per_ip`]. An address leaves the
/// map when its count drops to zero, so the map holds only addresses that are connected.
#[derive(Default)]
pub struct PerIp(std::sync::Mutex<HashMap<IpAddr, u32>>);

/// One counted connection or request; uncounted when dropped.
pub struct IpSlot<'a> {
    map: &'a PerIp,
    ip: IpAddr,
}

impl PerIp {
    /// Counts one more for `ip` unless it already has `cap`.
    fn try_add(&self, ip: IpAddr, cap: usize) -> bool {
        let Ok(mut m) = self.0.lock() else {
            return true;
        };
        let n = m.entry(ip).or_insert(0);
        if *n as usize >= cap {
            return false;
        }
        *n += 1;
        true
    }

    fn remove(&self, ip: IpAddr) {
        if let Ok(mut m) = self.0.lock() {
            if let Some(n) = m.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }

    /// A slot for `ip`, or `None` when it already holds `cap`.
    pub fn acquire(&self, ip: IpAddr, cap: usize) -> Option<IpSlot<'_>> {
        self.try_add(ip, cap).then_some(IpSlot { map: self, ip })
    }

    /// What `ip` holds now.
    pub fn count(&self, ip: IpAddr) -> u32 {
        self.0
            .lock()
            .map_or(0, |m| m.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for IpSlot<'_> {
    fn drop(&mut self) {
        self.map.remove(self.ip);
    }
}

/// Logs a failing accept at most once per interval, with how many were not logged: under
/// descriptor exhaustion accept fails ten times a second and the log must stay readable.
struct AcceptErrors {
    last: Option<Instant>,
    suppressed: u64,
}

impl AcceptErrors {
    const EVERY: Duration = Duration::from_secs(10);

    fn report(&mut self, local: SocketAddr, e: &io::Error) {
        if self.last.is_some_and(|t| t.elapsed() < Self::EVERY) {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            log::warn!(
                "accept on {local} failed: {e} ({} more failures in the last {} s not logged)",
                self.suppressed,
                Self::EVERY.as_secs()
            );
        } else {
            log::warn!("accept on {local} failed: {e}");
        }
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

impl Lifecycle {
    /// [`Lifecycle::shutdown`] has begun: no new connections, no more keep-alive.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn mark_fresh(&self, peer: SocketAddr) {
        if let Ok(mut m) = self.fresh.lock() {
            *m.entry(peer).or_insert(0) += 1;
        }
    }

    /// The connection from `peer` began its first request, or closed (idempotent per
    /// connection: the second call finds nothing left to remove).
    pub(super) fn not_fresh(&self, peer: SocketAddr) {
        if let Ok(mut m) = self.fresh.lock() {
            if let Some(n) = m.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&peer);
                }
            }
        }
    }

    fn any_fresh(&self) -> bool {
        self.fresh.lock().map(|m| !m.is_empty()).unwrap_or(false)
    }

    /// Stops accepting (each listener is woken by a connection to itself) and waits up to
    /// `grace` for in-flight requests to finish, and up to a second for connections accepted
    /// but not yet read to begin theirs. Returns whether the requests all finished.
    pub fn shutdown(&self, grace: Duration) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let addrs = self.wake.lock().map(|a| a.clone()).unwrap_or_default();
        // A listening socket may be shared with a process taking over (a restart hands it
        // on): a wake connection can then be accepted there instead, so wake until every
        // accept loop here has ended (bounded: one second).
        let start = Instant::now();
        loop {
            for addr in &addrs {
                let _ = std::net::TcpStream::connect_timeout(addr, Duration::from_millis(200));
            }
            if self.accepting.load(Ordering::SeqCst) == 0
                || start.elapsed() > Duration::from_secs(1)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = Instant::now();
        // A connection that has not sent its request gets at most a second: long enough for
        // a request already on its way, short of holding a stop for every idle preconnect
        // until its header timeout.
        let fresh_until = Duration::from_secs(1).min(grace);
        while self.in_flight.load(Ordering::SeqCst) > 0
            || (self.any_fresh() && start.elapsed() < fresh_until)
        {
            if start.elapsed() > grace {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// Address to connect to in order to wake a listener bound to `addr` (wildcards → loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// The stack of an upgraded connection's coroutine (see [`Handoff`]). Only touched pages
/// are resident, so its size is a ceiling, not a cost: a WebSocket session measured under
/// 8 KiB of it over TLS with debug logging (an odd word count makes may report the use).
const UPGRADED_STACK_BYTES: usize = 64 * 1024;

/// Accepts connections on `listener` until shutdown, running `on_conn` for each in its own
/// coroutine. `on_conn` is where plain HTTP or a TLS handshake + HTTP happens; the
/// [`Handoff`] it returns for an upgraded connection runs on a coroutine of its own, still
/// counted as the same connection.
pub fn run_listener<F>(
    listener: TcpListener,
    limits: Arc<Limits>,
    life: Arc<Lifecycle>,
    on_conn: F,
) -> io::Result<()>
where
    F: Fn(TcpStream, SocketAddr) -> Option<Handoff> + Send + Sync + 'static,
{
    let local = listener.local_addr()?;
    if let Ok(mut w) = life.wake.lock() {
        w.push(wake_addr(local));
    }
    let on_conn = Arc::new(on_conn);
    let mut errors = AcceptErrors {
        last: None,
        suppressed: 0,
    };
    life.accepting.fetch_add(1, Ordering::SeqCst);
    may::go!(move || loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                // Stopping: this is the last connection; it is served (it may be a real
                // client's, when the socket is shared with a successor), then the loop ends.
                let last = life.is_stopping();
                if last {
                    life.accepting.fetch_sub(1, Ordering::SeqCst);
                }
                if life.connections.load(Ordering::Relaxed) >= limits.max_connections {
                    // Over the cap: close at once rather than queue unbounded memory.
                    drop(stream);
                    if last {
                        break;
                    }
                    continue;
                }
                // One address may not take every slot. A trusted proxy is counted per
                // forwarded client instead, request by request (see `conn`).
                let ip = peer.ip();
                let per_ip =
                    limits.max_connections_per_ip > 0 && !limits.trusted_proxies.contains(&ip);
                if per_ip && !life.per_ip.try_add(ip, limits.max_connections_per_ip) {
                    drop(stream);
                    if last {
                        break;
                    }
                    continue;
                }
                let _ = stream.set_nodelay(true);
                life.connections.fetch_add(1, Ordering::Relaxed);
                // Counted before its coroutine exists: shutdown must not miss it.
                life.mark_fresh(peer);
                let life2 = life.clone();
                let f = on_conn.clone();
                may::go!(move || {
                    struct Guard(Arc<Lifecycle>, Option<IpAddr>, SocketAddr);
                    impl Drop for Guard {
                        fn drop(&mut self) {
                            self.0.not_fresh(self.2);
                            self.0.connections.fetch_sub(1, Ordering::Relaxed);
                            if let Some(ip) = self.1 {
                                self.0.per_ip.remove(ip);
                            }
                        }
                    }
                    let guard = Guard(life2, per_ip.then_some(ip), peer);
                    let Some(handoff) = f(stream, peer) else {
                        return;
                    };
                    // A fresh stack, not this one with every page the HTTP loop touched. A
                    // size other than the pool's also keeps may from lending a used stack.
                    let words = (UPGRADED_STACK_BYTES / std::mem::size_of::<usize>()) & !1;
                    let started = may::go!(
                        may::coroutine::Builder::new().stack_size(words),
                        move || {
                            let guard = guard;
                            handoff.run(&guard.0);
                        }
                    );
                    if let Err(e) = started {
                        // may aborts when it cannot map a stack, so this does not happen
                        // today; were it to, the connection closes here and a graceful stop
                        // waits its grace out for the request left in flight.
                        log::warn!("cannot start a coroutine for an upgraded connection: {e}");
                    }
                });
                if last {
                    break;
                }
            }
            Err(e) => {
                if life.is_stopping() {
                    life.accepting.fetch_sub(1, Ordering::SeqCst);
                    break;
                }
                // EMFILE and friends: back off instead of spinning, and keep the log short.
                errors.report(local, &e);
                may::coroutine::sleep(Duration::from_millis(100));
            }
        }
    });
    Ok(())
}

/// Serves plain HTTP on `listener` with `handler`.
pub fn serve_http(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    limits: Arc<Limits>,
    life: Arc<Lifecycle>,
) -> io::Result<()> {
    let l2 = limits.clone();
    let life2 = life.clone();
    run_listener(listener, limits, life, move |stream, peer| {
        super::conn::serve_connection(stream, peer, false, handler.as_ref(), &l2, &life2)
    })
}

/// The whole server in one call (as mini-redis's `server::run`): serves `handler` on
/// `listener` until `shutdown` returns, then stops accepting and waits up to `grace` for
/// requests in flight. Returns whether they all finished. `shutdown` blocks the calling
/// thread (wait for a signal, a channel, stdin…); serving happens on `may` coroutines.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use fazt_kernel::http::{server, Body, Handler, Limits, Request, Response, TcpListener};
/// struct Hello;
/// impl Handler for Hello {
///     fn handle(&self, _: &Request, _: &mut Body<'_>) -> Response {
///         Response::text(200, "hello")
///     }
/// }
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let (stop, stopped) = std::sync::mpsc::channel::<()>();
/// # drop(stop);
/// server::run(listener, Arc::new(Hello), Limits::default(), std::time::Duration::from_secs(5), move || {
///     let _ = stopped.recv();
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn run(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    limits: Limits,
    grace: Duration,
    shutdown: impl FnOnce(),
) -> io::Result<bool> {
    let life = Arc::new(Lifecycle::default());
    serve_http(listener, handler, Arc::new(limits), life.clone())?;
    shutdown();
    Ok(life.shutdown(grace))
}

/// Configures the `may` runtime once, before any coroutine starts: explicit stack size in
/// bytes (converted to may's words, so armv7 gets the same bytes as x86_64), a small pool of
/// pre-made coroutines (the default 1,000 cost ~8 MB idle RSS), one worker per core.
pub fn configure_runtime(stack_bytes: usize, workers: usize) {
    let words = stack_bytes / std::mem::size_of::<usize>();
    // may fills odd-sized stacks to measure them; keep the word count even.
    let words = words & !1;
    may::config()
        .set_stack_size(words)
        .set_pool_capacity(100)
        .set_workers(workers.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Body, Request, Response};
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicBool;

    struct Hello;
    impl Handler for Hello {
        fn handle(&self, _: &Request, _: &mut Body<'_>) -> Response {
            Response::text(200, "hello")
        }
    }

    /// A client connected before shutdown whose request is not read yet — it was slow, or
    /// its coroutine had not run — is still answered: shutdown waits for it (a restart hands
    /// the socket on, and the old process exits when shutdown returns).
    #[test]
    fn shutdown_waits_for_an_accepted_connection_to_send_its_request() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let life = Arc::new(Lifecycle::default());
        serve_http(
            listener,
            Arc::new(Hello),
            Arc::new(Limits::default()),
            life.clone(),
        )
        .unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while life.connections.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "never accepted");
            std::thread::sleep(Duration::from_millis(5));
        }
        let done = Arc::new(AtomicBool::new(false));
        let stopper = {
            let (life, done) = (life.clone(), done.clone());
            std::thread::spawn(move || {
                let all = life.shutdown(Duration::from_secs(5));
                done.store(true, Ordering::SeqCst);
                all
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !done.load(Ordering::SeqCst),
            "shutdown returned while an accepted connection had not been served"
        );
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out:?}");
        assert!(out.ends_with("hello"), "{out:?}");
        assert!(
            stopper.join().unwrap(),
            "shutdown should report every request finished"
        );
    }
}
