//! The one error type of `kernel::provision`: every variant names the file,
//! command or value that caused it, so the caller's command line can print it
//! as is.

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
        /// The file or directory it was done to.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Installing into the real root (`/`) needs root privileges.
    NotRoot {
        /// The effective uid the installer runs as.
        euid: u32,
    },
    /// `--domain` is not a host name we can put on a command line.
    InvalidDomain {
        /// The value as given.
        domain: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `--email` contains characters systemd or ACME would misread.
    InvalidEmail {
        /// The value as given.
        email: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `--listen` is not `IP:PORT`.
    InvalidListen {
        /// The value as given.
        listen: String,
    },
    /// An `ExecStart=` argument that systemd would split, expand or unquote.
    InvalidArgument {
        /// The argument as given.
        arg: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The caller's [`Product`](super::Product) cannot name a unit, binary or
    /// state directory.
    InvalidProduct {
        /// The offending field, e.g. "name".
        field: &'static str,
        /// Its value.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The unit template does not have exactly one `ExecStart=` line.
    Template {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The caller's database hook failed.
    CreateDb {
        /// The database the hook was asked to create.
        path: PathBuf,
        /// The hook's own message.
        message: String,
    },
    /// A helper program (systemctl, journalctl) could not run or failed.
    Command {
        /// The command line, e.g. `systemctl enable app.service`.
        command: String,
        /// What went wrong: could not start, or its exit status.
        detail: String,
    },
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
            ProvisionError::InvalidArgument { arg, reason } => {
                write!(f, "invalid service argument {arg:?}: {reason}")
            }
            ProvisionError::InvalidProduct {
                field,
                value,
                reason,
            } => write!(f, "invalid product {field} {value:?}: {reason}"),
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
