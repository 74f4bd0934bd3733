//! `snapshot_methods`: two ways to snapshot a live database, measured in one process on a
//! database made with the kernel's [`Db`], while another thread makes small writes through
//! [`Db::write`] and records how long each one takes.
//!
//! - `VACUUM INTO` on a read-only connection (what [`fazt_kernel::backup::snapshot`] does,
//!   followed there by `integrity_check` and fsync of the copy): one read transaction, so the
//!   writer never waits for it; the WAL cannot be reset until it ends.
//! - SQLite's online backup API driven by the single writer: each `sqlite3_backup_step` of N
//!   pages is one writer job, so writes queue behind at most one step; as the source
//!   connection is the one that writes, SQLite updates the copy in place instead of
//!   restarting it. For contrast, the same API as one writer job (writes wait for the whole
//!   copy), and from a connection of its own (any write restarts it).
//!
//! ```text
//! cargo run -p fazt-kernel --release --example snapshot_methods -- [--mb 200] [--pages 1024]
//!     [--every-ms 5] [--baseline-s 3] [--own-cap-s 10] [--repeat 3] [--dir DIR] [--json FILE]
//!     [--keep]
//! ```
//!
//! Each method runs `--repeat` times (the one that restarts once, for `--own-cap-s`); times
//! are medians, write latencies are over all its runs. Prints a table (markdown); `--json
//! FILE` also writes every figure.

use std::cell::RefCell;
use std::fs::File;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fazt_kernel::backup;
use fazt_kernel::db::Db;
use rusqlite::backup::{Backup, Progress, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

const SCHEMA: &str = "\
-- step 1: payload and a tick per write
CREATE TABLE IF NOT EXISTS payload (id INTEGER PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS ticks (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
";

/// Bytes per payload row, and rows per writer job while filling.
const ROW: usize = 256 * 1024;
const ROWS_PER_JOB: usize = 16;

struct Opts {
    mb: u64,
    pages: i32,
    every: Duration,
    baseline: Duration,
    own_cap: Duration,
    repeat: usize,
    dir: PathBuf,
    own_dir: bool,
    json: Option<PathBuf>,
    keep: bool,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        mb: 200,
        pages: 1024,
        every: Duration::from_millis(5),
        baseline: Duration::from_secs(3),
        own_cap: Duration::from_secs(10),
        repeat: 3,
        dir: std::env::temp_dir().join(format!("snapshot-methods-{}", std::process::id())),
        own_dir: true,
        json: None,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            "--mb" => o.mb = num(val()?)?.max(1),
            "--pages" => o.pages = num(val()?)?.clamp(1, i32::MAX as u64) as i32,
            "--every-ms" => o.every = Duration::from_millis(num(val()?)?.max(1)),
            "--baseline-s" => o.baseline = Duration::from_secs(num(val()?)?),
            "--own-cap-s" => o.own_cap = Duration::from_secs(num(val()?)?),
            "--repeat" => o.repeat = num(val()?)?.max(1) as usize,
            "--dir" => {
                o.dir = PathBuf::from(val()?);
                o.own_dir = false;
            }
            "--json" => o.json = Some(PathBuf::from(val()?)),
            "--keep" => o.keep = true,
            "-h" | "--help" => {
                println!("{}", USAGE);
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    Ok(o)
}

const USAGE: &str =
    "usage: snapshot_methods [--mb 200] [--pages 1024] [--every-ms 5] [--baseline-s 3] \
[--own-cap-s 10] [--repeat 3] [--dir DIR] [--json FILE] [--keep]";

// ------------------------------------------------------------------------------ the writes

/// One small write: when it was asked for, how long it took, the WAL's size after it.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    took: Duration,
    wal: u64,
}

/// A thread making one write every `every` (no catching up after a slow one) until `stop`.
fn writes(db: Arc<Db>, every: Duration, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let wal = PathBuf::from(format!("{}-wal", db.path().display()));
        let mut out = Vec::new();
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let at = Instant::now();
            db.write(|c| c.execute("UPDATE ticks SET n = n + 1 WHERE id = 1", []))
                .expect("a write failed");
            let took = at.elapsed();
            let wal = std::fs::metadata(&wal).map_or(0, |m| m.len());
            out.push(Sample { at, took, wal });
            next += every;
            match next.checked_duration_since(Instant::now()) {
                Some(d) => std::thread::sleep(d),
                None => next = Instant::now(),
            }
        }
        out
    })
}

/// p50, p99 and max (ms) of the writes asked for inside `spans`, and the WAL's peak then.
fn window(samples: &[Sample], spans: &[(Instant, Instant)]) -> (Value, u64) {
    let inside = |s: &&Sample| spans.iter().any(|(a, b)| s.at >= *a && s.at <= *b);
    let mut ms: Vec<f64> = samples
        .iter()
        .filter(inside)
        .map(|s| s.took.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        (!ms.is_empty()).then(|| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize])
    };
    let wal = samples
        .iter()
        .filter(inside)
        .map(|s| s.wal)
        .max()
        .unwrap_or(0);
    let v = json!({"n": ms.len(), "p50_ms": pct(50.0), "p99_ms": pct(99.0), "max_ms": ms.last()});
    (v, wal)
}

// ------------------------------------------------------------------------------ the copies

/// What one method did.
struct Run {
    name: String,
    done: bool,
    note: String,
    secs: f64,
    /// Whether the time includes `integrity_check` and fsync of the copy.
    checked: bool,
    /// Restarts seen (`None`: the method cannot restart).
    restarts: Option<u64>,
    steps: u64,
}

/// A backup in progress, kept by the writer thread between its jobs.
struct WriterBackup {
    backup: ManuallyDrop<Backup<'static, 'static>>,
    dest: *mut Connection,
}

impl Drop for WriterBackup {
    fn drop(&mut self) {
        // SAFETY: the backup (which refers to `dest`) is finished first and never used
        // again; `dest` came from `Box::into_raw` in `WriterBackup::start` and is freed once.
        unsafe {
            ManuallyDrop::drop(&mut self.backup);
            drop(Box::from_raw(self.dest));
        }
    }
}

thread_local! {
    /// Set on the writer thread only: every job runs there, so each step finds it.
    static WRITER_BACKUP: RefCell<Option<WriterBackup>> = const { RefCell::new(None) };
}

impl WriterBackup {
    /// The first job: a backup from the writer's own connection `c` into a new file `dest`.
    fn start(c: &Connection, dest: &Path) -> rusqlite::Result<()> {
        let to = Box::into_raw(Box::new(open_copy(dest)?));
        // SAFETY: `c` is the writer thread's connection, which lives as long as the `Db`;
        // the backup lives in that thread's `WRITER_BACKUP` and is finished by a later job
        // (`finish`) before the `Db` is dropped. rusqlite's `Backup` keeps the source only as
        // a marker (it never reads through the reference after `new`), so the `&mut` that
        // later jobs get to the same connection is not aliased by a live use. `to` is only
        // reached through the backup until `WriterBackup::drop` frees it.
        let (from, to_ref) = unsafe { (&*(c as *const Connection), &mut *to) };
        match Backup::new(from, to_ref) {
            Ok(b) => {
                WRITER_BACKUP.with(|w| {
                    *w.borrow_mut() = Some(WriterBackup {
                        backup: ManuallyDrop::new(b),
                        dest: to,
                    })
                });
                Ok(())
            }
            Err(e) => {
                // SAFETY: no backup refers to `to`; it came from `Box::into_raw` above.
                drop(unsafe { Box::from_raw(to) });
                Err(e)
            }
        }
    }

    /// One step of `pages` pages, and the progress after it.
    fn step(pages: i32) -> rusqlite::Result<(StepResult, Progress)> {
        WRITER_BACKUP.with(|w| {
            let w = w.borrow();
            let b = &w.as_ref().expect("no backup started").backup;
            Ok((b.step(pages)?, b.progress()))
        })
    }

    /// The last job: `sqlite3_backup_finish`, and the copy's connection closed.
    fn finish() {
        WRITER_BACKUP.with(|w| w.borrow_mut().take());
    }
}

/// The copy's connection for the backup API: no journal and no fsync per step (each step
/// commits on the copy), as the copy is checked and fsynced once it is complete, like
/// `VACUUM INTO`'s output.
fn open_copy(dest: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(dest)?;
    c.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    Ok(c)
}

/// Whether the backup went back to the start: more pages left than before, beyond what the
/// source grew by.
fn restarted(prev: Option<Progress>, now: Progress) -> bool {
    prev.is_some_and(|p| {
        now.remaining > p.remaining + (now.pagecount - p.pagecount).max(0) && now.remaining > 0
    })
}

/// The backup API with every step a writer job (`pages` < 0: the whole copy in one job).
fn backup_by_writer(db: &Db, dest: &Path, pages: i32) -> Result<Run, String> {
    let t0 = Instant::now();
    let d = dest.to_path_buf();
    db.write(move |c| WriterBackup::start(c, &d))
        .map_err(|e| e.to_string())?;
    let (mut steps, mut restarts, mut busy, mut prev) = (0u64, 0u64, 0u64, None);
    let result = loop {
        let (r, p) = match db.write(move |_| WriterBackup::step(pages)) {
            Ok(x) => x,
            Err(e) => break Err(e.to_string()),
        };
        steps += 1;
        restarts += u64::from(restarted(prev, p));
        prev = Some(p);
        match r {
            StepResult::Done => break Ok(()),
            StepResult::More => {}
            _ => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    db.write(|_| {
        WriterBackup::finish();
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    result?;
    Ok(Run {
        name: if pages < 0 {
            "backup API, the whole copy as one writer job".into()
        } else {
            format!("backup API, {pages} pages per writer job")
        },
        done: true,
        note: format!("{busy} busy/locked steps"),
        secs: t0.elapsed().as_secs_f64(),
        checked: false,
        restarts: Some(restarts),
        steps,
    })
}

/// The backup API from a read-only connection of its own, `pages` per step, no pause:
/// SQLite restarts it whenever another connection (the writer) changes the source.
fn backup_own_connection(
    src: &Path,
    dest: &Path,
    pages: i32,
    cap: Duration,
) -> rusqlite::Result<Run> {
    let t0 = Instant::now();
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    from.busy_timeout(Duration::from_secs(5))?;
    let mut to = open_copy(dest)?;
    let b = Backup::new(&from, &mut to)?;
    let (mut steps, mut restarts, mut prev, mut done) = (0u64, 0u64, None, false);
    while t0.elapsed() < cap {
        let r = b.step(pages)?;
        let p = b.progress();
        steps += 1;
        restarts += u64::from(restarted(prev, p));
        prev = Some(p);
        match r {
            StepResult::Done => {
                done = true;
                break;
            }
            StepResult::More => {}
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let note = match prev {
        Some(p) if !done => format!(
            "stopped after {:.0} s, {} of {} pages left",
            cap.as_secs_f64(),
            p.remaining,
            p.pagecount
        ),
        _ => String::new(),
    };
    Ok(Run {
        name: format!("backup API, own connection, {pages} pages per step"),
        done,
        note,
        secs: t0.elapsed().as_secs_f64(),
        checked: false,
        restarts: Some(restarts),
        steps,
    })
}

/// `VACUUM INTO` alone, on a read-only connection (the copy without the check and fsync).
fn vacuum_into(src: &Path, dest: &Path) -> rusqlite::Result<Run> {
    let t0 = Instant::now();
    let c = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(Duration::from_secs(5))?;
    c.execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
    Ok(Run {
        name: "VACUUM INTO alone (read-only connection)".into(),
        done: true,
        note: String::new(),
        secs: t0.elapsed().as_secs_f64(),
        checked: false,
        restarts: None,
        steps: 1,
    })
}

/// The kernel's snapshot as the product ships it.
fn kernel_snapshot(src: &Path, dest: &Path) -> Result<Run, String> {
    let t0 = Instant::now();
    let s = backup::snapshot(src, dest).map_err(|e| e.to_string())?;
    Ok(Run {
        name: "backup::snapshot (VACUUM INTO + integrity_check + fsync)".into(),
        done: true,
        note: format!("{} bytes", s.bytes),
        secs: t0.elapsed().as_secs_f64(),
        checked: true,
        restarts: None,
        steps: 1,
    })
}

/// `integrity_check` and fsync of a copy (what `backup::snapshot` adds to its copy); seconds.
fn check_and_sync(dest: &Path) -> Result<f64, String> {
    let t0 = Instant::now();
    let c = Connection::open(dest).map_err(|e| e.to_string())?;
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    drop(c);
    if ok != "ok" {
        return Err(format!("the copy failed integrity_check: {ok}"));
    }
    File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| e.to_string())?;
    Ok(t0.elapsed().as_secs_f64())
}

// ------------------------------------------------------------------------------ the run

fn fill(db: &Db, mb: u64) -> Result<u64, String> {
    let mut seed = 0x5eed_u64;
    let rows = (mb * 1_000_000).div_ceil(ROW as u64) as usize;
    db.write(|c| c.execute("INSERT OR IGNORE INTO ticks (id, n) VALUES (1, 0)", []))
        .map_err(|e| e.to_string())?;
    for chunk in 0..rows.div_ceil(ROWS_PER_JOB) {
        let n = ROWS_PER_JOB.min(rows - chunk * ROWS_PER_JOB);
        let blobs: Vec<Vec<u8>> = (0..n).map(|_| random_bytes(&mut seed, ROW)).collect();
        db.write(move |c| {
            let tx = c.transaction()?;
            for b in &blobs {
                tx.execute("INSERT INTO payload (data) VALUES (?1)", [b])?;
            }
            tx.commit()
        })
        .map_err(|e| e.to_string())?;
    }
    db.write(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
        .map_err(|e| e.to_string())?;
    db.read(|c| {
        c.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get::<_, i64>(0),
        )
    })
    .map(|n| n as u64)
    .map_err(|e| e.to_string())
}

/// Incompressible bytes (splitmix64), so the copy is as large as the data.
fn random_bytes(state: &mut u64, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn fmt_ms(v: &Value) -> String {
    v.as_f64().map_or("—".into(), |x| format!("{x:.2} ms"))
}

fn main() {
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&o) {
        eprintln!("snapshot_methods: {e}");
        std::process::exit(1);
    }
}

fn run(o: &Opts) -> Result<(), String> {
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let path = o.dir.join("live.db");
    let copy = o.dir.join("copy.db");
    let db = Arc::new(Db::open(&path, SCHEMA).map_err(|e| e.to_string())?);
    let t0 = Instant::now();
    let bytes = fill(&db, o.mb)?;
    eprintln!(
        "snapshot_methods: {:.0} MB database made in {:.1} s",
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let writer = writes(db.clone(), o.every, stop.clone());
    let base_from = Instant::now();
    std::thread::sleep(o.baseline);
    let base_to = Instant::now();

    type Method<'a> = Box<dyn Fn() -> Result<Run, String> + 'a>;
    let (src, dest, pages, cap) = (db.path().to_path_buf(), copy.clone(), o.pages, o.own_cap);
    let methods: Vec<Method> = vec![
        Box::new(|| kernel_snapshot(&src, &dest)),
        Box::new(|| vacuum_into(&src, &dest).map_err(|e| e.to_string())),
        Box::new(|| backup_by_writer(&db, &dest, pages)),
        Box::new(|| backup_by_writer(&db, &dest, -1)),
        Box::new(|| backup_own_connection(&src, &dest, pages, cap).map_err(|e| e.to_string())),
    ];
    let remove_copy = || {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
        }
    };
    let mut done = Vec::new();
    for (i, m) in methods.iter().enumerate() {
        // The method that never finishes under writes runs once, to its cap.
        let times = if i == methods.len() - 1 { 1 } else { o.repeat };
        let (mut secs, mut checks, mut spans, mut last) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        let mut restarts = None;
        for _ in 0..times {
            remove_copy();
            std::thread::sleep(Duration::from_millis(300));
            let a = Instant::now();
            let r = m()?;
            spans.push((a, Instant::now()));
            if r.done && !r.checked {
                checks.push(check_and_sync(&copy)?);
            }
            eprintln!("snapshot_methods: {}: {:.2} s", r.name, r.secs);
            secs.push(r.secs);
            restarts = r.restarts.map(|n| n + restarts.unwrap_or(0));
            last = Some(r);
        }
        if let Some(r) = last {
            done.push((r, secs, checks, spans, restarts));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let samples = writer.join().map_err(|_| "the write thread panicked")?;
    let (baseline, _) = window(&samples, &[(base_from, base_to)]);

    let mut rows = Vec::new();
    println!("| method | done | time | MB/s | check + fsync after | total | writes | write p50 | write p99 | write max | restarts | WAL max |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (r, secs, checks, spans, restarts) in done {
        let (w, wal) = window(&samples, &spans);
        let time = median(&secs);
        let mbps = bytes as f64 / 1e6 / time.max(1e-6);
        let check = (!checks.is_empty()).then(|| median(&checks));
        let check_s = match (r.checked, check) {
            (true, _) => "included".to_string(),
            (false, Some(s)) => format!("{s:.2} s"),
            (false, None) => "—".to_string(),
        };
        let total = time + check.unwrap_or(0.0);
        println!(
            "| {} | {} | {time:.2} s | {mbps:.0} | {check_s} | {total:.2} s | {} | {} | {} | {} | {} | {:.1} MB |",
            r.name,
            if r.done { "yes".into() } else { format!("no: {}", r.note) },
            w["n"],
            fmt_ms(&w["p50_ms"]),
            fmt_ms(&w["p99_ms"]),
            fmt_ms(&w["max_ms"]),
            restarts.map_or("—".into(), |n| n.to_string()),
            wal as f64 / 1e6,
        );
        rows.push(json!({
            "name": r.name, "done": r.done, "note": r.note, "secs": time, "secs_all": secs,
            "mb_per_s": mbps, "checked": r.checked, "check_secs": check, "total_secs": total, "writes": w,
            "restarts": restarts, "steps": r.steps, "wal_max_bytes": wal, "runs": spans.len(),
        }));
    }
    println!(
        "\nwrites without a copy: p50 {}, p99 {}, max {} ({} writes, one every {} ms); \
         time and check are medians of {} runs",
        fmt_ms(&baseline["p50_ms"]),
        fmt_ms(&baseline["p99_ms"]),
        fmt_ms(&baseline["max_ms"]),
        baseline["n"],
        o.every.as_millis(),
        o.repeat,
    );
    if let Some(j) = &o.json {
        let out = json!({
            "db_bytes": bytes, "pages_per_step": o.pages, "write_every_ms": o.every.as_millis() as u64,
            "own_cap_s": o.own_cap.as_secs(), "repeat": o.repeat, "baseline": baseline, "methods": rows,
        });
        std::fs::write(j, serde_json::to_string_pretty(&out).unwrap_or_default())
            .map_err(|e| format!("{}: {e}", j.display()))?;
    }
    drop(methods);
    drop(db);
    if !o.keep {
        remove_copy();
        for f in ["live.db", "live.db-wal", "live.db-shm"] {
            let _ = std::fs::remove_file(o.dir.join(f));
        }
        if o.own_dir {
            let _ = std::fs::remove_dir(&o.dir);
        }
    }
    Ok(())
}
