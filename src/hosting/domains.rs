//! Custom domains (`domains`, the table Go fazt v0.8 named): host names outside the server's
//! domain that a site answers for. A name is primary (the site serves it) or not (it
//! redirects, 301, to the site's primary name: `www.example.org` → `example.org`). The one
//! owner of the table. Lookups for hosts the router does not know are cached for a few
//! seconds, so `fazt domains` on the same database takes effect without a restart while a
//! stream of requests for unknown hosts costs one indexed query per host per window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use crate::database::Merge;
use crate::kernel::db::{now, Db, DbError};

/// How long a lookup (found or not) is trusted.
const TTL: Duration = Duration::from_secs(5);
/// Hosts remembered at most; beyond it the cache starts over.
const MAX_CACHED: usize = 1024;
/// Domains one site may have.
pub const MAX_PER_SITE: usize = 50;

/// Where a custom domain leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub site: String,
    /// Set when this name redirects to the site's primary name.
    pub redirect_to: Option<String>,
}

/// One registered name, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub domain: String,
    pub site: String,
    pub primary: bool,
    pub created_at: i64,
}

/// Why a name cannot be added.
#[derive(Debug, PartialEq, Eq)]
pub enum DomainError {
    Invalid(String),
    /// Another site has it.
    Taken {
        domain: String,
        site: String,
    },
    TooMany,
    Db(String),
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DomainError::Invalid(m) | DomainError::Db(m) => write!(f, "{m}"),
            DomainError::Taken { domain, site } => {
                write!(f, "{domain} already belongs to site '{site}'")
            }
            DomainError::TooMany => write!(f, "a site may have at most {MAX_PER_SITE} domains"),
        }
    }
}

/// Checks a custom domain name: lowercase LDH labels, two or more, not an address, and not
/// a name the router already gives meaning to (the server's own domain and `localhost`).
pub fn check_name(name: &str, server_domain: &str) -> Result<String, DomainError> {
    let d = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| Err(DomainError::Invalid(format!("'{name}' {why}")));
    if d.is_empty() || d.len() > 253 {
        return bad("is not a domain name");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return bad("needs at least two labels (example.org)");
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return bad("is not a domain name (letters, digits and - per label)");
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("is an address, not a domain name");
    }
    let own = server_domain.to_ascii_lowercase();
    if d == own || d.ends_with(&format!(".{own}")) || d == "localhost" || d.ends_with(".localhost")
    {
        return bad(&format!(
            "is under the server's own domain ({own}): its sites answer there already"
        ));
    }
    Ok(d)
}

/// The names of custom domains, with a short-lived cache of lookups.
pub struct Domains {
    db: Arc<Db>,
    cache: Mutex<HashMap<String, (Instant, Option<Mapping>)>>,
}

fn read_mapping(c: &Connection, host: &str) -> rusqlite::Result<Option<Mapping>> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT app_id, COALESCE(is_primary, 1) FROM domains WHERE domain = ?1")?
        .query_row([host], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((site, primary)) = row else {
        return Ok(None);
    };
    let redirect_to = if primary != 0 {
        None
    } else {
        c.prepare_cached(
            "SELECT domain FROM domains WHERE app_id = ?1 AND COALESCE(is_primary, 1) != 0
             ORDER BY created_at, domain LIMIT 1",
        )?
        .query_row([&site], |r| r.get::<_, String>(0))
        .optional()?
    };
    Ok(Some(Mapping { site, redirect_to }))
}

impl Domains {
    pub fn new(db: Arc<Db>) -> Domains {
        Domains {
            db,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The site (and redirect) for a host the router does not know; None when it is not a
    /// registered domain or the database cannot say.
    pub fn lookup(&self, host: &str) -> Option<Mapping> {
        if let Ok(c) = self.cache.lock() {
            if let Some((at, m)) = c.get(host) {
                if at.elapsed() < TTL {
                    return m.clone();
                }
            }
        }
        let m = self.db.read(|c| read_mapping(c, host)).ok().flatten();
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(host.to_string(), (Instant::now(), m.clone()));
        }
        m
    }

    /// Forgets every cached lookup (after a change through this process).
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }
}

/// The domains of `site` (or of every site), by site then name.
pub fn list(db: &Db, site: Option<&str>) -> rusqlite::Result<Vec<Entry>> {
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT domain, app_id, COALESCE(is_primary, 1), COALESCE(created_at, 0) FROM domains
             WHERE ?1 IS NULL OR app_id = ?1 ORDER BY app_id, is_primary DESC, domain",
        )?;
        let rows = st.query_map(params![site], |r| {
            Ok(Entry {
                domain: r.get(0)?,
                site: r.get(1)?,
                primary: r.get::<_, i64>(2)? != 0,
                created_at: r.get(3).unwrap_or(0),
            })
        })?;
        rows.collect()
    })
}

/// Adds `names` (already checked with [`check_name`]) to `site`, in one transaction: all or
/// none. With `redirect`, every name but the first redirects to it. A name `site` has
/// already is updated; one another site has refuses the whole call.
pub fn add(db: &Db, site: &str, names: Vec<String>, redirect: bool) -> Result<(), DomainError> {
    let site = site.to_string();
    db.write(move |c| -> rusqlite::Result<Result<(), DomainError>> {
        let tx = c.transaction()?;
        for n in &names {
            let owner: Option<String> = tx
                .query_row("SELECT app_id FROM domains WHERE domain = ?1", [n], |r| r.get(0))
                .optional()?;
            if let Some(o) = owner.filter(|o| *o != site) {
                return Ok(Err(DomainError::Taken {
                    domain: n.clone(),
                    site: o,
                }));
            }
        }
        let t = now();
        for (i, n) in names.iter().enumerate() {
            let primary = !(redirect && i > 0);
            tx.execute(
                "INSERT INTO domains (id, domain, app_id, is_primary, created_at) VALUES (?1, ?1, ?2, ?3, ?4)
                 ON CONFLICT(domain) DO UPDATE SET is_primary = excluded.is_primary",
                params![n, site, primary as i64, t],
            )?;
        }
        let count: i64 =
            tx.query_row("SELECT COUNT(*) FROM domains WHERE app_id = ?1", [&site], |r| r.get(0))?;
        if count as usize > MAX_PER_SITE {
            return Ok(Err(DomainError::TooMany));
        }
        tx.commit()?;
        Ok(Ok(()))
    })
    .map_err(|e| DomainError::Db(e.to_string()))?
}

/// Removes one name; returns the site it belonged to.
pub fn remove(db: &Db, domain: &str) -> Result<Option<String>, DbError> {
    let d = domain.to_string();
    db.write(move |c| {
        let site: Option<String> = c
            .query_row("SELECT app_id FROM domains WHERE domain = ?1", [&d], |r| {
                r.get(0)
            })
            .optional()?;
        c.execute("DELETE FROM domains WHERE domain = ?1", [&d])?;
        Ok(site)
    })
}

/// Removes every name of `site` (inside the caller's transaction: a site deleted).
pub fn clear_site(c: &Connection, site: &str) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM domains WHERE app_id = ?1", [site])
}

/// Adds an imported name unless it is registered already (see [`Merge`]).
pub fn import(c: &Connection, domain: &str, site: &str, primary: bool) -> rusqlite::Result<Merge> {
    let owner: Option<String> = c
        .query_row(
            "SELECT app_id FROM domains WHERE domain = ?1",
            [domain],
            |r| r.get(0),
        )
        .optional()?;
    let m = Merge::of(owner, &site.to_string());
    if m == Merge::Added {
        c.execute(
            "INSERT INTO domains (id, domain, app_id, is_primary, created_at) VALUES (?1, ?1, ?2, ?3, ?4)",
            params![domain, site, primary as i64, now()],
        )?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        let ok = |n: &str| check_name(n, "example.com").unwrap();
        assert_eq!(ok("Example.ORG."), "example.org");
        assert_eq!(ok("www.my-site.co.uk"), "www.my-site.co.uk");
        for bad in [
            "",
            "org",
            "-a.org",
            "a-.org",
            "a..org",
            "a_b.org",
            "10.0.0.1",
            "ex ample.org",
            "example.com",
            "blog.example.com",
            "localhost",
            "x.localhost",
            "a/b.org",
        ] {
            assert!(check_name(bad, "example.com").is_err(), "{bad}");
        }
        assert!(check_name(&format!("{}.org", "a".repeat(64)), "x.com").is_err());
    }
}
