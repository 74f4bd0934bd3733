//! `fazt admin`: the dashboard's password, sessions and files, on the server's database (safe
//! while `serve` runs: logins read the password and sessions from the database each time).

use std::time::Instant;

use pico_args::Arguments;

use super::common::{finish, open_db, opt, wants_help, CliError, Help};
use crate::access::{password, sessions};
use crate::dashboard;
use crate::kernel::terminal;

const HELP: Help = Help("admin");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let db_flag = opt(&mut args, "--db")?;
    let Some(sub) = sub else {
        print!("{HELP}");
        return Err(CliError::usage("fazt admin needs a command"));
    };
    finish(args, &format!("admin {sub}"))?;
    match sub.as_str() {
        "set-password" => {
            let pw = read_new_password()?;
            let db = open_db(db_flag)?;
            let t = Instant::now();
            password::set(&db, &pw).map_err(CliError::fail)?;
            let took = t.elapsed();
            let ended = sessions::revoke_all(&db).map_err(|e| CliError::fail(e.to_string()))?;
            eprintln!(
                "password set (PBKDF2-SHA256, {} iterations, {:.2} s here); {ended} session(s) ended",
                password::ITERATIONS,
                took.as_secs_f64()
            );
            Ok(())
        }
        "reset-password" => {
            let db = open_db(db_flag)?;
            let pw = random_password()?;
            password::set(&db, &pw).map_err(CliError::fail)?;
            let ended = sessions::revoke_all(&db).map_err(|e| CliError::fail(e.to_string()))?;
            eprintln!("new password (shown only once); {ended} session(s) ended:");
            println!("{pw}");
            Ok(())
        }
        "reset-ui" => {
            let db = open_db(db_flag)?;
            dashboard::seed(&db, true).map_err(CliError::fail)?;
            eprintln!(
                "site admin is the built-in dashboard again (a running server serves it after its restart)"
            );
            Ok(())
        }
        other => Err(CliError::usage(format!(
            "unknown admin command '{other}' (see `fazt admin --help`)"
        ))),
    }
}

/// The new password from the terminal (typed twice) or the first line of stdin.
pub(super) fn read_new_password() -> Result<String, CliError> {
    let read = |prompt: &str| {
        terminal::read_secret(prompt)
            .map_err(|e| CliError::fail(format!("reading the password: {e}")))
    };
    let pw = read("New dashboard password: ")?;
    password::check_new(&pw).map_err(CliError::usage)?;
    if terminal::stdin_is_tty() && read("Again: ")? != pw {
        return Err(CliError::usage("the two passwords differ; nothing changed"));
    }
    Ok(pw)
}

/// 20 characters from a 32-letter alphabet without look-alikes: 100 bits.
fn random_password() -> Result<String, CliError> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";
    let mut raw = [0u8; 20];
    getrandom::getrandom(&mut raw).map_err(|e| CliError::fail(format!("no randomness: {e}")))?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[(b % 32) as usize] as char)
        .collect())
}
