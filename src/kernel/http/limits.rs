//! Limits and timeouts of the HTTP edge. Every number a hostile client could push against has
//! a cap here; defaults suit a Raspberry Pi exposed to the internet.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Limits {
    /// Request line + headers, in bytes. Over it: 431.
    pub max_head_bytes: usize,
    /// Number of request headers. Over it: 431.
    pub max_headers: usize,
    /// From the first byte of a request to the end of its headers. Over it: 408 and close.
    pub header_timeout: Duration,
    /// Waiting for the next request on a keep-alive connection. Over it: silent close.
    pub idle_timeout: Duration,
    /// Between two reads of a request body. Over it: 408 and close.
    pub body_timeout: Duration,
    /// A single blocked write to a client that stopped reading.
    pub write_timeout: Duration,
    /// Simultaneous connections; beyond it new ones are closed at once so that memory stays
    /// bounded however many sockets a client opens.
    pub max_connections: usize,
    /// Default request-body cap for routes that do not choose their own. Over it: 413.
    pub default_body_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 32 * 1024,
            max_headers: 64,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            default_body_limit: 1024 * 1024,
        }
    }
}
