//! A parsed request head: method, target, version and headers, owned in one buffer with
//! ranges into it (one allocation per request), plus the framing of its body decided here
//! once, strictly, so that no two readers of the same bytes can disagree (request smuggling).

use std::net::SocketAddr;
use std::ops::Range;

use super::limits::Limits;

/// How the body of a request is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: neither header, or `Content-Length: 0`.
    None,
    /// Exactly this many bytes follow the head (`Content-Length`, never 0).
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only), ended by the zero-size chunk.
    Chunked,
}

/// Why a request head was refused. Each maps to one status and always closes the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Head larger than `max_head_bytes`, or more than `max_headers` headers: 431.
    TooLarge(&'static str),
    /// Not HTTP/1.x syntax, or contradictory framing: 400.
    Malformed(&'static str),
    /// A `Transfer-Encoding` other than `chunked`: 501.
    UnsupportedEncoding,
    /// HTTP/2 preface or an HTTP version we do not speak: 505.
    Version,
}

impl HeadError {
    /// The HTTP status to answer with: 431, 400, 501 or 505.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge(_) => 431,
            HeadError::Malformed(_) => 400,
            HeadError::UnsupportedEncoding => 501,
            HeadError::Version => 505,
        }
    }
    /// The one-line reason sent as the error response's plain-text body.
    pub fn message(&self) -> &'static str {
        match self {
            HeadError::TooLarge(m) | HeadError::Malformed(m) => m,
            HeadError::UnsupportedEncoding => "only chunked transfer-encoding is supported",
            HeadError::Version => "only HTTP/1.0 and HTTP/1.1 are supported",
        }
    }
}

/// One request's head as parsed by [`parse_head`]; the body is read separately through
/// [`Body`](super::body::Body).
pub struct Request {
    head: Vec<u8>,
    method: Range<usize>,
    target: Range<usize>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    headers: Vec<(Range<usize>, Range<usize>)>,
    /// How the body that follows the head is delimited.
    pub framing: Framing,
    /// `Expect: 100-continue` was sent and not yet answered.
    pub expects_continue: bool,
    /// The socket's peer address (not a forwarded one: that is a policy of the verticals).
    pub peer: SocketAddr,
    /// Came in over TLS.
    pub secure: bool,
}

fn range_of(base: &[u8], part: &[u8]) -> Range<usize> {
    // httparse hands out sub-slices of the buffer we gave it; their offset is pointer math.
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    start..start + part.len()
}

fn str_at<'a>(buf: &'a [u8], r: &Range<usize>) -> &'a str {
    // Method, target and header names were validated as tokens / visible ASCII by httparse.
    std::str::from_utf8(buf.get(r.clone()).unwrap_or_default()).unwrap_or_default()
}

/// Parses a request head at the start of `buf`. `Ok(None)`: not complete yet (and still under
/// the size cap). `Ok(Some((req, n)))`: the head occupied `n` bytes.
pub fn parse_head(
    buf: &[u8],
    limits: &Limits,
    peer: SocketAddr,
    secure: bool,
) -> Result<Option<(Request, usize)>, HeadError> {
    // Tolerate the stray CRLFs some clients send between pipelined requests (RFC 9112 §2.2).
    // They count toward `max_head_bytes`: otherwise a flood of empty lines is buffered without
    // bound (and re-scanned on every read) on a keep-alive connection, whose idle timeout each
    // new line re-arms.
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let data = &buf[skip..];
    if data.starts_with(b"PRI * HTTP/2") {
        return Err(HeadError::Version);
    }
    let mut storage = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut storage);
    let status = match parsed.parse(data) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooLarge("too many request headers"))
        }
        Err(httparse::Error::Version) => {
            // `HTTP/2.0` is a version we refuse (505); `NOT HTTP` is just garbage (400).
            // Only a line of exactly three parts has a version to complain about:
            // `GET /a b HTTP/1.1` is a malformed target, not an HTTP version.
            let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let parts = line.split(|&b| b == b' ').count();
            let v = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
            let well_formed = parts == 3
                && v.len() == 8
                && v.starts_with(b"HTTP/")
                && v[5].is_ascii_digit()
                && v[6] == b'.'
                && v[7].is_ascii_digit();
            return Err(if well_formed {
                HeadError::Version
            } else {
                HeadError::Malformed("malformed request line")
            });
        }
        Err(_) => return Err(HeadError::Malformed("malformed request head")),
    };
    let len = match status {
        httparse::Status::Partial => {
            if buf.len() > limits.max_head_bytes {
                return Err(HeadError::TooLarge("request head too large"));
            }
            return Ok(None);
        }
        httparse::Status::Complete(n) => n,
    };
    if skip + len > limits.max_head_bytes {
        return Err(HeadError::TooLarge("request head too large"));
    }
    let head = data[..len].to_vec();
    // Re-derive ranges relative to the owned copy.
    let method = parsed.method.map(|m| range_of(data, m.as_bytes()));
    let target = parsed.path.map(|p| range_of(data, p.as_bytes()));
    let (Some(method), Some(target), Some(version)) = (method, target, parsed.version) else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let headers: Vec<_> = parsed
        .headers
        .iter()
        .map(|h| (range_of(data, h.name.as_bytes()), range_of(data, h.value)))
        .collect();
    let mut req = Request {
        head,
        method,
        target,
        minor_version: version,
        headers,
        framing: Framing::None,
        expects_continue: false,
        peer,
        secure,
    };
    req.decide_framing()?;
    Ok(Some((req, skip + len)))
}

impl Request {
    fn decide_framing(&mut self) -> Result<(), HeadError> {
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut host_count = 0;
        let mut expects_continue = false;
        for (name, value) in self.header_pairs() {
            if name.eq_ignore_ascii_case("content-length") {
                let v = parse_content_length(value)
                    .ok_or(HeadError::Malformed("invalid Content-Length"))?;
                if length.is_some_and(|l| l != v) {
                    return Err(HeadError::Malformed("conflicting Content-Length headers"));
                }
                length = Some(v);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                let v = std::str::from_utf8(value).unwrap_or("");
                // Only a single `chunked` coding is accepted; anything else (gzip, a list,
                // a repeated header) is refused rather than guessed at.
                if chunked || !v.trim().eq_ignore_ascii_case("chunked") {
                    return Err(HeadError::UnsupportedEncoding);
                }
                chunked = true;
            } else if name.eq_ignore_ascii_case("host") {
                host_count += 1;
                if !valid_authority(value) {
                    return Err(HeadError::Malformed("invalid Host header"));
                }
            } else if name.eq_ignore_ascii_case("expect") {
                let v = std::str::from_utf8(value).unwrap_or("");
                if v.trim().eq_ignore_ascii_case("100-continue") && self.minor_version == 1 {
                    expects_continue = true;
                }
            }
        }
        self.expects_continue = expects_continue;
        if let Some(authority) = target_authority(self.target()) {
            if !valid_authority(authority.as_bytes()) {
                return Err(HeadError::Malformed(
                    "invalid authority in the request target",
                ));
            }
        }
        if host_count > 1 {
            return Err(HeadError::Malformed("more than one Host header"));
        }
        if host_count == 0 && self.minor_version == 1 {
            return Err(HeadError::Malformed("HTTP/1.1 request without Host header"));
        }
        self.framing = match (chunked, length) {
            (true, Some(_)) => {
                return Err(HeadError::Malformed(
                    "both Content-Length and Transfer-Encoding",
                ))
            }
            (true, None) if self.minor_version == 0 => {
                return Err(HeadError::Malformed("chunked encoding in HTTP/1.0"))
            }
            (true, None) => Framing::Chunked,
            (false, Some(0)) | (false, None) => Framing::None,
            (false, Some(n)) => Framing::Length(n),
        };
        if self.framing == Framing::None {
            self.expects_continue = false;
        }
        Ok(())
    }

    fn header_pairs(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(move |(n, v)| {
            (
                str_at(&self.head, n),
                self.head.get(v.clone()).unwrap_or_default(),
            )
        })
    }

    /// The method token exactly as sent (`GET`, `POST`, …; case-sensitive per RFC 9110).
    pub fn method(&self) -> &str {
        str_at(&self.head, &self.method)
    }

    /// The request target exactly as sent (`/path?query`, or an absolute URI).
    pub fn target(&self) -> &str {
        str_at(&self.head, &self.target)
    }

    /// The raw (still percent-encoded) path, without the query. Absolute-form targets
    /// (`http://host/path`) are reduced to their path.
    pub fn path(&self) -> &str {
        let t = self.target();
        let t = match target_authority(t) {
            Some(a) => {
                // The authority is a prefix of the part after `://`.
                let rest = &t[t.find("://").map_or(0, |i| i + 3) + a.len()..];
                if rest.starts_with('/') {
                    rest
                } else {
                    "/"
                }
            }
            None => t,
        };
        t.split(['?', '#']).next().unwrap_or("/")
    }

    /// The raw query string (without `?`), empty when absent.
    pub fn query(&self) -> &str {
        let t = self.target();
        match t.split_once('?') {
            Some((_, q)) => q.split('#').next().unwrap_or(""),
            None => "",
        }
    }

    /// First header with this name (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_pairs()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// All headers as sent (names in their original case), values lossily decoded.
    pub fn headers(&self) -> impl Iterator<Item = (&str, std::borrow::Cow<'_, str>)> {
        self.header_pairs()
            .map(|(n, v)| (n, String::from_utf8_lossy(v)))
    }

    /// How many header lines the request carried (repeated names counted each time).
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The method is `HEAD`: the response carries headers but no body.
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }

    /// Whether the client wants the connection kept open after this response.
    pub fn wants_keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("");
        let has = |token: &str| {
            conn.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.minor_version == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }

    /// The host the request is for, lowercased, port and trailing dot stripped; IPv6
    /// literals keep brackets. An absolute-form target's authority wins over the `Host`
    /// header (RFC 9112 §3.2.2), so routing and the path always come from the same place.
    pub fn host(&self) -> String {
        let raw =
            target_authority(self.target()).unwrap_or_else(|| self.header("host").unwrap_or(""));
        normalize_host(raw)
    }
}

/// The authority of an absolute-form target (`http://host:port/path` → `host:port`), `None`
/// for origin-form (`/path`) and other targets.
fn target_authority(t: &str) -> Option<&str> {
    let scheme_len = if t.len() >= 7 && t[..7].eq_ignore_ascii_case("http://") {
        7
    } else if t.len() >= 8 && t[..8].eq_ignore_ascii_case("https://") {
        8
    } else {
        return None;
    };
    let rest = &t[scheme_len..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `host[:port]` as a server should accept it: a DNS name or IPv4 address (letters, digits,
/// `-`, `.`, `_`) or a bracketed IPv6 literal, then at most a numeric port. Refuses what
/// could make two parsers disagree about the host: userinfo (`a@b`), junk after `]`,
/// spaces, percent-encoding, a second colon. Empty is allowed (HTTP/1.1 permits an empty
/// Host; it routes nowhere).
fn valid_authority(v: &[u8]) -> bool {
    let (host, port) = if v.first() == Some(&b'[') {
        let Some(end) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &v[1..end];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
        {
            return false;
        }
        match &v[end + 1..] {
            [] => return true,
            [b':', port @ ..] => (&v[..0], port),
            _ => return false,
        }
    } else {
        match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (v, &v[..0]),
        }
    };
    let host_ok = host
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(b));
    let port_ok = port.len() <= 5 && port.iter().all(u8::is_ascii_digit);
    host_ok && port_ok
}

/// `Example.COM:8080` → `example.com`, `[::1]:4698` → `[::1]`, `example.com.` → `example.com`.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let host = if raw.starts_with('[') {
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        raw.rsplit_once(':').map_or(raw, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_content_length(v: &[u8]) -> Option<u64> {
    let v = std::str::from_utf8(v).ok()?.trim();
    // Digits only: no sign, no spaces inside, no hex. Lists ("5, 5") are refused too.
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn parse(s: &str) -> Result<Option<(Request, usize)>, HeadError> {
        parse_head(s.as_bytes(), &Limits::default(), peer(), false)
    }

    #[test]
    fn parses_simple_get() {
        let (r, n) = parse("GET /a/b?x=1 HTTP/1.1\r\nHost: Blog.Example.com:4698\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(
            n,
            "GET /a/b?x=1 HTTP/1.1\r\nHost: Blog.Example.com:4698\r\n\r\n".len()
        );
        assert_eq!(r.method(), "GET");
        assert_eq!(r.path(), "/a/b");
        assert_eq!(r.query(), "x=1");
        assert_eq!(r.host(), "blog.example.com");
        assert_eq!(r.framing, Framing::None);
        assert!(r.wants_keep_alive());
    }

    #[test]
    fn partial_then_too_large() {
        assert!(parse("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(40_000));
        assert_eq!(parse(&big).err().unwrap().status(), 431);
    }

    #[test]
    fn stray_crlfs_count_toward_the_head_cap() {
        let (r, n) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.path(), n), ("/", 4 + 27));
        assert!(parse(&"\r\n".repeat(1000)).unwrap().is_none());
        let flood = "\r\n".repeat(20_000);
        assert_eq!(parse(&flood).err().unwrap().status(), 431);
        let late = format!("{flood}GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(parse(&late).err().unwrap().status(), 431);
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..70 {
            s.push_str(&format!("X-{i}: y\r\n"));
        }
        s.push_str("\r\n");
        assert_eq!(parse(&s).err().unwrap().status(), 431);
    }

    #[test]
    fn framing_rules() {
        let ok = |s: &str| parse(s).unwrap().unwrap().0.framing;
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Framing::Chunked
        );
        let bad = |s: &str| parse(s).err().unwrap().status();
        assert_eq!(
            bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
            400
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
            501
        );
        assert_eq!(bad("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(bad("GARBAGE\r\n\r\n"), 400);
    }

    #[test]
    fn http10_keep_alive_and_hosts() {
        let (r, _) = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!r.wants_keep_alive());
        let (r, _) = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(r.wants_keep_alive());
        assert_eq!(normalize_host("[::1]:4698"), "[::1]");
        assert_eq!(normalize_host("Example.COM."), "example.com");
        assert_eq!(normalize_host("127.0.0.1:80"), "127.0.0.1");
    }

    #[test]
    fn hosts_that_parsers_could_disagree_on_are_refused() {
        let bad = |h: &str| {
            parse(&format!("GET / HTTP/1.1\r\nHost: {h}\r\n\r\n"))
                .err()
                .map(|e| e.status())
        };
        for h in [
            "localhost:80@blog.localhost",
            "[::1]junk",
            "a b",
            "blog.localhost:80:81",
            "[::1",
            "blog%2elocalhost",
            "x:123456",
        ] {
            assert_eq!(bad(h), Some(400), "{h}");
        }
        for h in [
            "blog.localhost",
            "blog.localhost:4698",
            "[::1]:4698",
            "[::1]",
            "127.0.0.1",
            "",
        ] {
            assert_eq!(bad(h), None, "{h}");
        }
        let bad_target = parse("GET http://a@b/ HTTP/1.1\r\nHost: b\r\n\r\n");
        assert_eq!(bad_target.err().map(|e| e.status()), Some(400));
    }

    #[test]
    fn space_in_target_is_400_not_505() {
        assert_eq!(
            parse("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")
                .err()
                .unwrap()
                .status(),
            400
        );
        assert_eq!(
            parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n")
                .err()
                .unwrap()
                .status(),
            505
        );
    }

    #[test]
    fn absolute_form_authority_wins_over_host() {
        let (r, _) =
            parse("GET HTTP://Blog.Localhost:4698/api/main.js HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(r.host(), "blog.localhost");
        assert_eq!(r.path(), "/api/main.js");
        let (r, _) = parse("GET http://blog.localhost?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.path(), "/");
        assert_eq!(r.query(), "x=1");
    }

    #[test]
    fn absolute_form_target() {
        let (r, _) = parse("GET http://h.example/x/y?q HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.path(), "/x/y");
        assert_eq!(r.query(), "q");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_head(&data, &Limits::default(), peer(), false);
        }

        #[test]
        fn split_anywhere_same_result(cut in 0usize..60) {
            let full = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
            let cut = cut.min(full.len());
            let first = parse_head(&full[..cut], &Limits::default(), peer(), false).unwrap();
            if cut < full.len() - 3 { proptest::prop_assert!(first.is_none()); }
            let (r, n) = parse_head(full, &Limits::default(), peer(), false).unwrap().unwrap();
            proptest::prop_assert_eq!(n, full.len() - 3);
            proptest::prop_assert_eq!(r.framing, Framing::Length(3));
        }
    }
}
