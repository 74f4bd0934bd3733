//! The recorder thread: every `flush_interval` (sooner when a thread's buffer is half full,
//! or when asked to flush at shutdown) it swaps out the per-thread buffers ([`super::buffer`]),
//! does the work kept off the request path (user-agent class, referrer host, page detection,
//! the visitor hash) and writes the batch in one transaction through the single writer.
//!
//! Requests within the same second that would be stored as the same row (same site, host,
//! path, status, client class, referrer host and visitor — and raw address and user agent
//! when those are kept) become one row with a `hits` count and summed `bytes`: a flood costs
//! a few inserts a second instead of one per request, while ordinary traffic (distinct
//! requests) still writes one row per request. Grouping is done first on the raw capture
//! (cheap), then on the finished rows.

use crate::kernel::oneshot::Sender;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::buffer::{Buffers, Local};
use super::event::{self, HitRef, Pending, Row, INSERT_SQL};
use super::settings::Settings;
use super::visitor::{day_of, Salt, SALT_KEY};
use crate::kernel::db::Db;
use crate::kernel::http::request::normalize_host;

/// What the request path, the recorder and the health endpoint share.
pub struct Shared {
    pub buffers: Buffers,
    /// Callers of `flush`, answered once what was recorded before their call is written.
    pub acks: Mutex<Vec<Sender<()>>>,
    pub counters: Counters,
}

/// Counters for the health endpoint.
#[derive(Default)]
pub struct Counters {
    pub written: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// Merges rows that differ only in their counts — requests that differed in what is not
/// stored (a user agent of the same class, a referrer with the same host) — summing `hits`
/// and `bytes`. Keeps the order of first appearance.
fn merge_same(rows: Vec<Row>) -> Vec<Row> {
    let mut first: HashMap<_, usize> = HashMap::with_capacity(rows.len());
    let mut counts: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r.hits.unwrap_or(1), r.bytes.unwrap_or(0)))
        .collect();
    let mut keep = vec![true; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        match first.get(&r.identity()) {
            Some(&j) => {
                let (h, b) = counts.get(i).copied().unwrap_or((0, 0));
                if let Some(c) = counts.get_mut(j) {
                    c.0 = c.0.saturating_add(h);
                    c.1 = c.1.saturating_add(b);
                }
                if let Some(k) = keep.get_mut(i) {
                    *k = false;
                }
            }
            None => {
                first.insert(r.identity(), i);
            }
        }
    }
    drop(first);
    rows.into_iter()
        .zip(keep)
        .zip(counts)
        .filter(|((_, k), _)| *k)
        .map(|((mut r, _), (h, b))| {
            r.hits = Some(h);
            r.bytes = Some(b);
            r
        })
        .collect()
}

struct Agg {
    hits: u64,
    bytes: u64,
    /// When the first of these requests came (seconds, nanoseconds), to write rows in order
    /// (buffers are per thread, so the batch itself is not in arrival order).
    first: (i64, u32),
}

pub struct Recorder {
    db: Arc<Db>,
    settings: Settings,
    salt: Salt,
    /// The salt changed and must be stored with the next batch.
    salt_dirty: bool,
    /// Short links clicked in this batch (id per click).
    clicks: Vec<i64>,
}

impl Recorder {
    pub fn new(db: Arc<Db>, settings: Settings) -> Recorder {
        let today = day_of(crate::kernel::db::now());
        // Unreadable counts as absent: a fresh salt only restarts today's visitor count.
        let stored = crate::settings::get(&db, SALT_KEY)
            .ok()
            .flatten()
            .and_then(|s| Salt::parse(&s));
        let (salt, salt_dirty) = match stored {
            Some(s) if s.day == today => (s, false),
            _ => (Salt::fresh(today), true),
        };
        Recorder {
            db,
            settings,
            salt,
            salt_dirty,
            clicks: Vec::new(),
        }
    }

    /// The thread's loop; returns once the server's `Analytics` is gone.
    pub fn run(mut self, shared: Weak<Shared>) {
        let mut spares: Vec<Local> = Vec::new();
        let mut behind = false;
        loop {
            if !behind {
                std::thread::park_timeout(self.settings.flush_interval);
            }
            let Some(sh) = shared.upgrade() else {
                return;
            };
            // Acks first: everything recorded before a flush call is in the buffers now.
            let acks = std::mem::take(&mut *sh.acks.lock().unwrap_or_else(PoisonError::into_inner));
            let mut full = sh.buffers.collect(&mut spares);
            let rows = self.rows(&mut full);
            self.write(rows, &sh.counters);
            let keep = sh.buffers.threads();
            for mut l in full {
                if spares.len() < keep {
                    l.recycle(sh.buffers.capacity());
                    spares.push(l);
                }
            }
            for ack in acks {
                let _ = ack.send(());
            }
            // Still half full after a batch: go again at once (its wake-up already fired).
            behind = sh.buffers.behind();
        }
    }

    fn salt_for(&mut self, at: i64) -> &Salt {
        let day = day_of(at);
        if day > self.salt.day {
            self.salt = Salt::fresh(day);
            self.salt_dirty = true;
        }
        &self.salt
    }

    /// The rows for a batch: requests grouped (same request, same second), tracking events
    /// as they are; oldest first.
    fn rows(&mut self, full: &mut [Local]) -> Vec<Row> {
        let mut rows = Vec::new();
        for l in full.iter_mut() {
            for p in l.events.drain(..) {
                let row = self.pending(p);
                rows.push(row);
            }
        }
        let mut groups: HashMap<HitRef<'_>, Agg> = HashMap::new();
        for l in full.iter() {
            for h in &l.hits {
                let when = (h.at, h.nanos);
                let agg = groups.entry(h.with(&l.text)).or_insert(Agg {
                    hits: 0,
                    bytes: 0,
                    first: when,
                });
                agg.hits += 1;
                agg.bytes = agg.bytes.saturating_add(h.bytes);
                agg.first = agg.first.min(when);
            }
        }
        let mut groups: Vec<(HitRef<'_>, Agg)> = groups.into_iter().collect();
        groups.sort_unstable_by_key(|(_, a)| a.first);
        let built: Vec<Row> = groups.iter().map(|(h, a)| self.hit_row(h, a)).collect();
        rows.extend(merge_same(built));
        // Stable: within a second, tracking events first, then requests in arrival order.
        rows.sort_by_key(|r| r.created_at);
        rows
    }

    fn hit_row(&mut self, h: &HitRef<'_>, agg: &Agg) -> Row {
        let class = event::ua_class(h.user_agent());
        let path = h.path();
        let at = h.hit.at;
        let pageview = event::is_pageview(h.hit.get, path, h.hit.status, class);
        let host = normalize_host(h.host());
        let referrer_host = event::referrer_host(h.referrer()).filter(|r| {
            // Navigation inside the site is not a referral.
            *r != host && Some(r.as_str()) != host.strip_prefix("www.")
        });
        let site = h.site();
        let visitor = pageview.then(|| self.salt_for(at).visitor(site, &h.hit.ip));
        let raw = self.settings.store_ip;
        Row {
            domain: Some(host),
            tags: None,
            source_type: "hosting".into(),
            event_type: if pageview { "pageview" } else { "request" }.into(),
            path: Some(path.to_string()),
            referrer: (raw && !h.referrer().is_empty()).then(|| h.referrer().to_string()),
            user_agent: (raw && !h.user_agent().is_empty()).then(|| h.user_agent().to_string()),
            ip_address: raw.then(|| h.hit.ip.to_string()),
            query_params: None,
            created_at: at,
            site: Some(site.to_string()),
            status: Some(h.hit.status),
            bytes: i64::try_from(agg.bytes).ok(),
            referrer_host,
            ua_class: Some(class),
            visitor,
            hits: i64::try_from(agg.hits).ok(),
        }
    }

    fn pending(&mut self, p: Pending) -> Row {
        let mut row = p.row;
        let class = event::ua_class(&p.user_agent);
        row.ua_class = Some(class);
        if row.referrer_host.is_none() {
            row.referrer_host = row.referrer.as_deref().and_then(event::referrer_host);
        }
        if class != "bot" {
            let key = row
                .site
                .clone()
                .or_else(|| row.domain.clone())
                .unwrap_or_default();
            row.visitor = Some(self.salt_for(row.created_at).visitor(&key, &p.ip));
        }
        if self.settings.store_ip {
            row.ip_address = Some(p.ip.to_string());
            row.user_agent = (!p.user_agent.is_empty()).then_some(p.user_agent);
        } else {
            // Go's columns kept the raw referrer of client events; keep only its host.
            row.referrer = None;
        }
        if let Some(id) = p.redirect_id {
            self.clicks.push(id);
        }
        row
    }

    /// Writes the rows (and click counts, and a rotated salt) in one transaction on the
    /// writer thread.
    fn write(&mut self, rows: Vec<Row>, counters: &Counters) {
        if rows.is_empty() && self.clicks.is_empty() && !self.salt_dirty {
            return;
        }
        let clicks = std::mem::take(&mut self.clicks);
        let salt = self.salt_dirty.then(|| self.salt.stored());
        let n: u64 = rows
            .iter()
            .map(|r| r.hits.and_then(|h| u64::try_from(h).ok()).unwrap_or(1))
            .sum();
        let r = self.db.write(move |c| -> rusqlite::Result<()> {
            let tx = c.transaction()?;
            {
                let mut ins = tx.prepare_cached(INSERT_SQL)?;
                for row in &rows {
                    row.insert(&mut ins)?;
                }
                let mut bump = tx.prepare_cached(
                    "UPDATE redirects SET click_count = click_count + 1 WHERE id = ?1",
                )?;
                for id in &clicks {
                    bump.execute([id])?;
                }
                if let Some(s) = &salt {
                    crate::settings::write(&tx, SALT_KEY, s)?;
                }
            }
            tx.commit()
        });
        match r {
            Ok(()) => {
                self.salt_dirty = false;
                counters.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                // Events are a statistic, not a ledger: count the loss, keep serving.
                log::error!("analytics: writing {n} events failed: {e}");
                counters.failed.fetch_add(n, Ordering::Relaxed);
                if let Ok(mut last) = counters.last_error.lock() {
                    *last = Some(e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_differing_only_in_counts_merge() {
        let base = Row {
            source_type: "hosting".into(),
            event_type: "request".into(),
            site: Some("blog".into()),
            ua_class: Some("cli"),
            created_at: 5,
            hits: Some(2),
            bytes: Some(10),
            ..Row::default()
        };
        let other_second = Row {
            created_at: 6,
            ..base.clone()
        };
        let rows = vec![
            base.clone(),
            other_second.clone(),
            Row {
                hits: Some(3),
                bytes: Some(7),
                ..base.clone()
            },
        ];
        let merged = merge_same(rows);
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].hits, merged[0].bytes), (Some(5), Some(17)));
        assert_eq!(merged[1], other_second);
    }
}
