//! `fazt status`: what a database holds — sites, files, bytes stored, database size and
//! schema version. Reads only; safe while `serve` runs.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, wants_help, CliError};

const HELP: &str = "\
fazt status — summarise a fazt database

USAGE:
    fazt status [--db PATH]

OPTIONS:
    --db PATH   Database file (env FAZT_DB, default ./fazt.db)
";

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    finish(args, "status")?;
    let (db, path) = open_existing_db(db_flag)?;
    let fail = |e: rusqlite::Error| CliError::fail(format!("reading {}: {e}", path.display()));
    let sites: Vec<(String, i64, i64)> = db
        .read(|c| {
            let mut st = c.prepare(
                "SELECT site_id, COUNT(*), COALESCE(SUM(size_bytes), 0) FROM files
                 GROUP BY site_id ORDER BY site_id",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .map_err(fail)?;
    let (files, bytes) = sites
        .iter()
        .fold((0i64, 0i64), |(f, b), s| (f + s.1, b + s.2));
    println!("database:       {}", path.display());
    println!("schema version: {}", db.schema_version());
    println!("database size:  {}", human(db.file_size()));
    println!("sites:          {}", sites.len());
    println!("files:          {files}");
    println!("stored (VFS):   {}", human(bytes.max(0) as u64));
    if !sites.is_empty() {
        println!();
        println!("{:<32} {:>8} {:>12}", "SITE", "FILES", "SIZE");
        for (name, n, b) in &sites {
            println!("{name:<32} {n:>8} {:>12}", human((*b).max(0) as u64));
        }
    }
    let certs = certificates(&db).map_err(fail)?;
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

fn date(t: Option<i64>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| {
            httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
            )
        },
    )
}

/// (name, expiry, next renewal, last error) from the ACME metadata kept in `certificates`.
fn certificates(
    db: &crate::kernel::db::Db,
) -> rusqlite::Result<Vec<(String, String, String, String)>> {
    let rows: Vec<Vec<u8>> = db.read(|c| {
        let mut st = c.prepare(
            "SELECT value FROM certificates WHERE key LIKE 'certs/%/meta.json' ORDER BY key",
        )?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.collect()
    })?;
    Ok(rows
        .iter()
        .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(raw).ok())
        .map(|m| {
            let (nb, na) = (m["not_before"].as_i64(), m["not_after"].as_i64());
            // Renewal is due when a third of the lifetime remains (or at the retry time).
            let renew = m["retry_at"].as_i64().or(match (nb, na) {
                (Some(b), Some(a)) => Some(a - (a - b) / 3),
                _ => None,
            });
            (
                m["domain"].as_str().unwrap_or("?").to_string(),
                date(na),
                date(renew),
                m["last_error"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect(),
            )
        })
        .collect())
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
