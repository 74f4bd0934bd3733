//! Calendar arithmetic on the proleptic Gregorian calendar (Howard Hinnant's algorithms):
//! day numbers since 1970-01-01 and back, for certificate dates and analytics days without a
//! date-time crate.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `20261201T150405Z`: a Unix time as a compact UTC stamp that sorts as it reads (file
/// names of timestamped snapshots).
pub fn compact_utc(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The Unix time of a [`compact_utc`] stamp; `None` for anything else.
pub fn parse_compact_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn stamps_round_trip(t in 0i64..8_000_000_000) {
            let s = compact_utc(t);
            proptest::prop_assert_eq!(parse_compact_utc(&s), Some(t));
        }

        #[test]
        fn any_text_parses_without_panic(s in "\\PC{0,20}") {
            let _ = parse_compact_utc(&s);
        }
    }

    #[test]
    fn a_known_stamp() {
        assert_eq!(compact_utc(1_796_137_445), "20261201T150405Z");
        assert_eq!(parse_compact_utc("20261301T000000Z"), None);
        assert_eq!(parse_compact_utc("2026120xT150405Z"), None);
    }

    proptest::proptest! {
        #[test]
        fn round_trip(z in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(z);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }
}
