//! Limits and timeouts of the HTTP edge. Every number a hostile client could push against has
//! a cap here; defaults suit a Raspberry Pi exposed to the internet.

use std::time::Duration;

/// The caps and timeouts one [`server`](super::server) applies to every connection;
/// [`Limits::default`] is safe for the open internet.
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
    /// Simultaneous connections from one client address (the socket peer; for a trusted
    /// proxy, requests in progress per forwarded address). Beyond it new connections from
    /// that address are closed at once (503 per request behind a proxy), so one client
    /// cannot take every connection slot. 0 turns the cap off.
    pub max_connections_per_ip: usize,
    /// Slowest acceptable request body, in bytes per second averaged from the end of the
    /// head, after a grace of `header_timeout`. A slower body gets 408 and the connection
    /// closes, so a trickling upload cannot hold a connection (and its memory) for ever.
    /// 0 turns the check off (the per-read `body_timeout` still applies).
    pub min_body_rate: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see [`super::client_addr()`]).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The `Server` header sent with every response: the product's name (a token without
    /// spaces or control characters). Empty sends none.
    pub server_header: &'static str,
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
            max_connections_per_ip: 64,
            min_body_rate: 1024,
            trusted_proxies: Vec::new(),
            server_header: "",
        }
    }
}
