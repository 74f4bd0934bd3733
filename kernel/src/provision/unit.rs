//! The systemd unit: the template shipped as `systemd/fazt.service` and its
//! rendering with the `serve` flags chosen at install time.
//!
//! The repository file is the single source: `fazt service install` writes it
//! byte for byte except for the `ExecStart=` line. Every value that goes onto
//! that line is validated first, because systemd gives `%` (specifiers), `$`
//! (environment), quotes, `;` and backslashes meaning on a command line; we
//! accept only characters that mean nothing to it.

use std::net::SocketAddr;

use super::error::ProvisionError;

/// `systemd/fazt.service` as shipped in the repository.
pub const UNIT_TEMPLATE: &str = include_str!("../../../systemd/fazt.service");

/// Where the unit expects the binary (the `ExecStart=` program).
pub const BIN_PATH: &str = "/usr/local/bin/fazt";

/// The listen address used when the installer is not given one.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:80";

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
    ) -> Result<Self, ProvisionError> {
        let domain = validate_domain(domain)?;
        let listen = match listen {
            Some(l) => validate_listen(l)?,
            // With HTTPS, ports 443/80 are fazt's TLS and redirect listeners; the plain
            // listener then stays on loopback for local administration.
            None if https => "127.0.0.1:4698".to_string(),
            None => DEFAULT_LISTEN.to_string(),
        };
        let https = match (https, email) {
            (true, Some(e)) => Some(validate_email(e)?),
            (true, None) => return Err(ProvisionError::HttpsNeedsEmail),
            (false, _) => None,
        };
        Ok(ServeFlags {
            domain,
            listen,
            https,
        })
    }

    /// The arguments after `fazt`, e.g. `serve --domain example.com --listen 0.0.0.0:80`.
    pub fn command_line(&self) -> String {
        let mut s = format!("serve --domain {} --listen {}", self.domain, self.listen);
        if let Some(email) = &self.https {
            s.push_str(" --https --email ");
            s.push_str(email);
        }
        s
    }
}

/// The unit file for `flags`: the template with its `ExecStart=` line replaced.
pub fn render(flags: &ServeFlags) -> Result<String, ProvisionError> {
    render_template(UNIT_TEMPLATE, flags)
}

fn render_template(template: &str, flags: &ServeFlags) -> Result<String, ProvisionError> {
    let exec_lines = template
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .count();
    if exec_lines != 1 {
        return Err(ProvisionError::Template {
            reason: "expected exactly one ExecStart= line",
        });
    }
    let mut out = String::with_capacity(template.len() + 64);
    for line in template.split_inclusive('\n') {
        if line.starts_with("ExecStart=") {
            out.push_str("ExecStart=");
            out.push_str(BIN_PATH);
            out.push(' ');
            out.push_str(&flags.command_line());
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// A DNS host name: 1–253 characters, dot-separated labels of 1–63 ASCII
/// letters, digits and inner hyphens. Returned lower-cased (DNS is
/// case-insensitive and fazt routes by the lower-cased Host header).
fn validate_domain(domain: &str) -> Result<String, ProvisionError> {
    let bad = |reason| ProvisionError::InvalidDomain {
        domain: domain.to_string(),
        reason,
    };
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.is_empty() || d.len() > 253 {
        return Err(bad("must be 1 to 253 characters"));
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each dot-separated label must be 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label cannot start or end with '-'"));
        }
    }
    Ok(d.to_ascii_lowercase())
}

/// An e-mail address that is safe on a systemd command line: one `@`, both
/// sides non-empty, printable ASCII without the characters systemd expands or
/// splits on.
fn validate_email(email: &str) -> Result<String, ProvisionError> {
    let bad = |reason| ProvisionError::InvalidEmail {
        email: email.to_string(),
        reason,
    };
    if email.len() < 3 || email.len() > 254 {
        return Err(bad("must be 3 to 254 characters"));
    }
    if !email
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"%$\\\"';`".contains(&b))
    {
        return Err(bad(
            "only printable ASCII without spaces, quotes, '%', '$', '\\', ';' or '`'",
        ));
    }
    match email.split_once('@') {
        Some((local, host)) if !local.is_empty() && !host.is_empty() && !host.contains('@') => {
            validate_domain(host).map_err(|_| bad("the part after '@' is not a host name"))?;
            Ok(email.to_string())
        }
        _ => Err(bad("expected exactly one '@' between a user and a host")),
    }
}

/// `IP:PORT`, e.g. `0.0.0.0:80` or `[::]:443`; returned in canonical form.
fn validate_listen(listen: &str) -> Result<String, ProvisionError> {
    listen
        .parse::<SocketAddr>()
        .map(|a| a.to_string())
        .map_err(|_| ProvisionError::InvalidListen {
            listen: listen.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flags() -> ServeFlags {
        ServeFlags::new("Example.COM", None, false, None).unwrap()
    }

    #[test]
    fn template_has_the_required_hardening() {
        for needle in [
            "Type=notify",
            "DynamicUser=yes",
            "StateDirectory=fazt",
            "Environment=FAZT_DB=/var/lib/fazt/fazt.db",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
            "MemoryDenyWriteExecute=yes",
            "LockPersonality=yes",
            "RestrictRealtime=yes",
            "RestrictSUIDSGID=yes",
            "UMask=077",
            "LimitNOFILE=65536",
            "Restart=on-failure",
            "ExecStart=/usr/local/bin/fazt serve",
        ] {
            assert!(
                UNIT_TEMPLATE.lines().any(|l| l.starts_with(needle)),
                "missing {needle}"
            );
        }
    }

    #[test]
    fn render_replaces_only_exec_start() {
        let f = ServeFlags::new(
            "example.com",
            Some("[::]:8080"),
            true,
            Some("me@example.com"),
        )
        .unwrap();
        let out = render(&f).unwrap();
        let exec: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect();
        assert_eq!(
            exec,
            ["ExecStart=/usr/local/bin/fazt serve --domain example.com --listen [::]:8080 --https --email me@example.com"]
        );
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with("ExecStart="))
                .map(String::from)
                .collect()
        };
        assert_eq!(strip(&out), strip(UNIT_TEMPLATE));
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn defaults_and_normalisation() {
        assert_eq!(
            flags().command_line(),
            "serve --domain example.com --listen 0.0.0.0:80"
        );
        let f = ServeFlags::new("a.b.", None, false, Some("ignored@x.y")).unwrap();
        assert_eq!(f.command_line(), "serve --domain a.b --listen 0.0.0.0:80");
    }

    #[test]
    fn rejects_bad_values() {
        for d in [
            "",
            "a..b",
            "-a.b",
            "a-.b",
            "ex ample.com",
            "%h.com",
            "$HOME",
            "a;b",
            "é.com",
        ] {
            assert!(
                matches!(
                    ServeFlags::new(d, None, false, None),
                    Err(ProvisionError::InvalidDomain { .. })
                ),
                "{d:?}"
            );
        }
        assert!(ServeFlags::new(&"a".repeat(64), None, false, None).is_err());
        for e in [
            "me",
            "@x.com",
            "me@",
            "a@b@c.com",
            "me%i@x.com",
            "me$USER@x.com",
            "me @x.com",
            "me@x_y.com",
        ] {
            assert!(
                matches!(
                    ServeFlags::new("x.com", None, true, Some(e)),
                    Err(ProvisionError::InvalidEmail { .. })
                ),
                "{e:?}"
            );
        }
        assert!(matches!(
            ServeFlags::new("x.com", None, true, None),
            Err(ProvisionError::HttpsNeedsEmail)
        ));
        for l in [
            "80",
            ":80",
            "localhost:80",
            "0.0.0.0:99999",
            "0.0.0.0:80 --x",
        ] {
            assert!(
                matches!(
                    ServeFlags::new("x.com", Some(l), false, None),
                    Err(ProvisionError::InvalidListen { .. })
                ),
                "{l:?}"
            );
        }
    }

    #[test]
    fn template_with_two_exec_lines_is_refused() {
        let t = "ExecStart=/a\nExecStart=/b\n";
        assert!(matches!(
            render_template(t, &flags()),
            Err(ProvisionError::Template { .. })
        ));
    }

    proptest! {
        // Whatever the input, an accepted value renders into a single ExecStart
        // line made only of characters systemd does not interpret.
        #[test]
        fn accepted_values_are_inert_on_the_command_line(
            domain in "\\PC{0,40}",
            email in "\\PC{0,40}",
            listen in "\\PC{0,30}",
            https in any::<bool>(),
        ) {
            if let Ok(f) = ServeFlags::new(&domain, Some(&listen), https, Some(&email)) {
                let out = render(&f).unwrap();
                let exec: Vec<&str> = out.lines().filter(|l| l.starts_with("ExecStart=")).collect();
                prop_assert_eq!(exec.len(), 1);
                let line = exec[0];
                prop_assert!(line.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
                for c in ['%', '$', '\\', '"', '\'', ';', '`'] {
                    prop_assert!(!line.contains(c));
                }
            }
        }

        #[test]
        fn generated_domains_are_accepted(domain in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}") {
            let f = ServeFlags::new(&domain, None, false, None);
            prop_assert!(f.is_ok(), "{:?}", f);
        }
    }
}
