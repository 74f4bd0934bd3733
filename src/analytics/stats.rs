//! The numbers behind `/api/stats` and `fazt stats`: totals, unique visitors, top paths and
//! referrers, status mix, other events, and an hourly or daily series.
//!
//! Days before the rollup watermark are read from `analytics_rollups`/`analytics_top` (small,
//! fast on an SD card, and still there after raw events expire); the rest from raw `events`.
//! Visitors are exact for whole days and for any range of raw events (visitor hashes change
//! every day, so distinct-over-range equals the sum of daily counts); for a partial day
//! read from hourly rollups they are the sum of hourly uniques, an upper bound. Top lists
//! merge per-day top-50 lists, so far down the list they are approximate.

use std::collections::HashMap;

use rusqlite::{params, Connection};
use serde_json::{json, Value};

use super::dates::{day_floor, hour_floor, DAY, HOUR};

/// `configurations` key: events before this time (a UTC midnight) are rolled up.
pub const WATERMARK_KEY: &str = "analytics_rolled_until";
/// Entries returned per top list.
pub const TOP_N: usize = 10;
/// Ranges up to this long get an hourly series; longer ones a daily series.
pub const HOURLY_UP_TO: i64 = 2 * DAY;
/// Longest range accepted (ten years).
pub const MAX_RANGE: i64 = 3_660 * DAY;

/// The aggregate columns shared by stats over raw events and the rollup job, in the order of
/// [`Counters`]' fields.
/// A row stands for `hits` identical requests (`NULL`: one).
pub const COUNTER_COLUMNS: &str = "COALESCE(SUM(COALESCE(hits, 1)), 0),
    COALESCE(SUM(CASE WHEN event_type = 'pageview' THEN COALESCE(hits, 1) END), 0),
    COUNT(DISTINCT CASE WHEN event_type = 'pageview' THEN visitor END),
    COALESCE(SUM(CASE WHEN ua_class = 'bot' THEN COALESCE(hits, 1) END), 0),
    COALESCE(SUM(bytes), 0),
    COALESCE(SUM(CASE WHEN status BETWEEN 200 AND 299 THEN COALESCE(hits, 1) END), 0),
    COALESCE(SUM(CASE WHEN status BETWEEN 300 AND 399 THEN COALESCE(hits, 1) END), 0),
    COALESCE(SUM(CASE WHEN status BETWEEN 400 AND 499 THEN COALESCE(hits, 1) END), 0),
    COALESCE(SUM(CASE WHEN status BETWEEN 500 AND 599 THEN COALESCE(hits, 1) END), 0)";

/// The same counters as columns of `analytics_rollups`, summed.
const ROLLUP_SUMS: &str = "COALESCE(SUM(requests), 0), COALESCE(SUM(pageviews), 0),
    COALESCE(SUM(visitors), 0), COALESCE(SUM(bots), 0), COALESCE(SUM(bytes), 0),
    COALESCE(SUM(status_2xx), 0), COALESCE(SUM(status_3xx), 0),
    COALESCE(SUM(status_4xx), 0), COALESCE(SUM(status_5xx), 0)";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: i64,
    pub pageviews: i64,
    pub visitors: i64,
    pub bots: i64,
    pub bytes: i64,
    /// 2xx, 3xx, 4xx, 5xx.
    pub status: [i64; 4],
}

impl Counters {
    /// Reads the nine counter columns starting at column `at`.
    pub fn from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Counters> {
        Ok(Counters {
            requests: r.get(at)?,
            pageviews: r.get(at + 1)?,
            visitors: r.get(at + 2)?,
            bots: r.get(at + 3)?,
            bytes: r.get(at + 4)?,
            status: [
                r.get(at + 5)?,
                r.get(at + 6)?,
                r.get(at + 7)?,
                r.get(at + 8)?,
            ],
        })
    }

    fn add(&mut self, o: &Counters) {
        self.requests += o.requests;
        self.pageviews += o.pageviews;
        self.visitors += o.visitors;
        self.bots += o.bots;
        self.bytes += o.bytes;
        for (a, b) in self.status.iter_mut().zip(o.status) {
            *a += b;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn seconds(self) -> i64 {
        match self {
            Granularity::Hour => HOUR,
            Granularity::Day => DAY,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Point {
    pub t: i64,
    pub requests: i64,
    pub pageviews: i64,
    pub visitors: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    pub site: String,
    pub value: String,
    pub hits: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub source: String,
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub site: Option<String>,
    pub from: i64,
    pub to: i64,
    pub granularity: Granularity,
    pub totals: Counters,
    pub series: Vec<Point>,
    pub top_paths: Vec<Top>,
    pub top_referrers: Vec<Top>,
    pub events: Vec<EventCount>,
}

/// Aligns a requested range: hourly series for ranges up to two days, daily beyond; `from`
/// moves back to the start of its bucket. `Err` names what is wrong with the range.
pub fn align(from: i64, to: i64) -> Result<(i64, i64, Granularity), String> {
    if to <= from {
        return Err(format!("'to' ({to}) must be after 'from' ({from})"));
    }
    if to - from > MAX_RANGE {
        return Err(format!("range too long: at most {} days", MAX_RANGE / DAY));
    }
    if to - from <= HOURLY_UP_TO {
        Ok((hour_floor(from), to, Granularity::Hour))
    } else {
        Ok((day_floor(from), to, Granularity::Day))
    }
}

/// The rollup watermark (0 when nothing is rolled up yet).
pub fn watermark(c: &Connection) -> rusqlite::Result<i64> {
    let v = crate::settings::read(c, WATERMARK_KEY)?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(0))
}

fn merge_top(into: &mut HashMap<(String, String), i64>, rows: Vec<Top>) {
    for t in rows {
        *into.entry((t.site, t.value)).or_insert(0) += t.hits;
    }
}

fn sorted_top(m: HashMap<(String, String), i64>) -> Vec<Top> {
    let mut v: Vec<Top> = m
        .into_iter()
        .map(|((site, value), hits)| Top { site, value, hits })
        .collect();
    v.sort_unstable_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.site.cmp(&b.site))
            .then_with(|| a.value.cmp(&b.value))
    });
    v.truncate(TOP_N);
    v
}

fn tops(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<Vec<Top>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map(p, |r| {
        Ok(Top {
            site: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            value: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            hits: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Computes the stats of `site` (all sites when `None`) for `[from, to)` (unix seconds; see
/// [`align`]).
pub fn compute(c: &Connection, site: Option<&str>, from: i64, to: i64) -> Result<Stats, String> {
    let (from, to, g) = align(from, to)?;
    compute_aligned(c, site, from, to, g).map_err(|e| format!("reading statistics: {e}"))
}

fn compute_aligned(
    c: &Connection,
    site: Option<&str>,
    from: i64,
    to: i64,
    g: Granularity,
) -> rusqlite::Result<Stats> {
    let step = g.seconds();
    // [from, split) comes from rollups, [split, to) from raw events.
    let split = watermark(c)?.clamp(from, to);
    let mut totals = Counters::default();
    let n_buckets = usize::try_from((to - from + step - 1) / step).unwrap_or(0);
    let mut series: Vec<Point> = (0..n_buckets)
        .map(|i| Point {
            t: from + i as i64 * step,
            ..Point::default()
        })
        .collect();
    let mut add_point = |b: i64, req: i64, pv: i64, vis: i64| {
        let idx = usize::try_from((b - from).div_euclid(step)).ok();
        if let Some(p) = idx.and_then(|i| series.get_mut(i)) {
            p.requests += req;
            p.pageviews += pv;
            p.visitors += vis;
        }
    };
    let mut paths = HashMap::new();
    let mut referrers = HashMap::new();
    let mut events: HashMap<(String, String), i64> = HashMap::new();

    if split > from {
        let period = g.as_str();
        totals.add(&c.query_row(
            &format!(
                "SELECT {ROLLUP_SUMS} FROM analytics_rollups WHERE period = ?1
                 AND bucket >= ?2 AND bucket < ?3 AND (?4 IS NULL OR site = ?4)"
            ),
            params![period, from, split, site],
            |r| Counters::from_row(r, 0),
        )?);
        let mut st = c.prepare(
            "SELECT bucket, SUM(requests), SUM(pageviews), SUM(visitors) FROM analytics_rollups
             WHERE period = ?1 AND bucket >= ?2 AND bucket < ?3 AND (?4 IS NULL OR site = ?4)
             GROUP BY bucket",
        )?;
        let rows = st.query_map(params![period, from, split, site], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        for row in rows {
            let (b, req, pv, vis) = row?;
            add_point(b, req, pv, vis);
        }
        let top_sql = "SELECT site, value, SUM(hits) FROM analytics_top
             WHERE kind = ?1 AND day >= ?2 AND day < ?3 AND (?4 IS NULL OR site = ?4)
             GROUP BY site, value ORDER BY 3 DESC LIMIT 100";
        let day_from = day_floor(from);
        merge_top(
            &mut paths,
            tops(c, top_sql, params!["path", day_from, split, site])?,
        );
        merge_top(
            &mut referrers,
            tops(c, top_sql, params!["referrer", day_from, split, site])?,
        );
        let mut st = c.prepare(
            "SELECT kind, value, SUM(hits) FROM analytics_top
             WHERE kind LIKE 'event:%' AND day >= ?1 AND day < ?2 AND (?3 IS NULL OR site = ?3)
             GROUP BY kind, value ORDER BY 3 DESC LIMIT 100",
        )?;
        let rows = st.query_map(params![day_from, split, site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (kind, value, n) = row?;
            let source = kind.strip_prefix("event:").unwrap_or(&kind).to_string();
            *events.entry((source, value)).or_insert(0) += n;
        }
    }

    if to > split {
        let scope = "created_at >= ?1 AND created_at < ?2 AND (?3 IS NULL OR site = ?3)";
        let hosting = format!("source_type = 'hosting' AND {scope}");
        totals.add(&c.query_row(
            &format!("SELECT {COUNTER_COLUMNS} FROM events WHERE {hosting}"),
            params![split, to, site],
            |r| Counters::from_row(r, 0),
        )?);
        let mut st = c.prepare(&format!(
            "SELECT (created_at - ?4) / ?5, SUM(COALESCE(hits, 1)),
                    COALESCE(SUM(CASE WHEN event_type = 'pageview' THEN COALESCE(hits, 1) END), 0),
                    COUNT(DISTINCT CASE WHEN event_type = 'pageview' THEN visitor END)
             FROM events WHERE {hosting} GROUP BY 1"
        ))?;
        let rows = st.query_map(params![split, to, site, from, step], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        for row in rows {
            let (i, req, pv, vis) = row?;
            add_point(from + i * step, req, pv, vis);
        }
        for (list, column) in [(&mut paths, "path"), (&mut referrers, "referrer_host")] {
            merge_top(
                list,
                tops(
                    c,
                    &format!(
                        "SELECT site, {column}, SUM(COALESCE(hits, 1)) FROM events
                         WHERE {hosting} AND event_type = 'pageview' AND {column} IS NOT NULL
                         GROUP BY site, {column} ORDER BY 3 DESC LIMIT 100"
                    ),
                    params![split, to, site],
                )?,
            );
        }
        let mut st = c.prepare(&format!(
            "SELECT COALESCE(source_type, ''), COALESCE(event_type, ''), SUM(COALESCE(hits, 1))
             FROM events
             WHERE COALESCE(source_type, '') != 'hosting' AND {scope}
             GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 100"
        ))?;
        let rows = st.query_map(params![split, to, site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (source, kind, n) = row?;
            *events.entry((source, kind)).or_insert(0) += n;
        }
    }

    let mut events: Vec<EventCount> = events
        .into_iter()
        .map(|((source, kind), count)| EventCount {
            source,
            kind,
            count,
        })
        .collect();
    events.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.source, &a.kind).cmp(&(&b.source, &b.kind)))
    });
    events.truncate(20);
    Ok(Stats {
        site: site.map(str::to_string),
        from,
        to,
        granularity: g,
        totals,
        series,
        top_paths: sorted_top(paths),
        top_referrers: sorted_top(referrers),
        events,
    })
}

impl Stats {
    pub fn to_json(&self) -> Value {
        let t = &self.totals;
        let top = |v: &[Top], name: &str| -> Value {
            Value::Array(
                v.iter()
                    .map(|e| json!({"site": e.site, name: e.value, "pageviews": e.hits}))
                    .collect(),
            )
        };
        json!({
            "site": self.site,
            "from": self.from,
            "to": self.to,
            "granularity": self.granularity.as_str(),
            "totals": {"requests": t.requests, "pageviews": t.pageviews, "visitors": t.visitors,
                       "bots": t.bots, "bytes": t.bytes},
            "status": {"2xx": t.status[0], "3xx": t.status[1], "4xx": t.status[2], "5xx": t.status[3]},
            "top_paths": top(&self.top_paths, "path"),
            "top_referrers": top(&self.top_referrers, "referrer"),
            "events": self.events.iter()
                .map(|e| json!({"source": e.source, "type": e.kind, "count": e.count}))
                .collect::<Vec<_>>(),
            "series": self.series.iter()
                .map(|p| json!({"t": p.t, "requests": p.requests, "pageviews": p.pageviews,
                                "visitors": p.visitors}))
                .collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        let (f, t, g) = align(7_250, 7_250 + 3_600).unwrap();
        assert_eq!((f, t, g), (7_200, 10_850, Granularity::Hour));
        let (f, _, g) = align(DAY + 5, DAY * 10).unwrap();
        assert_eq!((f, g), (DAY, Granularity::Day));
        assert!(align(10, 10).unwrap_err().contains("after"));
        assert!(align(0, MAX_RANGE + 1).unwrap_err().contains("too long"));
    }
}
