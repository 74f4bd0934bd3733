//! Responses: any status, any headers (owned, per response), and a body that is empty,
//! in memory (owned or shared with the hot-file cache) or streamed from a reader so that large
//! files never sit whole in memory.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

/// Writes a streamed body into the connection, chunk by chunk. It must write exactly the
/// declared length; anything else closes the connection (the only honest signal left once
/// the head is sent).
pub type Producer = Box<dyn FnOnce(&mut dyn BodySink) -> std::io::Result<()> + Send>;

/// Where a streamed body goes: the connection's blocking writes, plus one that never waits,
/// for a producer that must not hold a resource (a database read transaction) while a slow
/// client keeps it waiting.
pub trait BodySink: Write {
    /// Writes what the connection takes at once, without waiting for the client:
    /// `Ok(Some(n))` with `n` possibly 0, or `Ok(None)` when the transport cannot tell
    /// (then only the blocking `write` is available).
    fn write_now(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>>;

    /// Whether the server is shutting down: an [`ResponseBody::Open`] producer should end.
    fn stopping(&self) -> bool {
        false
    }
}

impl BodySink for Vec<u8> {
    fn write_now(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>> {
        self.extend_from_slice(buf);
        Ok(Some(buf.len()))
    }
}

/// What follows a response's head; its [`len`](ResponseBody::len) becomes `Content-Length`.
pub enum ResponseBody {
    /// No bytes.
    Empty,
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Bytes compiled into the binary.
    Static(&'static [u8]),
    /// A shared buffer (e.g. a cached file) and the range of it to send.
    Shared(Arc<[u8]>, std::ops::Range<usize>),
    /// `len` bytes pushed by `producer` straight into the connection. A push (rather than a
    /// `Read`) lets the producer keep a database cursor open on its own stack for the whole
    /// transfer (SQLite re-walks a BLOB's overflow chain on every fresh open).
    Stream {
        /// Writes the body into the connection when the head has gone out.
        producer: Producer,
        /// The exact number of bytes `producer` writes, sent as `Content-Length`.
        len: u64,
    },
    /// Bytes pushed by the producer for as long as it goes on (Server-Sent Events, a log
    /// tail): sent without `Content-Length`, and the connection closes when it returns. It
    /// should return soon after [`BodySink::stopping`] turns true.
    Open(Producer),
    /// With status 101: the connection leaves HTTP once the head is out and the upgrader runs
    /// the new protocol on it (see [`upgrade`](super::upgrade)). Honoured only for a request
    /// without a body; anything else gets a 500.
    Upgrade(super::upgrade::Upgrader),
}

impl ResponseBody {
    /// The body's size in bytes (a stream's declared `len`).
    pub fn len(&self) -> u64 {
        match self {
            ResponseBody::Empty => 0,
            ResponseBody::Bytes(b) => b.len() as u64,
            ResponseBody::Static(b) => b.len() as u64,
            ResponseBody::Shared(_, r) => r.len() as u64,
            ResponseBody::Stream { len, .. } => *len,
            ResponseBody::Open(_) | ResponseBody::Upgrade(_) => 0,
        }
    }

    /// The body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In-memory bytes, or `None` for a stream.
    pub fn as_slice(&self) -> Option<&[u8]> {
        match self {
            ResponseBody::Empty => Some(&[]),
            ResponseBody::Bytes(b) => Some(b),
            ResponseBody::Static(b) => Some(b),
            ResponseBody::Shared(b, r) => b.get(r.clone()),
            ResponseBody::Stream { .. } | ResponseBody::Open(_) | ResponseBody::Upgrade(_) => None,
        }
    }
}

/// What a [`Handler`](super::server::Handler) answers. Built with [`Response::new`] or one of
/// the typed constructors, then chained: `Response::text(200, "hi").header("X-A", "b")`.
pub struct Response {
    /// The status code, sent as is with the phrase [`reason`] gives it.
    pub status: u16,
    /// Headers in order, repeats allowed. `Content-Length`, `Transfer-Encoding`, `Connection`,
    /// `Date` and `Server` are the edge's own and are dropped here, as are invalid lines.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The body; HEAD requests and bodiless statuses (1xx, 204, 304) send none of it.
    pub body: ResponseBody,
    /// Close the connection after this response (e.g. after a protocol error).
    pub close: bool,
}

impl Response {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: ResponseBody::Empty,
            close: false,
        }
    }

    /// Appends a header (keeping any of the same name) and returns the response.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces every header of this name (case-insensitive) with one of this value.
    pub fn set_header(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }

    /// The first header of this name (case-insensitive), if any.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Replaces the body and returns the response.
    pub fn body(mut self, body: ResponseBody) -> Self {
        self.body = body;
        self
    }

    /// A response with these owned bytes and this `Content-Type`.
    pub fn bytes(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Response::new(status)
            .header("Content-Type", content_type)
            .body(ResponseBody::Bytes(body))
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    /// A `text/html; charset=utf-8` response.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Response::bytes(status, "text/html; charset=utf-8", body.into().into_bytes())
    }

    /// An `application/json` response with `Cache-Control: no-store` (API answers are not
    /// cacheable). Serialising a `Value` cannot fail; were it to, the body would be empty.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::bytes(
            status,
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        )
        .header("Cache-Control", "no-store")
    }

    /// Marks the response to close the connection once it is sent.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

/// The reason phrase for a status code (RFC 9110 names).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

/// Whether a response with this status carries no body by definition.
pub fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}
