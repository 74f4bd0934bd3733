//! Unique visitors without keeping addresses: a visitor is the hash of (salt, day, site,
//! client address), cut to 64 bits. The salt is random, rotates every UTC day, and is kept in
//! `configurations` only for the current day (so a restart keeps counting the same visitors
//! once); once rotated, nothing can lead from yesterday's hashes back to addresses.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::kernel::db::migrate::hex;

/// Key in `configurations` holding today's salt as `<day>:<hex>`, so a restart during the day
/// keeps counting the same visitors once. Overwritten at each rotation: yesterday's salt is
/// gone, and with it any way back from yesterday's hashes to addresses.
pub const SALT_KEY: &str = "analytics_salt";

pub struct Salt {
    /// The UTC day number (`unix seconds / 86400`) this salt is for.
    pub day: i64,
    bytes: [u8; 32],
}

impl Salt {
    pub fn fresh(day: i64) -> Salt {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::getrandom(&mut bytes) {
            // Without randomness the hash is still a hash; log loudly rather than stop.
            log::error!("analytics: no randomness for the visitor salt: {e}");
        }
        Salt { day, bytes }
    }

    pub fn parse(stored: &str) -> Option<Salt> {
        let (day, h) = stored.split_once(':')?;
        let day = day.parse().ok()?;
        if h.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(h.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Salt { day, bytes })
    }

    pub fn stored(&self) -> String {
        format!("{}:{}", self.day, hex(&self.bytes))
    }

    /// 16 hex digits identifying (address, site) for this salt's day only.
    pub fn visitor(&self, site: &str, ip: &IpAddr) -> String {
        let mut h = Sha256::new();
        h.update(self.bytes);
        h.update(self.day.to_le_bytes());
        h.update(site.as_bytes());
        h.update([0u8]);
        match ip {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        let d = h.finalize();
        // Hex by table, not `write!`: this runs for every page view.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(16);
        for b in d.iter().take(8) {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        out
    }
}

pub fn day_of(t: i64) -> i64 {
    t.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_round_trips_and_hashes_per_day_and_site() {
        let s = Salt::fresh(19_000);
        let back = Salt::parse(&s.stored()).unwrap();
        assert_eq!(back.day, 19_000);
        assert_eq!(back.bytes, s.bytes);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let v = s.visitor("blog", &ip);
        assert_eq!(v.len(), 16);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(v, back.visitor("blog", &ip));
        assert_ne!(v, s.visitor("docs", &ip));
        assert_ne!(v, s.visitor("blog", &"10.0.0.2".parse().unwrap()));
        let other_day = Salt {
            day: 19_001,
            bytes: s.bytes,
        };
        assert_ne!(v, other_day.visitor("blog", &ip));
        assert!(Salt::parse("x").is_none());
        assert!(Salt::parse("1:zz").is_none());
        assert!(Salt::parse(&format!("1:{}", "g".repeat(64))).is_none());
    }

    #[test]
    fn days() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
    }
}
