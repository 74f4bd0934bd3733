//! `fazt serve`'s analytics options (feature `analytics`), resolved into
//! [`crate::analytics::Settings`].

use std::net::IpAddr;
use std::time::Duration;

use super::opt::{AnyOpt, Opt, Spec};
use super::parse;
use super::sources::Sources;
use crate::analytics::Settings;

pub static NO_ANALYTICS: Opt<bool> = Opt {
    spec: Spec::switch(
        "--no-analytics",
        "Do not record requests to sites (tracking endpoints, short links\nand webhooks still work)",
    ),
    parse: parse::switch,
};
pub static FLUSH_MS: Opt<u64> = Opt {
    spec: Spec::value(
        "--analytics-flush-ms",
        "N",
        "Write recorded events at least every N ms (default 1000)",
    ),
    parse: |raw| parse::range(raw, 10, 600_000),
};
pub static BUFFER: Opt<usize> = Opt {
    spec: Spec::value(
        "--analytics-buffer",
        "N",
        "Events each serving thread holds before new ones are\ndropped and counted (default 4096)",
    ),
    parse: |raw| parse::range(raw, 1, 1_000_000),
};
pub static RETENTION_DAYS: Opt<u32> = Opt {
    spec: Spec::value(
        "--analytics-retention-days",
        "N",
        "Keep raw events N days (default 90); hourly and daily\nrollups are kept longer",
    ),
    parse: |raw| parse::range(raw, 1, 36_500),
};
pub static ROLLUP_DAYS: Opt<u32> = Opt {
    spec: Spec::value(
        "--analytics-rollup-days",
        "N",
        "Keep hourly rollups and top lists N days (default 730)",
    ),
    parse: |raw| parse::range(raw, 1, 36_500),
};
pub static STORE_IP: Opt<bool> = Opt {
    spec: Spec::switch(
        "--analytics-store-ip",
        "Store raw client addresses and user agents (default: only a\ndaily-rotating salted hash)",
    ),
    parse: parse::switch,
};
pub static WEBHOOK_MAX_KB: Opt<u64> = Opt {
    spec: Spec::value(
        "--webhook-max-kb",
        "N",
        "Largest webhook body in KiB (default 64)",
    ),
    parse: |raw| parse::range(raw, 1, 100 * 1024),
};

pub static OPTIONS: &[&dyn AnyOpt] = &[
    &NO_ANALYTICS,
    &FLUSH_MS,
    &BUFFER,
    &RETENTION_DAYS,
    &ROLLUP_DAYS,
    &STORE_IP,
    &WEBHOOK_MAX_KB,
];

/// The analytics settings: options not given keep [`Settings::default`]'s values.
pub fn resolve(
    src: &Sources,
    domain: &str,
    trusted_proxies: &[IpAddr],
) -> Result<Settings, String> {
    let mut s = Settings {
        enabled: !src.value(&NO_ANALYTICS)?,
        store_ip: src.value(&STORE_IP)?,
        domain: domain.to_string(),
        trusted_proxies: trusted_proxies.to_vec(),
        ..Settings::default()
    };
    if let Some(ms) = src.given(&FLUSH_MS)? {
        s.flush_interval = Duration::from_millis(ms);
    }
    if let Some(n) = src.given(&BUFFER)? {
        s.buffer = n;
    }
    if let Some(d) = src.given(&RETENTION_DAYS)? {
        s.retention_days = d;
    }
    if let Some(d) = src.given(&ROLLUP_DAYS)? {
        s.rollup_days = d;
    }
    if let Some(kb) = src.given(&WEBHOOK_MAX_KB)? {
        s.webhook_max_bytes = kb * 1024;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use pico_args::Arguments;

    use super::*;

    // Were `analytics::settings`' tests of its own flag parsing; the assertions are kept.
    fn parse(a: &[&str]) -> Result<Settings, String> {
        let mut args = Arguments::from_vec(a.iter().map(Into::into).collect());
        let flags = super::super::sources::read_flags(&mut args, OPTIONS)?;
        let src = Sources::new(flags, OPTIONS, |_| None);
        resolve(&src, "localhost", &[])
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

    #[test]
    fn stored_and_env_values_apply() {
        let src = Sources::new(Default::default(), OPTIONS, |k| {
            (k == "FAZT_NO_ANALYTICS").then(|| "true".to_string())
        })
        .with_stored([("analytics_buffer".to_string(), "8".to_string())].into());
        let s = resolve(&src, "example.com", &[]).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.buffer, 8);
        assert_eq!(s.domain, "example.com");
    }
}
