//! What a `fazt serve` start runs, and what SIGHUP restarts into.
//!
//! At start: a trial that started once and never reported ready is rolled back; then the
//! current release runs instead of this binary when it is newer (exec, same arguments,
//! `FAZT_RELEASE` set so it does not launch again, `FAZT_LAUNCHER` naming this binary so a
//! rollback to "no release" can find it again).
//!
//! On SIGHUP (sent by `fazt upgrade`, or by the server itself after `POST
//! /api/system/upgrade`): when the release directory names another binary than the one
//! running, hand over to it ([`super::handover`]); a new release that fails to report ready
//! is rolled back and this process goes on serving.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;

use super::{handover, own_version, running_version, RELEASE_ENV};
use crate::kernel::release::{launch, Launch, Releases, RolledBack, Trial};

/// The installed binary a launched release was started from.
pub const LAUNCHER_ENV: &str = "FAZT_LAUNCHER";

fn log_rollback(version: &str, to: &RolledBack) {
    match to {
        RolledBack::To(prev) => log::error!(
            "upgrade: release {version} never reported ready; rolled back to release {prev}"
        ),
        RolledBack::ToInstalled => log::error!(
            "upgrade: release {version} never reported ready; rolled back to the installed binary"
        ),
    }
}

/// Runs the current release instead of this binary when it is newer; returns (to go on
/// as this binary) otherwise, or when the exec fails (logged).
pub fn at_start(db: &Path) {
    if std::env::var_os(RELEASE_ENV).is_some() {
        return;
    }
    let releases = Releases::beside(db);
    match launch(&releases, &own_version()) {
        Ok((what, rolled)) => {
            if let Some((v, to)) = rolled {
                log_rollback(&v, &to);
            }
            if let Launch::Exec(release) = what {
                let v = release.manifest.version.to_string();
                log::info!("running release {v} from {}", release.binary.display());
                let mut cmd = std::process::Command::new(&release.binary);
                cmd.args(std::env::args_os().skip(1)).env(RELEASE_ENV, &v);
                if let Ok(me) = std::env::current_exe() {
                    cmd.env(LAUNCHER_ENV, me);
                }
                let e = cmd.exec();
                log::error!("cannot run release {v}: {e}; going on as {}", own_version());
            }
        }
        Err(e) => log::warn!("release directory {}: {e}", releases.dir().display()),
    }
}

/// The binary a restart should run: the current release, else (a release running after a
/// rollback to "no release") the installed binary; `None` when that is what runs already.
fn restart_target(
    releases: &Releases,
) -> Option<(PathBuf, Option<crate::kernel::release::Version>)> {
    let running = running_version();
    match releases.current() {
        Some(cur) if cur.manifest.version != running => {
            Some((cur.binary, Some(cur.manifest.version)))
        }
        Some(_) => None,
        None => {
            let launcher = std::env::var_os(LAUNCHER_ENV).map(PathBuf::from)?;
            std::env::var_os(RELEASE_ENV).map(|_| (launcher, None))
        }
    }
}

/// Handles a SIGHUP: hands over to the binary the release directory names, if another.
/// Returns the successor when it serves (the caller drains and follows it).
pub fn restart(db: &Path) -> Option<Child> {
    let releases = Releases::beside(db);
    let Some((binary, version)) = restart_target(&releases) else {
        log::info!(
            "restart: fazt {} is already the current release; nothing to do",
            running_version()
        );
        return None;
    };
    let shown = version
        .as_ref()
        .map_or("the installed binary".to_string(), |v| {
            format!("release {v}")
        });
    let trial = version.as_ref().filter(|v| **v > running_version());
    if let Some(v) = trial {
        let _ = releases.set_trial(&Trial::Started(v.to_string()));
    }
    log::info!("restart: handing over to {shown} ({})", binary.display());
    handover::prepare_follow();
    match handover::start_successor(&binary, version.as_ref()) {
        Ok(child) => {
            let _ = releases.clear_trial();
            Some(child)
        }
        Err(why) => {
            log::error!("restart: {shown} failed: {why}");
            if trial.is_some() {
                match releases.lock().and_then(|l| releases.rollback(&l)) {
                    Ok(to) => {
                        let to = match to {
                            RolledBack::To(p) => format!("release {p}"),
                            RolledBack::ToInstalled => "the installed binary".into(),
                        };
                        log::error!(
                            "upgrade: rolled back to {to}; fazt {} goes on serving",
                            running_version()
                        );
                    }
                    Err(e) => log::error!("upgrade: rollback failed: {e}"),
                }
            }
            None
        }
    }
}
