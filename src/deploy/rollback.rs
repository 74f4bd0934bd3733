//! Which deployment a site serves, switching it back to an earlier one, and how many stay
//! restorable. A deployment is restorable while its manifest is kept (the newest
//! [`DeployLimits::keep_deployments`](super::DeployLimits) of a site and the live one); the
//! contents only it named are then dropped from the store.
//!
//! The live deployment is the one this binary last switched the site to (`sites`), unless a
//! newer deployment without a manifest exists: an older fazt binary deployed it, replacing
//! the files, and it is live. Its files are adopted as its manifest before the next switch,
//! so it can be rolled back to as well.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::Connection;

use super::{history, refused, DeployError};
use crate::database::VERSIONS;
use crate::hosting::Sites;
use crate::kernel::db::Db;
use crate::kernel::vfs::versions::{self, Switch, SwitchError};

/// The deployment `site` serves, if it has any.
pub fn live(c: &Connection, site: &str) -> rusqlite::Result<Option<i64>> {
    let ids = history::ids_of(c, site)?;
    let Some(p) = Sites::deployment(c, site)?.filter(|p| ids.contains(p)) else {
        return Ok(ids.first().copied());
    };
    let newer: Vec<i64> = ids.iter().copied().filter(|&id| id > p).collect();
    let kept = versions::with_manifest(c, VERSIONS, &newer)?;
    Ok(Some(
        newer.into_iter().find(|id| !kept.contains(id)).unwrap_or(p),
    ))
}

/// Before a switch: the live deployment's files become its manifest if it has none.
pub fn adopt_live(c: &Connection, site: &str) -> rusqlite::Result<()> {
    if let Some(l) = live(c, site)? {
        if versions::with_manifest(c, VERSIONS, &[l])?.is_empty() {
            versions::adopt_live(c, VERSIONS, site, l)?;
        }
    }
    Ok(())
}

/// Forgets the manifests of `site`'s deployments beyond the newest `keep` that are older than
/// the live one, then drops contents nothing names any more.
pub fn prune(c: &Connection, site: &str, keep: usize) -> rusqlite::Result<()> {
    let live = live(c, site)?.unwrap_or(i64::MAX);
    let ids = history::ids_of(c, site)?;
    let old: Vec<i64> = ids
        .into_iter()
        .skip(keep.max(1))
        .filter(|&id| id < live)
        .collect();
    let kept: Vec<i64> = versions::with_manifest(c, VERSIONS, &old)?
        .into_iter()
        .collect();
    versions::forget(c, VERSIONS, &kept)?;
    versions::collect(c, VERSIONS)?;
    Ok(())
}

/// Deletes a site's files and its history's (the rows stay, as a record); contents other
/// sites' deployments still name are kept. Returns how many live files went.
pub fn forget_site(c: &Connection, site: &str) -> rusqlite::Result<usize> {
    versions::forget(c, VERSIONS, &history::ids_of(c, site)?)?;
    let sw = Switch::begin(c, VERSIONS, site)?;
    let files = sw.live_files();
    sw.finish()?;
    versions::collect(c, VERSIONS)?;
    Ok(files)
}

/// One deployment as listed for a site.
pub struct Listed {
    /// The row.
    pub deployment: history::Deployment,
    /// The site serves it.
    pub live: bool,
    /// Its files are kept: it can be rolled back to.
    pub restorable: bool,
}

/// `site`'s newest `limit` deployments, newest first, marked live and restorable.
pub fn list(db: &Db, site: &str, limit: i64) -> rusqlite::Result<Vec<Listed>> {
    db.read(|c| {
        let rows = history::of_site(c, site, limit)?;
        let live = live(c, site)?;
        let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
        let kept: HashSet<i64> = versions::with_manifest(c, VERSIONS, &ids)?;
        Ok(rows
            .into_iter()
            .map(|d| Listed {
                live: Some(d.id) == live,
                restorable: kept.contains(&d.id),
                deployment: d,
            })
            .collect())
    })
}

/// What a rollback did.
#[derive(Debug)]
pub struct RolledBack {
    /// The deployment live before.
    pub from: Option<i64>,
    /// The deployment live now.
    pub to: i64,
    /// Its files.
    pub file_count: u64,
}

/// Switches `site` to deployment `to` (default: the newest restorable one before the live
/// one) in one transaction.
pub fn rollback(
    db: &Arc<Db>,
    site: &str,
    to: Option<i64>,
    keep: usize,
) -> Result<RolledBack, DeployError> {
    let site = site.to_string();
    db.write_job(move |conn| -> Result<RolledBack, DeployError> {
        let internal =
            |e: rusqlite::Error| DeployError::Internal(format!("rollback of {site}: {e}"));
        let tx = conn.transaction().map_err(internal)?;
        adopt_live(&tx, &site).map_err(internal)?;
        let from = live(&tx, &site).map_err(internal)?;
        let target = match to {
            Some(id) => {
                if history::site_of(&tx, id).map_err(internal)?.as_deref() != Some(site.as_str()) {
                    return Err(refused(
                        404,
                        "NOT_FOUND",
                        format!("site '{site}' has no deployment {id}"),
                    ));
                }
                if Some(id) == from {
                    return Err(refused(
                        409,
                        "ALREADY_LIVE",
                        format!("deployment {id} is the one '{site}' serves"),
                    ));
                }
                if versions::with_manifest(&tx, VERSIONS, &[id])
                    .map_err(internal)?
                    .is_empty()
                {
                    return Err(refused(
                        409,
                        "NOT_RESTORABLE",
                        format!("deployment {id} of '{site}' is no longer kept (only the newest {keep} are)"),
                    ));
                }
                id
            }
            None => {
                let before: Vec<i64> = history::ids_of(&tx, &site)
                    .map_err(internal)?
                    .into_iter()
                    .filter(|&id| from.is_none_or(|f| id < f))
                    .collect();
                let kept = versions::with_manifest(&tx, VERSIONS, &before).map_err(internal)?;
                before.into_iter().find(|id| kept.contains(id)).ok_or_else(|| {
                    refused(
                        409,
                        "NO_EARLIER_DEPLOYMENT",
                        format!("site '{site}' has no earlier deployment kept to roll back to"),
                    )
                })?
            }
        };
        let entries = versions::entries(&tx, VERSIONS, target).map_err(internal)?;
        let mut sw = Switch::begin(&tx, VERSIONS, &site).map_err(internal)?;
        for e in &entries {
            sw.put_stored(e).map_err(|e| match e {
                SwitchError::Missing(path, _) => refused(
                    409,
                    "CONTENT_MISSING",
                    format!(
                        "deployment {target} cannot be restored: the content of {path} is no \
                         longer stored (an older fazt binary replaced the site's files)"
                    ),
                ),
                SwitchError::Db(e) => internal(e),
            })?;
        }
        let file_count = sw.finish().map_err(internal)?.len() as u64;
        Sites::set_deployment(&tx, &site, target).map_err(internal)?;
        versions::collect(&tx, VERSIONS).map_err(internal)?;
        tx.commit().map_err(internal)?;
        Ok(RolledBack {
            from,
            to: target,
            file_count,
        })
    })
    .map_err(|e| DeployError::Internal(e.to_string()))?
}
