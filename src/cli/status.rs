//! `fazt status`: what a database holds — sites, files, bytes stored, database size and
//! schema version. Reads only; safe while `serve` runs.

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError};

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
    let path = super::common::db_path(db_flag.clone());
    if !path.exists() {
        return Err(CliError::fail(format!(
            "no database at {} (start `fazt serve` once, or pass --db)",
            path.display()
        )));
    }
    let db = open_db(db_flag)?;
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
    Ok(())
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
