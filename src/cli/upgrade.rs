//! `fazt upgrade`: check for, verify, self-test and install a signed release, then have the
//! running server hand over to it; `--rollback` returns to the previous one. The release
//! source and trusted key are settings (`fazt config set release_source …`, `trust_key`, or
//! their `FAZT_*` variables), never arguments, so the API and the CLI use the same ones.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, CliError, Help};
use crate::config::sources::Sources;
use crate::kernel::process;
use crate::kernel::release::{Releases, RolledBack, Trial, Version};
use crate::upgrade::{running_version, Request, UpgradeError, Upgrader, TARGET};

const HELP: Help = Help("upgrade");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if args.contains(["-h", "--help"]) {
        print!("{HELP}");
        return Ok(());
    }
    let check = args.contains("--check");
    let rollback = args.contains("--rollback");
    let allow_downgrade = args.contains("--allow-downgrade");
    let to = opt(&mut args, "--to")?
        .map(|v| Version::parse(&v).map_err(CliError::usage))
        .transpose()?;
    let from = opt(&mut args, "--from")?.map(std::path::PathBuf::from);
    let db_flag = opt(&mut args, "--db")?;
    finish(args, "upgrade")?;
    if [check, rollback, to.is_some() || from.is_some()]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
        || (to.is_some() && from.is_some())
    {
        return Err(CliError::usage(
            "give one of --check, --rollback, --to VERSION or --from FILE",
        ));
    }
    let (db, path) = open_existing_db(db_flag)?;
    let opts = crate::config::upgrade::OPTIONS;
    let src = Sources::from_args(&mut Arguments::from_vec(Vec::new()), opts)
        .map_err(CliError::usage)?
        .load_stored(&db)
        .map_err(CliError::fail)?;
    let settings = crate::config::upgrade::resolve(&src).map_err(CliError::usage)?;
    drop(db);
    let mut up = Upgrader::new(&path, settings);
    up.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let releases = up.releases();

    if check {
        println!("running:   fazt {} ({TARGET})", running_version());
        if let Some(c) = releases.current() {
            println!(
                "installed: release {} in {}",
                c.manifest.version,
                releases.dir().display()
            );
        }
        let avail = up.available().map_err(fail)?;
        let note = if avail > running_version() {
            "upgrade with `fazt upgrade`"
        } else {
            "up to date"
        };
        println!("available: {avail} ({note})");
        return Ok(());
    }
    if rollback {
        let lock = releases.lock().map_err(|e| CliError::fail(e.to_string()))?;
        let to = releases
            .rollback(&lock)
            .map_err(|e| CliError::fail(e.to_string()))?;
        drop(lock);
        crate::upgrade::match_owner(releases.dir(), &path);
        match &to {
            RolledBack::To(v) => println!("rolled back: release {v} is current"),
            RolledBack::ToInstalled => println!("rolled back: the installed binary runs"),
        }
        return restart_server(&path, &releases, None);
    }

    let req = Request {
        to,
        from,
        allow_downgrade,
    };
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("fetching and verifying the release…");
    }
    let verified = match up.fetch(&req) {
        Err(UpgradeError::Current(v)) => {
            println!("fazt {v} is already running: nothing to do");
            return Ok(());
        }
        other => other.map_err(fail)?,
    };
    let v = verified.manifest.version.clone();
    println!(
        "verified: release {v} ({} bytes, sha256 ok, signature ok); self-testing on a copy of the database",
        verified.manifest.size
    );
    up.install(&verified).map_err(fail)?;
    println!("installed: release {v} is current (previous kept for --rollback)");
    restart_server(&path, &releases, Some(&v))
}

fn fail(e: UpgradeError) -> CliError {
    match e {
        UpgradeError::Usage(m) => CliError::usage(m),
        other => CliError::fail(other.to_string()),
    }
}

/// Tells the server serving `db` (if one runs a binary that can restart itself) to hand
/// over to what the release directory names now, and reports how that went.
fn restart_server(
    db: &std::path::Path,
    releases: &Releases,
    version: Option<&Version>,
) -> Result<(), CliError> {
    let me = std::env::current_exe().ok();
    let servers = super::common::servers_on(db);
    if servers.is_empty() {
        println!(
            "no server is running on {}: the next `fazt serve` runs it",
            db.display()
        );
        return Ok(());
    }
    for pid in servers {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let ours = exe.as_ref().is_some_and(|e| {
            e.starts_with(releases.dir())
                || me
                    .as_ref()
                    .is_some_and(|m| crate::kernel::backup::same_file(m, e))
        });
        if !ours {
            println!(
                "the server (pid {pid}) runs an older binary that cannot restart itself: \
                 restart it (e.g. systemctl restart fazt) to run the new release"
            );
            continue;
        }
        if !process::signal(pid, process::SIGHUP) {
            println!("cannot signal the server (pid {pid}): restart it to run the new release");
            continue;
        }
        println!("restarting the server (pid {pid})…");
        let Some(v) = version else {
            return Ok(());
        };
        // The server clears the trial once the new release reported ready, or rolls back.
        let deadline = std::time::Instant::now()
            + crate::upgrade::handover::READY_DEADLINE
            + std::time::Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if matches!(
                releases.trial(),
                Some(Trial::Pending(_) | Trial::Started(_))
            ) {
                continue;
            }
            return match releases.current() {
                Some(c) if &c.manifest.version == v => {
                    println!("release {v} is serving");
                    Ok(())
                }
                _ => Err(CliError::fail(format!(
                    "release {v} did not start and was rolled back; the server goes on \
                     serving (see its log)"
                ))),
            };
        }
        return Err(CliError::fail(
            "the server has not restarted yet; see its log",
        ));
    }
    Ok(())
}
