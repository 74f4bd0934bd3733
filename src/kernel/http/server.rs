//! Listening sockets and the server's lifecycle: one accepting coroutine per listener, one
//! coroutine per connection, a connection cap, and graceful shutdown (stop accepting, let
//! in-flight requests finish, then the caller flushes and exits).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::net::{TcpListener, TcpStream};

use super::body::Body;
use super::request::Request;
use super::response::Response;
use super::Limits;

/// What the edge calls for every request. Implemented by fazt's router.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response;
}

/// Shared state of a running server, observed by every connection.
#[derive(Default)]
pub struct Lifecycle {
    stopping: AtomicBool,
    pub connections: AtomicUsize,
    pub in_flight: AtomicUsize,
    wake: std::sync::Mutex<Vec<SocketAddr>>,
}

impl Lifecycle {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops accepting (each listener is woken by a connection to itself) and waits up to
    /// `grace` for in-flight requests to finish. Returns whether they all did.
    pub fn shutdown(&self, grace: Duration) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let addrs = self.wake.lock().map(|a| a.clone()).unwrap_or_default();
        for addr in addrs {
            let _ = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
        let start = Instant::now();
        while self.in_flight.load(Ordering::SeqCst) > 0 {
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

/// Accepts connections on `listener` until shutdown, running `on_conn` for each in its own
/// coroutine. `on_conn` is where plain HTTP or a TLS handshake + HTTP happens.
pub fn run_listener<F>(
    listener: TcpListener,
    limits: Arc<Limits>,
    life: Arc<Lifecycle>,
    on_conn: F,
) -> io::Result<()>
where
    F: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
{
    let local = listener.local_addr()?;
    if let Ok(mut w) = life.wake.lock() {
        w.push(wake_addr(local));
    }
    let on_conn = Arc::new(on_conn);
    may::go!(move || loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if life.is_stopping() {
                    break;
                }
                if life.connections.load(Ordering::Relaxed) >= limits.max_connections {
                    // Over the cap: close at once rather than queue unbounded memory.
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                life.connections.fetch_add(1, Ordering::Relaxed);
                let life2 = life.clone();
                let f = on_conn.clone();
                may::go!(move || {
                    struct Guard(Arc<Lifecycle>);
                    impl Drop for Guard {
                        fn drop(&mut self) {
                            self.0.connections.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    let _g = Guard(life2);
                    f(stream, peer);
                });
            }
            Err(e) => {
                if life.is_stopping() {
                    break;
                }
                // EMFILE and friends: back off instead of spinning.
                log::warn!("accept on {local} failed: {e}");
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
        super::conn::serve_connection(stream, peer, false, handler.as_ref(), &l2, &life2);
    })
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
