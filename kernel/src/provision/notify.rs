//! `sd_notify`: telling systemd (a `Type=notify` unit) that the service is
//! ready or stopping, without libsystemd.
//!
//! The protocol is one datagram of `KEY=VALUE` lines sent to the
//! `AF_UNIX` socket named by `$NOTIFY_SOCKET`: a path (`/run/systemd/notify`)
//! or, when it starts with `@`, a Linux abstract socket name. Outside systemd
//! the variable is unset and every call is a cheap no-op.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

/// Tells the service manager start-up is finished (listeners are bound).
pub const READY: &str = "READY=1";
/// Tells the service manager a graceful shutdown has begun.
pub const STOPPING: &str = "STOPPING=1";

/// Sends `state` (e.g. [`READY`]) to `$NOTIFY_SOCKET`.
///
/// Returns `Ok(false)` when the variable is unset or empty (not run by
/// systemd, or not a notify unit), `Ok(true)` once the datagram is sent.
pub fn sd_notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => {
            notify_socket(&socket, state)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sends `state` to the notification socket `socket` (a `$NOTIFY_SOCKET` value).
pub fn notify_socket(socket: &OsStr, state: &str) -> io::Result<()> {
    let addr = socket_addr(socket)?;
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "sd_notify: sent {sent} of {} bytes to {socket:?}",
                state.len()
            ),
        ));
    }
    Ok(())
}

fn socket_addr(socket: &OsStr) -> io::Result<SocketAddr> {
    let bytes = socket.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        return abstract_addr(name);
    }
    if bytes.starts_with(b"/") {
        return SocketAddr::from_pathname(Path::new(socket));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("NOTIFY_SOCKET={socket:?} is neither an absolute path nor an @abstract name"),
    ))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract NOTIFY_SOCKET names exist only on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn unique(tag: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "provision-notify-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn path_socket_receives_ready() {
        let dir = std::env::temp_dir().join(unique("dir"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        notify_socket(path.as_os_str(), READY).unwrap();
        assert_eq!(recv(&server), "READY=1");
        notify_socket(path.as_os_str(), "STATUS=serving\nMAINPID=1").unwrap();
        assert_eq!(recv(&server), "STATUS=serving\nMAINPID=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_receives_ready() {
        use std::os::linux::net::SocketAddrExt;
        let name = unique("abstract");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        notify_socket(OsStr::new(&format!("@{name}")), READY).unwrap();
        assert_eq!(recv(&server), "READY=1");
    }

    #[test]
    fn env_variable_drives_sd_notify() {
        // The only test touching NOTIFY_SOCKET, so no other test races on it.
        let dir = std::env::temp_dir().join(unique("env"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        std::env::remove_var("NOTIFY_SOCKET");
        assert!(!sd_notify(READY).unwrap(), "unset: no-op");
        std::env::set_var("NOTIFY_SOCKET", "");
        assert!(!sd_notify(READY).unwrap(), "empty: no-op");
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(sd_notify(STOPPING).unwrap());
        assert_eq!(recv(&server), "STOPPING=1");
        std::env::remove_var("NOTIFY_SOCKET");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_socket_values_are_errors_not_panics() {
        assert_eq!(
            notify_socket(OsStr::new("relative/path"), READY)
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        let missing = std::env::temp_dir().join(unique("missing")).join("x.sock");
        assert!(notify_socket(missing.as_os_str(), READY).is_err());
        assert!(notify_socket(OsStr::new(&format!("/{}", "x".repeat(200))), READY).is_err());
    }
}
