//! `fazt logs SITE [-f]`: a site's script logs from fazt.db (what `console.log` and script
//! errors wrote), optionally following new lines as they arrive.

use std::time::Duration;

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError};

const HELP: &str = "\
fazt logs — show a site's script logs

USAGE:
    fazt logs SITE [-f] [--limit N] [--db PATH]

OPTIONS:
    -f, --follow   Keep printing new lines as they are written (Ctrl-C to stop)
    --limit N      How many of the latest lines to show first (default 100)
    --db PATH      Database file (env FAZT_DB, default ./fazt.db)
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
    let site: String = args
        .free_from_str()
        .map_err(|_| CliError::usage("usage: fazt logs SITE [-f]"))?;
    finish(args, "logs")?;
    let db = open_db(db_flag)?;
    let mut last = 0;
    let mut batch = fetch(&db, &site, 0, limit.clamp(1, 100_000))?;
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
        batch = fetch(&db, &site, last, 1000)?;
    }
}
