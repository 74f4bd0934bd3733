//! A small `log` backend: one line per record on stderr, `2026-12-02T07:23:53.076Z INFO
//! [module] message`, without the timestamp under systemd (`JOURNAL_STREAM` set: the journal
//! stamps each line itself). Some modules can be held to a quieter level than the rest (TLS
//! and runtime libraries log every handshake at `info`). What a logging crate would give,
//! without a date-formatting library.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

use crate::civil::civil_from_days;

struct Logger {
    level: LevelFilter,
    quieter: &'static [(&'static str, LevelFilter)],
    timestamps: bool,
}

impl Logger {
    fn level_for(&self, target: &str) -> LevelFilter {
        for (prefix, level) in self.quieter {
            let under = target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
            if under {
                return (*level).min(self.level);
            }
        }
        self.level
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level_for(m.target())
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mut line = String::with_capacity(128);
        if self.timestamps {
            line.push_str(&timestamp(SystemTime::now()));
            line.push(' ');
        }
        // One write per line, so lines from several threads never interleave.
        let _ = writeln!(line, "{:<5} [{}] {}", r.level(), r.target(), r.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// `2026-12-02T07:23:53.076Z` for `t` (UTC, milliseconds).
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Installs the logger at `level`, with the modules named in `quieter` (and theirs) held to
/// at most their level. Timestamps unless stderr goes to the journal. A second call is a
/// no-op (the first logger stays).
pub fn init(level: LevelFilter, quieter: &'static [(&'static str, LevelFilter)]) {
    let timestamps = std::env::var_os("JOURNAL_STREAM").is_none();
    let logger = Box::new(Logger {
        level,
        quieter,
        timestamps,
    });
    if log::set_logger(Box::leak(logger)).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_197_433_076);
        assert_eq!(timestamp(t), "2026-12-02T07:43:53.076Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn quieter_modules_are_matched_by_path_segment() {
        let l = Logger {
            level: LevelFilter::Info,
            quieter: &[("rustls", LevelFilter::Warn)],
            timestamps: false,
        };
        assert_eq!(l.level_for("rustls"), LevelFilter::Warn);
        assert_eq!(l.level_for("rustls::server"), LevelFilter::Warn);
        assert_eq!(l.level_for("rustlsx"), LevelFilter::Info);
        assert_eq!(l.level_for("app"), LevelFilter::Info);
    }
}
