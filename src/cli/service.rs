//! `fazt service install|uninstall|start|stop|restart|status|logs`: installs fazt as a hardened systemd service
//! (binary, unit, database with an admin token printed once), idempotently; `--root DIR`
//! writes into a staging tree instead of the live system (and runs no systemctl).

use std::path::PathBuf;

use pico_args::Arguments;

use super::common::{finish, opt, wants_help, CliError, Help};
use crate::kernel::provision::{self, InstallPlan, UninstallPlan};
use crate::service_unit::{ServeFlags, PRODUCT};

const HELP: Help = Help("service");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let fail = |e: provision::ProvisionError| CliError::fail(e.to_string());
    match sub.as_deref() {
        Some("install") => {
            let domain = opt(&mut args, "--domain")?
                .ok_or_else(|| CliError::usage("service install needs --domain D"))?;
            let https = args.contains("--https");
            let email = opt(&mut args, "--email")?;
            let listen = opt(&mut args, "--listen")?;
            let root = opt(&mut args, "--root")?.unwrap_or_else(|| "/".into());
            let binary = opt(&mut args, "--binary")?;
            let backup_dir = opt(&mut args, "--backup-dir")?;
            finish(args, "service install")?;
            let flags = ServeFlags::new(&domain, listen.as_deref(), https, email.as_deref())
                .map_err(|e| CliError::usage(e.to_string()))?;
            let mut plan =
                InstallPlan::new(PathBuf::from(root), PRODUCT, flags.args()).map_err(fail)?;
            if let Some(b) = binary {
                plan.binary = PathBuf::from(b);
            }
            if let Some(dir) = backup_dir {
                let dir = PathBuf::from(dir);
                if !dir.is_absolute() {
                    return Err(CliError::usage(format!(
                        "--backup-dir {}: must be an absolute path",
                        dir.display()
                    )));
                }
                plan.args.push("--backup-dir".into());
                plan.args.push(dir.display().to_string());
                plan.writable_dirs.push(dir);
            }
            let create_db =
                |path: &std::path::Path| -> Result<Option<String>, provision::HookError> {
                    let db = crate::database::open(path)?;
                    let (_, token) =
                        crate::access::tokens::create(&db, "admin", crate::access::Scope::Admin)?;
                    // A new server's dashboard password, when someone is at the terminal
                    // (never from a pipe here: an unattended install must not wait on stdin).
                    if crate::kernel::terminal::stdin_is_tty() {
                        eprintln!("Choose the dashboard's password (at least 8 characters).");
                        match super::admin::read_new_password()
                            .and_then(|pw| crate::access::password::set(&db, &pw).map_err(CliError::fail))
                        {
                            Ok(()) => eprintln!("dashboard password set"),
                            Err(e) => eprintln!(
                                "dashboard password not set ({}): run `fazt admin set-password --db {}`",
                                e.message,
                                path.display()
                            ),
                        }
                    }
                    db.checkpoint();
                    Ok(Some(token))
                };
            let report = provision::install(&plan, &create_db).map_err(fail)?;
            println!(
                "binary:   {}{}",
                report.binary.display(),
                if report.binary_changed {
                    " (updated)"
                } else {
                    " (unchanged)"
                }
            );
            println!(
                "unit:     {}{}",
                report.unit.display(),
                if report.unit_changed {
                    " (updated)"
                } else {
                    " (unchanged)"
                }
            );
            println!(
                "database: {}{}",
                report.db.display(),
                if report.db_created {
                    " (created)"
                } else {
                    " (kept)"
                }
            );
            if let Some(t) = report.admin_token {
                println!("admin token (shown once): {t}");
            }
            if report.db_created && !crate::kernel::terminal::stdin_is_tty() {
                println!(
                    "dashboard: set its password with `fazt admin set-password --db {}`",
                    report.db.display()
                );
            }
            if report.service_started {
                println!("service fazt is enabled and running");
            }
            Ok(())
        }
        Some("uninstall") => {
            let purge = args.contains("--purge");
            let root = opt(&mut args, "--root")?.unwrap_or_else(|| "/".into());
            finish(args, "service uninstall")?;
            let report = provision::uninstall(&UninstallPlan {
                root: PathBuf::from(root),
                product: PRODUCT,
                purge,
            })
            .map_err(fail)?;
            for p in &report.removed {
                println!("removed {}", p.display());
            }
            if let Some(d) = report.kept_data {
                println!(
                    "kept the data in {} (use --purge to delete it)",
                    d.display()
                );
            }
            Ok(())
        }
        Some("status") => {
            finish(args, "service status")?;
            exit_code(provision::status(&PRODUCT).map_err(fail)?)
        }
        Some(verb @ ("start" | "stop" | "restart")) => {
            finish(args, "service")?;
            let what = match verb {
                "start" => provision::Control::Start,
                "stop" => provision::Control::Stop,
                _ => provision::Control::Restart,
            };
            exit_code(provision::control(&PRODUCT, what).map_err(fail)?)
        }
        Some("logs") => {
            let follow = args.contains(["-f", "--follow"]);
            let lines: Option<u32> = match opt(&mut args, "--lines")? {
                Some(v) => Some(
                    v.parse()
                        .map_err(|_| CliError::usage(format!("--lines: '{v}' is not a number")))?,
                ),
                None => None,
            };
            finish(args, "service logs")?;
            exit_code(provision::logs(&PRODUCT, follow, lines).map_err(fail)?)
        }
        _ => Err(CliError::usage(
            "usage: fazt service install|uninstall|start|stop|restart|status|logs (see `fazt service --help`)",
        )),
    }
}

fn exit_code(code: i32) -> Result<(), CliError> {
    if code == 0 {
        Ok(())
    } else {
        Err(CliError {
            code,
            message: format!("systemctl/journalctl exited with {code}"),
        })
    }
}
