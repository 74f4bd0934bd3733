//! `fazt config get|set|list|unset` (and the Go version's `fazt set-config KEY VALUE`): the
//! server options stored in fazt.db, which `fazt serve` uses when neither a flag nor the
//! environment gives one. Only storable options are accepted, and `set` checks the value with
//! the parser the server uses before it writes anything. (Rules across options, such as
//! `email` needing `https`, are checked when the server starts.)

use pico_args::Arguments;

use super::common::{finish, open_db, open_existing_db, opt, wants_help, CliError};
use crate::config::{self, AnyOpt};
use crate::settings;

fn help() -> String {
    format!(
        "\
fazt config — the server options stored in fazt.db

USAGE:
    fazt config list                  every stored option, as KEY = VALUE
    fazt config get KEY               one stored value (exit 1 when not stored)
    fazt config set KEY VALUE         store a value (alias: fazt set-config KEY VALUE)
    fazt config unset KEY             remove it (the flag, environment or default applies)

OPTIONS:
    --db PATH   Database file (env FAZT_DB, default ./fazt.db)

`fazt serve` uses a stored option when neither its flag nor its environment variable
gives one, and reads them when it starts: restart it after a change. Values are checked
as the server checks them; lists (trusted_proxy) are comma-separated, switches
true/false. `fazt serve --help` describes each option.

KEYS:
{}",
        config::help::keys(&storable(), "    ")
    )
}

fn storable() -> Vec<&'static dyn AnyOpt> {
    config::serve::options()
        .into_iter()
        .filter(|o| o.spec().storable)
        .collect()
}

/// The storable option named `key`, or a usage error.
fn option(key: &str) -> Result<&'static dyn AnyOpt, CliError> {
    config::find_storable(&storable(), key).ok_or_else(|| {
        CliError::usage(format!(
            "unknown setting '{key}' (see `fazt config --help` for the keys)"
        ))
    })
}

fn db_failed(e: crate::kernel::db::DbError) -> CliError {
    CliError::fail(e.to_string())
}

fn free(args: &mut Arguments, what: &str) -> Result<String, CliError> {
    args.opt_free_from_str::<String>()
        .map_err(|e| CliError::usage(e.to_string()))?
        .ok_or_else(|| CliError::usage(format!("usage: fazt config {what}")))
}

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if args.contains(["-h", "--help"]) {
        print!("{}", help());
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    dispatch(sub.as_deref(), args)
}

/// `fazt set-config KEY VALUE`, as the Go version spelled `fazt config set`.
pub fn set_config(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, help()) {
        return Ok(());
    }
    dispatch(Some("set"), args)
}

fn dispatch(sub: Option<&str>, mut args: Arguments) -> Result<(), CliError> {
    let db_flag = opt(&mut args, "--db")?;
    match sub {
        Some("list") => {
            finish(args, "config list")?;
            let (db, _) = open_existing_db(db_flag)?;
            let keys = storable();
            for s in settings::list(&db).map_err(db_failed)? {
                // Only options: fazt's own entries (the analytics salt) stay private.
                if config::find_storable(&keys, &s.key).is_some() {
                    println!("{} = {}", s.key, s.value);
                }
            }
            Ok(())
        }
        Some("get") => {
            let o = option(&free(&mut args, "get KEY")?)?;
            finish(args, "config get")?;
            let (db, _) = open_existing_db(db_flag)?;
            let key = o.spec().key();
            match settings::get(&db, &key).map_err(db_failed)? {
                Some(v) => {
                    println!("{v}");
                    Ok(())
                }
                None => Err(CliError::fail(format!("{key} is not stored"))),
            }
        }
        Some("set") => {
            let o = option(&free(&mut args, "set KEY VALUE")?)?;
            let value = free(&mut args, "set KEY VALUE")?;
            finish(args, "config set")?;
            let key = o.spec().key();
            o.check(&value)
                .map_err(|e| CliError::usage(format!("{key}: {e}")))?;
            let db = open_db(db_flag)?;
            settings::set(&db, &key, &value).map_err(db_failed)?;
            println!("{key} = {value}");
            Ok(())
        }
        Some("unset") => {
            let o = option(&free(&mut args, "unset KEY")?)?;
            finish(args, "config unset")?;
            let (db, _) = open_existing_db(db_flag)?;
            let key = o.spec().key();
            if settings::unset(&db, &key).map_err(db_failed)? {
                println!("unset {key}");
            } else {
                println!("{key} was not stored");
            }
            Ok(())
        }
        _ => Err(CliError::usage(
            "usage: fazt config list|get|set|unset (see `fazt config --help`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_storable_serve_options() {
        assert_eq!(option("domain").unwrap().spec().key(), "domain");
        assert_eq!(
            option("max-conns-per-ip").unwrap().spec().key(),
            "max_conns_per_ip"
        );
        assert_eq!(option("--cache-mb").unwrap().spec().key(), "cache_mb");
        // Not storable, or not an option at all.
        for k in ["db", "log_level", "analytics_salt", ""] {
            let e = option(k).err().unwrap();
            assert_eq!(e.code, 2);
            assert!(e.message.contains("unknown setting"), "{}", e.message);
        }
        assert!(help().contains("trusted_proxy"));
    }
}
