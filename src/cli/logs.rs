//! `fazt logs SITE [-f]`: a site's script logs (what `console.log` and script errors wrote),
//! optionally following new lines as they arrive — from fazt.db, or from a remote server
//! over the API with the saved client settings (`--server`, or no local database).

use std::time::Duration;

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError, Help};

const HELP: Help = Help("logs");

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
            let when = crate::kernel::http_date::format(*t);
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
