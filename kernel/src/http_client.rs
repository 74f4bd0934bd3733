//! A small blocking HTTP/1.1 client: one request per connection (`Connection: close`),
//! connect/read/write timeouts, a cap on the response, `Content-Length` and chunked
//! responses. Used by the deploy CLI and by ACME (talking to the CA), which is why it lives
//! in the kernel and knows no TLS library: the caller passes a function that wraps the TCP
//! socket for `https://` URLs.
//!
//! Why not hyper: a small server makes a handful of requests a day (a deploy, an ACME order), so a
//! connection pool, HTTP/2 and an async executor buy nothing, and they cost ~0.5 MB of the
//! binary on a board where the budget is 4 MiB.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a request failed. Each message names the URL or host and what went wrong; the
/// variant says whose fault it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The URL or the request is malformed; nothing was sent.
    Invalid(String),
    /// Resolving, connecting, TLS or sending failed.
    Transport(String),
    /// The answer was malformed, larger than allowed, or ended early.
    Response(String),
    /// The caller's address check refused every address of the host; nothing was sent.
    Refused(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Invalid(m)
            | ClientError::Transport(m)
            | ClientError::Response(m)
            | ClientError::Refused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

/// The origin a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https://` (else `http://`).
    pub https: bool,
    /// As written in the URL; an IPv6 literal keeps its brackets.
    pub host: String,
    /// The port, the scheme's default when the URL names none.
    pub port: u16,
}

impl Url {
    /// Parse `http(s)://host[:port][/...]`; the path is ignored (see [`Url::split`]).
    pub fn parse(s: &str) -> Result<Url, ClientError> {
        Self::split(s).map(|(url, _)| url)
    }

    /// Parse an absolute URL into its origin and its origin-form target (path and query,
    /// `/` when empty). A fragment is dropped: it is never sent.
    pub fn split(s: &str) -> Result<(Url, String), ClientError> {
        split_url(s).map_err(ClientError::Invalid)
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        if (self.https && self.port == 443) || (!self.https && self.port == 80) {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host without IPv6 brackets, as DNS and TLS server names want it.
    pub fn bare_host(&self) -> &str {
        self.host.trim_matches(['[', ']'])
    }
}

fn split_url(s: &str) -> Result<(Url, String), String> {
    let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("URL '{s}' must start with http:// or https://"));
    };
    let rest = rest.split('#').next().unwrap_or("");
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(cut);
    if authority.is_empty() {
        return Err(format!("URL '{s}' has no host"));
    }
    if authority.contains('@') {
        return Err(format!("URL '{s}': user info is not supported"));
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| format!("bad IPv6 host in '{s}'"))?;
        let port = &authority[end + 1..];
        if !port.is_empty() && !port.starts_with(':') {
            return Err(format!("bad host in '{s}'"));
        }
        (&authority[..=end], port.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        return Err(format!("bad host in '{s}'"));
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port in '{s}'"))?,
        None if https => 443,
        None => 80,
    };
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("URL '{s}' contains spaces or control characters"));
    }
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    let url = Url {
        https,
        host: host.to_string(),
        port,
    };
    Ok((url, target))
}

/// A byte stream a request is written to: a TCP socket or TLS over one.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Wraps a connected socket for an `https://` URL; gets the bare host name for SNI and
/// certificate checks. The caller picks the TLS library and the trust roots.
pub type TlsWrap<'a> = &'a dyn Fn(TcpStream, &str) -> Result<Box<dyn Stream>, ClientError>;

/// Timeouts and the response cap.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Longest wait for the TCP connection (per address tried).
    pub connect_timeout: Duration,
    /// Per read: how long the server may stay silent.
    pub read_timeout: Duration,
    /// Per write: how long a blocked send may wait.
    pub write_timeout: Duration,
    /// Largest response (head and body) accepted; more is an error.
    pub max_response: usize,
    /// `User-Agent` sent when the request has none (the product's `name/version`); empty
    /// sends none.
    pub user_agent: &'static str,
}

/// One request to send.
pub struct Outgoing<'a> {
    /// Upper-case method (`GET`, `PUT`, …).
    pub method: &'a str,
    /// Origin-form target: path and query.
    pub target: &'a str,
    /// Extra headers; `Host`, `Content-Length` and `Connection` are written by the client.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body (empty for none); sent with its `Content-Length`.
    pub body: &'a [u8],
}

/// A whole response, read to the end of its framing.
#[derive(Debug)]
pub struct ClientResponse {
    /// The final status (interim 1xx answers are skipped).
    pub status: u16,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked; empty for HEAD, 204 and 304.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a resolved address may be connected to: `Err` says why not.
pub type AddrCheck<'a> = &'a dyn Fn(std::net::IpAddr) -> Result<(), String>;

fn connect(
    url: &Url,
    opts: &Options,
    tls: TlsWrap<'_>,
    check: AddrCheck<'_>,
) -> Result<Box<dyn Stream>, ClientError> {
    let addrs: Vec<_> = (url.bare_host(), url.port)
        .to_socket_addrs()
        .map_err(|e| ClientError::Transport(format!("cannot resolve {}: {e}", url.host)))?
        .collect();
    // Every address is checked and only checked ones are connected to: the name is not
    // looked up again, so a second DNS answer cannot slip past the check.
    let mut allowed = Vec::with_capacity(addrs.len());
    let mut last_refusal = None;
    for a in addrs {
        match check(a.ip()) {
            Ok(()) => allowed.push(a),
            Err(why) if allowed.is_empty() => {
                last_refusal = Some(format!(
                    "refusing to connect to {} ({}): {why}",
                    url.host,
                    a.ip()
                ))
            }
            Err(_) => {}
        }
    }
    if allowed.is_empty() {
        if let Some(m) = last_refusal {
            return Err(ClientError::Refused(m));
        }
    }
    let mut last = None;
    for a in allowed {
        match TcpStream::connect_timeout(&a, opts.connect_timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(opts.read_timeout));
                let _ = s.set_write_timeout(Some(opts.write_timeout));
                let _ = s.set_nodelay(true);
                if url.https {
                    return tls(s, url.bare_host());
                }
                return Ok(Box::new(s));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(ClientError::Transport(match last {
        Some(e) => format!("cannot connect to {}:{}: {e}", url.host, url.port),
        None => format!("no address for {}", url.host),
    }))
}

/// Refuse header names/values that would split the request (CR, LF) or are not tokens.
fn check_header(name: &str, value: &str) -> Result<(), ClientError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(ClientError::Invalid(format!(
            "invalid header name '{name}'"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ClientError::Invalid(format!(
            "invalid value for header '{name}'"
        )));
    }
    Ok(())
}

/// Send one request and read the whole response. `progress(sent, total)` is called as the
/// body goes out.
pub fn request(
    url: &Url,
    req: &Outgoing<'_>,
    opts: &Options,
    tls: TlsWrap<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ClientResponse, ClientError> {
    request_checked(url, req, opts, tls, &|_| Ok(()), progress)
}

/// [`request`], connecting only to resolved addresses `check` accepts (see
/// [`crate::net_guard`]).
pub fn request_checked(
    url: &Url,
    req: &Outgoing<'_>,
    opts: &Options,
    tls: TlsWrap<'_>,
    check: AddrCheck<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ClientResponse, ClientError> {
    if req.method.is_empty() || !req.method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ClientError::Invalid(format!(
            "invalid method '{}'",
            req.method
        )));
    }
    if !req.target.starts_with('/') || req.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ClientError::Invalid(format!(
            "invalid request target '{}'",
            req.target
        )));
    }
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        req.method,
        req.target,
        url.host_header()
    );
    if !req.body.is_empty() || !matches!(req.method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    let mut agent = false;
    for (k, v) in req.headers {
        check_header(k, v)?;
        if ["host", "content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        agent |= k.eq_ignore_ascii_case("user-agent");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !agent && !opts.user_agent.is_empty() {
        check_header("User-Agent", opts.user_agent)?;
        head.push_str(&format!("User-Agent: {}\r\n", opts.user_agent));
    }
    head.push_str("\r\n");

    let mut s = connect(url, opts, tls, check)?;
    let io = |e: std::io::Error| {
        ClientError::Transport(format!("talking to {}: {e}", url.host_header()))
    };
    s.write_all(head.as_bytes()).map_err(io)?;
    let total = req.body.len() as u64;
    let mut sent = 0u64;
    for chunk in req.body.chunks(256 * 1024) {
        if let Err(e) = s.write_all(chunk) {
            // The server may have answered early (401, 413) and closed: read that answer.
            return read_response(&mut s, req.method == "HEAD", opts.max_response)
                .map_err(|_| io(e));
        }
        sent += chunk.len() as u64;
        progress(sent, total);
    }
    s.flush().map_err(io)?;
    read_response(&mut s, req.method == "HEAD", opts.max_response)
}

/// Most response headers accepted.
const MAX_HEADERS: usize = 64;

/// Read one response: the head, then exactly the body its framing announces (or up to EOF
/// when there is none), so a server that keeps the connection open does not stall us.
pub fn read_response(
    s: &mut dyn Read,
    head_request: bool,
    max: usize,
) -> Result<ClientResponse, ClientError> {
    read_response_inner(s, head_request, max).map_err(ClientError::Response)
}

fn read_response_inner(
    s: &mut dyn Read,
    head_request: bool,
    max: usize,
) -> Result<ClientResponse, String> {
    let mut raw = Vec::new();
    let mut eof = false;
    let mut parsed: Option<Head> = None;
    loop {
        if parsed.is_none() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&raw) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = r.code.unwrap_or(0);
                    let headers: Vec<(String, String)> = r
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).trim().to_string(),
                            )
                        })
                        .collect();
                    if (100..200).contains(&status) {
                        // An interim answer (100 Continue): drop it and read the real one.
                        raw.drain(..n);
                        continue;
                    }
                    let framing = framing(status, head_request, &headers)?;
                    parsed = Some((status, headers, n, framing));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(format!("malformed response head: {e}")),
            }
        }
        let mut done = None;
        if let Some((_, _, start, framing)) = &parsed {
            let body = &raw[*start..];
            done = match framing {
                Framing::None => Some(Vec::new()),
                Framing::Length(n) if body.len() >= *n => Some(body[..*n].to_vec()),
                Framing::Length(n) if eof => {
                    return Err(format!(
                        "response truncated: {} of {n} body bytes",
                        body.len()
                    ))
                }
                Framing::Length(_) => None,
                // A chunked body ends with an empty line; decoding only then keeps a long
                // body linear instead of re-decoding it after every read.
                Framing::Chunked if !eof && !body.ends_with(b"\r\n\r\n") => None,
                Framing::Chunked => match dechunk(body) {
                    Dechunked::Complete(b) => Some(b),
                    Dechunked::Malformed => return Err("malformed chunked response".into()),
                    Dechunked::Incomplete if eof => {
                        return Err("response truncated inside a chunked body".into())
                    }
                    Dechunked::Incomplete => None,
                },
                Framing::UntilClose => eof.then(|| body.to_vec()),
            };
        } else if eof {
            return Err(if raw.is_empty() {
                "the server closed the connection without answering".into()
            } else {
                "the server closed the connection inside the response head".into()
            });
        }
        if let Some(body) = done {
            if let Some((status, headers, _, _)) = parsed.take() {
                return Ok(ClientResponse {
                    status,
                    headers,
                    body,
                });
            }
        }
        let mut buf = [0u8; 16 * 1024];
        match s.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > max {
                    return Err(format!("response larger than {max} bytes"));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // rustls reports a peer that closed without close_notify as an error: treat it
            // as the end once something arrived (framing still decides if it is complete).
            Err(_) if !raw.is_empty() => eof = true,
            Err(e) => return Err(format!("reading the response: {e}")),
        }
    }
}

/// A parsed response head: status, headers, where the body starts, its framing.
type Head = (u16, Vec<(String, String)>, usize, Framing);

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(
    status: u16,
    head_request: bool,
    headers: &[(String, String)],
) -> Result<Framing, String> {
    if head_request || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    let te = headers.iter().find(|(k, _)| k == "transfer-encoding");
    if let Some((_, v)) = te {
        if v.rsplit(',')
            .next()
            .map(str::trim)
            .map(str::to_ascii_lowercase)
            == Some("chunked".into())
        {
            return Ok(Framing::Chunked);
        }
        return Ok(Framing::UntilClose);
    }
    let mut lengths = headers.iter().filter(|(k, _)| k == "content-length");
    match lengths.next() {
        None => Ok(Framing::UntilClose),
        Some((_, v)) => {
            if lengths.any(|(_, w)| w != v) {
                return Err("response has conflicting Content-Length headers".into());
            }
            v.parse()
                .map(Framing::Length)
                .map_err(|_| format!("bad Content-Length '{v}' in response"))
        }
    }
}

/// What decoding a chunked body found so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Dechunked {
    /// The whole body, up to and including the last chunk.
    Complete(Vec<u8>),
    /// A valid prefix: more bytes are needed.
    Incomplete,
    /// Not chunked encoding: the answer cannot be used.
    Malformed,
}

/// Decode a chunked body (trailers are skipped). Never panics, whatever the input.
pub fn dechunk(mut data: &[u8]) -> Dechunked {
    use Dechunked::*;
    let mut out = Vec::new();
    loop {
        let Some(i) = data.windows(2).position(|w| w == b"\r\n") else {
            // A size line is hex digits plus extensions; 1 KiB without CRLF is not one.
            return if data.len() > 1024 {
                Malformed
            } else {
                Incomplete
            };
        };
        let Ok(line) = std::str::from_utf8(&data[..i]) else {
            return Malformed;
        };
        let digits = line.split(';').next().unwrap_or("").trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Malformed;
        }
        let Ok(size) = usize::from_str_radix(digits, 16) else {
            return Malformed;
        };
        data = &data[i + 2..];
        if size == 0 {
            // Trailer section: header lines up to an empty line.
            return if data.starts_with(b"\r\n") || data.windows(4).any(|w| w == b"\r\n\r\n") {
                Complete(out)
            } else {
                Incomplete
            };
        }
        let Some(end) = size.checked_add(2) else {
            return Malformed;
        };
        if data.len() < end {
            return Incomplete;
        }
        if &data[size..end] != b"\r\n" {
            return Malformed;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://localhost:4698").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (false, "localhost", 4698)
        );
        let u = Url::parse("https://admin.example.com/").unwrap();
        assert_eq!(
            (u.https, u.port, u.host_header()),
            (true, 443, "admin.example.com".into())
        );
        let u = Url::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.bare_host()),
            ("[::1]", 8080, "::1")
        );
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:notaport").is_err());
        assert!(Url::parse("http://").is_err());
        assert!(Url::parse("http://user@x").is_err());
        assert!(Url::parse("http://[::1]x").is_err());
    }

    #[test]
    fn split_keeps_path_and_query() {
        let (u, t) = Url::split("https://ca.test:14000/acme/new-order?x=1#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, t.as_str()),
            ("ca.test", 14000, "/acme/new-order?x=1")
        );
        assert_eq!(Url::split("https://ca.test").unwrap().1, "/");
        assert_eq!(Url::split("https://ca.test?a").unwrap().1, "/?a");
        assert!(Url::split("https://ca.test/a b").is_err());
    }

    #[test]
    fn a_refused_address_is_never_connected_to() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let url = Url::parse(&format!(
            "http://localhost:{}/",
            l.local_addr().unwrap().port()
        ))
        .unwrap();
        let req = Outgoing {
            method: "GET",
            target: "/",
            headers: &[],
            body: &[],
        };
        let opts = Options {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(2),
            max_response: 1024,
            user_agent: "",
        };
        let no_tls: TlsWrap<'_> = &|_, _| Err(ClientError::Invalid("no TLS".into()));
        let guard = |ip: std::net::IpAddr| match crate::net_guard::refusal(ip) {
            Some(why) => Err(why.to_string()),
            None => Ok(()),
        };
        let e = request_checked(&url, &req, &opts, no_tls, &guard, &mut |_, _| {}).unwrap_err();
        assert!(
            matches!(&e, ClientError::Refused(m) if m.contains("a loopback address")),
            "{e:?}"
        );
        // Nothing reached the listener.
        assert!(l.accept().is_err());
    }

    fn parse(raw: &[u8], head: bool) -> Result<ClientResponse, String> {
        read_response(&mut std::io::Cursor::new(raw.to_vec()), head, 1 << 20)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn responses_by_framing() {
        let r = parse(b"HTTP/1.1 201 Created\r\nLocation: /o/1\r\nReplay-Nonce: abc\r\nContent-Length: 2\r\n\r\nokEXTRA", false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"ok"[..]));
        assert_eq!(r.header("replay-nonce"), Some("abc"));
        assert_eq!(r.header("Location"), Some("/o/1"));
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n", false).unwrap();
        assert_eq!(r.body, b"abcde");
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\nuntil close", false).unwrap();
        assert_eq!(r.body, b"until close");
        // HEAD (ACME newNonce): a Content-Length but no body.
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nReplay-Nonce: n\r\n\r\n",
            true,
        )
        .unwrap();
        assert!(r.body.is_empty());
        let r = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Too Big\r\nContent-Length: 1\r\n\r\nx",
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (413, &b"x"[..]));
    }

    /// A server that sends a few bytes at a time and then keeps the connection open: a
    /// read past its last byte would block forever, so here it fails the test.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            assert!(self.1 < self.0.len(), "read past a complete response");
            let n = (self.0.len() - self.1).min(3).min(buf.len());
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn responses_arriving_in_pieces() {
        let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend(crate::http::body::tests::chunked(&body, &[1, 100, 4000]));
        let r = read_response(&mut Trickle(raw, 0), false, 1 << 20).unwrap();
        assert_eq!(r.body, body);
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec();
        assert_eq!(
            read_response(&mut Trickle(raw, 0), false, 1 << 20)
                .unwrap()
                .body,
            b"hello"
        );
    }

    #[test]
    fn bad_responses_are_errors() {
        assert!(parse(b"", false).unwrap_err().contains("without answering"));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Len", false).is_err());
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            false
        )
        .is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false).is_err());
        assert!(parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
        assert!(parse(b"NOT HTTP\r\n\r\n", false).is_err());
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{}",
            "x".repeat(2_000_000)
        );
        assert!(parse(big.as_bytes(), false).unwrap_err().contains("larger"));
    }

    #[test]
    fn header_injection_is_refused() {
        assert!(check_header("X-A", "ok").is_ok());
        assert!(check_header("X-A", "a\r\nEvil: 1").is_err());
        assert!(check_header("X A", "v").is_err());
        assert!(check_header("", "v").is_err());
    }

    proptest! {
        // Each case decodes every prefix of up to 4 KB: quadratic, so fewer cases by default.
        #![proptest_config(crate::proptest_config(64))]

        #[test]
        fn dechunk_round_trips(body in proptest::collection::vec(any::<u8>(), 0..2000),
                               sizes in proptest::collection::vec(1usize..300, 0..20)) {
            let enc = crate::http::body::tests::chunked(&body, &sizes);
            prop_assert_eq!(dechunk(&enc), Dechunked::Complete(body));
            // Every strict prefix is incomplete, never malformed or complete.
            for cut in 0..enc.len() {
                prop_assert_eq!(dechunk(&enc[..cut]), Dechunked::Incomplete);
            }
        }

        #[test]
        fn arbitrary_responses_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600),
                                           head in any::<bool>()) {
            let _ = dechunk(&raw);
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            r.extend_from_slice(&raw);
            let _ = parse(&r, head);
            let _ = parse(&raw, head);
        }
    }

    /// Serves `data` in pieces of the given sizes (cycled), then end of stream; records
    /// whether the parser asked for more than `data`.
    struct Pieces {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        turn: usize,
        starved: bool,
    }

    impl Pieces {
        fn new(data: &[u8], sizes: &[usize]) -> Pieces {
            Pieces {
                data: data.to_vec(),
                pos: 0,
                sizes: sizes.to_vec(),
                turn: 0,
                starved: false,
            }
        }
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.data.len() {
                self.starved = true;
                return Ok(0);
            }
            let size = self
                .sizes
                .get(self.turn % self.sizes.len().max(1))
                .copied()
                .unwrap_or(7);
            self.turn += 1;
            let n = size.max(1).min(self.data.len() - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// How a generated response frames its body.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Gen {
        Length,
        Chunked,
        UntilClose,
    }

    /// A generated response: its bytes, where the head ends, and what must be read back.
    struct Generated {
        raw: Vec<u8>,
        head_len: usize,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    #[allow(clippy::too_many_arguments)]
    fn generate(
        status: u16,
        reason: &str,
        headers: &[(String, String)],
        framing: Gen,
        body: &[u8],
        sizes: &[usize],
        interim: bool,
    ) -> Generated {
        let mut raw = Vec::new();
        if interim {
            raw.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        raw.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
        let mut expected: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let mut all: Vec<(String, String)> = headers.to_vec();
        match framing {
            Gen::Length => all.push(("Content-Length".into(), body.len().to_string())),
            Gen::Chunked => all.push(("Transfer-Encoding".into(), "chunked".into())),
            Gen::UntilClose => {}
        }
        expected.extend(
            all[headers.len()..]
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        for (k, v) in &all {
            raw.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let head_len = raw.len();
        match framing {
            Gen::Chunked => raw.extend(crate::http::body::tests::chunked(body, sizes)),
            _ => raw.extend_from_slice(body),
        }
        Generated {
            raw,
            head_len,
            status,
            headers: expected,
            body: body.to_vec(),
        }
    }

    fn response() -> impl Strategy<Value = (Generated, Gen, Vec<usize>)> {
        (
            (200u16..600).prop_filter("no body by definition", |s| *s != 204 && *s != 304),
            "[A-Za-z][A-Za-z ]{0,15}",
            prop::collection::vec(
                ("[A-Za-z][A-Za-z0-9-]{0,12}", "([!-~]([ -~]{0,20}[!-~])?)?"),
                0..6,
            ),
            prop_oneof![Just(Gen::Length), Just(Gen::Chunked), Just(Gen::UntilClose)],
            prop::collection::vec(any::<u8>(), 0..400),
            prop::collection::vec(1usize..100, 0..8),
            any::<bool>(),
            prop::collection::vec(1usize..64, 1..8),
        )
            .prop_map(
                |(status, reason, headers, framing, body, sizes, interim, pieces)| {
                    let headers: Vec<(String, String)> = headers
                        .into_iter()
                        .filter(|(k, _)| {
                            !k.eq_ignore_ascii_case("content-length")
                                && !k.eq_ignore_ascii_case("transfer-encoding")
                        })
                        .collect();
                    let g = generate(status, &reason, &headers, framing, &body, &sizes, interim);
                    (g, framing, pieces)
                },
            )
    }

    impl std::fmt::Debug for Generated {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", String::from_utf8_lossy(&self.raw))
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config(64))]

        /// A generated response reads back exactly, whole or in pieces, and with
        /// Content-Length or chunked framing nothing past its end is ever read (a server
        /// that keeps the connection open would stall the client).
        #[test]
        fn generated_responses_round_trip((g, framing, pieces) in response()) {
            let whole = parse(&g.raw, false).unwrap();
            let mut stream = Pieces::new(&g.raw, &pieces);
            let piecewise = read_response(&mut stream, false, 1 << 20).unwrap();
            for r in [&whole, &piecewise] {
                prop_assert_eq!(r.status, g.status);
                prop_assert_eq!(&r.headers, &g.headers);
                prop_assert_eq!(&r.body, &g.body);
            }
            prop_assert_eq!(stream.starved, framing == Gen::UntilClose);
            // A HEAD request reads the head only.
            let mut stream = Pieces::new(&g.raw[..g.head_len], &pieces);
            let head = read_response(&mut stream, true, 1 << 20).unwrap();
            prop_assert!(head.body.is_empty());
            prop_assert_eq!(head.status, g.status);
        }

        /// Every strict prefix of a response is incomplete: the parser asks for more bytes,
        /// and when the stream ends there it is an error, never an answer. (A body framed by
        /// the end of the stream has no prefixes but its head's.)
        #[test]
        fn every_prefix_is_incomplete((g, framing, pieces) in response()) {
            let end = if framing == Gen::UntilClose { g.head_len } else { g.raw.len() };
            for cut in 0..end {
                let mut stream = Pieces::new(&g.raw[..cut], &pieces);
                let r = read_response(&mut stream, false, 1 << 20);
                prop_assert!(stream.starved, "decided after {} of {} bytes", cut, g.raw.len());
                prop_assert!(r.is_err(), "prefix of {} bytes read as {:?}", cut, r);
            }
        }

        /// Arbitrary bytes after a valid status line, arriving in arbitrary pieces under an
        /// arbitrary size cap: an answer or an error, never a panic.
        #[test]
        fn arbitrary_bytes_in_pieces_never_panic(
            raw in prop::collection::vec(any::<u8>(), 0..800),
            prefix in prop_oneof![
                Just(&b""[..]),
                Just(&b"HTTP/1.1 200 OK\r\n"[..]),
                Just(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"[..]),
                Just(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]),
            ],
            pieces in prop::collection::vec(1usize..64, 1..8),
            max in 0usize..2000,
            head in any::<bool>(),
        ) {
            let mut data = prefix.to_vec();
            data.extend_from_slice(&raw);
            let mut stream = Pieces::new(&data, &pieces);
            if let Ok(r) = read_response(&mut stream, head, max) {
                prop_assert!(r.body.len() <= data.len());
            }
        }
    }
}
