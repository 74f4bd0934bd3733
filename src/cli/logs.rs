//! `fazt logs SITE [-f]`: a site's script logs (what `console.log` and script errors wrote),
//! optionally following new lines as they arrive — from fazt.db, or from a remote server
//! over the API with the saved client settings (`--server`, or no local database).

use std::time::Duration;

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError};

const HELP: &str = "\
fazt logs — show a site's script logs

USAGE:
    fazt logs SITE [-f] [--limit N] [--db PATH]
    fazt logs SITE [-f] [--limit N] --server URL [--token T]

OPTIONS:
    -f, --follow   Keep printing new lines as they are written (Ctrl-C to stop)
    --limit N      How many of the latest lines to show first (default 100)
    --db PATH      Database file (env FAZT_DB, default ./fazt.db)
    --server URL   Read them from this server's API instead (admin token; env FAZT_SERVER,
                   or the server saved by `fazt client set-auth-token`, used when there is
                   no local database)
    --token T      API token (env FAZT_TOKEN, else the one saved for the server)
";

type Line = (i64, i64, String, String);

fn fetch(
    db: &crate::kernel::db::Db,
    site: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Line>, CliError> {
    let rows = crate::scripts::logs::recent(db, site, after, limit)
        .map_err(|e| CliError::fail(format!("reading logs: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|l| (l.id, l.created_at, l.level, l.message))
        .collect())
}

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let follow = args.contains(["-f", "--follow"]);
    let db_flag = opt(&mut args, "--db")?;
    let limit: i64 = match opt(&mut args, "--limit")? {
        Some(v) => v
            .parse()
            .map_err(|_| CliError::usage(format!("--limit: '{v}' is not a number")))?,
        None => 100,
    };
    let flags = super::deploy::connection(&mut args)?;
    let server_given =
        flags.server.is_some() || std::env::var("FAZT_SERVER").is_ok_and(|v| !v.is_empty());
    let site: String = args
        .free_from_str()
        .map_err(|_| CliError::usage("usage: fazt logs SITE [-f]"))?;
    finish(args, "logs")?;
    let limit = limit.clamp(1, 100_000);
    // Local unless a server is named, or there is no local database but a saved server.
    let local = !server_given
        && (db_flag.is_some()
            || super::common::db_path(None).exists()
            || crate::client::config::ClientConfig::load()
                .map_or(true, |c| c.default_server.is_none()));
    let mut source: Box<dyn FnMut(i64, i64) -> Result<Vec<Line>, CliError>> = if local {
        let db = open_db(db_flag)?;
        Box::new(move |after, n| fetch(&db, &site, after, n))
    } else {
        let conn = flags.resolve()?;
        Box::new(move |after, n| remote(&conn, &site, after, n))
    };
    let mut last = 0;
    let mut batch = source(0, limit)?;
    loop {
        for (id, t, level, msg) in &batch {
            let when = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + Duration::from_secs((*t).max(0) as u64),
            );
            println!("{when} {level:<5} {msg}");
            last = *id;
        }
        if !follow {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
        batch = source(last, 1000)?;
    }
}

/// The lines after `after` (or the latest `limit`) from the server's API.
fn remote(
    conn: &super::deploy::Conn,
    site: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Line>, CliError> {
    let path = format!(
        "/api/sites/{site}/logs?limit={}&after={after}",
        limit.min(1000)
    );
    let r = super::deploy::call(conn, "GET", &path, b"", "", &mut |_, _| {})?;
    if r.status != 200 {
        return Err(super::deploy::api_error(conn, &r));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| CliError::fail(format!("the server's answer is not JSON: {e}")))?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["id"].as_i64().unwrap_or(0),
                l["created_at"].as_i64().unwrap_or(0),
                l["level"].as_str().unwrap_or("").to_string(),
                l["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect())
}
