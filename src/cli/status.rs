//! `fazt status`: what a database holds — sites, files, bytes stored, database size,
//! schema version, the newest backup and whether a replicator is attached. Reads only; safe while `serve` runs.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, wants_help, CliError, Help};
use crate::kernel::vfs::Vfs;

const HELP: Help = Help("status");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    finish(args, "status")?;
    let (db, path) = open_existing_db(db_flag)?;
    let fail =
        |e: &dyn std::fmt::Display| CliError::fail(format!("reading {}: {e}", path.display()));
    let vfs = Vfs::new(db.clone(), crate::database::FILES, 0);
    let sites = vfs.usage_by_site().map_err(|e| fail(&e))?;
    let (files, bytes) = sites
        .iter()
        .fold((0u64, 0u64), |(f, b), (_, u)| (f + u.files, b + u.bytes));
    println!("database:       {}", path.display());
    println!("schema version: {}", db.schema_version());
    println!("database size:  {}", human(db.file_size()));
    println!("sites:          {}", sites.len());
    println!("files:          {files}");
    println!("stored (VFS):   {}", human(bytes));
    println!("last backup:    {}", crate::backup::record::summary(&db));
    println!(
        "replication:    {}",
        if db.replicated() {
            "a replicator is attached (Litestream's tables are in the database)"
        } else {
            "none detected"
        }
    );
    if !sites.is_empty() {
        println!();
        println!("{:<32} {:>8} {:>12}", "SITE", "FILES", "SIZE");
        for (name, u) in &sites {
            println!("{name:<32} {:>8} {:>12}", u.files, human(u.bytes));
        }
    }
    let certs = certificates(&db).map_err(|e| fail(&e))?;
    if !certs.is_empty() {
        println!();
        println!(
            "{:<36} {:<30} {:<30} LAST ERROR",
            "CERTIFICATE", "EXPIRES", "NEXT RENEWAL"
        );
        for c in certs {
            println!("{:<36} {:<30} {:<30} {}", c.0, c.1, c.2, c.3);
        }
    }
    Ok(())
}

#[cfg(feature = "acme")]
fn date(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), crate::kernel::http_date::format)
}

/// (name, expiry, next renewal, last error) from the ACME metadata the kernel's certificate
/// store keeps (in `certificates`, through [`crate::https::store::DbCertStore`]).
#[cfg(feature = "acme")]
fn certificates(
    db: &std::sync::Arc<crate::kernel::db::Db>,
) -> Result<Vec<(String, String, String, String)>, crate::kernel::tls::store::StoreError> {
    use crate::kernel::tls::{renew::renew_at, store};
    let metas = store::stored_metas(&crate::https::store::DbCertStore(db.clone()))?;
    Ok(metas
        .into_iter()
        .map(|m| {
            // Renewal is due when a third of the lifetime remains (or at the retry time).
            let renew = m.retry_at.or(match (m.not_before, m.not_after) {
                (Some(b), Some(a)) => Some(renew_at(b, a)),
                _ => None,
            });
            (
                m.domain,
                date(m.not_after),
                date(renew),
                m.last_error.unwrap_or_default().chars().take(80).collect(),
            )
        })
        .collect())
}

/// Without TLS this binary never obtains certificates: nothing to list.
#[cfg(not(feature = "acme"))]
fn certificates(
    _db: &std::sync::Arc<crate::kernel::db::Db>,
) -> Result<Vec<(String, String, String, String)>, std::convert::Infallible> {
    Ok(Vec::new())
}

/// 1536 → "1.5 KiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}
