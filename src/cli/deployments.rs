//! `fazt deployments SITE` and `fazt rollback SITE [--to ID]`: a site's deployment history
//! and switching back, over the API (client commands, like `fazt deploy`).

use pico_args::Arguments;
use serde_json::{json, Value};

use super::common::{finish, opt, wants_help, CliError, Help};
use super::deploy::{api_error, call, connection};
use crate::client::http::ApiResponse;
use crate::kernel::civil::civil_from_days;

const DEPLOYMENTS_HELP: Help = Help("deployments");

const ROLLBACK_HELP: Help = Help("rollback");

fn site_arg(args: &mut Arguments, cmd: &str) -> Result<String, CliError> {
    args.free_from_str()
        .map_err(|_| CliError::usage(format!("{cmd} needs a SITE (see `fazt {cmd} --help`)")))
}

/// `YYYY-MM-DD HH:MM` UTC.
fn when(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
}

pub fn list(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, DEPLOYMENTS_HELP) {
        return Ok(());
    }
    let limit = opt(&mut args, "--limit")?;
    let flags = connection(&mut args)?;
    let site = site_arg(&mut args, "deployments")?;
    finish(args, "deployments")?;
    let limit = match limit {
        Some(l) => match l.parse::<u32>() {
            Ok(n) if n > 0 => format!("?limit={n}"),
            _ => return Err(CliError::usage(format!("--limit {l}: expected a count"))),
        },
        None => String::new(),
    };
    let conn = flags.resolve()?;
    let r = call(
        &conn,
        "GET",
        &format!("/api/sites/{site}/deployments{limit}"),
        b"",
        "",
        &mut |_, _| {},
    )?;
    if r.status != 200 {
        return Err(api_error(&conn, &r));
    }
    let v = r.json().unwrap_or(Value::Null);
    println!(
        "{:>6}  {:<16}  {:>6} {:>11}  {:<4} {:<4}  {:<12} MESSAGE",
        "ID", "WHEN (UTC)", "FILES", "BYTES", "LIVE", "KEPT", "BY"
    );
    for d in v["data"].as_array().into_iter().flatten() {
        let flag = |k: &str| if d[k] == true { "yes" } else { "" };
        println!(
            "{:>6}  {:<16}  {:>6} {:>11}  {:<4} {:<4}  {:<12} {}",
            d["id"],
            when(d["created_at"].as_i64().unwrap_or(0)),
            d["file_count"],
            d["size_bytes"],
            flag("live"),
            flag("restorable"),
            d["deployed_by"].as_str().unwrap_or(""),
            d["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub fn rollback(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, ROLLBACK_HELP) {
        return Ok(());
    }
    let to = opt(&mut args, "--to")?;
    let flags = connection(&mut args)?;
    let site = site_arg(&mut args, "rollback")?;
    finish(args, "rollback")?;
    let body = match to {
        Some(t) => match t.parse::<i64>() {
            Ok(id) => json!({ "to": id }).to_string(),
            Err(_) => {
                return Err(CliError::usage(format!(
                    "--to {t}: expected a deployment id"
                )))
            }
        },
        None => String::new(),
    };
    let conn = flags.resolve()?;
    let r = call(
        &conn,
        "POST",
        &format!("/api/sites/{site}/rollback"),
        body.as_bytes(),
        "application/json",
        &mut |_, _| {},
    )?;
    if r.status != 200 {
        return Err(api_error(&conn, &r));
    }
    let v = r.json().unwrap_or(Value::Null);
    let d = &v["data"];
    println!(
        "'{site}' now serves deployment {} ({} files; was {})",
        d["deployment_id"], d["file_count"], d["from"]
    );
    Ok(())
}
