//! One connection's request loop, generic over the transport (TCP or TLS): read a head under
//! the header timeout, hand it to the handler with a lazily read body, write the response.
//! Pipelined requests already in the buffer are answered together in one write. An idle
//! connection holds no heap buffers, so thousands of idle keep-alive clients stay cheap.

use std::cell::RefCell;
use std::io;

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::body::{Body, Source};
use super::request::{parse_head, HeadError};
use super::response::{bodiless, reason, BodySink, Response, ResponseBody};
use super::server::{Handler, Lifecycle};
use super::transport::Transport;
use super::upgrade::Handoff;
use super::Limits;

/// Responses are flushed once this much is queued, even if more pipelined requests wait.
const FLUSH_AT: usize = 64 * 1024;
/// An idle keep-alive connection waits in reads of at most this long (until its idle
/// timeout is reached in all). may keeps a read's timer until its deadline even when the
/// read completes first in some cases; a 60 s timer per request kept ~1 M of them alive at
/// 30,000 script requests/s (200 MB of RSS). Slices also let an idle connection see a
/// graceful stop within a second.
const IDLE_SLICE: Duration = Duration::from_secs(1);
/// Size of one read from the socket into the connection's buffer…
const READ_CHUNK: usize = 4 * 1024;
/// …and once a large head or body is arriving.
const BIG_READ_CHUNK: usize = 32 * 1024;
/// The stack buffer an idle connection waits on (see `read_more`).
const IDLE_READ: usize = 1024;
/// Empty-line bytes (CR, LF) tolerated before a request line (RFC 9112 §2.2 asks for at
/// least one CRLF). More is a flood, not a client bug: 400 and close.
const MAX_EMPTY_LINE_BYTES: usize = 16;
/// Every this many requests a connection checks whether its client let it wait since;
/// if not (the next request is already there), it pauses for [`PAUSE`]. may's worker polls
/// for new I/O events (accepts, other connections' reads) only once its run queue is
/// empty, and a coroutine whose reads always find data never leaves that queue — a plain
/// yield puts it straight back — so one client pipelining at loopback speed would starve
/// everything else on its worker. A client that waits for each answer never pauses.
const YIELD_EVERY: u32 = 16;
/// Long enough to take the coroutine off the run queue (it sleeps on may's timer), short
/// enough that a pipelining client still gets its share of the worker.
const PAUSE: Duration = Duration::from_micros(100);

fn read_retrying<S: Transport>(s: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The connection as seen by a streamed body: refuses to write past the declared length,
/// and gives the other connections of its worker thread a turn every [`TURN_BYTES`] bytes.
struct Bounded<'a, S: Transport> {
    inner: &'a mut S,
    left: u64,
    /// Bytes written since the last turn given away.
    since_yield: usize,
}

/// An open body's sink: [`Bounded`], whose `stopping` follows the server's lifecycle.
/// Not generic over the transport: one copy serves TCP and TLS alike.
struct Watched<'a> {
    out: &'a mut dyn BodySink,
    life: Option<&'a Lifecycle>,
}

impl std::io::Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl BodySink for Watched<'_> {
    fn write_now(&mut self, buf: &[u8]) -> io::Result<Option<usize>> {
        self.out.write_now(buf)
    }
    fn stopping(&self) -> bool {
        self.life.is_some_and(Lifecycle::is_stopping)
    }
}

/// A client that drains as fast as we write (a 200 MB download over loopback) never makes
/// the socket block, so its coroutine would never park: every other request on that worker
/// thread waited for the whole transfer (measured: p99 of small GETs 0.3 → 229 ms during a
/// 200 MB backup download on 2 cores). As for pipelining, the turn is a [`PAUSE`]: a plain
/// yield would put it straight back.
const TURN_BYTES: usize = 256 * 1024;

impl<S: Transport> Bounded<'_, S> {
    fn wrote(&mut self, n: usize) {
        self.left -= n as u64;
        self.since_yield += n;
        if self.since_yield >= TURN_BYTES {
            self.since_yield = 0;
            may::coroutine::sleep(PAUSE);
        }
    }
}

impl<S: Transport> std::io::Write for Bounded<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(
                "streamed body longer than its Content-Length",
            ));
        }
        let n = self.inner.write(buf)?;
        self.wrote(n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Transport> BodySink for Bounded<'_, S> {
    fn write_now(&mut self, buf: &[u8]) -> io::Result<Option<usize>> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(
                "streamed body longer than its Content-Length",
            ));
        }
        let n = self.inner.write_now(buf)?;
        if let Some(n) = n {
            self.wrote(n);
        }
        Ok(n)
    }
}

struct Wire<S: Transport> {
    s: S,
    rbuf: Vec<u8>,
    start: usize,
    wbuf: Vec<u8>,
    body_timeout: Duration,
    /// The socket's read timeout as last set (setting it is a syscall: skip when unchanged).
    read_timeout: Option<Duration>,
    /// The current body's minimum rate (see [`Limits::min_body_rate`]): when it started,
    /// how many bytes it has brought, and the rate and grace it is held to.
    body_started: Instant,
    body_bytes: u64,
    min_body_rate: u64,
    body_grace: Duration,
    /// The `Server` header's value ([`Limits::server_header`]).
    server: &'static str,
}

impl<S: Transport> Wire<S> {
    fn pending(&self) -> &[u8] {
        &self.rbuf[self.start..]
    }

    /// One read, bounded by `timeout`, appended to the read buffer.
    fn read_more(&mut self, timeout: Duration) -> io::Result<usize> {
        // Re-arm only when the bound grows or shrinks by more than a second: the callers
        // check their own deadlines between reads, so a slightly long single read is harmless,
        // and a keep-alive request then costs no setsockopt at all.
        let timeout = timeout.max(Duration::from_millis(1));
        let rearm = match self.read_timeout {
            Some(cur) => timeout > cur || cur - timeout > Duration::from_secs(1),
            None => true,
        };
        if rearm {
            self.s.set_read_timeout(Some(timeout))?;
            self.read_timeout = Some(timeout);
        }
        if self.start > 0 && self.start == self.rbuf.len() {
            self.rbuf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.rbuf.len() / 2 {
            self.rbuf.drain(..self.start);
            self.start = 0;
        }
        if self.rbuf.capacity() == 0 {
            // An idle connection owns no heap buffer: wait on a small stack buffer and only
            // allocate once bytes arrive.
            let mut first = [0u8; IDLE_READ];
            let n = read_retrying(&mut self.s, &mut first)?;
            self.rbuf.reserve(READ_CHUNK.max(n));
            self.rbuf.extend_from_slice(&first[..n]);
            return Ok(n);
        }
        let len = self.rbuf.len();
        let chunk = if len >= READ_CHUNK {
            BIG_READ_CHUNK
        } else {
            READ_CHUNK
        };
        self.rbuf.resize(len + chunk, 0);
        let r = read_retrying(&mut self.s, &mut self.rbuf[len..]);
        let n = *r.as_ref().unwrap_or(&0);
        self.rbuf.truncate(len + n);
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let r = self.s.write_all(&self.wbuf);
            self.wbuf.clear();
            r?;
        }
        self.s.flush()
    }

    /// Drops the buffers' memory while the connection waits for its next request.
    fn release_buffers(&mut self) {
        if self.start >= self.rbuf.len() {
            self.rbuf = Vec::new();
            self.start = 0;
        }
        if self.wbuf.is_empty() {
            self.wbuf = Vec::new();
        }
    }
}

impl<S: Transport> Source for Wire<S> {
    fn buffered(&self) -> &[u8] {
        self.pending()
    }
    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.rbuf.len());
    }
    fn fill(&mut self) -> io::Result<usize> {
        let mut timeout = self.body_timeout;
        if self.min_body_rate > 0 {
            // By now the client must have sent `rate × (elapsed − grace)` bytes: the bytes
            // it has sent buy it time until `grace + bytes / rate`.
            let earned =
                Duration::from_secs_f64(self.body_bytes as f64 / self.min_body_rate as f64);
            let allowed = self.body_grace.saturating_add(earned);
            match allowed.checked_sub(self.body_started.elapsed()) {
                Some(left) if !left.is_zero() => timeout = timeout.min(left),
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request body slower than the minimum rate",
                    ))
                }
            }
        }
        let n = self.read_more(timeout)?;
        self.body_bytes += n as u64;
        Ok(n)
    }
    fn send_continue(&mut self) -> io::Result<()> {
        self.wbuf
            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        // The client starts sending only now: the rate is counted from here.
        self.body_started = Instant::now();
        self.flush()
    }
}

thread_local! {
    // (unix second, formatted). Used without yielding, so a coroutine moving between
    // threads never observes another thread's half-written value.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs || d.1.is_empty() {
            *d = (secs, crate::http_date::format(secs as i64));
        }
        out.extend_from_slice(d.1.as_bytes());
    });
}

fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Serialises the status line and headers. Framing headers are always ours, never the
/// handler's, so a handler (or a site's script) cannot desynchronise the connection.
fn write_head(out: &mut Vec<u8>, resp: &Response, keep_alive: bool, minor: u8, server: &str) {
    let status = resp.status;
    let headers_len: usize = resp
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    let body_len = resp
        .body
        .as_slice()
        .map_or(0, |b| if b.len() <= FLUSH_AT { b.len() } else { 0 });
    out.reserve(128 + headers_len + body_len);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    if !server.is_empty() {
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(server.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    push_date(out);
    out.extend_from_slice(b"\r\n");
    for (name, value) in &resp.headers {
        let managed = [
            "content-length",
            "transfer-encoding",
            "connection",
            "date",
            "server",
        ]
        .iter()
        .any(|m| name.eq_ignore_ascii_case(m));
        if managed || !valid_header(name, value) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !bodiless(status) && !matches!(resp.body, ResponseBody::Open(_)) {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(resp.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if matches!(resp.body, ResponseBody::Upgrade(_)) {
        out.extend_from_slice(b"Connection: Upgrade\r\n");
    } else if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn error_response(status: u16, message: &str) -> Response {
    Response::text(status, format!("{message}\n")).closing()
}

/// Writes `resp`; returns false when the connection must close (stream failure).
fn send<S: Transport>(
    wire: &mut Wire<S>,
    mut resp: Response,
    keep: bool,
    head_only: bool,
    minor: u8,
    life: Option<&Lifecycle>,
) -> bool {
    if !(100..=999).contains(&resp.status) || (100..200).contains(&resp.status) {
        resp = error_response(500, "handler produced an invalid status");
    }
    write_head(&mut wire.wbuf, &resp, keep, minor, wire.server);
    if head_only || bodiless(resp.status) {
        return true;
    }
    match resp.body {
        ResponseBody::Stream { producer, len } => {
            if wire.flush().is_err() {
                return false;
            }
            let mut out = Bounded {
                inner: &mut wire.s,
                left: len,
                since_yield: 0,
            };
            // Short, long or failed: the connection closes, the client sees a truncated body.
            producer(&mut out).is_ok() && out.left == 0
        }
        ResponseBody::Open(producer) => {
            if wire.flush().is_err() {
                return false;
            }
            let mut out = Bounded {
                inner: &mut wire.s,
                left: u64::MAX,
                since_yield: 0,
            };
            let mut watch = Watched {
                out: &mut out,
                life,
            };
            let _ = producer(&mut watch);
            false
        }
        ref body => {
            if let Some(bytes) = body.as_slice() {
                if bytes.len() > FLUSH_AT {
                    // Large in-memory bodies go straight out instead of being copied.
                    return wire.flush().is_ok() && wire.s.write_all(bytes).is_ok();
                }
                wire.wbuf.extend_from_slice(bytes);
            }
            true
        }
    }
}

/// Whether a complete head may be in `buf`: an empty line (`\n\r\n` or `\n\n`) occurs
/// at or after `from`, or three bytes before it (a terminator split across two reads).
/// Searching only the new bytes keeps a head that trickles in byte by byte linear to
/// receive instead of re-parsing the whole buffer on every read.
fn head_may_be_complete(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(3).min(buf.len())..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// Serves one connection until the client leaves, a timeout fires, an error closes it, or the
/// server stops — or until a handler upgrades it (a WebSocket): then the `101` is out and the
/// returned [`Handoff`] carries the new protocol, to be run on a fresh coroutine (see
/// [`Handoff`] for why). The request stays in flight until the handoff has run.
#[must_use = "an upgraded connection's protocol runs only when its Handoff is run"]
pub fn serve_connection<S: Transport>(
    stream: S,
    peer: SocketAddr,
    secure: bool,
    handler: &dyn Handler,
    limits: &Limits,
    life: &Lifecycle,
) -> Option<Handoff> {
    let mut handoff = None;
    serve_requests(stream, peer, secure, handler, limits, life, &mut handoff);
    handoff
}

/// The request loop of [`serve_connection`]; an upgrade leaves its protocol in `handoff`.
fn serve_requests<S: Transport>(
    stream: S,
    peer: SocketAddr,
    secure: bool,
    handler: &dyn Handler,
    limits: &Limits,
    life: &Lifecycle,
    handoff: &mut Option<Handoff>,
) {
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let mut wire = Wire {
        s: stream,
        rbuf: Vec::new(),
        start: 0,
        wbuf: Vec::new(),
        body_timeout: limits.body_timeout,
        read_timeout: None,
        body_started: Instant::now(),
        body_bytes: 0,
        min_body_rate: limits.min_body_rate,
        body_grace: limits.header_timeout,
        server: limits.server_header,
    };
    let from_proxy = limits.trusted_proxies.contains(&peer.ip());
    let mut first = true;
    let mut first_request = true;
    let mut served: u32 = 0;
    loop {
        // 1. A complete request head. Empty lines before it are consumed as they come and
        //    counted, so they neither grow the buffer nor pass for an idle connection.
        let mut head_started: Option<Instant> = None;
        let mut idle_since: Option<Instant> = None;
        let mut empty_line_bytes = 0usize;
        let mut scanned = 0usize;
        let parsed = loop {
            let lead = wire
                .pending()
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if lead > 0 {
                wire.consume(lead);
                empty_line_bytes += lead;
                if empty_line_bytes > MAX_EMPTY_LINE_BYTES {
                    let resp = error_response(400, "too many empty lines before the request");
                    send(&mut wire, resp, false, false, 1, Some(life));
                    let _ = wire.flush();
                    return;
                }
            }
            let pending = wire.pending();
            if !pending.is_empty() {
                let ready = head_may_be_complete(pending, scanned.min(pending.len()))
                    || pending.len() > limits.max_head_bytes
                    || pending.starts_with(b"PRI * HTTP/2");
                scanned = pending.len();
                if ready {
                    match parse_head(pending, limits, peer, secure) {
                        Ok(Some(x)) => break x,
                        Ok(None) => {}
                        Err(e) => {
                            respond_error(&mut wire, &e);
                            return;
                        }
                    }
                }
            } else {
                scanned = 0;
            }
            if wire.flush().is_err() {
                return;
            }
            let between_requests = wire.pending().is_empty() && empty_line_bytes == 0;
            let idle_wait = between_requests && !first;
            let timeout = if idle_wait {
                if life.is_stopping() {
                    return;
                }
                wire.release_buffers();
                let since = *idle_since.get_or_insert_with(Instant::now);
                match limits.idle_timeout.checked_sub(since.elapsed()) {
                    Some(t) if !t.is_zero() => t.min(IDLE_SLICE),
                    _ => return,
                }
            } else {
                let started = *head_started.get_or_insert_with(Instant::now);
                match limits.header_timeout.checked_sub(started.elapsed()) {
                    Some(t) if !t.is_zero() => t,
                    _ => {
                        if !wire.pending().is_empty() {
                            send(
                                &mut wire,
                                error_response(408, "timed out reading the request head"),
                                false,
                                false,
                                1,
                                None,
                            );
                            let _ = wire.flush();
                        }
                        return;
                    }
                }
            };
            match wire.read_more(timeout) {
                Ok(0) => return,
                Ok(_) => {
                    if head_started.is_none() {
                        head_started = Some(Instant::now());
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if idle_wait && wire.pending().is_empty() {
                        // One slice of the idle wait is over; the loop decides whether the
                        // whole idle timeout is.
                        continue;
                    }
                    if !wire.pending().is_empty() {
                        let resp = error_response(408, "timed out reading the request head");
                        send(&mut wire, resp, false, false, 1, Some(life));
                        let _ = wire.flush();
                    }
                    return;
                }
                Err(_) => return,
            }
        };
        first = false;
        let (req, n) = parsed;
        wire.consume(n);

        // Behind a trusted proxy every client shares the proxy's socket address: the
        // per-client cap counts this request against the forwarded address instead.
        let _slot = if from_proxy && limits.max_connections_per_ip > 0 {
            let client = super::client_addr(&req, &limits.trusted_proxies);
            match life.per_ip.acquire(client, limits.max_connections_per_ip) {
                Some(slot) => Some(slot),
                None => {
                    let resp = error_response(503, "too many connections from this address")
                        .header("Retry-After", "1");
                    send(
                        &mut wire,
                        resp,
                        false,
                        req.is_head(),
                        req.minor_version,
                        Some(life),
                    );
                    let _ = wire.flush();
                    return;
                }
            }
        } else {
            None
        };

        // 2. The handler, with the body read on demand (and held to the minimum rate).
        life.in_flight.fetch_add(1, Ordering::SeqCst);
        life.begun.fetch_add(1, Ordering::Relaxed);
        if first_request {
            // In flight now, so shutdown waits for it as a request (counted before uncounted).
            life.not_fresh(peer);
            first_request = false;
        }
        wire.body_started = Instant::now();
        wire.body_bytes = 0;
        let mut body = Body::new(&mut wire, req.framing, req.expects_continue);
        let result = catch_unwind(AssertUnwindSafe(|| handler.handle(&req, &mut body)));
        let body_done = body.is_finished();
        let resp = result.unwrap_or_else(|_| {
            log::error!("handler panicked on {} {}", req.method(), req.path());
            error_response(500, "internal error")
        });
        let status = resp.status;
        let keep = req.wants_keep_alive() && !resp.close && body_done && !life.is_stopping();
        if log::log_enabled!(log::Level::Debug) {
            log::debug!(
                "{} {} {}{} {} {}",
                peer.ip(),
                req.method(),
                req.host(),
                req.target(),
                status,
                resp.body.len()
            );
        }

        if let ResponseBody::Upgrade(_) = resp.body {
            *handoff = upgrade(wire, resp, body_done && !life.is_stopping(), life);
            if handoff.is_none() {
                life.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            return;
        }

        // 3. The response: queued while more pipelined requests are already buffered.
        let ok = send(
            &mut wire,
            resp,
            keep,
            req.is_head(),
            req.minor_version,
            Some(life),
        );
        life.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !ok || !keep {
            if wire.flush().is_ok() && ok && !body_done {
                linger(&mut wire);
            }
            return;
        }
        if wire.wbuf.len() >= FLUSH_AT && wire.flush().is_err() {
            return;
        }
        served += 1;
        if served >= YIELD_EVERY {
            served = 0;
            if !wire.pending().is_empty() || wire.s.input_ready() {
                if wire.flush().is_err() {
                    return;
                }
                may::coroutine::sleep(PAUSE);
            }
        }
    }
}

/// Sends the `101` head and returns the upgraded connection with its upgrader (see
/// [`upgrade`](super::upgrade)); `allowed` is false when the request had a body or the server
/// is stopping, which gets a 500 / 503 instead.
#[inline(never)]
fn upgrade<S: Transport>(
    mut wire: Wire<S>,
    resp: Response,
    allowed: bool,
    life: &Lifecycle,
) -> Option<Handoff> {
    if resp.status != 101 || !allowed {
        let (status, msg) = if life.is_stopping() {
            (503, "the server is stopping")
        } else {
            (500, "handler produced an invalid upgrade")
        };
        send(
            &mut wire,
            error_response(status, msg),
            false,
            false,
            1,
            None,
        );
        let _ = wire.flush();
        return None;
    }
    write_head(&mut wire.wbuf, &resp, true, 1, wire.server);
    let ResponseBody::Upgrade(run) = resp.body else {
        return None;
    };
    if wire.flush().is_err() {
        return None;
    }
    let early = wire.pending().to_vec();
    // The HTTP buffers go now: a WebSocket lives for hours, mostly idle.
    let Wire { s, .. } = wire;
    match s.split() {
        Ok((inbound, outbound)) => Some(Handoff::new(
            run,
            super::upgrade::Upgraded {
                early,
                inbound,
                outbound,
            },
        )),
        Err(e) => {
            log::warn!("upgraded connection not split: {e}");
            None
        }
    }
}

/// How long a connection that answered without reading the request's body (a 413, a 503
/// for a busy upload slot, a 401) keeps reading and dropping what the client still sends.
const LINGER: Duration = Duration::from_secs(5);

/// Closes gently after an early answer. Closing a socket with unread input makes the kernel
/// send a reset, which can destroy the answer before the client reads it — so a client that
/// sends its whole body before reading (most do, without `Expect: 100-continue`) would see
/// "connection reset" instead of the 503 and its `Retry-After`. Signal the end of our
/// side, then discard the client's bytes for at most [`LINGER`]; nothing is buffered.
///
/// Never inlined, nor are the other rare paths of the request loop ([`upgrade`],
/// [`respond_error`]): inlined, their locals (this 8 KiB sink above all) made the loop's
/// frame 17.7 KiB, and a frame that large is probed page by page on entry, so every
/// connection held five resident stack pages from its first byte — idle ones included.
#[inline(never)]
fn linger<S: Transport>(wire: &mut Wire<S>) {
    if wire.s.shutdown_write().is_err() {
        return;
    }
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 8 * 1024];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if left.is_zero() || wire.s.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match wire.s.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[inline(never)]
fn respond_error<S: Transport>(wire: &mut Wire<S>, e: &HeadError) {
    send(
        wire,
        error_response(e.status(), e.message()),
        false,
        false,
        1,
        None,
    );
    let _ = wire.flush();
}
