//! fazt as a systemd service: the [`Product`] the kernel's provisioning
//! installs (unit `fazt.service`, binary `/usr/local/bin/fazt`, state
//! directory `/var/lib/fazt`, database `fazt.db`, the unit template
//! `systemd/fazt.service`), and the `fazt serve` flags its `ExecStart=` line
//! runs with.
//!
//! The kernel checks every argument is inert on a systemd command line; what
//! the flags are, their defaults and their order are fazt's and live here.

use std::fmt;

use crate::kernel::provision::{
    validate_domain, validate_email, validate_listen, Product, ProvisionError,
};

/// `systemd/fazt.service` as shipped in the repository: `fazt service install`
/// writes it byte for byte except for the `ExecStart=` line.
pub const UNIT_TEMPLATE: &str = include_str!("../systemd/fazt.service");

/// fazt as the kernel's provisioning sees it.
pub const PRODUCT: Product = Product {
    name: "fazt",
    db_file: "fazt.db",
    unit_template: UNIT_TEMPLATE,
};

/// The listen address used when the installer is not given one.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:80";

/// The plain listener with `--https` and no `--listen`: ports 443/80 are then
/// fazt's TLS and redirect listeners, so it stays on loopback for local
/// administration.
const HTTPS_LOCAL_LISTEN: &str = "127.0.0.1:4698";

/// Why the `serve` flags of a service cannot be used.
#[derive(Debug)]
pub enum ServeFlagsError {
    /// A value is not safe or not well-formed (`--domain`, `--email`, `--listen`).
    Value(ProvisionError),
    /// `--https` without `--email` (ACME needs a contact).
    HttpsNeedsEmail,
}

impl From<ProvisionError> for ServeFlagsError {
    fn from(e: ProvisionError) -> Self {
        ServeFlagsError::Value(e)
    }
}

impl fmt::Display for ServeFlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeFlagsError::Value(e) => e.fmt(f),
            ServeFlagsError::HttpsNeedsEmail => {
                write!(f, "--https needs --email (the ACME account contact)")
            }
        }
    }
}

impl std::error::Error for ServeFlagsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeFlagsError::Value(e) => Some(e),
            ServeFlagsError::HttpsNeedsEmail => None,
        }
    }
}

/// The `fazt serve` flags a service is installed with, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeFlags {
    domain: String,
    listen: String,
    https: Option<String>,
}

impl ServeFlags {
    /// Validates the values. `email` is required when `https` is set (it is the
    /// ACME account contact) and ignored otherwise.
    pub fn new(
        domain: &str,
        listen: Option<&str>,
        https: bool,
        email: Option<&str>,
    ) -> Result<Self, ServeFlagsError> {
        let domain = validate_domain(domain)?;
        let listen = match listen {
            Some(l) => validate_listen(l)?,
            None if https => HTTPS_LOCAL_LISTEN.to_string(),
            None => DEFAULT_LISTEN.to_string(),
        };
        let https = match (https, email) {
            (true, Some(e)) => Some(validate_email(e)?),
            (true, None) => return Err(ServeFlagsError::HttpsNeedsEmail),
            (false, _) => None,
        };
        Ok(ServeFlags {
            domain,
            listen,
            https,
        })
    }

    /// The arguments after `fazt` on the `ExecStart=` line, e.g. `serve
    /// --domain example.com --listen 0.0.0.0:80`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_string(),
            "--domain".to_string(),
            self.domain.clone(),
            "--listen".to_string(),
            self.listen.clone(),
        ];
        if let Some(email) = &self.https {
            args.extend(["--https".to_string(), "--email".to_string(), email.clone()]);
        }
        args
    }

    /// [`ServeFlags::args`] as one line, as it appears in the unit.
    pub fn command_line(&self) -> String {
        self.args().join(" ")
    }
}

#[cfg(test)]
mod tests;
