//! Analytics housekeeping, off the request path: converts timestamps written by fazt's Go
//! version, rolls finished UTC days up into `analytics_rollups` (hourly and daily rows) and
//! `analytics_top` (per-day top paths, referrers and event types), then deletes raw events
//! past retention — only ones already rolled up, in small batches so other writes interleave
//! — and rollups past their own, longer, retention.
//!
//! Aggregates are read on a reader connection; only the short inserts go to the writer.

use std::time::Duration;

use rusqlite::{params, Connection};

use super::dates::{day_floor, DAY};
use super::settings::Settings;
use super::stats::{Counters, COUNTER_COLUMNS, WATERMARK_KEY};
use crate::kernel::db::Db;

/// A day is rolled up this long after it ends (events are written within seconds).
pub const GRACE: i64 = 300;
/// Rows deleted or converted per write job.
const BATCH: usize = 500;
/// Entries kept per site, day and kind in `analytics_top`.
const TOP_KEEP: i64 = 50;

fn db_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs one write job, its error as text for the housekeeping report.
fn write<T: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    db.write(f).map_err(db_err)
}

/// What a housekeeping run did (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub converted: usize,
    pub days_rolled: usize,
    pub events_deleted: usize,
    pub rollups_deleted: usize,
    pub watermark: i64,
}

pub fn housekeeping(db: &Db, s: &Settings, now: i64) -> Result<Report, String> {
    let mut rep = Report {
        converted: convert_legacy_times(db)?,
        ..Report::default()
    };
    let (w, days) = roll_up(db, now)?;
    rep.watermark = w;
    rep.days_rolled = days;
    let keep_raw = now - i64::from(s.retention_days) * DAY;
    rep.events_deleted = delete_events_before(db, keep_raw.min(w))?;
    let keep_rollups = now - i64::from(s.rollup_days.max(s.retention_days)) * DAY;
    rep.rollups_deleted = write(db, move |c| {
        let h = c.execute(
            "DELETE FROM analytics_rollups WHERE period = 'hour' AND bucket < ?1",
            [keep_rollups],
        )?;
        let t = c.execute("DELETE FROM analytics_top WHERE day < ?1", [keep_rollups])?;
        Ok(h + t)
    })?;
    if rep
        != (Report {
            watermark: w,
            ..Report::default()
        })
    {
        log::info!(
            "analytics housekeeping: {} days rolled up, {} old events deleted, {} timestamps converted, {} old rollup rows deleted",
            rep.days_rolled, rep.events_deleted, rep.converted, rep.rollups_deleted
        );
    }
    Ok(rep)
}

/// fazt's Go version stored `created_at` as text (`2024-01-02 15:04:05.999-07:00`). Text sorts
/// after every integer, so `created_at >= ''` finds exactly those rows through the index.
fn convert_legacy_times(db: &Db) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let n = write(db, |c| {
            c.execute(
                "UPDATE events SET created_at = COALESCE(
                    CAST(strftime('%s', created_at) AS INTEGER),
                    CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER), 0)
                 WHERE id IN (SELECT id FROM events WHERE created_at >= '' LIMIT 500)",
                [],
            )
        })?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

fn first_event_since(db: &Db, t: i64) -> Result<Option<i64>, String> {
    db.read(|c| {
        c.query_row(
            "SELECT MIN(created_at) FROM events WHERE created_at >= ?1 AND created_at < ''",
            [t],
            |r| r.get::<_, Option<i64>>(0),
        )
    })
    .map_err(db_err)
}

fn save_watermark(db: &Db, w: i64) -> Result<(), String> {
    crate::settings::set(db, WATERMARK_KEY, &w.to_string()).map_err(db_err)
}

/// Rolls up every finished day after the watermark, skipping days without events. Returns
/// the new watermark and the number of days rolled up.
fn roll_up(db: &Db, now: i64) -> Result<(i64, usize), String> {
    let complete_until = day_floor(now - GRACE);
    let stored = crate::settings::get(db, WATERMARK_KEY)
        .map_err(db_err)?
        .and_then(|v| v.parse::<i64>().ok());
    let mut w = match stored {
        Some(w) => w,
        None => {
            // First run: start at the oldest event (a database from the Go version, or one
            // restored from a backup), or at the current day when there is none.
            let oldest = first_event_since(db, i64::MIN)?;
            let w = oldest.map_or(complete_until, day_floor).min(complete_until);
            save_watermark(db, w)?;
            w
        }
    };
    let mut days = 0;
    while w + DAY <= complete_until {
        match first_event_since(db, w)? {
            Some(t) if day_floor(t) <= w => {
                roll_up_day(db, w)?;
                w += DAY;
                days += 1;
            }
            next => {
                // Nothing to roll up until the next event's day (or up to now).
                w = next.map_or(complete_until, day_floor).min(complete_until);
                save_watermark(db, w)?;
            }
        }
    }
    Ok((w, days))
}

/// (site, bucket, counters) for one rollup row.
type Bucket = (String, i64, Counters);

/// One top-list entry: site, kind (`path`, `referrer`, `event:<source>`), value, hits.
struct TopRow(String, String, String, i64);

/// Everything one day rolls up into.
struct Day {
    hourly: Vec<Bucket>,
    daily: Vec<Bucket>,
    top: Vec<TopRow>,
}

fn read_day(c: &Connection, d: i64) -> rusqlite::Result<Day> {
    let range = "created_at >= ?1 AND created_at < ?2";
    let hosting = format!("source_type = 'hosting' AND site IS NOT NULL AND {range}");
    let mut hourly = Vec::new();
    let mut st = c.prepare(&format!(
        "SELECT site, (created_at / 3600) * 3600, {COUNTER_COLUMNS} FROM events
         WHERE {hosting} GROUP BY 1, 2"
    ))?;
    for row in st.query_map(params![d, d + DAY], |r| {
        Ok((r.get(0)?, r.get(1)?, Counters::from_row(r, 2)?))
    })? {
        hourly.push(row?);
    }
    let mut daily = Vec::new();
    let mut st = c.prepare(&format!(
        "SELECT site, {COUNTER_COLUMNS} FROM events WHERE {hosting} GROUP BY 1"
    ))?;
    for row in st.query_map(params![d, d + DAY], |r| {
        Ok((r.get(0)?, d, Counters::from_row(r, 1)?))
    })? {
        daily.push(row?);
    }
    // Top entries per site with a window function, so a day of random paths (scanners on an
    // SPA) cannot make this list, or the table, grow without bound.
    let mut top = Vec::new();
    for (kind, value) in [("'path'", "path"), ("'referrer'", "referrer_host")] {
        let sql = format!(
            "SELECT site, {kind}, v, n FROM (
                SELECT site, {value} AS v, SUM(COALESCE(hits, 1)) AS n,
                       ROW_NUMBER() OVER (PARTITION BY site
                                          ORDER BY SUM(COALESCE(hits, 1)) DESC, {value}) AS rn
                FROM events WHERE {hosting} AND event_type = 'pageview' AND {value} IS NOT NULL
                GROUP BY site, {value})
             WHERE rn <= {TOP_KEEP}"
        );
        let mut st = c.prepare(&sql)?;
        for row in st.query_map(params![d, d + DAY], |r| {
            Ok(TopRow(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })? {
            top.push(row?);
        }
    }
    let mut st = c.prepare(&format!(
        "SELECT s, k, v, n FROM (
            SELECT COALESCE(site, '') AS s, 'event:' || COALESCE(source_type, '') AS k,
                   COALESCE(event_type, '') AS v, SUM(COALESCE(hits, 1)) AS n,
                   ROW_NUMBER() OVER (PARTITION BY COALESCE(site, '')
                                      ORDER BY SUM(COALESCE(hits, 1)) DESC) AS rn
            FROM events WHERE COALESCE(source_type, '') != 'hosting' AND {range}
            GROUP BY 1, 2, 3)
         WHERE rn <= {TOP_KEEP}"
    ))?;
    for row in st.query_map(params![d, d + DAY], |r| {
        Ok(TopRow(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })? {
        top.push(row?);
    }
    Ok(Day { hourly, daily, top })
}

/// Rolls up the UTC day starting at `d` and moves the watermark past it, in one transaction
/// (re-running a day replaces its rows).
fn roll_up_day(db: &Db, d: i64) -> Result<(), String> {
    let day = db.read(|c| read_day(c, d)).map_err(db_err)?;
    write(db, move |c| {
        let tx = c.transaction()?;
        tx.execute(
            "DELETE FROM analytics_rollups WHERE period IN ('hour', 'day')
             AND bucket >= ?1 AND bucket < ?2",
            params![d, d + DAY],
        )?;
        tx.execute("DELETE FROM analytics_top WHERE day = ?1", [d])?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO analytics_rollups (site, period, bucket, requests, pageviews,
                    visitors, bots, bytes, status_2xx, status_3xx, status_4xx, status_5xx)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (period, rows) in [("hour", &day.hourly), ("day", &day.daily)] {
                for (site, bucket, k) in rows {
                    ins.execute(params![
                        site,
                        period,
                        bucket,
                        k.requests,
                        k.pageviews,
                        k.visitors,
                        k.bots,
                        k.bytes,
                        k.status[0],
                        k.status[1],
                        k.status[2],
                        k.status[3]
                    ])?;
                }
            }
            let mut ins = tx.prepare(
                "INSERT INTO analytics_top (site, day, kind, value, hits)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for TopRow(site, kind, value, n) in &day.top {
                ins.execute(params![site, d, kind, value, n])?;
            }
        }
        crate::settings::write(&tx, WATERMARK_KEY, &(d + DAY).to_string())?;
        tx.commit()
    })
}

/// Deletes events older than `cutoff`, `BATCH` rows per write job.
fn delete_events_before(db: &Db, cutoff: i64) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let n = write(db, move |c| {
            c.execute(
                "DELETE FROM events WHERE id IN
                    (SELECT id FROM events WHERE created_at < ?1 LIMIT 500)",
                [cutoff],
            )
        })?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
        // Leave the writer and the disk to the requests for a moment.
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::compute;
    use super::*;
    use crate::analytics::event::{Row, INSERT_SQL};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn temp_db() -> (Db, std::path::PathBuf) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fazt-rollup-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (crate::database::open(&dir.join("fazt.db")).unwrap(), dir)
    }

    fn hit(
        site: &str,
        at: i64,
        path: &str,
        status: u16,
        visitor: &str,
        referrer: Option<&str>,
    ) -> Row {
        let pageview = path.ends_with('/') && status == 200;
        Row {
            domain: Some(format!("{site}.localhost")),
            source_type: "hosting".into(),
            event_type: if pageview { "pageview" } else { "request" }.into(),
            path: Some(path.into()),
            created_at: at,
            site: Some(site.into()),
            status: Some(status),
            bytes: Some(100),
            referrer_host: referrer.map(Into::into),
            ua_class: Some("browser"),
            visitor: pageview.then(|| visitor.to_string()),
            ..Row::default()
        }
    }

    fn insert(db: &Db, rows: Vec<Row>) {
        db.write(move |c| {
            let mut st = c.prepare_cached(INSERT_SQL).unwrap();
            for r in &rows {
                r.insert(&mut st).unwrap();
            }
            Ok(())
        })
        .unwrap();
    }

    const D0: i64 = 19_700 * DAY;

    fn sample() -> Vec<Row> {
        let mut rows = Vec::new();
        for day in 0..3 {
            let t = D0 + day * DAY;
            rows.push(hit(
                "blog",
                t + 10,
                "/",
                200,
                &format!("a{day}"),
                Some("x.org"),
            ));
            rows.push(hit("blog", t + 20, "/", 200, &format!("a{day}"), None));
            rows.push(hit(
                "blog",
                t + 4_000,
                "/post/",
                200,
                &format!("b{day}"),
                Some("y.org"),
            ));
            rows.push(hit("blog", t + 4_100, "/logo.png", 200, "", None));
            rows.push(hit("blog", t + 5_000, "/gone/", 404, "", None));
            rows.push(hit("docs", t + 7_000, "/", 200, &format!("c{day}"), None));
            // Five identical requests in one row.
            rows.push(Row {
                hits: Some(5),
                bytes: Some(500),
                ..hit("blog", t + 4_200, "/logo.png", 200, "", None)
            });
            rows.push(Row {
                domain: Some("hook".into()),
                source_type: "webhook".into(),
                event_type: "push".into(),
                created_at: t + 50,
                ..Row::default()
            });
        }
        rows
    }

    #[test]
    fn rollups_give_the_same_numbers_as_raw_events() {
        let (db, dir) = temp_db();
        insert(&db, sample());
        let now = D0 + 4 * DAY + 600;
        let raw_all = db.read(|c| Ok(compute(c, None, D0, now))).unwrap().unwrap();
        let raw_blog = db
            .read(|c| Ok(compute(c, Some("blog"), D0, now)))
            .unwrap()
            .unwrap();
        assert_eq!(raw_blog.totals.requests, 30);
        assert_eq!(raw_blog.totals.pageviews, 9);
        assert_eq!(raw_blog.totals.visitors, 6);
        assert_eq!(raw_blog.totals.bytes, 3 * (5 * 100 + 500));
        assert_eq!(raw_blog.totals.status, [27, 0, 3, 0]);

        let s = Settings {
            retention_days: 1,
            ..Settings::default()
        };
        let rep = housekeeping(&db, &s, now).unwrap();
        assert_eq!(rep.days_rolled, 3);
        assert_eq!(rep.watermark, D0 + 4 * DAY);
        // Retention 1 day: everything before now - 1 day is gone from events.
        assert_eq!(rep.events_deleted, 24);
        let left: i64 = db
            .read(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(left, 0);

        let rolled_all = db.read(|c| Ok(compute(c, None, D0, now))).unwrap().unwrap();
        let rolled_blog = db
            .read(|c| Ok(compute(c, Some("blog"), D0, now)))
            .unwrap()
            .unwrap();
        assert_eq!(rolled_all, raw_all);
        assert_eq!(rolled_blog, raw_blog);
        assert_eq!(rolled_blog.top_paths[0].value, "/");
        assert_eq!(rolled_blog.top_paths[0].hits, 6);
        assert_eq!(rolled_all.events[0].source, "webhook");
        assert_eq!(rolled_all.events[0].count, 3);

        // One day, hourly: from rollups too.
        let day1 = db
            .read(|c| Ok(compute(c, Some("blog"), D0 + DAY, D0 + 2 * DAY)))
            .unwrap()
            .unwrap();
        assert_eq!(day1.series.len(), 24);
        assert_eq!(day1.series[0].pageviews, 2);
        assert_eq!(day1.series[1].requests, 8);
        assert_eq!(day1.totals.visitors, 2);

        // A second run has nothing to do and changes nothing.
        let again = housekeeping(&db, &s, now).unwrap();
        assert_eq!(again.days_rolled + again.events_deleted, 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn legacy_text_times_are_converted_and_empty_days_skipped() {
        let (db, dir) = temp_db();
        db.write(|c| {
            c.execute_batch(
                "INSERT INTO events (domain, source_type, event_type, created_at)
                   VALUES ('go.example', 'web', 'pageview', '2024-01-02 15:04:05.123456789+01:00');
                 INSERT INTO events (domain, source_type, event_type, created_at)
                   VALUES ('go.example', 'web', 'pageview', 'garbage');",
            )
        })
        .unwrap();
        let now = 1_704_067_200 + 40 * DAY; // 2024-01-01 + 40 days
        let s = Settings::default();
        let rep = housekeeping(&db, &s, now).unwrap();
        assert_eq!(rep.converted, 2);
        let times: Vec<i64> = db
            .read(|c| {
                let mut st = c.prepare("SELECT created_at FROM events ORDER BY id")?;
                let v = st.query_map([], |r| r.get(0))?.collect();
                v
            })
            .unwrap();
        // Garbage became 1970 (day 0), was rolled up and then deleted as too old; the next
        // day rolled up is the next event's, skipping the empty ones.
        assert_eq!(times, vec![1_704_204_245]);
        assert_eq!(rep.events_deleted, 1);
        assert_eq!(rep.days_rolled, 2);
        assert_eq!(rep.watermark, day_floor(now - GRACE));
        let _ = std::fs::remove_dir_all(dir);
    }
}
