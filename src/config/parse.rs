//! Value parsers shared by the options: numbers (with ranges), switches, addresses, the
//! domain, log levels, lists of IP addresses. Each returns the converted value or a short
//! message about the value alone ("'abc' is not a valid number"); the resolver prefixes the
//! source (`--cache-mb: …`, `FAZT_CACHE_MB: …`, `stored setting cache_mb: …`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Any number of type `T`.
pub fn number<T: FromStr>(raw: &str) -> Result<T, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("'{raw}' is not a valid number"))
}

/// A number from `min` to `max`.
pub fn range<T: FromStr + PartialOrd + std::fmt::Display>(
    raw: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    let v: T = number(raw)?;
    if v < min || v > max {
        return Err(format!(
            "must be between {min} and {max}, not {}",
            raw.trim()
        ));
    }
    Ok(v)
}

/// A number of at least 1.
pub fn positive<T: FromStr + PartialOrd + From<u8>>(raw: &str) -> Result<T, String> {
    number::<T>(raw)
        .ok()
        .filter(|n| *n >= T::from(1))
        .ok_or_else(|| format!("'{raw}' is not a positive number"))
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
pub fn switch(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("'{raw}' is not true or false")),
    }
}

/// Any text, as given.
pub fn text(raw: &str) -> Result<String, String> {
    Ok(raw.to_string())
}

/// A file path.
pub fn path(raw: &str) -> Result<PathBuf, String> {
    if raw.is_empty() {
        return Err("empty path".into());
    }
    Ok(PathBuf::from(raw))
}

/// A duration: a number with a unit, `s`, `m`, `h` or `d` (`90s`, `15m`, `24h`, `7d`), at
/// least one second and at most a year.
pub fn duration(raw: &str) -> Result<std::time::Duration, String> {
    let t = raw.trim();
    let bad = || format!("'{raw}' is not a duration (a number and s, m, h or d: 30m, 24h, 7d)");
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.saturating_mul(per);
    if !(1..=366 * 86_400).contains(&secs) {
        return Err(format!("'{raw}' must be from 1s to 366d"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `HOST:PORT` for a listener. The host is not resolved here: an address that cannot be
/// bound is reported when binding ("cannot listen on …").
pub fn listen_addr(raw: &str) -> Result<String, String> {
    let ok = raw
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(raw.to_string())
    } else {
        Err(format!("'{raw}' is not HOST:PORT"))
    }
}

/// The domain sites are served under, lowercased and without a trailing dot.
pub fn domain(raw: &str) -> Result<String, String> {
    let d = raw.trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.contains(['/', ':', ' ']) {
        return Err(format!("invalid domain '{d}'"));
    }
    Ok(d)
}

/// A log level name.
pub fn log_level(raw: &str) -> Result<String, String> {
    raw.parse::<log::LevelFilter>()
        .map(|_| raw.to_string())
        .map_err(|_| format!("unknown log level '{raw}' (error, warn, info, debug, trace)"))
}

/// Comma-separated IP addresses (empty items are skipped).
pub fn ip_list(raw: &str) -> Result<Vec<IpAddr>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| format!("'{s}' is not an IP address"))
        })
        .collect()
}

/// Comma-separated host names (or `loopback`) a script's `fetch` may reach beyond the
/// public internet.
pub fn fetch_allow(raw: &str) -> Result<Vec<String>, String> {
    raw.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let host = s.as_bytes();
            let ok = host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(b));
            if ok {
                Ok(s)
            } else {
                Err(format!(
                    "'{s}' is not a host name, an IP address or 'loopback'"
                ))
            }
        })
        .collect()
}

/// The ACME challenge types fazt knows.
pub const CHALLENGES: [&str; 2] = ["http-01", "tls-alpn-01"];

/// Comma-separated challenge types, in the order to try them.
pub fn challenges(raw: &str) -> Result<Vec<&'static str>, String> {
    raw.split(',')
        .map(|c| {
            let c = c.trim();
            CHALLENGES
                .iter()
                .copied()
                .find(|k| *k == c)
                .ok_or_else(|| format!("unknown challenge '{c}' ({})", CHALLENGES.join(", ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration(" 90s "), Ok(Duration::from_secs(90)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in [
            "",
            "h",
            "24",
            "1.5h",
            "-1h",
            "24 h",
            "1w",
            "0s",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(number::<u64>("42"), Ok(42));
        assert_eq!(
            number::<u64>("abc"),
            Err("'abc' is not a valid number".to_string())
        );
        assert_eq!(
            number::<u64>("-1").unwrap_err(),
            "'-1' is not a valid number"
        );
        assert_eq!(range::<usize>("128", 64, 8192), Ok(128));
        assert_eq!(
            range::<usize>("10", 64, 8192).unwrap_err(),
            "must be between 64 and 8192, not 10"
        );
        assert_eq!(positive::<u32>("3"), Ok(3));
        assert!(positive::<u32>("0").unwrap_err().contains("positive"));
    }

    #[test]
    fn switches() {
        for t in ["true", "1", "YES", "on"] {
            assert_eq!(switch(t), Ok(true), "{t}");
        }
        for f in ["false", "0", "no", "Off"] {
            assert_eq!(switch(f), Ok(false), "{f}");
        }
        assert!(switch("maybe").unwrap_err().contains("'maybe'"));
    }

    #[test]
    fn addresses_and_names() {
        assert!(listen_addr("0.0.0.0:4698").is_ok());
        assert!(listen_addr("[::1]:80").is_ok());
        // Not bindable, but well formed: binding reports it.
        assert!(listen_addr("256.0.0.1:1").is_ok());
        for bad in ["4698", ":80", "host:", "host:99999", ""] {
            assert!(listen_addr(bad).is_err(), "{bad}");
        }
        assert_eq!(domain("Example.COM."), Ok("example.com".into()));
        for bad in ["", ".", "a/b", "a:1", "a b"] {
            assert!(
                domain(bad).unwrap_err().starts_with("invalid domain"),
                "{bad}"
            );
        }
        assert!(log_level("debug").is_ok());
        assert!(log_level("loud").unwrap_err().contains("unknown log level"));
    }

    #[test]
    fn lists() {
        assert_eq!(ip_list("").unwrap(), Vec::<IpAddr>::new());
        assert_eq!(ip_list("10.0.0.1, ::1").unwrap().len(), 2);
        assert_eq!(
            ip_list("10.0.0.1,proxy").unwrap_err(),
            "'proxy' is not an IP address"
        );
        assert_eq!(challenges("tls-alpn-01").unwrap(), ["tls-alpn-01"]);
        assert_eq!(
            challenges("http-01,dns-01").unwrap_err(),
            "unknown challenge 'dns-01' (http-01, tls-alpn-01)"
        );
    }
}
