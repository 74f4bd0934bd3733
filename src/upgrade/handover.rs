//! The zero-downtime restart: the running server starts the new release as its child with
//! the *same* listening sockets (inherited descriptors named in `FAZT_LISTEN_FDS`), waits
//! for it to report ready over a pipe (`FAZT_READY_FD`) within a deadline, and only then
//! stops accepting and drains. The sockets are never closed, so the kernel queues every
//! connection for whichever process accepts next: no client sees a refused connection.
//!
//! If the new process exits or stays silent past the deadline, it is stopped, the release
//! directory is rolled back and the old server simply goes on serving: it never stopped.
//!
//! After a hand-over, under systemd the old process names the new one the service's main
//! process (`MAINPID=`) and exits; elsewhere (a terminal, a container's PID 1) it stays as a
//! small parent that forwards SIGTERM/SIGINT and exits with the child's status.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::kernel::process;
use std::path::Path;

use crate::kernel::release::Version;

/// Inherited listeners: `role=fd,role=fd` (roles: `http`, `https`, `redirect`).
pub const FDS_ENV: &str = "FAZT_LISTEN_FDS";
/// The pipe the new process writes `ready` to.
pub const READY_ENV: &str = "FAZT_READY_FD";
/// How long a new release has to report ready.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// The listeners this process serves on, by role, for a later hand-over.
static LISTENERS: Mutex<Vec<(&'static str, RawFd)>> = Mutex::new(Vec::new());

/// Binds `addr` for `role`, or adopts the socket a predecessor handed over for that role.
pub fn listener(role: &'static str, addr: &str) -> std::io::Result<may::net::TcpListener> {
    let inherited = std::env::var(FDS_ENV).ok().and_then(|v| {
        v.split(',').find_map(|kv| {
            kv.strip_prefix(role)?
                .strip_prefix('=')?
                .parse::<RawFd>()
                .ok()
        })
    });
    let l = match inherited {
        Some(fd) => {
            let l = process::adopt_listener(fd)?;
            log::info!(
                "took over the {role} listener {} from the previous process",
                show(&l)
            );
            l
        }
        None => may::net::TcpListener::bind(addr)?,
    };
    if let Ok(mut v) = LISTENERS.lock() {
        v.retain(|(r, _)| *r != role);
        v.push((role, l.as_raw_fd()));
    }
    Ok(l)
}

fn show(l: &may::net::TcpListener) -> String {
    l.local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string())
}

/// Tells the predecessor (if it started us) that we serve now.
pub fn report_ready() {
    let Some(fd) = std::env::var(READY_ENV)
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok())
    else {
        return;
    };
    std::env::remove_var(READY_ENV);
    std::env::remove_var(FDS_ENV);
    match process::adopt_pipe(fd) {
        Ok(mut p) => {
            let _ = p.write_all(b"ready\n");
        }
        Err(e) => log::warn!("cannot report ready to the previous process: {e}"),
    }
}

/// Starts `release` as a child on this process's listeners and waits for it to report
/// ready. On success the child serves beside us; the caller stops accepting. On failure the
/// child is stopped and the reason returned; nothing else changed.
pub fn start_successor(binary: &Path, release: Option<&Version>) -> Result<Child, String> {
    let listeners = LISTENERS.lock().map(|v| v.clone()).unwrap_or_default();
    if listeners.is_empty() {
        return Err("no listener to hand over".into());
    }
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| format!("cannot make the ready pipe: {e}"))?;
    let wfd = writer.as_raw_fd();
    let fds: Vec<String> = listeners
        .iter()
        .map(|(r, fd)| format!("{r}={fd}"))
        .collect();
    let mut cmd = Command::new(binary);
    cmd.args(std::env::args_os().skip(1))
        .env(FDS_ENV, fds.join(","))
        .env(READY_ENV, wfd.to_string());
    match release {
        Some(v) => cmd.env(super::RELEASE_ENV, v.to_string()),
        None => cmd.env_remove(super::RELEASE_ENV),
    };
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        cmd.env(FOLLOWED_ENV, "1");
    }
    // The installed binary, for a later rollback to "no release" (see `launch`).
    if std::env::var_os(super::RELEASE_ENV).is_none() {
        if let Ok(me) = std::env::current_exe() {
            cmd.env(super::launch::LAUNCHER_ENV, me);
        }
    }
    // Inheritable only for this spawn: no other child may take the sockets.
    let inherit = |on: bool| {
        for (_, fd) in listeners.iter() {
            let _ = process::set_inheritable(*fd, on);
        }
        let _ = process::set_inheritable(wfd, on);
    };
    inherit(true);
    let spawned = cmd.spawn();
    inherit(false);
    drop(writer);
    let mut child = spawned.map_err(|e| format!("cannot start {}: {e}", binary.display()))?;

    // The pipe reads "ready" once the child serves, or EOF when it exits first.
    let (tx, rx) = crate::kernel::oneshot::channel();
    let _ = std::thread::Builder::new()
        .name("fazt-upgrade-ready".into())
        .spawn(move || {
            let mut buf = [0u8; 16];
            let n = reader.read(&mut buf).unwrap_or(0);
            let _ = tx.send(buf[..n].starts_with(b"ready"));
        });
    let start = Instant::now();
    let outcome = rx.recv_timeout(READY_DEADLINE);
    let why = match outcome {
        Some(true) => {
            log::info!(
                "restart: {} (pid {}) ready after {} ms",
                binary.display(),
                child.id(),
                start.elapsed().as_millis()
            );
            return Ok(child);
        }
        Some(false) => {
            let status = wait_briefly(&mut child);
            format!("it exited before reporting ready ({status})")
        }
        None => format!(
            "it did not report ready within {} s",
            READY_DEADLINE.as_secs()
        ),
    };
    stop(&mut child);
    Err(why)
}

fn wait_briefly(child: &mut Child) -> String {
    for _ in 0..50 {
        if let Ok(Some(s)) = child.try_wait() {
            return s.to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    "still running".into()
}

/// SIGTERM, up to 10 s to finish, then SIGKILL.
fn stop(child: &mut Child) {
    process::signal(child.id(), process::SIGTERM);
    for _ in 0..500 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Set on a successor started by a process that stays as the waiting parent: after its
/// own hand-over it just exits, and its successor is reaped by that first parent.
const FOLLOWED_ENV: &str = "FAZT_FOLLOWED";

/// Before starting a successor outside systemd: the first process of a chain of restarts
/// becomes the reaper of its descendants, so however many restarts follow, one small
/// waiting parent remains (the shell's or the container's process), not one per restart.
pub fn prepare_follow() {
    if std::env::var_os("NOTIFY_SOCKET").is_none() && std::env::var_os(FOLLOWED_ENV).is_none() {
        process::become_subreaper();
    }
}

/// Under systemd, makes the successor the service's main process (`MAINPID=`), so that
/// this process may exit without the service stopping. False elsewhere.
pub fn pass_main_pid(child: &Child) -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
        && crate::kernel::provision::sd_notify(&format!("MAINPID={}", child.id())).unwrap_or(false)
}

/// After a hand-over outside systemd: a successor of a waiting parent returns at once (the
/// parent reaps what follows); the first process stays, forwards SIGTERM/SIGINT/SIGHUP to
/// the serving process and returns its exit code.
pub fn follow(child: Child, signals: &mut signal_hook::iterator::Signals) -> i32 {
    if std::env::var_os(FOLLOWED_ENV).is_some() {
        return 0;
    }
    log::info!(
        "the new process {} serves now; waiting for it to exit",
        child.id()
    );
    drop(child);
    let mut last = 0;
    loop {
        for sig in signals.pending() {
            for pid in process::children() {
                process::signal(pid, sig);
            }
        }
        match process::reap() {
            process::Reaped::Exited(_, code) => last = code,
            process::Reaped::NoChildren => return last,
            process::Reaped::Running => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
