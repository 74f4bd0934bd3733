//! HTTP dates (RFC 9110 §5.6.7) on [`crate::civil`]: formatting as IMF-fixdate
//! (`Sun, 06 Nov 1994 08:49:37 GMT`), and parsing it and the two obsolete forms recipients
//! must still accept (RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
//! `Sun Nov  6 08:49:37 1994`). In Unix seconds, which is what callers store. Property-tested
//! against the `httpdate` crate (a dev-dependency) this replaced, for its 4.5 KB.

use crate::civil::{civil_from_days, days_from_civil};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const LONG_DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `unix` (seconds, clamped at 0) as an IMF-fixdate.
pub fn format(unix: i64) -> String {
    let unix = unix.max(0);
    let (days, s) = (unix / 86_400, unix % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month(s: &str) -> Option<i64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as i64 + 1)
}

/// `HH:MM:SS` as seconds of the day.
fn clock(s: &str) -> Option<i64> {
    let mut it = s.split(':');
    let (h, m, sec) = (
        num(it.next()?, 2)?,
        num(it.next()?, 2)?,
        num(it.next()?, 2)?,
    );
    // 60: a leap second, as RFC 9110 allows; it reads as the next second.
    (it.next().is_none() && h < 24 && m < 60 && sec <= 60).then_some(h * 3600 + m * 60 + sec)
}

fn unix(y: i64, m: i64, d: i64, secs: i64) -> Option<i64> {
    let days_in = match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in || y < 1970 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + secs)
}

/// Unix seconds of an HTTP date in any of its three forms; `None` for anything else,
/// including a weekday that is not the date's.
pub fn parse(s: &str) -> Option<i64> {
    let words: Vec<&str> = s.trim().split(' ').collect();
    let (weekday, t) = match words.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [wd, d, mon, y, t, "GMT"] => (
            wd.strip_suffix(',')
                .and_then(|w| DAYS.iter().position(|x| *x == w))?,
            unix(num(y, 4)?, month(mon)?, num(d, 2)?, clock(t)?)?,
        ),
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years are 19xx from 70)
        [wd, date, t, "GMT"] => {
            let mut p = date.split('-');
            let (d, mon, yy) = (num(p.next()?, 2)?, month(p.next()?)?, num(p.next()?, 2)?);
            p.next().is_none().then_some(())?;
            let y = if yy >= 70 { 1900 + yy } else { 2000 + yy };
            (
                wd.strip_suffix(',')
                    .and_then(|w| LONG_DAYS.iter().position(|x| *x == w))?,
                unix(y, mon, d, clock(t)?)?,
            )
        }
        // asctime: Sun Nov  6 08:49:37 1994 (a one-digit day is padded with a space)
        [wd, mon, "", d, t, y] if d.len() == 1 => (
            DAYS.iter().position(|x| x == wd)?,
            unix(num(y, 4)?, month(mon)?, num(d, 1)?, clock(t)?)?,
        ),
        [wd, mon, d, t, y] if d.len() == 2 => (
            DAYS.iter().position(|x| x == wd)?,
            unix(num(y, 4)?, month(mon)?, num(d, 2)?, clock(t)?)?,
        ),
        _ => return None,
    };
    (t.div_euclid(86_400) % 7 == weekday as i64).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: i64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    #[test]
    fn the_three_forms_of_rfc_9110() {
        let t = 784_111_777; // 1994-11-06 08:49:37
        assert_eq!(format(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "1994-11-06T08:49:37Z",
            "Mon, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn formats_as_httpdate_did_and_reads_back(t in 0i64..253_402_300_799) {
            prop_assert_eq!(format(t), httpdate::fmt_http_date(at(t)));
            prop_assert_eq!(parse(&format(t)), Some(t));
        }

        #[test]
        fn reads_what_httpdate_reads(t in 0i64..3_155_760_000, form in 0..3usize, noise in 0..4usize) {
            // Real dates in each form, some with one field made wrong.
            let good = httpdate::fmt_http_date(at(t));
            let (d, m, y) = (&good[5..7], &good[8..11], &good[12..16]);
            let (time, wd) = (&good[17..25], &good[..3]);
            let long = LONG_DAYS[DAYS.iter().position(|x| *x == wd).unwrap()];
            let mut s = match form {
                0 => good.clone(),
                1 => format!("{long}, {d}-{m}-{} {time} GMT", &y[2..]),
                _ => format!("{wd} {m} {:>2} {time} {y}", d.trim_start_matches('0')),
            };
            match noise {
                1 => s = s.replacen(wd, "Xyz", 1),
                2 => s = s.replacen(':', ";", 1),
                3 => s.push('x'),
                _ => {}
            }
            let theirs = httpdate::parse_http_date(&s).ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64);
            let ours = parse(&s);
            prop_assert_eq!(ours, theirs, "{}", s);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
