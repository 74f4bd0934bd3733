//! The few process-level calls a zero-downtime restart needs and std does not offer:
//! letting a listening socket (or a pipe) survive into a child process, adopting such a
//! descriptor in the child, and signalling a process. Also who holds a file's `flock`
//! (from `/proc/locks`), to find the server that has a database open.
//!
//! A restart hands the *same* listening sockets to the new process: the kernel keeps
//! queueing connections on them the whole time, so no client ever sees a refused connection
//! while the old process drains and the new one takes over.

use std::io;
use std::os::fd::RawFd;

extern "C" {
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn prctl(option: i32, ...) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
}
const PR_SET_CHILD_SUBREAPER: i32 = 36;
const WNOHANG: i32 = 1;
const ECHILD: i32 = 10;
const F_GETFD: i32 = 1;
const F_SETFD: i32 = 2;
const FD_CLOEXEC: i32 = 1;

/// SIGTERM.
pub const SIGTERM: i32 = 15;
/// SIGHUP.
pub const SIGHUP: i32 = 1;

/// Sets or clears close-on-exec on `fd` (cleared: a spawned child inherits it).
pub fn set_inheritable(fd: RawFd, inherit: bool) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD read and write the descriptor's flags only; a bad fd is EBADF.
    unsafe {
        let flags = fcntl(fd, F_GETFD);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let new = if inherit {
            flags & !FD_CLOEXEC
        } else {
            flags | FD_CLOEXEC
        };
        if fcntl(fd, F_SETFD, new) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Adopts the listening TCP socket a parent passed as descriptor `fd`, for the HTTP edge.
/// Refuses a descriptor that is not open or not a TCP socket (a mistyped environment
/// variable must not make us own some other file).
pub fn adopt_listener(fd: RawFd) -> io::Result<may::net::TcpListener> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let std_listener = adopt_std_listener(fd)?;
    let fd = std_listener.into_raw_fd();
    // SAFETY: `fd` is a TCP socket we now own alone (just released from the std listener).
    Ok(unsafe { may::net::TcpListener::from_raw_fd(fd) })
}

fn adopt_std_listener(fd: RawFd) -> io::Result<std::net::TcpListener> {
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is a standard stream, not a listener"),
        ));
    }
    // SAFETY: F_GETFD only checks the descriptor is open. Ownership is taken once: the
    // caller reads each descriptor number from its environment a single time.
    let open = unsafe { fcntl(fd, F_GETFD) } >= 0;
    if !open {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("descriptor {fd} is not open"),
        ));
    }
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor is open and, per the restart protocol, ours alone.
    let l = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    // A listening socket has a local address; a pipe or file fails here.
    l.local_addr()?;
    set_inheritable(fd, false)?;
    Ok(l)
}

/// Opens the write end of a pipe a parent passed as descriptor `fd`.
pub fn adopt_pipe(fd: RawFd) -> io::Result<std::fs::File> {
    if fd < 3 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a pipe"));
    }
    // SAFETY: as in `adopt_listener`.
    if unsafe { fcntl(fd, F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: open, and handed to us alone.
    let f = unsafe { std::fs::File::from_raw_fd(fd) };
    set_inheritable(fd, false)?;
    Ok(f)
}

/// Sends `sig` to process `pid`; false when it does not exist or may not be signalled.
pub fn signal(pid: u32, sig: i32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill takes plain integers; a positive pid names one process.
    unsafe { kill(pid, sig) == 0 }
}

/// Makes this process the reaper of its orphaned descendants: when a child exits, the
/// child's own children become ours (so a chain of restarts keeps one waiting parent, not
/// one per restart). False where the kernel refuses.
pub fn become_subreaper() -> bool {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument.
    unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1u64) == 0 }
}

/// What [`reap`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child exited: its pid and exit code (128 + signal when killed by one).
    Exited(u32, i32),
    /// Children run, none has exited.
    Running,
    /// No child is left.
    NoChildren,
}

/// Reaps one exited child, if any, without blocking.
pub fn reap() -> Reaped {
    let mut status = 0i32;
    // SAFETY: waitpid writes one int through a valid pointer.
    let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
    match pid {
        0 => Reaped::Running,
        p if p > 0 => Reaped::Exited(p as u32, exit_code(status)),
        _ if io::Error::last_os_error().raw_os_error() == Some(ECHILD) => Reaped::NoChildren,
        _ => Reaped::Running,
    }
}

/// A wait status as a shell shows it: the exit code, or 128 + the signal that killed it.
fn exit_code(status: i32) -> i32 {
    if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    }
}

/// This process's children (from `/proc/self/task/*/children`).
pub fn children() -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The processes holding a `flock` on the file at `path` (read from `/proc/locks`, which
/// names each lock's holder and the file's device and inode), excluding this process.
pub fn lock_holders(path: &std::path::Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    // /proc/locks is generated page by page from a list other processes change all the
    // time (SQLite takes and drops POSIX locks on every transaction), so one read can skip
    // a line: read it a few times and take every holder seen.
    let mut out = Vec::new();
    for _ in 0..4 {
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            break;
        };
        for p in holders_in(&locks, meta.dev(), meta.ino()) {
            if p != std::process::id() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Parses `/proc/locks` lines (`1: FLOCK  ADVISORY  READ 1234 08:01:56789 0 EOF`) for locks
/// on device `dev`, inode `ino`.
fn holders_in(locks: &str, dev: u64, ino: u64) -> Vec<u32> {
    // The device as /proc/locks writes it: major:minor in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let mut out = Vec::new();
    for line in locks.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A blocked waiter's line starts with "->" and shifts the fields by one.
        let f = if f.get(1) == Some(&"->") {
            &f[1..]
        } else {
            &f[..]
        };
        if f.len() < 6 || f[1] != "FLOCK" {
            continue;
        }
        let Some((pid, id)) = f[4].parse::<u32>().ok().zip(Some(f[5])) else {
            continue;
        };
        let mut parts = id.split(':');
        let (Some(ma), Some(mi), Some(i)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u64::from_str_radix(ma, 16).ok() == Some(major)
            && u64::from_str_radix(mi, 16).ok() == Some(minor)
            && i.parse::<u64>().ok() == Some(ino);
        if same && !out.contains(&pid) {
            out.push(pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_name_their_holders() {
        let dev = (8u64 << 8) | 1;
        let text = "1: FLOCK  ADVISORY  READ  1234 08:01:56789 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 99 08:01:56789 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 77 08:02:56789 0 EOF\n\
                    4: -> FLOCK  ADVISORY  WRITE 555 08:01:56789 0 EOF\n\
                    garbage\n";
        assert_eq!(holders_in(text, dev, 56789), vec![1234, 555]);
        assert!(holders_in(text, dev, 1).is_empty());
    }

    #[test]
    fn this_process_is_not_its_own_holder_and_signals_need_a_process() {
        let t = crate::testdir::TempDir::new("locks");
        let p = t.join("f");
        let f = std::fs::File::create(&p).unwrap();
        f.lock_shared().unwrap();
        assert!(lock_holders(&p).is_empty());
        assert!(!signal(0, 0) && !signal(u32::MAX, 0));
        assert!(signal(std::process::id(), 0));
    }

    #[test]
    fn children_are_listed_and_statuses_decoded() {
        // Reaping itself (waitpid(-1)) is exercised through the binary: inside the test
        // process it would steal other tests' children.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(children().contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children().contains(&child.id()));
        assert_eq!(exit_code(7 << 8), 7);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(0), 0);
    }

    #[test]
    fn only_listening_sockets_are_adopted() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::IntoRawFd;
        let addr = l.local_addr().unwrap();
        let fd = l.into_raw_fd();
        set_inheritable(fd, true).unwrap();
        let back = adopt_std_listener(fd).unwrap();
        assert_eq!(back.local_addr().unwrap(), addr);
        assert!(adopt_listener(1).is_err());
        assert!(adopt_listener(100_000).is_err());
    }
}
