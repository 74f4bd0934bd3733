//! Each kind of Go row, read from [`GoDb`] and written through its table's owner on the
//! import's transaction, counted in the [`Summary`].

use std::collections::HashSet;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::go_db::{int, text, time, GoDb};
use super::{progress, ImportError, Options, Summary};
#[cfg(feature = "analytics")]
use crate::analytics::import::{self as events, EventMapper, GoEvent};
use crate::database::{Merge, FILES};
use crate::deploy::history;
use crate::hosting::{paths, valid_site_name, Sites};
use crate::kernel::db::{migrate::hex, now};
use crate::kernel::vfs::{self, PreparedFile};
use crate::scripts::{env, kv, logs};

/// Sites whose rows (KV, env, logs, deployments) follow them: the ones imported now or
/// already identical here.
pub type Imported = HashSet<String>;

/// A Go file path this fazt can serve, or why not.
fn check_path(path: &str) -> Result<(), &'static str> {
    match paths::clean(&format!("/{path}")) {
        Ok(p) if p == path && !p.is_empty() && !p.ends_with('/') => {}
        Ok(_) => return Err("not a canonical path"),
        Err(e) => return Err(e),
    }
    if crate::deploy::hidden(path) {
        return Err("a dot-file (deploys skip them too)");
    }
    Ok(())
}

pub fn sites(go: &GoDb, tx: &Connection, s: &mut Summary) -> Result<Imported, ImportError> {
    let mut imported = Imported::new();
    for site in go.sites()? {
        let name = site.name.to_ascii_lowercase();
        if name == "admin" {
            s.skip(
                "sites",
                "site admin: Go fazt's dashboard; this fazt serves its own".into(),
            );
            continue;
        }
        if !valid_site_name(&name) {
            s.skip(
                "sites",
                format!("site '{}': not a valid site name here", site.name),
            );
            continue;
        }
        let mut wanted = Vec::new();
        for f in go.files(&site.key)? {
            match check_path(&f.path) {
                Ok(()) => wanted.push(f.path),
                Err(why) => s.skip("files", format!("site {name}: file '{}': {why}", f.path)),
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let mut go_hashes = Vec::with_capacity(wanted.len());
        for p in &wanted {
            go_hashes.push((p.clone(), hex(&Sha256::digest(go.content(&site.key, p)?))));
        }
        let here = vfs::hashes(tx, FILES, &name)?;
        if here == go_hashes {
            s.count("sites", Merge::Same);
            s.tally("files").same += wanted.len() as u64;
            imported.insert(name);
            continue;
        }
        if !here.is_empty() && Sites::system_flag(tx, &name)? != Some(true) {
            s.count("sites", Merge::Kept);
            s.notes.push(format!(
                "site {name}: already deployed here with other files; kept (delete it here to import Go's)"
            ));
            continue;
        }
        vfs::clear_site(tx, FILES, &name)?;
        for p in &wanted {
            let content = go.content(&site.key, p)?;
            vfs::put(tx, FILES, &name, &PreparedFile::new(p, content))?;
        }
        Sites::register_owned(tx, &name, site.spa, now())?;
        s.count("sites", Merge::Added);
        s.tally("files").added += wanted.len() as u64;
        imported.insert(name);
    }
    Ok(imported)
}

/// The site name a Go row's `site_id` (or `app_id`) stands for, if its site came over.
fn site_of(go: &GoDb, imported: &Imported, key: Option<String>) -> Option<String> {
    let name = go.site_name(&key?).to_ascii_lowercase();
    imported.contains(&name).then_some(name)
}

pub fn site_rows(
    go: &GoDb,
    tx: &Connection,
    imported: &Imported,
    s: &mut Summary,
) -> Result<(), ImportError> {
    let t = now();
    let mut orphans = 0u64;
    // One KV row (site key, key, value, created, updated in columns 0–4) of either table.
    let mut kv_row = |r: &rusqlite::Row<'_>, s: &mut Summary| -> Result<(), ImportError> {
        let Some(site) = site_of(go, imported, text(r, 0)) else {
            orphans += 1;
            return Ok(());
        };
        let (key, value) = (
            text(r, 1).unwrap_or_default(),
            text(r, 2).unwrap_or_default(),
        );
        let updated = time(r, 4).unwrap_or(t);
        let created = time(r, 3).unwrap_or(updated);
        s.count("kv", kv::import(tx, &site, &key, &value, created, updated)?);
        Ok(())
    };
    let cols = ["site_id", "key", "value", "created_at", "updated_at"];
    go.select("kv_store", &cols, "ORDER BY site_id, key", &[], |r| {
        kv_row(r, s)
    })?;
    // v0.10's app storage: app-wide rows only; per-user rows have no place here.
    let (mut per_user, mut expired) = (0u64, 0u64);
    let cols = [
        "app_id",
        "key",
        "value",
        "created_at",
        "updated_at",
        "expires_at",
        "user_id",
    ];
    go.select("app_kv", &cols, "ORDER BY app_id, key", &[], |r| {
        if text(r, 6).is_some_and(|u| !u.is_empty()) {
            per_user += 1;
            return Ok(());
        }
        if int(r, 5).is_some_and(|e| e <= t) {
            expired += 1;
            return Ok(());
        }
        kv_row(r, s)
    })?;
    if per_user > 0 {
        s.tally("kv").skipped += per_user;
        s.notes.push(format!(
            "kv: {per_user} per-user row(s) skipped: this fazt has no user accounts"
        ));
    }
    if expired > 0 {
        s.tally("kv").skipped += expired;
        s.notes
            .push(format!("kv: {expired} expired row(s) skipped"));
    }
    go.select(
        "env_vars",
        &["site_id", "name", "value", "created_at"],
        "ORDER BY site_id, name",
        &[],
        |r| {
            let Some(site) = site_of(go, imported, text(r, 0)) else {
                orphans += 1;
                return Ok(());
            };
            let name = text(r, 1).unwrap_or_default();
            let value = text(r, 2).unwrap_or_default();
            let m = env::import(tx, &site, &name, &value, time(r, 3).unwrap_or(t))?;
            s.count("env vars", m);
            Ok(())
        },
    )?;
    append_only(
        go,
        tx,
        s,
        "site_logs",
        "log lines",
        |r| {
            let Some(site) = site_of(go, imported, text(r, 1)) else {
                return Ok(false);
            };
            logs::import(
                tx,
                &site,
                &text(r, 2).unwrap_or_else(|| "info".into()),
                &text(r, 3).unwrap_or_default(),
                time(r, 4).unwrap_or(t),
            )?;
            Ok(true)
        },
        &["id", "site_id", "level", "message", "created_at"],
    )?;
    append_only(
        go,
        tx,
        s,
        "deployments",
        "deployments",
        |r| {
            let Some(site) = site_of(go, imported, text(r, 1)) else {
                return Ok(false);
            };
            history::import(
                tx,
                &site,
                int(r, 2).unwrap_or(0),
                int(r, 3).unwrap_or(0),
                &text(r, 4).unwrap_or_default(),
                time(r, 5).unwrap_or(t),
            )?;
            Ok(true)
        },
        &[
            "id",
            "site_id",
            "size_bytes",
            "file_count",
            "deployed_by",
            "created_at",
        ],
    )?;
    // v0.8's custom domains (`app_id` is the site's id, or its name before v0.10).
    go.select(
        "domains",
        &["domain", "app_id", "is_primary"],
        "ORDER BY domain",
        &[],
        |r| {
            let domain = text(r, 0).unwrap_or_default().to_ascii_lowercase();
            let Some(site) = site_of(go, imported, text(r, 1)) else {
                orphans += 1;
                return Ok(());
            };
            if domain.is_empty() {
                return Ok(());
            }
            let m =
                crate::hosting::domains::import(tx, &domain, &site, int(r, 2).unwrap_or(1) != 0)?;
            s.count("domains", m);
            Ok(())
        },
    )?;
    if orphans > 0 {
        s.notes.push(format!(
            "{orphans} KV/env/domain row(s) skipped: their site was not imported"
        ));
    }
    Ok(())
}

/// Rows of a Go table with an increasing `id` (the first column): those after the last one
/// imported from this Go database. `add` returns whether it imported the row.
fn append_only(
    go: &GoDb,
    tx: &Connection,
    s: &mut Summary,
    table: &str,
    kind: &'static str,
    mut add: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, ImportError>,
    cols: &[&str],
) -> Result<Option<i64>, ImportError> {
    let since = progress::last_id(tx, &go.identity, table)?;
    let (mut last, mut added, mut skipped, mut oldest) = (since, 0u64, 0u64, None::<i64>);
    go.select(table, cols, "WHERE id > ?1 ORDER BY id", &[&since], |r| {
        let id = int(r, 0).unwrap_or(0);
        last = last.max(id);
        if add(r)? {
            added += 1;
            if let Some(t) = time(r, cols.len() - 1) {
                oldest = Some(oldest.map_or(t, |o: i64| o.min(t)));
            }
        } else {
            skipped += 1;
        }
        Ok(())
    })?;
    // What earlier runs brought counts as unchanged.
    let before = progress::rows(tx, &go.identity, table)?;
    let t = s.tally(kind);
    t.added += added;
    t.skipped += skipped;
    t.same += before;
    if skipped > 0 {
        s.notes.push(format!(
            "{kind}: {skipped} row(s) skipped: their site was not imported"
        ));
    }
    progress::advance(tx, &go.identity, table, last, added)?;
    Ok(oldest)
}

#[cfg(feature = "analytics")]
pub fn analytics(
    go: &GoDb,
    tx: &Connection,
    imported: &Imported,
    opts: Options,
    s: &mut Summary,
) -> Result<(), ImportError> {
    let t = now();
    go.select(
        "redirects",
        &["slug", "destination", "tags", "click_count", "created_at"],
        "ORDER BY id",
        &[],
        |r| {
            let (slug, dest) = (
                text(r, 0).unwrap_or_default(),
                text(r, 1).unwrap_or_default(),
            );
            if slug.is_empty() || dest.is_empty() {
                s.skip(
                    "short links",
                    format!("short link '{slug}': no slug or destination"),
                );
                return Ok(());
            }
            let m = events::import_redirect(
                tx,
                &slug,
                &dest,
                text(r, 2).as_deref().filter(|t| !t.is_empty()),
                int(r, 3).unwrap_or(0),
                time(r, 4).unwrap_or(t),
            )?;
            s.count("short links", m);
            Ok(())
        },
    )?;
    go.select(
        "webhooks",
        &["name", "endpoint", "secret", "is_active", "created_at"],
        "ORDER BY id",
        &[],
        |r| {
            let endpoint = text(r, 1).unwrap_or_default();
            if endpoint.is_empty() {
                s.skip("webhooks", "a webhook without an endpoint".into());
                return Ok(());
            }
            let m = events::import_webhook(
                tx,
                &text(r, 0).unwrap_or_else(|| endpoint.clone()),
                &endpoint,
                &text(r, 2).unwrap_or_default(),
                int(r, 3).unwrap_or(1) != 0,
                time(r, 4).unwrap_or(t),
            )?;
            s.count("webhooks", m);
            Ok(())
        },
    )?;
    let mut mapper = EventMapper::new(opts.keep_addresses);
    let known: HashSet<String> = go
        .sites()?
        .into_iter()
        .map(|g| g.name.to_ascii_lowercase())
        .chain(imported.iter().cloned())
        .collect();
    let oldest = append_only(
        go,
        tx,
        s,
        "events",
        "events",
        |r| {
            let e = GoEvent {
                domain: text(r, 1),
                tags: text(r, 2),
                source_type: text(r, 3),
                event_type: text(r, 4),
                path: text(r, 5),
                referrer: text(r, 6),
                user_agent: text(r, 7),
                ip_address: text(r, 8),
                query_params: text(r, 9),
                created_at: time(r, 10).unwrap_or(0),
            };
            let row = mapper.row(e, |d| {
                let d = d.to_ascii_lowercase();
                let first = d.split('.').next().unwrap_or("").to_string();
                if known.contains(&d) {
                    Some(d)
                } else {
                    known.contains(&first).then_some(first)
                }
            });
            events::insert_event(tx, &row)?;
            Ok(true)
        },
        &[
            "id",
            "domain",
            "tags",
            "source_type",
            "event_type",
            "path",
            "referrer",
            "user_agent",
            "ip_address",
            "query_params",
            "created_at",
        ],
    )?;
    if let Some(oldest) = oldest {
        if !events::reroll_from(tx, oldest)? {
            s.notes.push(
                "events: some imported days are already rolled up here; those events are listed by /api/events but not counted in the stats".into(),
            );
        }
    }
    Ok(())
}

/// Without the analytics feature: Go's events, short links and webhooks are counted and
/// reported, not imported.
#[cfg(not(feature = "analytics"))]
pub fn analytics(
    go: &GoDb,
    _tx: &Connection,
    _imported: &Imported,
    _opts: Options,
    s: &mut Summary,
) -> Result<(), ImportError> {
    for (table, kind) in [
        ("events", "events"),
        ("redirects", "short links"),
        ("webhooks", "webhooks"),
    ] {
        let mut n = 0u64;
        go.select(table, &["1"], "", &[], |_| {
            n += 1;
            Ok(())
        })?;
        if n > 0 {
            s.tally(kind).skipped += n;
            s.notes.push(format!(
                "{kind}: {n} row(s) skipped: this fazt is built without analytics"
            ));
        }
    }
    Ok(())
}

pub fn tokens(go: &GoDb, tx: &Connection, s: &mut Summary) -> Result<(), ImportError> {
    go.select(
        "api_keys",
        &["name", "key_hash", "created_at", "last_used_at"],
        "ORDER BY id",
        &[],
        |r| {
            let hash = text(r, 1).unwrap_or_default();
            if hash.is_empty() {
                s.skip("tokens", "a token without a hash".into());
                return Ok(());
            }
            let name = text(r, 0).unwrap_or_else(|| "go-token".into());
            let m = crate::access::tokens::import_legacy(
                tx,
                &name,
                &hash,
                time(r, 2).unwrap_or_else(now),
                time(r, 3),
            )?;
            s.count("tokens", m);
            Ok(())
        },
    )?;
    if s.of("tokens").added > 0 {
        s.notes.push(
            "tokens: Go's tokens are bcrypt hashes and do not work here: they are listed with scope 'rotate'; create new ones (`fazt token create`) and revoke these".into(),
        );
    }
    Ok(())
}

/// certmagic kept `certificates/<issuer>-directory/<domain>/<domain>.crt` and `.key`; this
/// fazt keeps `certs/<directory host>/<domain>/cert.pem` and `key.pem`, and renews them.
#[cfg(feature = "acme")]
pub fn certificates(go: &GoDb, tx: &Connection, s: &mut Summary) -> Result<(), ImportError> {
    use crate::kernel::tls::{pem, store};
    use std::collections::BTreeMap;
    // (directory host, domain) → (chain, key)
    type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
    go.select(
        "certificates",
        &["key", "value"],
        "ORDER BY key",
        &[],
        |r| {
            let key = text(r, 0).unwrap_or_default();
            let parts: Vec<&str> = key.split('/').collect();
            if let ["certificates", issuer, domain, file] = parts[..] {
                let ns = issuer
                    .strip_suffix("-directory")
                    .unwrap_or(issuer)
                    .to_string();
                let slot = pairs.entry((ns, domain.to_string())).or_default();
                if *file == format!("{domain}.crt") {
                    slot.0 = Some(super::go_db::bytes(r, 1));
                } else if *file == format!("{domain}.key") {
                    slot.1 = Some(super::go_db::bytes(r, 1));
                }
            }
            Ok(())
        },
    )?;
    for ((ns, domain), pair) in pairs {
        let (Some(cert), Some(key)) = pair else {
            s.skip(
                "certificates",
                format!("certificate {domain}: its chain or key is missing"),
            );
            continue;
        };
        if let Err(e) = pem::load_pem(&cert, &key, &domain) {
            s.skip("certificates", format!("certificate {domain}: {e}"));
            continue;
        }
        let a = crate::https::store::import(tx, &store::cert_key(&ns, &domain), &cert)?;
        let b = crate::https::store::import(tx, &store::key_key(&ns, &domain), &key)?;
        s.count(
            "certificates",
            match (a, b) {
                (Merge::Same, Merge::Same) => Merge::Same,
                (Merge::Added, Merge::Added) => Merge::Added,
                _ => Merge::Kept,
            },
        );
    }
    Ok(())
}

#[cfg(not(feature = "acme"))]
pub fn certificates(go: &GoDb, _tx: &Connection, s: &mut Summary) -> Result<(), ImportError> {
    let mut n = 0u64;
    go.select("certificates", &["key"], "", &[], |_| {
        n += 1;
        Ok(())
    })?;
    if n > 0 {
        s.tally("certificates").skipped += n;
        s.notes.push(format!(
            "certificates: {n} certificate-store row(s) skipped: this fazt is built without HTTPS"
        ));
    }
    Ok(())
}

/// Go's server settings (`configurations`) have no one-to-one match here: listed, not set.
pub fn settings(go: &GoDb, s: &mut Summary) -> Result<(), ImportError> {
    let mut keys = Vec::new();
    go.select("configurations", &["key"], "ORDER BY key", &[], |r| {
        keys.extend(text(r, 0));
        Ok(())
    })?;
    if !keys.is_empty() {
        s.tally("settings").skipped += keys.len() as u64;
        s.notes.push(format!(
            "settings: Go's server settings ({}) are not imported: set what you need with `fazt config set` (`fazt config list` shows the options)",
            keys.join(", ")
        ));
    }
    Ok(())
}
