//! Analytics settings: what `fazt serve` flags control (recording on/off, batch interval,
//! buffer bound, retention, raw addresses, webhook body cap), with defaults for a small board.

use std::net::IpAddr;
use std::time::Duration;

use pico_args::Arguments;

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

fn num<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    args: &mut Arguments,
    name: &'static str,
    min: T,
    max: T,
) -> Result<Option<T>, String> {
    let raw: Option<String> = args
        .opt_value_from_str(name)
        .map_err(|e| format!("{name}: {e}"))?;
    let Some(raw) = raw else { return Ok(None) };
    let v: T = raw
        .parse()
        .map_err(|_| format!("{name}: '{raw}' is not a valid number"))?;
    if v < min || v > max {
        return Err(format!("{name} must be between {min} and {max}, not {raw}"));
    }
    Ok(Some(v))
}

impl Settings {
    /// Reads the analytics flags of `fazt serve`. `domain` and
    /// `trusted_proxies` are left at their defaults for the caller to fill in.
    pub fn from_args(args: &mut Arguments) -> Result<Settings, String> {
        let mut s = Settings {
            enabled: !args.contains("--no-analytics"),
            store_ip: args.contains("--analytics-store-ip"),
            ..Settings::default()
        };
        if let Some(ms) = num::<u64>(args, "--analytics-flush-ms", 10, 600_000)? {
            s.flush_interval = Duration::from_millis(ms);
        }
        if let Some(n) = num::<usize>(args, "--analytics-buffer", 1, 1_000_000)? {
            s.buffer = n;
        }
        if let Some(d) = num::<u32>(args, "--analytics-retention-days", 1, 36_500)? {
            s.retention_days = d;
        }
        if let Some(d) = num::<u32>(args, "--analytics-rollup-days", 1, 36_500)? {
            s.rollup_days = d;
        }
        if let Some(kb) = num::<u64>(args, "--webhook-max-kb", 1, 100 * 1024)? {
            s.webhook_max_bytes = kb * 1024;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Settings, String> {
        let mut args = Arguments::from_vec(a.iter().map(Into::into).collect());
        Settings::from_args(&mut args)
    }

    #[test]
    fn defaults_and_flags() {
        let s = parse(&[]).unwrap();
        assert!(s.enabled && !s.store_ip);
        assert_eq!(s.buffer, 4096);
        assert_eq!(s.retention_days, 90);
        let s = parse(&[
            "--no-analytics",
            "--analytics-flush-ms",
            "50",
            "--analytics-buffer",
            "4",
            "--analytics-store-ip",
            "--webhook-max-kb",
            "2",
        ])
        .unwrap();
        assert!(!s.enabled && s.store_ip);
        assert_eq!(s.flush_interval, Duration::from_millis(50));
        assert_eq!(s.buffer, 4);
        assert_eq!(s.webhook_max_bytes, 2048);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = parse(&["--analytics-buffer", "0"]).unwrap_err();
        assert!(e.contains("--analytics-buffer"), "{e}");
        let e = parse(&["--analytics-flush-ms", "soon"]).unwrap_err();
        assert!(
            e.contains("--analytics-flush-ms") && e.contains("soon"),
            "{e}"
        );
        let e = parse(&["--analytics-retention-days"]).unwrap_err();
        assert!(e.contains("--analytics-retention-days"), "{e}");
    }
}
