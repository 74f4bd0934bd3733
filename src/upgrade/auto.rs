//! `--auto-upgrade HH:MM-HH:MM`: once a day, inside that window (UTC), the server checks the
//! configured source and, when a newer release is there, upgrades itself exactly as
//! `POST /api/system/upgrade` does: verified, self-tested on a copy, installed, then the
//! socket hand-over with rollback (SIGHUP to itself). Nothing new, a refusal or an
//! unreachable source is logged and tried again the next day.

use std::path::PathBuf;
use std::time::Duration;

use super::{Request, Settings, UpgradeError, Upgrader};

/// A daily window in minutes after midnight UTC, `start` inclusive, `end` exclusive; it
/// may wrap midnight (`22:00-02:00`); `00:00-24:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

const DAY: u32 = 24 * 60;

impl Window {
    /// Parses `HH:MM-HH:MM` (24-hour, UTC; `24:00` only as an end).
    pub fn parse(raw: &str) -> Result<Window, String> {
        let bad = || format!("'{raw}' is not a window like 03:00-05:00 (UTC)");
        let minutes = |s: &str, end: bool| -> Option<u32> {
            let (h, m) = s.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            let t = h * 60 + m;
            (m < 60 && (t < DAY || (end && t == DAY))).then_some(t)
        };
        let (a, b) = raw.split_once('-').ok_or_else(bad)?;
        let w = Window {
            start: minutes(a, false).ok_or_else(bad)?,
            end: minutes(b, true).ok_or_else(bad)?,
        };
        if w.start == w.end {
            return Err(format!("'{raw}' is an empty window"));
        }
        Ok(w)
    }

    /// Minutes from `now` (minutes after midnight) until the window is open (0 inside it).
    pub fn wait_from(&self, now: u32) -> u32 {
        let inside = if self.start < self.end {
            (self.start..self.end).contains(&now)
        } else {
            now >= self.start || now < self.end
        };
        if inside {
            0
        } else {
            (self.start + DAY - now) % DAY
        }
    }
}

fn minute_of_day() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ((secs % 86_400) / 60) as u32
}

/// Starts the daily check. `settings` gives the upgrade settings in force at each check.
pub fn start(
    db: PathBuf,
    window: Window,
    settings: Box<dyn Fn() -> Result<Settings, String> + Send>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("fazt-auto-upgrade".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            // Not in the first seconds of a start: a restart loop must not become an
            // upgrade loop, and the server settles first.
            std::thread::sleep(Duration::from_secs(5));
            loop {
                let wait = window.wait_from(minute_of_day());
                std::thread::sleep(Duration::from_secs(u64::from(wait) * 60));
                check(&db, &*settings);
                // Once a day: the next check falls in the next day's window.
                std::thread::sleep(Duration::from_secs(23 * 3600));
            }
        })
        .map(|_| ())
}

fn check(db: &std::path::Path, settings: &dyn Fn() -> Result<Settings, String>) {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => return log::warn!("auto-upgrade: {e}"),
    };
    let up = Upgrader::new(db, s);
    match up
        .fetch(&Request::default())
        .and_then(|v| up.install(&v).map(|_| v))
    {
        Ok(v) => {
            log::info!(
                "auto-upgrade: release {} installed; restarting into it",
                v.manifest.version
            );
            crate::kernel::process::signal(std::process::id(), crate::kernel::process::SIGHUP);
        }
        Err(UpgradeError::Current(v)) => log::info!("auto-upgrade: fazt {v} is the newest release"),
        Err(e) => log::warn!("auto-upgrade: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn windows_parse_and_wrap_midnight() {
        let w = Window::parse("03:00-05:00").unwrap();
        assert_eq!((w.start, w.end), (180, 300));
        assert_eq!(w.wait_from(180), 0);
        assert_eq!(w.wait_from(299), 0);
        assert_eq!(w.wait_from(300), 22 * 60);
        assert_eq!(w.wait_from(120), 60);
        let night = Window::parse("22:30-01:00").unwrap();
        assert_eq!(night.wait_from(23 * 60), 0);
        assert_eq!(night.wait_from(30), 0);
        assert_eq!(night.wait_from(60), 21 * 60 + 30);
        assert_eq!(Window::parse("00:00-24:00").unwrap().wait_from(1439), 0);
        for bad in [
            "",
            "3:00-5:00",
            "03:00",
            "03:00-03:00",
            "24:00-01:00",
            "03:60-04:00",
            "a:bc-de:fg",
            "03:00-25:00",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
