//! Analytics rows from Go fazt (`fazt import-go`): its events mapped to this schema's
//! columns, its short links and webhooks, and the rollup watermark moved back so imported
//! days are rolled up like any other. Everything runs on the import's transaction.

use std::collections::HashMap;
use std::net::IpAddr;

use rusqlite::{params, Connection, OptionalExtension};

use super::dates::day_floor;
use super::event::{self, Row, INSERT_SQL};
use super::stats::WATERMARK_KEY;
use super::visitor::{day_of, Salt};
use crate::database::Merge;

/// One Go `events` row, as read.
#[derive(Default)]
pub struct GoEvent {
    pub domain: Option<String>,
    pub tags: Option<String>,
    pub source_type: Option<String>,
    pub event_type: Option<String>,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub query_params: Option<String>,
    pub created_at: i64,
}

/// Turns Go events into rows: Go kept a hosted site's name in `domain`, which is `site`
/// here (and what the `events_v0` view shows as `domain` again). Raw addresses and user
/// agents are dropped unless `keep_addresses`; visitors are hashed with a salt per day
/// that is never stored, so imported days count unique visitors but cannot be linked.
pub struct EventMapper {
    keep_addresses: bool,
    salts: HashMap<i64, Salt>,
}

impl EventMapper {
    pub fn new(keep_addresses: bool) -> Self {
        EventMapper {
            keep_addresses,
            salts: HashMap::new(),
        }
    }

    /// The row for `e`; `site_of` names the site a Go `domain` belongs to, if any.
    pub fn row(&mut self, e: GoEvent, site_of: impl Fn(&str) -> Option<String>) -> Row {
        let source_type = e.source_type.unwrap_or_default();
        let domain = e.domain.unwrap_or_default();
        let site = if source_type == "hosting" {
            site_of(&domain)
        } else {
            site_of(domain.split(':').next().unwrap_or(""))
        };
        let ua = e.user_agent.unwrap_or_default();
        let class = event::ua_class(&ua);
        let ip: Option<IpAddr> = e.ip_address.as_deref().and_then(|a| a.trim().parse().ok());
        let visitor = match (&ip, class) {
            (Some(ip), c) if c != "bot" => {
                let day = day_of(e.created_at);
                let salt = self.salts.entry(day).or_insert_with(|| Salt::fresh(day));
                Some(salt.visitor(site.as_deref().unwrap_or(&domain), ip))
            }
            _ => None,
        };
        let keep = self.keep_addresses;
        Row {
            referrer_host: e.referrer.as_deref().and_then(event::referrer_host),
            domain: Some(domain).filter(|d| !d.is_empty()),
            tags: e.tags.filter(|t| !t.is_empty()),
            source_type,
            event_type: e.event_type.unwrap_or_default(),
            path: e.path,
            referrer: e.referrer.filter(|_| keep),
            user_agent: Some(ua).filter(|u| keep && !u.is_empty()),
            ip_address: e.ip_address.filter(|_| keep),
            query_params: e.query_params.filter(|q| !q.is_empty()),
            created_at: e.created_at,
            site,
            status: None,
            bytes: None,
            ua_class: Some(class),
            visitor,
            hits: None,
        }
    }
}

/// Inserts one mapped event.
pub fn insert_event(c: &Connection, row: &Row) -> rusqlite::Result<()> {
    row.insert(&mut c.prepare_cached(INSERT_SQL)?).map(|_| ())
}

/// After importing events from `oldest` on: moves the rollup watermark back to that day when
/// no day in between is rolled up yet, so housekeeping rolls the imported days up. Returns
/// false when rolled-up days are in the way (their raw events may be pruned already, and
/// rolling them up again would lose counts): the imported events then stay raw only.
pub fn reroll_from(c: &Connection, oldest: i64) -> rusqlite::Result<bool> {
    let day = day_floor(oldest);
    let Some(w) = crate::settings::read(c, WATERMARK_KEY)?.and_then(|v| v.parse::<i64>().ok())
    else {
        // Never rolled up: the first run starts at the oldest event anyway.
        return Ok(true);
    };
    if day >= w {
        return Ok(true);
    }
    let rolled: bool = c
        .prepare("SELECT 1 FROM analytics_rollups WHERE bucket >= ?1 AND bucket < ?2 LIMIT 1")?
        .exists(params![day, w])?;
    if rolled {
        return Ok(false);
    }
    crate::settings::write(c, WATERMARK_KEY, &day.to_string())?;
    Ok(true)
}

/// Adds a short link unless its slug is taken (the same destination is [`Merge::Same`]).
pub fn import_redirect(
    c: &Connection,
    slug: &str,
    destination: &str,
    tags: Option<&str>,
    clicks: i64,
    created: i64,
) -> rusqlite::Result<Merge> {
    let existing: Option<String> = c
        .query_row(
            "SELECT COALESCE(destination, '') FROM redirects WHERE slug = ?1",
            [slug],
            |r| r.get(0),
        )
        .optional()?;
    let m = Merge::of(existing, &destination.to_string());
    if m == Merge::Added {
        c.execute(
            "INSERT INTO redirects (slug, destination, tags, click_count, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![slug, destination, tags, clicks, created],
        )?;
    }
    Ok(m)
}

/// Adds a webhook unless its endpoint is taken (the same name and secret is [`Merge::Same`]).
pub fn import_webhook(
    c: &Connection,
    name: &str,
    endpoint: &str,
    secret: &str,
    active: bool,
    created: i64,
) -> rusqlite::Result<Merge> {
    let existing: Option<(String, String)> = c
        .query_row(
            "SELECT COALESCE(name, ''), COALESCE(secret, '') FROM webhooks WHERE endpoint = ?1",
            [endpoint],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let m = Merge::of(existing, &(name.to_string(), secret.to_string()));
    if m == Merge::Added {
        c.execute(
            "INSERT INTO webhooks (name, endpoint, secret, is_active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, endpoint, secret, active as i64, created],
        )?;
    }
    Ok(m)
}
