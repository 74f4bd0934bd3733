//! `fazt vacuum`: compacts the database file (SQLite `VACUUM`) and switches an older
//! database to incremental auto-vacuum, after which the server gives freed pages back by
//! itself. Safe while `serve` runs (writes wait for it), but it needs free disk of about the
//! database's size and holds the write lock until done.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, wants_help, CliError, Help};
use super::status::human;

const HELP: Help = Help("vacuum");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    finish(args, "vacuum")?;
    let (db, path) = open_existing_db(db_flag)?;
    let (before, after) = db
        .vacuum()
        .map_err(|e| CliError::fail(format!("VACUUM of {} failed: {e}", path.display())))?;
    println!("{}: {} → {}", path.display(), human(before), human(after));
    Ok(())
}
