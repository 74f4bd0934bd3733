//! Analytics settings: what `fazt serve` options control (recording on/off, batch interval,
//! buffer bound, retention, raw addresses, webhook body cap), with defaults for a small board.
//! The options themselves are described with the other serve options (module
//! `config::analytics`, above the verticals).

use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Record requests served for sites (`--no-analytics` turns it off).
    pub enabled: bool,
    /// The server's domain, to map tracked host names to sites.
    pub domain: String,
    /// Proxies whose `X-Forwarded-For` is believed (same list as the API's).
    pub trusted_proxies: Vec<IpAddr>,
    /// Longest time an accepted event waits in memory before it is written.
    pub flush_interval: Duration,
    /// Events each serving thread may hold before new ones are dropped (and counted); the
    /// recorder is woken when a thread holds half this many.
    pub buffer: usize,
    pub retention_days: u32,
    pub rollup_days: u32,
    /// Store raw addresses and user agents (off: only the salted visitor hash and UA class).
    pub store_ip: bool,
    pub webhook_max_bytes: u64,
    /// How often the housekeeping thread rolls up and prunes.
    pub housekeeping_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            domain: "localhost".into(),
            trusted_proxies: Vec::new(),
            flush_interval: Duration::from_millis(1000),
            buffer: 4096,
            retention_days: 90,
            rollup_days: 730,
            store_ip: false,
            webhook_max_bytes: 64 * 1024,
            housekeeping_every: Duration::from_secs(3600),
        }
    }
}
