//! Reading a request body off the connection: `Content-Length` or chunked framing, a cap
//! chosen by the route (413 past it), the body timeout, and `Expect: 100-continue` answered
//! only when the handler actually asks for the body.

use std::io;

use super::request::Framing;

/// Where body bytes come from: the connection's read buffer first, then the socket.
pub(crate) trait Source {
    /// Bytes already read from the socket and not yet consumed.
    fn buffered(&self) -> &[u8];
    fn consume(&mut self, n: usize);
    /// Reads more bytes into the buffer (0 = end of stream), bounded by the body timeout.
    fn fill(&mut self) -> io::Result<usize>;
    /// Writes `HTTP/1.1 100 Continue` before the first body read.
    fn send_continue(&mut self) -> io::Result<()>;
}

/// Why a request body could not be read; [`BodyError::status`] is the answer it calls for.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the route's cap (declared or counted while reading), the cap in bytes: 413.
    TooLarge(u64),
    /// Bad chunk syntax or the stream ended early: 400.
    Malformed(&'static str),
    /// The client stopped sending: 408.
    Timeout,
    /// Reading from the socket failed (reset, closed mid-body): 400.
    Io(io::Error),
}

impl BodyError {
    /// The HTTP status to answer with: 413, 400 or 408.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge(_) => 413,
            BodyError::Malformed(_) => 400,
            BodyError::Timeout => 408,
            BodyError::Io(_) => 400,
        }
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(cap) => write!(f, "request body larger than {cap} bytes"),
            BodyError::Malformed(m) => write!(f, "malformed request body: {m}"),
            BodyError::Timeout => write!(f, "timed out reading the request body"),
            BodyError::Io(e) => write!(f, "error reading the request body: {e}"),
        }
    }
}

fn io_err(e: io::Error) -> BodyError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => BodyError::Timeout,
        _ => BodyError::Io(e),
    }
}

/// The body of one request. Handlers call [`Body::read_all`] with their own cap; a body left
/// unread makes the connection close after the response (it is never parsed as a request).
pub struct Body<'a> {
    src: &'a mut dyn Source,
    framing: Framing,
    continue_pending: bool,
    finished: bool,
}

const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILER_BYTES: usize = 8192;

impl<'a> Body<'a> {
    pub(crate) fn new(src: &'a mut dyn Source, framing: Framing, expects_continue: bool) -> Self {
        Body {
            src,
            framing,
            continue_pending: expects_continue,
            finished: framing == Framing::None,
        }
    }

    /// The declared length, when the client sent `Content-Length`.
    pub fn declared_len(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            Framing::None => Some(0),
            Framing::Chunked => None,
        }
    }

    /// Whether the body has been read to its end (or there was none).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Reads the whole body, refusing more than `limit` bytes. A declared length over the
    /// cap is refused before reading anything (and before `100 Continue`).
    pub fn read_all(&mut self, limit: u64) -> Result<Vec<u8>, BodyError> {
        if self.finished {
            return Ok(Vec::new());
        }
        if let Framing::Length(n) = self.framing {
            if n > limit {
                return Err(BodyError::TooLarge(limit));
            }
        }
        if self.continue_pending {
            self.continue_pending = false;
            self.src.send_continue().map_err(io_err)?;
        }
        let out = match self.framing {
            Framing::None => Vec::new(),
            Framing::Length(n) => self.read_exact_len(n)?,
            Framing::Chunked => self.read_chunked(limit)?,
        };
        self.finished = true;
        Ok(out)
    }

    fn read_exact_len(&mut self, n: u64) -> Result<Vec<u8>, BodyError> {
        let n = usize::try_from(n).map_err(|_| BodyError::TooLarge(n))?;
        // Grow as bytes arrive instead of trusting the declared size up front.
        let mut out = Vec::with_capacity(n.min(64 * 1024));
        while out.len() < n {
            if self.src.buffered().is_empty() && self.src.fill().map_err(io_err)? == 0 {
                return Err(BodyError::Malformed(
                    "connection closed before the body ended",
                ));
            }
            let buf = self.src.buffered();
            let take = buf.len().min(n - out.len());
            out.extend_from_slice(&buf[..take]);
            self.src.consume(take);
        }
        Ok(out)
    }

    /// Returns the next CRLF-terminated line without its terminator. A bare LF is refused:
    /// chunked framing is where request smuggling lives, so it is read strictly (RFC 9112
    /// §7.1) rather than guessing as a lenient proxy in front of us might not.
    fn read_line(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        loop {
            let buf = self.src.buffered();
            if let Some(i) = buf.iter().position(|&b| b == b'\n') {
                if i == 0 || buf[i - 1] != b'\r' {
                    return Err(BodyError::Malformed("chunk line not ended by CRLF"));
                }
                let line = buf[..i - 1].to_vec();
                self.src.consume(i + 1);
                return Ok(line);
            }
            if buf.len() > max {
                return Err(BodyError::Malformed("chunk line too long"));
            }
            if self.src.fill().map_err(io_err)? == 0 {
                return Err(BodyError::Malformed("connection closed inside a chunk"));
            }
        }
    }

    fn read_chunked(&mut self, limit: u64) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        loop {
            let line = self.read_line(MAX_CHUNK_LINE)?;
            let size = parse_chunk_size(&line).ok_or(BodyError::Malformed("bad chunk size"))?;
            if size == 0 {
                break;
            }
            if (out.len() as u64).saturating_add(size) > limit {
                return Err(BodyError::TooLarge(limit));
            }
            let data = self.read_exact_len(size)?;
            out.extend_from_slice(&data);
            if !self.read_line(2)?.is_empty() {
                return Err(BodyError::Malformed("chunk data longer than its size"));
            }
        }
        // Trailers are read and dropped: no handler gets to depend on them.
        let mut trailer_bytes = 0;
        loop {
            let line = self.read_line(MAX_TRAILER_BYTES)?;
            if line.is_empty() {
                return Ok(out);
            }
            trailer_bytes += line.len();
            if trailer_bytes > MAX_TRAILER_BYTES {
                return Err(BodyError::Malformed("trailers too large"));
            }
        }
    }
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    // Extensions are ignored, but only visible characters, spaces and tabs may be in them.
    if !line
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || (0x21..0x7f).contains(&b))
    {
        return None;
    }
    let hex = line.split(|&b| b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim_matches([' ', '\t']);
    if hex.is_empty() || hex.len() > 15 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Delivers `data` in reads of at most `step` bytes.
    struct Fake {
        data: Vec<u8>,
        pos: usize,
        buf: Vec<u8>,
        step: usize,
        continues: usize,
    }

    impl Source for Fake {
        fn buffered(&self) -> &[u8] {
            &self.buf
        }
        fn consume(&mut self, n: usize) {
            self.buf.drain(..n);
        }
        fn fill(&mut self) -> io::Result<usize> {
            let end = (self.pos + self.step).min(self.data.len());
            let n = end - self.pos;
            self.buf.extend_from_slice(&self.data[self.pos..end]);
            self.pos = end;
            Ok(n)
        }
        fn send_continue(&mut self) -> io::Result<()> {
            self.continues += 1;
            Ok(())
        }
    }

    fn fake(data: &[u8], step: usize) -> Fake {
        Fake {
            data: data.to_vec(),
            pos: 0,
            buf: Vec::new(),
            step: step.max(1),
            continues: 0,
        }
    }

    /// `body` in chunked framing (chunk sizes from `sizes`, then 7s), with a chunk
    /// extension and a trailer. Shared with the HTTP client's tests.
    pub(crate) fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes.get(i).copied().unwrap_or(7).clamp(1, rest.len());
            out.extend_from_slice(format!("{n:x};ext=1\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            i += 1;
        }
        out.extend_from_slice(b"0\r\nX-Trailer: y\r\n\r\n");
        out
    }

    #[test]
    fn content_length_and_continue() {
        let mut f = fake(b"hello", 2);
        let mut b = Body::new(&mut f, Framing::Length(5), true);
        assert_eq!(b.read_all(10).unwrap(), b"hello");
        assert_eq!(f.continues, 1);
    }

    #[test]
    fn declared_too_large_refused_before_continue() {
        let mut f = fake(b"hello", 2);
        let mut b = Body::new(&mut f, Framing::Length(5), true);
        assert!(matches!(b.read_all(4), Err(BodyError::TooLarge(4))));
        assert_eq!(f.continues, 0);
    }

    #[test]
    fn truncated_body_is_error() {
        let mut f = fake(b"hel", 2);
        let mut b = Body::new(&mut f, Framing::Length(5), false);
        assert_eq!(b.read_all(10).unwrap_err().status(), 400);
    }

    #[test]
    fn chunked_cap_and_syntax() {
        let mut f = fake(&chunked(b"abcdefghij", &[4, 6]), 3);
        let mut b = Body::new(&mut f, Framing::Chunked, false);
        assert!(matches!(b.read_all(5), Err(BodyError::TooLarge(5))));
        for bad in [&b"zz\r\n"[..], b"4\r\nabcdef\r\n0\r\n\r\n", b"4\r\nab"] {
            let mut f = fake(bad, 3);
            let mut b = Body::new(&mut f, Framing::Chunked, false);
            assert_eq!(b.read_all(100).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn chunk_lines_are_strict() {
        for bad in [
            &b"3\nabc\r\n0\r\n\r\n"[..],
            b"3\r\nabc\n0\r\n\r\n",
            b"3\r\nabc\r\n0\n\n",
            b"3;x=\x01\r\nabc\r\n0\r\n\r\n",
            b"3;x=\x7f\r\nabc\r\n0\r\n\r\n",
        ] {
            let mut f = fake(bad, 4);
            let mut b = Body::new(&mut f, Framing::Chunked, false);
            assert_eq!(b.read_all(100).unwrap_err().status(), 400, "{bad:?}");
        }
        let mut f = fake(b"3;name=\"v a\"\t\r\nabc\r\n0\r\n\r\n", 4);
        let mut b = Body::new(&mut f, Framing::Chunked, false);
        assert_eq!(b.read_all(100).unwrap(), b"abc");
    }

    proptest::proptest! {
        #[test]
        fn chunked_round_trip(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
                              sizes in proptest::collection::vec(1usize..300, 0..20),
                              step in 1usize..64) {
            let wire = chunked(&body, &sizes);
            let mut f = fake(&wire, step);
            let mut b = Body::new(&mut f, Framing::Chunked, false);
            proptest::prop_assert_eq!(b.read_all(10_000).unwrap(), body);
            proptest::prop_assert!(f.buf.is_empty());
        }

        #[test]
        fn chunked_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), step in 1usize..32) {
            let mut f = fake(&data, step);
            let mut b = Body::new(&mut f, Framing::Chunked, false);
            let _ = b.read_all(1000);
        }
    }
}
