//! The one error type of `kernel::provision`: every variant names the file,
//! command or value that caused it, so `fazt service …` can print it as is.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why installing, uninstalling or talking to systemd failed.
#[derive(Debug)]
pub enum ProvisionError {
    /// A file-system operation on `path` failed.
    Io {
        /// What we were doing, e.g. "write unit file".
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Installing into the real root (`/`) needs root privileges.
    NotRoot { euid: u32 },
    /// `--domain` is not a host name we can put on a command line.
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    /// `--email` contains characters systemd or ACME would misread.
    InvalidEmail { email: String, reason: &'static str },
    /// `--listen` is not `IP:PORT`.
    InvalidListen { listen: String },
    /// `--https` without `--email` (ACME needs a contact).
    HttpsNeedsEmail,
    /// The unit template no longer has exactly one `ExecStart=` line.
    Template { reason: &'static str },
    /// The caller's database hook failed.
    CreateDb { path: PathBuf, message: String },
    /// A helper program (systemctl, journalctl) could not run or failed.
    Command { command: String, detail: String },
}

impl ProvisionError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ProvisionError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvisionError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            ProvisionError::NotRoot { euid } => write!(
                f,
                "installing a system service needs root (running as uid {euid}); retry with sudo"
            ),
            ProvisionError::InvalidDomain { domain, reason } => {
                write!(f, "invalid --domain {domain:?}: {reason}")
            }
            ProvisionError::InvalidEmail { email, reason } => {
                write!(f, "invalid --email {email:?}: {reason}")
            }
            ProvisionError::InvalidListen { listen } => write!(
                f,
                "invalid --listen {listen:?}: expected IP:PORT such as 0.0.0.0:80 or [::]:80"
            ),
            ProvisionError::HttpsNeedsEmail => {
                write!(f, "--https needs --email (the ACME account contact)")
            }
            ProvisionError::Template { reason } => {
                write!(f, "built-in systemd unit template is broken: {reason}")
            }
            ProvisionError::CreateDb { path, message } => {
                write!(f, "cannot create database {}: {message}", path.display())
            }
            ProvisionError::Command { command, detail } => write!(f, "`{command}` {detail}"),
        }
    }
}

impl std::error::Error for ProvisionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProvisionError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
