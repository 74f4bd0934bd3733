//! UTC calendar arithmetic for analytics: day and hour boundaries, `YYYY-MM-DD` parsing and
//! formatting (Howard Hinnant's civil-date algorithms; no time-zone database needed).

use crate::kernel::civil::{civil_from_days, days_from_civil};

pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// Start of the UTC day containing `t`.
pub fn day_floor(t: i64) -> i64 {
    t - t.rem_euclid(DAY)
}

/// Start of the hour containing `t`.
pub fn hour_floor(t: i64) -> i64 {
    t - t.rem_euclid(HOUR)
}

/// `2024-03-01` → unix seconds at 00:00 UTC; `None` unless a real date in years 1970–9999.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Reject 2023-02-30 and friends: the date must survive the round trip.
    (civil_from_days(days) == (y, m, d)).then_some(days * DAY)
}

/// Unix seconds → `YYYY-MM-DD` (UTC).
pub fn format_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds → `YYYY-MM-DD HH:MM` (UTC).
pub fn format_minute(t: i64) -> String {
    let s = t.rem_euclid(DAY);
    format!("{} {:02}:{:02}", format_date(t), s / HOUR, (s % HOUR) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-03-01"), Some(1_709_251_200));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert_eq!(parse_date("+024-01-01"), None);
        assert_eq!(format_date(1_709_251_200), "2024-03-01");
        assert_eq!(format_minute(1_709_251_200 + 3_723), "2024-03-01 01:02");
        assert_eq!(day_floor(1_709_251_200 + 5), 1_709_251_200);
        assert_eq!(hour_floor(7_250), 7_200);
    }

    proptest::proptest! {
        #[test]
        fn round_trip(days in 0i64..2_900_000) {
            let t = days * DAY;
            proptest::prop_assert_eq!(parse_date(&format_date(t)), Some(t));
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse_date(&s);
        }
    }
}
