//! Scheduled snapshots: every `every`, a snapshot named `<prefix>-<UTC stamp>.db` in a
//! directory, then the oldest beyond `keep` removed. Only files of exactly that name shape
//! are ever removed, and only after a new snapshot succeeded: a failing schedule never
//! thins out the good snapshots it has.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{snapshot, BackupError, Snapshot};
use crate::civil::{compact_utc, parse_compact_utc};

/// Where, how often and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The directory snapshots are written to.
    pub dir: PathBuf,
    /// Time between two snapshots.
    pub every: Duration,
    /// Snapshots kept (at least 1).
    pub keep: usize,
    /// File name prefix (the product's name).
    pub prefix: String,
}

/// One scheduled run.
#[derive(Debug)]
pub struct Outcome {
    /// Unix time the run started.
    pub started: i64,
    /// The snapshot, or why there is none.
    pub result: Result<Snapshot, BackupError>,
    /// Older snapshots removed after it.
    pub pruned: Vec<PathBuf>,
}

impl Schedule {
    /// The file a snapshot started at `unix` gets (`-2`, `-3`… when one of that second
    /// exists).
    pub fn next_path(&self, unix: i64) -> PathBuf {
        let stamp = compact_utc(unix);
        let mut p = self.dir.join(format!("{}-{stamp}.db", self.prefix));
        let mut n = 1;
        while p.exists() {
            n += 1;
            p = self.dir.join(format!("{}-{stamp}-{n}.db", self.prefix));
        }
        p
    }

    /// The snapshots in the directory, oldest first, with the time in their names.
    pub fn snapshots(&self) -> std::io::Result<Vec<(PathBuf, i64)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(t) = self.stamp_of(name) {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    out.push((entry.path(), t));
                }
            }
        }
        out.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        Ok(out)
    }

    /// `<prefix>-<stamp>[-N].db` → its time.
    fn stamp_of(&self, name: &str) -> Option<i64> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix('-')?;
        let rest = rest.strip_suffix(".db")?;
        let (stamp, n) = rest.split_at(rest.len().min(16));
        if !(n.is_empty()
            || (n.len() > 1 && n.starts_with('-') && n[1..].bytes().all(|b| b.is_ascii_digit())))
        {
            return None;
        }
        parse_compact_utc(stamp)
    }

    /// Takes one snapshot of `src` now and, if it succeeded, removes the oldest beyond
    /// `keep`.
    pub fn run_once(&self, src: &Path) -> Outcome {
        let started = crate::db::now();
        let result = snapshot(src, &self.next_path(started));
        let mut pruned = Vec::new();
        if result.is_ok() {
            if let Ok(all) = self.snapshots() {
                let extra = all.len().saturating_sub(self.keep.max(1));
                for (p, _) in all.into_iter().take(extra) {
                    if std::fs::remove_file(&p).is_ok() {
                        pruned.push(p);
                    }
                }
            }
        }
        Outcome {
            started,
            result,
            pruned,
        }
    }

    /// Seconds from `now` until the next snapshot is due: `every` after the newest one in
    /// the directory (a restart neither repeats nor skips one), at once when there is none
    /// or it is overdue.
    pub fn due_in(&self, now: i64) -> u64 {
        let newest = self.snapshots().ok().and_then(|s| s.last().map(|l| l.1));
        match newest {
            Some(t) => (t + self.every.as_secs() as i64 - now).clamp(0, i64::MAX) as u64,
            None => 0,
        }
    }

    /// Runs the schedule on its own thread for the life of the process, handing each
    /// outcome to `report` (to log it and record it).
    pub fn start(
        self,
        src: PathBuf,
        report: impl Fn(&Outcome) + Send + 'static,
    ) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("backup-schedule".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                crate::priority::lower_this_thread(crate::priority::BACKGROUND_NICE);
                loop {
                    let wait = self.due_in(crate::db::now());
                    std::thread::sleep(Duration::from_secs(wait));
                    let outcome = self.run_once(&src);
                    report(&outcome);
                    if outcome.result.is_err() {
                        // Retry a failed snapshot sooner than a whole interval, but not in a loop.
                        std::thread::sleep(self.every.min(Duration::from_secs(300)));
                    } else {
                        // The new file's stamp is the start time; wait at least a second so
                        // a snapshot shorter than `every` of 1 s does not repeat at once.
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            })
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::testdir::TempDir;

    const SCHEMA: &str = "-- step 1: t\nCREATE TABLE IF NOT EXISTS t (x);\n";

    fn sched(dir: &Path, keep: usize) -> Schedule {
        Schedule {
            dir: dir.to_path_buf(),
            every: Duration::from_secs(3600),
            keep,
            prefix: "demo".into(),
        }
    }

    #[test]
    fn names_sort_and_only_ours_are_pruned() {
        let d = TempDir::new("sched");
        let snaps = d.join("snaps");
        std::fs::create_dir(&snaps).unwrap();
        let db = Db::open(&d.join("live.db"), SCHEMA).unwrap();
        // Files a user keeps there, some close to our shape.
        for other in [
            "notes.txt",
            "demo-latest.db",
            "demo-20261201T150405Z.db.bak",
            "demo-20261301T000000Z.db",
        ] {
            std::fs::write(snaps.join(other), b"mine").unwrap();
        }
        // Three older snapshots of ours.
        for t in [1_000_000_000i64, 1_000_000_100, 1_000_000_200] {
            std::fs::write(snaps.join(format!("demo-{}.db", compact_utc(t))), b"old").unwrap();
        }
        let s = sched(&snaps, 2);
        let out = s.run_once(db.path());
        let made = out.result.unwrap().path.unwrap();
        assert_eq!(out.pruned.len(), 2, "{:?}", out.pruned);
        let left: Vec<PathBuf> = s.snapshots().unwrap().into_iter().map(|p| p.0).collect();
        assert_eq!(left.len(), 2);
        assert_eq!(left[1], made);
        assert!(left[0].ends_with(format!("demo-{}.db", compact_utc(1_000_000_200))));
        for other in [
            "notes.txt",
            "demo-latest.db",
            "demo-20261201T150405Z.db.bak",
            "demo-20261301T000000Z.db",
        ] {
            assert!(snaps.join(other).exists(), "{other} was removed");
        }
        // The next one is due an interval after the newest.
        assert!((3590..=3600).contains(&s.due_in(crate::db::now())));
        // Same second twice: a second name.
        let a = s.next_path(2_000_000_000);
        std::fs::write(&a, b"x").unwrap();
        assert!(s
            .next_path(2_000_000_000)
            .to_string_lossy()
            .ends_with("Z-2.db"));
        assert_eq!(
            s.stamp_of(&format!("demo-{}-2.db", compact_utc(5))),
            Some(5)
        );
    }

    #[test]
    fn a_failed_run_removes_nothing() {
        let d = TempDir::new("schedfail");
        for t in [1_000_000_000i64, 1_000_000_100] {
            std::fs::write(d.join(&format!("demo-{}.db", compact_utc(t))), b"good").unwrap();
        }
        let s = sched(d.path(), 1);
        let out = s.run_once(&d.join("missing.db"));
        assert!(out.result.is_err());
        assert!(out.pruned.is_empty());
        assert_eq!(s.snapshots().unwrap().len(), 2);
        assert_eq!(s.due_in(1_000_000_100 + 10), 3590);
    }
}
