//! `fazt run SITE [--path /x]`: runs a site's script once, locally against fazt.db, and
//! prints the response — handy for debugging on the board. KV writes and logs are real.

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError, Help};

const HELP: Help = Help("run");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    let path = opt(&mut args, "--path")?.unwrap_or_else(|| "/".into());
    let method = opt(&mut args, "--method")?
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    let body = opt(&mut args, "--body")?.unwrap_or_default();
    let site: String = args
        .free_from_str()
        .map_err(|_| CliError::usage("usage: fazt run SITE [--path /x]"))?;
    finish(args, "run")?;
    if !path.starts_with('/') {
        return Err(CliError::usage("--path must start with /"));
    }
    let db = open_db(db_flag)?;
    execute(db, &site, &method, &path, body)
}

#[cfg(feature = "js")]
fn execute(
    db: std::sync::Arc<crate::kernel::db::Db>,
    site: &str,
    method: &str,
    target: &str,
    body: String,
) -> Result<(), CliError> {
    use crate::scripts::host::{DbHost, DEFAULT_SITE_KV_BYTES};
    use crate::serverless::{select_script, Engine, JsRequest, Limits};
    use std::sync::Arc;

    let vfs = Arc::new(crate::kernel::vfs::Vfs::new(
        db.clone(),
        crate::database::FILES,
        0,
    ));
    let host = DbHost::new(db.clone(), DEFAULT_SITE_KV_BYTES, Default::default());
    let sockets = host.sockets.clone();
    let host = Arc::new(host);
    let engine = Engine::new(
        host,
        Limits {
            threads: 1,
            ..Limits::default()
        },
    )
    .map_err(|e| CliError::fail(format!("cannot start the JS engine: {e}")))?;
    let scripts = crate::scripts::Scripts::new(engine, vfs, db.clone(), sockets);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let has = |k| scripts.load(site, k).map(|s| s.is_some());
    let kind = select_script(
        path,
        has(crate::serverless::ScriptKind::Main).map_err(CliError::fail)?,
        has(crate::serverless::ScriptKind::Api).map_err(CliError::fail)?,
    )
    .ok_or_else(|| {
        CliError::fail(format!(
            "site '{site}' has no main.js (or api/main.js for {path})"
        ))
    })?;
    let script = scripts
        .load(site, kind)
        .map_err(CliError::fail)?
        .ok_or_else(|| CliError::fail("script vanished"))?;
    let env = crate::scripts::env::values(&db, site).map_err(|e| CliError::fail(e.to_string()))?;
    let req = JsRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: vec![
            ("Host".into(), format!("{site}.localhost")),
            ("User-Agent".into(), "fazt-run".into()),
        ],
        body: body.into_bytes(),
    };
    match scripts.engine.run(&script, &env, req) {
        Ok(r) => {
            println!(
                "{} {}",
                r.status,
                crate::kernel::http::response::reason(r.status)
            );
            for (k, v) in &r.headers {
                println!("{k}: {v}");
            }
            println!();
            println!("{}", String::from_utf8_lossy(&r.body));
            Ok(())
        }
        Err(e) => Err(CliError::fail(format!("{} ({})", e, e.http_status()))),
    }
}

#[cfg(not(feature = "js"))]
fn execute(
    _db: std::sync::Arc<crate::kernel::db::Db>,
    _site: &str,
    _m: &str,
    _p: &str,
    _b: String,
) -> Result<(), CliError> {
    Err(CliError::fail(
        "this fazt was built without the `js` feature",
    ))
}
