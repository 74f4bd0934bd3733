//! `fazt token create|list|revoke`: manage API tokens directly in the database (on the
//! server; safe while `serve` runs, the server sees changes at the next request).

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError, Help};
use crate::access::tokens::{self, Scope};

const HELP: Help = Help("token");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let db_flag = opt(&mut args, "--db")?;
    match sub.as_deref() {
        Some("create") => {
            let name = opt(&mut args, "--name")?
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| CliError::usage("token create needs --name NAME"))?;
            let scope_s = opt(&mut args, "--scope")?.unwrap_or_else(|| "deploy".into());
            let scope = Scope::parse(&scope_s).ok_or_else(|| {
                CliError::usage(format!("--scope must be deploy or admin, not '{scope_s}'"))
            })?;
            finish(args, "token create")?;
            let db = open_db(db_flag)?;
            let (id, token) = tokens::create(&db, name.trim(), scope).map_err(CliError::fail)?;
            eprintln!(
                "created token {id} '{}' (scope {}); it is shown only once:",
                name.trim(),
                scope.as_str()
            );
            println!("{token}");
            Ok(())
        }
        Some("list") => {
            finish(args, "token list")?;
            let db = open_db(db_flag)?;
            let rows = tokens::list(&db).map_err(|e| CliError::fail(e.to_string()))?;
            println!(
                "{:>4}  {:<24} {:<7} {:<20} LAST USED",
                "ID", "NAME", "SCOPE", "CREATED"
            );
            let rows_need_rotation = rows.iter().any(|k| k.scope == tokens::ROTATE);
            for k in rows {
                println!(
                    "{:>4}  {:<24} {:<7} {:<20} {}",
                    k.id,
                    k.name,
                    k.scope,
                    fmt_time(k.created_at),
                    k.last_used_at.map_or_else(|| "never".into(), fmt_time)
                );
            }
            if rows_need_rotation {
                println!(
                    "Tokens of scope '{}' came from Go fazt and no longer work: create new ones and revoke these.",
                    tokens::ROTATE
                );
            }
            Ok(())
        }
        Some("revoke") => {
            let target: String = args
                .free_from_str()
                .map_err(|_| CliError::usage("token revoke needs an ID or NAME"))?;
            finish(args, "token revoke")?;
            let db = open_db(db_flag)?;
            match tokens::revoke(&db, &target).map_err(CliError::fail)? {
                0 => Err(CliError::fail(format!("no token '{target}'"))),
                n => {
                    println!("revoked {n} token(s)");
                    Ok(())
                }
            }
        }
        _ => Err(CliError::usage(
            "usage: fazt token create|list|revoke (see `fazt token --help`)",
        )),
    }
}

fn fmt_time(t: i64) -> String {
    crate::kernel::http_date::format(t)
}
