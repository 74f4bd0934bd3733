//! The TLS edge: accept a TCP connection, run the rustls handshake under a hard
//! deadline, and hand the HTTP layer a [`TlsStream`]. TLS-ALPN-01 validation
//! handshakes (`acme-tls/1`) are answered here and never reach HTTP.
//!
//! Runs inside a `may` coroutine (the handshake needs 15–21 KB of stack; give
//! connection coroutines ≥ 64 KiB). Blocking waits use may's socket timeouts
//! and `may::coroutine::sleep`, which park the coroutine, not the worker thread.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::sni::{offers_acme_alpn, SniResolver, ACME_TLS_ALPN};
use super::TlsError;

/// ALPN protocols the server offers: HTTP/1.1 and TLS-ALPN-01 validation.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"http/1.1", ACME_TLS_ALPN];

/// Default deadline for a whole handshake (ClientHello to Finished).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream whose timeouts can be set: what TLS runs over. The HTTP edge's own
/// transport trait (implemented for `may` and `std` TCP streams), so TLS sits under the
/// same loop as plain HTTP.
pub use crate::http::Transport as Socket;

/// Asked at the first handshake for a name that has no certificate yet: returns
/// true when a certificate is being obtained (so the handshake may wait for it).
pub type OnDemand = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Why a handshake did not produce a stream.
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed before the handshake finished.
    TimedOut,
    /// The peer closed the connection during the handshake.
    Closed,
    /// A socket error.
    Io(io::Error),
    /// A TLS protocol error (including "no certificate for this name").
    Tls(rustls::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut => f.write_str("TLS handshake timed out"),
            Self::Closed => f.write_str("peer closed the connection during the TLS handshake"),
            Self::Io(e) => write!(f, "TLS handshake I/O error: {e}"),
            Self::Tls(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

fn io_error(e: io::Error) -> HandshakeError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HandshakeError::TimedOut,
        io::ErrorKind::UnexpectedEof => HandshakeError::Closed,
        _ => HandshakeError::Io(e),
    }
}

/// Bound the next socket operation by what is left of the deadline; every
/// read/write of the handshake goes through here, so a client dripping bytes
/// cannot stretch the handshake past the deadline.
fn arm<S: Socket>(sock: &S, deadline: Instant) -> Result<(), HandshakeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(HandshakeError::TimedOut);
    }
    sock.set_read_timeout(Some(left)).map_err(io_error)?;
    sock.set_write_timeout(Some(left)).map_err(io_error)
}

/// The TLS versions the edge speaks: 1.3, and 1.2 with feature `tls12`.
#[cfg(feature = "tls12")]
pub const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
/// The TLS versions the edge speaks: 1.3 (1.2 too with feature `tls12`).
#[cfg(not(feature = "tls12"))]
pub const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The rustls server configuration used by [`TlsAcceptor`]: ring provider, [`VERSIONS`],
/// certificates from `resolver`, ALPN [`ALPN_PROTOCOLS`], session tickets.
pub fn server_config(resolver: Arc<SniResolver>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Config(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    cfg.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| TlsError::Config(format!("session tickets: {e}")))?;
    Ok(Arc::new(cfg))
}

/// Result of a successful handshake.
pub enum Accepted<S: Socket> {
    /// A client connection: serve HTTP/1.1 over it.
    Stream(Box<TlsStream<S>>),
    /// A TLS-ALPN-01 validation handshake was answered and closed; nothing to serve.
    Challenge,
}

/// Accepts TLS connections. Cheap to clone; share one per listener.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    resolver: Arc<SniResolver>,
    handshake_timeout: Duration,
    on_demand: Option<(OnDemand, Duration)>,
}

impl TlsAcceptor {
    /// An acceptor serving certificates from `resolver` with a 10 s handshake deadline.
    pub fn new(resolver: Arc<SniResolver>) -> Result<Self, TlsError> {
        Ok(Self {
            config: server_config(resolver.clone())?,
            resolver,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            on_demand: None,
        })
    }

    /// Deadline for the whole handshake, including any on-demand wait.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// On a handshake for a name without a certificate, call `hook(name)`; if it
    /// returns true, wait up to `wait` (within the handshake deadline) for the
    /// certificate to appear before answering.
    pub fn with_on_demand(mut self, hook: OnDemand, wait: Duration) -> Self {
        self.on_demand = Some((hook, wait));
        self
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Run the server handshake on `sock`. On success the socket's timeouts are
    /// cleared (`None`); the caller sets its own.
    pub fn accept<S: Socket>(&self, mut sock: S) -> Result<Accepted<S>, HandshakeError> {
        let deadline = Instant::now() + self.handshake_timeout;
        let mut acceptor = Acceptor::default();
        let accepted = loop {
            arm(&sock, deadline)?;
            match acceptor.read_tls(&mut sock) {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(_) => {}
                Err(e) => return Err(io_error(e)),
            }
            match acceptor.accept() {
                Ok(Some(accepted)) => break accepted,
                Ok(None) => {}
                Err((e, mut alert)) => {
                    let _ = alert.write_all(&mut sock);
                    return Err(HandshakeError::Tls(e));
                }
            }
        };

        let hello = accepted.client_hello();
        if !offers_acme_alpn(&hello) {
            if let (Some(name), Some((hook, wait))) = (hello.server_name(), &self.on_demand) {
                if !self.resolver.can_serve(name) {
                    let name = name.to_owned();
                    if hook(&name) {
                        self.wait_for_cert(&name, *wait, deadline);
                    }
                }
            }
        }

        let mut conn = match accepted.into_connection(self.config.clone()) {
            Ok(conn) => conn,
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut sock);
                return Err(HandshakeError::Tls(e));
            }
        };
        drive_handshake(&mut conn, &mut sock, deadline)?;
        sock.set_read_timeout(None).map_err(io_error)?;
        sock.set_write_timeout(None).map_err(io_error)?;

        if conn.alpn_protocol() == Some(ACME_TLS_ALPN) {
            // RFC 8737: the validator only needs the handshake; close politely.
            conn.send_close_notify();
            let _ = arm(&sock, Instant::now() + Duration::from_secs(1))
                .and_then(|()| conn.write_tls(&mut sock).map_err(io_error));
            return Ok(Accepted::Challenge);
        }
        Ok(Accepted::Stream(Box::new(TlsStream {
            inner: StreamOwned::new(conn, sock),
        })))
    }

    /// Poll for `name`'s certificate until `wait` or the deadline passes.
    fn wait_for_cert(&self, name: &str, wait: Duration, deadline: Instant) {
        let until = (Instant::now() + wait).min(deadline);
        while Instant::now() < until && self.resolver.get(name).is_none() {
            may::coroutine::sleep(Duration::from_millis(50));
        }
    }
}

/// Write and read handshake records until the handshake is done and its last
/// flight (incl. TLS 1.3 session tickets) is written; each socket call is armed
/// with the remaining time.
fn drive_handshake<S: Socket>(
    conn: &mut ServerConnection,
    sock: &mut S,
    deadline: Instant,
) -> Result<(), HandshakeError> {
    loop {
        while conn.wants_write() {
            arm(sock, deadline)?;
            if conn.write_tls(sock).map_err(io_error)? == 0 {
                return Err(HandshakeError::Closed);
            }
        }
        sock.flush().map_err(io_error)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        arm(sock, deadline)?;
        match conn.read_tls(sock) {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) => {}
            Err(e) => return Err(io_error(e)),
        }
        if let Err(e) = conn.process_new_packets() {
            // Send the alert rustls queued, best effort.
            let _ = arm(sock, deadline).and_then(|()| conn.write_tls(sock).map_err(io_error));
            return Err(HandshakeError::Tls(e));
        }
    }
}

/// A server-side TLS connection after the handshake: plaintext `Read`/`Write`
/// for the HTTP layer, with socket timeouts passed through.
pub struct TlsStream<S: Socket> {
    inner: StreamOwned<ServerConnection, S>,
}

impl<S: Socket> TlsStream<S> {
    /// Bound each later socket read.
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.sock.set_read_timeout(dur)
    }

    /// Bound each later socket write.
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.sock.set_write_timeout(dur)
    }

    /// The SNI the client sent, lower-cased.
    pub fn server_name(&self) -> Option<&str> {
        self.inner.conn.server_name()
    }

    /// The negotiated ALPN protocol.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.inner.conn.alpn_protocol()
    }

    /// The underlying socket (e.g. for `peer_addr`).
    pub fn get_ref(&self) -> &S {
        &self.inner.sock
    }

    /// The rustls connection (negotiated version, cipher suite…).
    pub fn connection(&self) -> &ServerConnection {
        &self.inner.conn
    }

    /// The rustls state and the socket, apart (an upgraded connection splits on them).
    pub fn into_parts(self) -> (ServerConnection, S) {
        (self.inner.conn, self.inner.sock)
    }

    /// Send `close_notify` and flush; call before dropping a connection the
    /// server chose to close so the client sees a clean end of stream.
    pub fn close(&mut self) -> io::Result<()> {
        self.inner.conn.send_close_notify();
        self.inner.flush()
    }
}

impl<S: Socket> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Socket> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A client config that trusts exactly `root`.
    fn client(root: &rcgen::Certificate, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.der().clone()).unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }

    fn cert(name: &str) -> (rcgen::Certificate, Arc<rustls::sign::CertifiedKey>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let l =
            super::super::pem::load_pem(c.pem().as_bytes(), key.serialize_pem().as_bytes(), name)
                .unwrap();
        (c, l.key)
    }

    /// What the server thread of a test saw: the 5 bytes read, or `None` for a challenge.
    type Served = std::thread::JoinHandle<Result<Option<Vec<u8>>, HandshakeError>>;

    /// Run one server accept on a thread; returns the address and the join handle.
    fn serve_once(acceptor: TlsAcceptor) -> (std::net::SocketAddr, Served) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            match acceptor.accept(s)? {
                Accepted::Challenge => Ok(None),
                Accepted::Stream(mut t) => {
                    let mut buf = [0u8; 5];
                    t.read_exact(&mut buf).map_err(HandshakeError::Io)?;
                    t.write_all(b"pong!").map_err(HandshakeError::Io)?;
                    t.close().map_err(HandshakeError::Io)?;
                    Ok(Some(buf.to_vec()))
                }
            }
        });
        (addr, h)
    }

    fn connect(
        addr: std::net::SocketAddr,
        cfg: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let conn = rustls::ClientConnection::new(cfg, name.to_owned().try_into().unwrap()).unwrap();
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        rustls::StreamOwned::new(conn, s)
    }

    #[test]
    fn serves_by_sni_over_tls13_and_tls12_only_with_the_feature() {
        let r = Arc::new(SniResolver::new());
        let (root, ck) = cert("site.example");
        r.insert("site.example", ck);
        for versions in [
            &[&rustls::version::TLS13][..],
            &[&rustls::version::TLS12][..],
        ] {
            let served = VERSIONS.iter().any(|v| v.version == versions[0].version);
            let acc = TlsAcceptor::new(r.clone()).unwrap();
            let (addr, h) = serve_once(acc);
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root.der().clone()).unwrap();
            let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            let mut c = connect(addr, Arc::new(cfg), "site.example");
            if !served {
                // A TLS 1.2-only client is refused in the handshake, and nothing is served.
                assert!(
                    c.write_all(b"ping!").and_then(|()| c.flush()).is_err() || {
                        let mut buf = [0u8; 5];
                        c.read_exact(&mut buf).is_err()
                    }
                );
                assert!(h.join().unwrap().is_err());
                continue;
            }
            c.write_all(b"ping!").unwrap();
            let mut buf = [0u8; 5];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"pong!");
            assert_eq!(c.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
            assert_eq!(c.conn.protocol_version(), Some(versions[0].version));
            assert_eq!(h.join().unwrap().unwrap(), Some(b"ping!".to_vec()));
        }
    }

    #[test]
    fn unknown_name_fails_handshake() {
        let r = Arc::new(SniResolver::new());
        let (root, ck) = cert("site.example");
        r.insert("site.example", ck);
        let (addr, h) = serve_once(TlsAcceptor::new(r).unwrap());
        let mut c = connect(addr, client(&root, &[]), "other.example");
        assert!(
            c.write_all(b"ping!").and_then(|_| c.flush()).is_err() || {
                let mut b = [0u8; 1];
                c.read(&mut b).is_err()
            }
        );
        assert!(matches!(h.join().unwrap(), Err(HandshakeError::Tls(_))));
    }

    #[test]
    fn acme_tls_alpn_gets_challenge_cert_and_is_closed() {
        let r = Arc::new(SniResolver::new());
        let (_, real) = cert("v.example");
        r.insert("v.example", real);
        let (chal_root, chal) = cert("v.example");
        r.challenges().set_alpn("v.example", chal);
        let (addr, h) = serve_once(TlsAcceptor::new(r).unwrap());
        // Trusting only the challenge cert proves it is the one served.
        let mut c = connect(addr, client(&chal_root, &[ACME_TLS_ALPN]), "v.example");
        let mut b = Vec::new();
        let _ = c.read_to_end(&mut b);
        assert_eq!(c.conn.alpn_protocol(), Some(ACME_TLS_ALPN));
        assert!(matches!(h.join().unwrap(), Ok(None)));
    }

    #[test]
    fn silent_client_times_out() {
        let r = Arc::new(SniResolver::new());
        let acc = TlsAcceptor::new(r)
            .unwrap()
            .with_handshake_timeout(Duration::from_millis(300));
        let (addr, h) = serve_once(acc);
        let _s = TcpStream::connect(addr).unwrap();
        let t0 = Instant::now();
        assert!(matches!(h.join().unwrap(), Err(HandshakeError::TimedOut)));
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn dripping_client_cannot_extend_the_deadline() {
        let r = Arc::new(SniResolver::new());
        let acc = TlsAcceptor::new(r)
            .unwrap()
            .with_handshake_timeout(Duration::from_millis(500));
        let (addr, h) = serve_once(acc);
        let mut s = TcpStream::connect(addr).unwrap();
        // A TLS record header announcing a large handshake, then one byte every 100 ms for
        // 8 s: were the deadline per read, the handshake would last the whole drip.
        s.write_all(&[0x16, 0x03, 0x01, 0x10, 0x00]).unwrap();
        let t0 = Instant::now();
        let drip = std::thread::spawn(move || {
            for _ in 0..80 {
                std::thread::sleep(Duration::from_millis(100));
                if s.write_all(&[1]).is_err() {
                    break;
                }
            }
        });
        assert!(matches!(h.join().unwrap(), Err(HandshakeError::TimedOut)));
        // Generous bound (a loaded CI machine), still far below the 8 s drip.
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        drip.join().unwrap();
    }

    #[test]
    fn garbage_is_a_tls_error() {
        let r = Arc::new(SniResolver::new());
        let (addr, h) = serve_once(TlsAcceptor::new(r).unwrap());
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(matches!(h.join().unwrap(), Err(HandshakeError::Tls(_))));
    }

    #[test]
    fn on_demand_hook_is_asked_and_waited_for() {
        let r = Arc::new(SniResolver::new());
        let (root, ck) = cert("late.example");
        let asked = Arc::new(AtomicUsize::new(0));
        let hook: OnDemand = {
            let (r, asked) = (r.clone(), asked.clone());
            Arc::new(move |name: &str| {
                asked.fetch_add(1, Ordering::SeqCst);
                if name != "late.example" {
                    return false;
                }
                let (r, ck) = (r.clone(), ck.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    r.insert("late.example", ck);
                });
                true
            })
        };
        let acc = TlsAcceptor::new(r.clone())
            .unwrap()
            .with_on_demand(hook.clone(), Duration::from_secs(3));
        let (addr, h) = serve_once(acc.clone());
        let mut c = connect(addr, client(&root, &[b"http/1.1"]), "late.example");
        c.write_all(b"ping!").unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(h.join().unwrap().unwrap(), Some(b"ping!".to_vec()));
        assert_eq!(asked.load(Ordering::SeqCst), 1);

        // A refused name is not waited for.
        let (addr, h) = serve_once(acc);
        let t0 = Instant::now();
        let mut c = connect(addr, client(&root, &[]), "nosite.example");
        let _ = c.write_all(b"x");
        assert!(h.join().unwrap().is_err());
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
