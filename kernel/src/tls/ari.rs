//! ACME Renewal Information (RFC 9773): the CA's suggested window for renewing each
//! certificate, asked with a plain GET of `<renewalInfo>/<id>` where the directory offers it.
//! A window that opens early (a CA revoking certificates after an incident) moves the
//! renewal forward; the CA's `Retry-After` says when to ask again. Without ARI, or when it
//! fails, renewal stays at one third of the lifetime left ([`super::renew::renew_at`]).

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::Der;

use super::client::wrap;
use super::x509::{parse_time_digits, CertInfo};
use crate::http_client::{self as httpc, Outgoing, Url};

/// Asking again sooner than this is never useful, later than this misses a revocation.
pub const RECHECK_MIN: Duration = Duration::from_secs(3600);
/// See [`RECHECK_MIN`].
pub const RECHECK_MAX: Duration = Duration::from_secs(24 * 3600);

const OPTIONS: httpc::Options = httpc::Options {
    connect_timeout: Duration::from_secs(20),
    read_timeout: Duration::from_secs(20),
    write_timeout: Duration::from_secs(20),
    max_response: 64 * 1024,
    user_agent: "cartridge-kernel-ari",
};

/// The certificate's ARI identifier, `base64url(AKI keyIdentifier).base64url(serial)`;
/// `None` without an authority key identifier.
pub fn cert_id(info: &CertInfo) -> Option<String> {
    let aki = info.authority_key_id.as_deref()?;
    let id = instant_acme::CertificateIdentifier::new(Der::from(aki), Der::from(&info.serial[..]));
    Some(id.to_string())
}

/// A suggested renewal window, Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Renew no earlier than this…
    pub start: i64,
    /// …and no later than this.
    pub end: i64,
}

impl Window {
    /// When to renew: at once when the window has opened, else a point in it chosen from
    /// `seed` (uniform over seeds), so that many servers do not all ask at its start.
    pub fn pick(&self, now: i64, seed: u64) -> i64 {
        if self.start <= now {
            return now;
        }
        let span = self.end.saturating_sub(self.start).max(0) as u64;
        self.start
            .saturating_add((seed % span.saturating_add(1)) as i64)
    }
}

/// An RFC 3339 time (`2025-01-02T03:04:05Z`, with optional fraction and `±hh:mm`) as Unix
/// seconds.
pub fn rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut digits = Vec::with_capacity(15);
    for r in [0..4, 5..7, 8..10, 11..13, 14..16, 17..19] {
        digits.extend_from_slice(b.get(r)?);
    }
    digits.push(b'Z');
    let t = parse_time_digits(&digits, 4).ok()?;
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let (h, m) = (d(h1)? * 10 + d(h2)?, d(m1)? * 10 + d(m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(t - offset)
}

/// The window of a renewal information answer (`{"suggestedWindow": {"start", "end"}}`).
pub fn parse_window(body: &[u8]) -> Option<Window> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let w = v.get("suggestedWindow")?;
    let start = rfc3339(w.get("start")?.as_str()?)?;
    let end = rfc3339(w.get("end")?.as_str()?)?;
    (start <= end).then_some(Window { start, end })
}

/// `Retry-After` as seconds from `now`: a number of seconds or an HTTP date.
fn retry_after(value: Option<&str>, now: i64) -> Option<u64> {
    let v = value?.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let secs = crate::http_date::parse(v)?;
    Some(secs.saturating_sub(now).max(0) as u64)
}

/// An HTTPS GET with the kernel's client and the CA's trust roots.
fn get(tls: &Arc<rustls::ClientConfig>, url: &str) -> Result<httpc::ClientResponse, String> {
    let (u, target) = Url::split(url).map_err(|e| e.to_string())?;
    if !u.https {
        return Err(format!("refusing plain-HTTP URL {url}"));
    }
    let req = Outgoing {
        method: "GET",
        target: &target,
        headers: &[],
        body: &[],
    };
    let wrap = |sock, host: &str| wrap(sock, host, tls.clone());
    let r = httpc::request(&u, &req, &OPTIONS, &wrap, &mut |_, _| {})
        .map_err(|e| format!("{url}: {e}"))?;
    if r.status != 200 {
        return Err(format!("{url} answered {}", r.status));
    }
    Ok(r)
}

/// The directory's `renewalInfo` URL; `None` when the CA offers no ARI.
pub fn renewal_info_url(
    tls: &Arc<rustls::ClientConfig>,
    directory: &str,
) -> Result<Option<String>, String> {
    let r = get(tls, directory)?;
    let v: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("{directory}: {e}"))?;
    Ok(v.get("renewalInfo")
        .and_then(|u| u.as_str())
        .map(str::to_owned))
}

/// Asks the CA about certificate `id`: its window, and how long until asking again
/// (within [`RECHECK_MIN`]..=[`RECHECK_MAX`]).
pub fn fetch(
    tls: &Arc<rustls::ClientConfig>,
    base: &str,
    id: &str,
    now: i64,
) -> Result<(Window, Duration), String> {
    let url = format!("{}/{id}", base.trim_end_matches('/'));
    let r = get(tls, &url)?;
    let w = parse_window(&r.body).ok_or_else(|| format!("{url}: no valid suggestedWindow"))?;
    let again = retry_after(r.header("retry-after"), now)
        .map_or(6 * 3600, |s| s)
        .clamp(RECHECK_MIN.as_secs(), RECHECK_MAX.as_secs());
    Ok((w, Duration::from_secs(again)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339("2025-02-27T12:30:15Z"), Some(1_740_659_415));
        assert_eq!(rfc3339("2025-02-27T12:30:15.123456Z"), Some(1_740_659_415));
        assert_eq!(rfc3339("2025-02-27T14:30:15+02:00"), Some(1_740_659_415));
        assert_eq!(rfc3339("2025-02-27T10:30:15-02:00"), Some(1_740_659_415));
        for bad in [
            "",
            "2025-02-27",
            "2025-02-27T12:30:15",
            "2025-02-27T12:30:15.Z",
            "2025-02-30T12:30:15Z",
            "2025-02-27T12:30:15+24:00",
            "2025-02-27 12:30:15Z",
            "2025-02-27T12:30:15Zjunk",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_and_retry_after() {
        let body =
            br#"{"suggestedWindow":{"start":"2024-02-27T00:00:00Z","end":"2024-02-29T00:00:00Z"}}"#;
        let w = parse_window(body).unwrap();
        assert_eq!(w.end - w.start, 2 * 86_400);
        assert!(parse_window(
            br#"{"suggestedWindow":{"start":"2024-02-29T00:00:00Z","end":"2024-02-27T00:00:00Z"}}"#
        )
        .is_none());
        assert!(parse_window(b"[]").is_none());
        assert_eq!(w.pick(w.start + 5, 99), w.start + 5, "open: at once");
        assert_eq!(w.pick(0, 0), w.start);
        assert_eq!(w.pick(0, 2 * 86_400), w.end);
        assert_eq!(retry_after(Some(" 120 "), 0), Some(120));
        assert_eq!(
            retry_after(Some("Thu, 01 Jan 1970 00:01:40 GMT"), 40),
            Some(60)
        );
        assert_eq!(retry_after(Some("soon"), 0), None);
    }

    proptest! {
        #[test]
        fn rfc3339_never_panics_and_round_trips(s in "\\PC{0,40}", secs in 0i64..253_402_300_799) {
            let _ = rfc3339(&s);
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, dd) = crate::civil::civil_from_days(days);
            let text = format!("{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60);
            prop_assert_eq!(rfc3339(&text), Some(secs));
        }

        #[test]
        fn the_pick_is_inside_the_window(start in 0i64..1 << 40, len in 0i64..1 << 30, now in 0i64..1 << 41, seed: u64) {
            let w = Window { start, end: start + len };
            let t = w.pick(now, seed);
            if start <= now { prop_assert_eq!(t, now); } else { prop_assert!(t >= w.start && t <= w.end); }
        }
    }
}
