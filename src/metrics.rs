//! `GET /metrics` in Prometheus' text format (0.0.4), for people who run many things: requests
//! by host class and status class, a latency histogram, bytes out and script outcomes, counted
//! here with relaxed atomics on the request path (no lock, no allocation); and, read when
//! scraped, uptime, RSS, database size, certificate expiry and analytics drops.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Which kind of host a request was for (a label, so a scrape stays a few dozen lines
/// however many sites there are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Admin = 0,
    Site = 1,
    Unknown = 2,
}

const CLASSES: [&str; 3] = ["admin", "site", "unknown"];
const STATUSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the latency buckets, seconds (the handler's time, not the network's).
const BOUNDS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const OUTCOMES: [&str; 3] = ["ok", "error", "unavailable"];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; 5]; 3],
    /// Requests per bucket (not cumulative; summed when rendered); the last is +Inf.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    micros: AtomicU64,
    bytes: AtomicU64,
    scripts: [AtomicU64; 3],
}

/// What a scrape reads besides the counters.
#[derive(Default)]
pub struct Gauges {
    pub uptime_seconds: u64,
    pub rss_bytes: Option<u64>,
    pub db_bytes: u64,
    /// (name, `not_after` in Unix seconds) of each certificate.
    pub certificates: Vec<(String, i64)>,
    /// Analytics events (written, dropped), when analytics is built in.
    pub analytics: Option<(u64, u64)>,
    /// The WebSocket hub's counters, when the JS runtime (and so `/ws`) is built in.
    pub websockets: Option<crate::kernel::ws::Stats>,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, class: Class, status: u16, took: Duration, bytes: u64) {
        let s = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[class as usize][s].fetch_add(1, Relaxed);
        let secs = took.as_secs_f64();
        let b = BOUNDS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BOUNDS.len());
        self.buckets[b].fetch_add(1, Relaxed);
        self.micros
            .fetch_add(took.as_micros().min(u64::MAX as u128) as u64, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts one script run by its answer: 503 is a timeout or no free runtime, another 5xx a
    /// failure, the rest ok.
    pub fn script(&self, status: u16) {
        let i = match status {
            503 => 2,
            500..=599 => 1,
            _ => 0,
        };
        self.scripts[i].fetch_add(1, Relaxed);
    }

    /// The text a scrape answers.
    pub fn render(&self, g: &Gauges) -> String {
        let mut o = String::with_capacity(4096);
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut o,
            "fazt_http_requests_total",
            "counter",
            "Requests by host class and status.",
        );
        for (c, row) in self.requests.iter().enumerate() {
            for (s, n) in row.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "fazt_http_requests_total{{class=\"{}\",status=\"{}\"}} {}",
                    CLASSES[c],
                    STATUSES[s],
                    n.load(Relaxed)
                );
            }
        }
        head(
            &mut o,
            "fazt_http_request_duration_seconds",
            "histogram",
            "Time to answer.",
        );
        let mut total = 0;
        for (i, le) in BOUNDS.iter().enumerate() {
            total += self.buckets[i].load(Relaxed);
            let _ = writeln!(
                o,
                "fazt_http_request_duration_seconds_bucket{{le=\"{le}\"}} {total}"
            );
        }
        total += self.buckets[BOUNDS.len()].load(Relaxed);
        let _ = writeln!(
            o,
            "fazt_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            o,
            "fazt_http_request_duration_seconds_sum {}\nfazt_http_request_duration_seconds_count {total}",
            self.micros.load(Relaxed) as f64 / 1e6
        );
        head(
            &mut o,
            "fazt_http_response_bytes_total",
            "counter",
            "Body bytes sent.",
        );
        let _ = writeln!(
            o,
            "fazt_http_response_bytes_total {}",
            self.bytes.load(Relaxed)
        );
        head(
            &mut o,
            "fazt_script_runs_total",
            "counter",
            "Script runs by outcome.",
        );
        for (i, n) in self.scripts.iter().enumerate() {
            let _ = writeln!(
                o,
                "fazt_script_runs_total{{outcome=\"{}\"}} {}",
                OUTCOMES[i],
                n.load(Relaxed)
            );
        }
        head(&mut o, "fazt_uptime_seconds", "gauge", "Uptime.");
        let _ = writeln!(o, "fazt_uptime_seconds {}", g.uptime_seconds);
        if let Some(rss) = g.rss_bytes {
            head(&mut o, "fazt_resident_memory_bytes", "gauge", "RSS.");
            let _ = writeln!(o, "fazt_resident_memory_bytes {rss}");
        }
        head(
            &mut o,
            "fazt_database_bytes",
            "gauge",
            "fazt.db and its WAL.",
        );
        let _ = writeln!(o, "fazt_database_bytes {}", g.db_bytes);
        if !g.certificates.is_empty() {
            head(
                &mut o,
                "fazt_certificate_expiry_timestamp_seconds",
                "gauge",
                "Certificate expiry, Unix time.",
            );
            for (name, at) in &g.certificates {
                let name: String = name
                    .chars()
                    .filter(|c| *c != '"' && *c != '\\' && *c != '\n')
                    .collect();
                let _ = writeln!(
                    o,
                    "fazt_certificate_expiry_timestamp_seconds{{name=\"{name}\"}} {at}"
                );
            }
        }
        if let Some((written, dropped)) = g.analytics {
            head(
                &mut o,
                "fazt_analytics_events_total",
                "counter",
                "Analytics events by fate.",
            );
            let _ = writeln!(
                o,
                "fazt_analytics_events_total{{fate=\"written\"}} {written}"
            );
            let _ = writeln!(
                o,
                "fazt_analytics_events_total{{fate=\"dropped\"}} {dropped}"
            );
        }
        if let Some(w) = g.websockets {
            head(
                &mut o,
                "fazt_websocket_connections",
                "gauge",
                "WebSocket clients connected.",
            );
            let _ = writeln!(o, "fazt_websocket_connections {}", w.connections);
            head(
                &mut o,
                "fazt_websocket_messages_total",
                "counter",
                "WebSocket messages: broadcast (from clients and scripts), delivered (one per receiving client).",
            );
            let _ = writeln!(
                o,
                "fazt_websocket_messages_total{{fate=\"broadcast\"}} {}\nfazt_websocket_messages_total{{fate=\"delivered\"}} {}",
                w.broadcasts, w.deliveries
            );
            head(
                &mut o,
                "fazt_websocket_slow_clients_total",
                "counter",
                "WebSocket clients closed (1008) for not reading fast enough.",
            );
            let _ = writeln!(o, "fazt_websocket_slow_clients_total {}", w.dropped_slow);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_series_and_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe(Class::Site, 200, Duration::from_micros(300), 10);
        m.observe(Class::Site, 404, Duration::from_millis(30), 5);
        m.observe(Class::Admin, 999, Duration::from_secs(9), 0);
        m.script(503);
        let text = m.render(&Gauges::default());
        for line in [
            "fazt_http_requests_total{class=\"site\",status=\"2xx\"} 1",
            "fazt_http_requests_total{class=\"site\",status=\"4xx\"} 1",
            "fazt_http_requests_total{class=\"admin\",status=\"5xx\"} 1",
            "fazt_http_request_duration_seconds_bucket{le=\"0.001\"} 1",
            "fazt_http_request_duration_seconds_bucket{le=\"0.05\"} 2",
            "fazt_http_request_duration_seconds_bucket{le=\"5\"} 2",
            "fazt_http_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "fazt_http_request_duration_seconds_count 3",
            "fazt_http_response_bytes_total 15",
            "fazt_script_runs_total{outcome=\"unavailable\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
