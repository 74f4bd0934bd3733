//! The systemd unit: the product's template rendered with the `ExecStart=`
//! arguments chosen at install time, and the validators for the values such
//! arguments usually carry (host name, e-mail contact, listen address).
//!
//! The template is the single source: the installer writes it byte for byte
//! except for the `ExecStart=` line, which becomes `ExecStart=<bin path>
//! <args…>`. Every argument is checked first, because systemd gives `%`
//! (specifiers), `$` (environment), quotes, `;`, backslashes and white space
//! meaning on a command line; we accept only characters that mean nothing to
//! it, so each argument reaches the program exactly as given.

use std::net::SocketAddr;

use super::error::ProvisionError;
use super::product::Product;

/// The bytes systemd does not interpret inside an `ExecStart=` argument:
/// printable ASCII (no white space or control characters) except `%`, `$`,
/// `\`, quotes, `;` and the backquote.
fn is_inert(b: u8) -> bool {
    b.is_ascii_graphic() && !b"%$\\\"';`".contains(&b)
}

/// Checks that `arg` reaches the program unchanged as one argument of a
/// systemd command line: non-empty, only printable ASCII without spaces,
/// quotes, `%`, `$`, `\`, `;` or `` ` ``.
pub fn validate_arg(arg: &str) -> Result<(), ProvisionError> {
    let bad = |reason| ProvisionError::InvalidArgument {
        arg: arg.to_string(),
        reason,
    };
    if arg.is_empty() {
        return Err(bad("must not be empty"));
    }
    if !arg.bytes().all(is_inert) {
        return Err(bad(
            "only printable ASCII without spaces, quotes, '%', '$', '\\', ';' or '`'",
        ));
    }
    Ok(())
}

/// The unit file of `product` running `<bin path> <args…>`: its template with
/// the `ExecStart=` line replaced. Each argument must pass [`validate_arg`].
pub fn render(product: &Product, args: &[String]) -> Result<String, ProvisionError> {
    render_unit(product, args, &[])
}

/// [`render`], and for each directory of `writable` (absolute, each a valid
/// [`validate_arg`], no `..`) two lines after `ExecStart=`: `ReadWritePaths=` (the
/// hardened unit sees a read-only system otherwise) and
/// `ExecStartPre=+/bin/chown -R <name>:<name> <dir>` (run as root before each start:
/// the service's `DynamicUser` may get a different uid each time, and only its state
/// directory is handed over by systemd itself).
pub fn render_unit(
    product: &Product,
    args: &[String],
    writable: &[std::path::PathBuf],
) -> Result<String, ProvisionError> {
    product.check()?;
    for arg in args {
        validate_arg(arg)?;
    }
    let mut extra = String::new();
    for dir in writable {
        let text = dir.to_str().unwrap_or("");
        validate_arg(text)?;
        if !dir.is_absolute()
            || dir
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(ProvisionError::InvalidArgument {
                arg: text.to_string(),
                reason: "must be an absolute path without '..'",
            });
        }
        let name = product.name;
        extra.push_str(&format!(
            "ReadWritePaths={text}\nExecStartPre=+/bin/chown -R {name}:{name} {text}\n"
        ));
    }
    let template = product.unit_template;
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
            out.push_str(&product.bin_path());
            for arg in args {
                out.push(' ');
                out.push_str(arg);
            }
            out.push('\n');
            out.push_str(&extra);
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// A DNS host name: 1–253 characters, dot-separated labels of 1–63 ASCII
/// letters, digits and inner hyphens, an optional final dot. Returned
/// lower-cased and without the final dot (DNS is case-insensitive, and a
/// server routing by the Host header sees it lower-cased).
pub fn validate_domain(domain: &str) -> Result<String, ProvisionError> {
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
/// sides non-empty, the host a valid [`validate_domain`] name, printable ASCII
/// without the characters systemd expands or splits on. Returned unchanged.
pub fn validate_email(email: &str) -> Result<String, ProvisionError> {
    let bad = |reason| ProvisionError::InvalidEmail {
        email: email.to_string(),
        reason,
    };
    if email.len() < 3 || email.len() > 254 {
        return Err(bad("must be 3 to 254 characters"));
    }
    if !email.bytes().all(is_inert) {
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
pub fn validate_listen(listen: &str) -> Result<String, ProvisionError> {
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
    use crate::provision::testutil::{args, DEMO, DEMO_TEMPLATE};
    use proptest::prelude::*;

    fn exec_lines(unit: &str) -> Vec<&str> {
        unit.lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect()
    }

    #[test]
    fn writable_dirs_get_read_write_paths_and_an_owner() {
        let dirs = [std::path::PathBuf::from("/mnt/usb/demo-backups")];
        let out = render_unit(&DEMO, &args(&["run"]), &dirs).unwrap();
        let exec = out.find("ExecStart=").unwrap();
        let after: Vec<&str> = out[exec..].lines().take(3).collect();
        assert_eq!(
            after,
            [
                "ExecStart=/usr/local/bin/demo run",
                "ReadWritePaths=/mnt/usb/demo-backups",
                "ExecStartPre=+/bin/chown -R demo:demo /mnt/usb/demo-backups",
            ]
        );
        for bad in [
            "relative/dir",
            "/a/../etc",
            "/with space",
            "/a;rm",
            "/$HOME",
        ] {
            assert!(
                render_unit(&DEMO, &[], &[std::path::PathBuf::from(bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn render_replaces_only_exec_start() {
        let a = args(&["run", "--listen", "[::]:8080", "--email", "me@example.com"]);
        let out = render(&DEMO, &a).unwrap();
        assert_eq!(
            exec_lines(&out),
            ["ExecStart=/usr/local/bin/demo run --listen [::]:8080 --email me@example.com"]
        );
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with("ExecStart="))
                .map(String::from)
                .collect()
        };
        assert_eq!(strip(&out), strip(DEMO_TEMPLATE));
        assert!(out.ends_with('\n'));
        // Everything but the ExecStart= line is the template byte for byte.
        let exec_at = DEMO_TEMPLATE.find("ExecStart=").unwrap();
        assert_eq!(&out[..exec_at], &DEMO_TEMPLATE[..exec_at]);
        let rest = &DEMO_TEMPLATE[exec_at..];
        let tail = &rest[rest.find('\n').unwrap()..];
        assert!(out.ends_with(tail));

        assert_eq!(
            exec_lines(&render(&DEMO, &[]).unwrap()),
            ["ExecStart=/usr/local/bin/demo"]
        );
    }

    #[test]
    fn unsafe_arguments_are_refused() {
        for a in [
            "", "a b", "%h", "$HOME", "${X}", "a;b", "\"x\"", "'x'", "`x`", "a\\b", "é", "a\nb",
            "a\tb",
        ] {
            assert!(
                matches!(
                    render(&DEMO, &args(&["run", a])),
                    Err(ProvisionError::InvalidArgument { .. })
                ),
                "{a:?}"
            );
        }
        for a in ["--x=1", "[::]:80", "me@example.com", "a,b", "-", "#x", "@x"] {
            validate_arg(a).unwrap();
        }
    }

    #[test]
    fn validators_normalise() {
        assert_eq!(validate_domain("Example.COM").unwrap(), "example.com");
        assert_eq!(validate_domain("a.b.").unwrap(), "a.b");
        assert_eq!(validate_listen("[::0]:80").unwrap(), "[::]:80");
        assert_eq!(validate_listen("0.0.0.0:80").unwrap(), "0.0.0.0:80");
        assert_eq!(validate_email("me@x.y").unwrap(), "me@x.y");
    }

    #[test]
    fn validators_reject_bad_values() {
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
                    validate_domain(d),
                    Err(ProvisionError::InvalidDomain { .. })
                ),
                "{d:?}"
            );
        }
        assert!(validate_domain(&"a".repeat(64)).is_err());
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
                matches!(validate_email(e), Err(ProvisionError::InvalidEmail { .. })),
                "{e:?}"
            );
        }
        for l in [
            "80",
            ":80",
            "localhost:80",
            "0.0.0.0:99999",
            "0.0.0.0:80 --x",
        ] {
            assert!(
                matches!(
                    validate_listen(l),
                    Err(ProvisionError::InvalidListen { .. })
                ),
                "{l:?}"
            );
        }
    }

    #[test]
    fn template_without_exactly_one_exec_line_is_refused() {
        for unit_template in ["ExecStart=/a\nExecStart=/b\n", "[Service]\n", ""] {
            let p = Product {
                unit_template,
                ..DEMO
            };
            assert!(
                matches!(render(&p, &[]), Err(ProvisionError::Template { .. })),
                "{unit_template:?}"
            );
        }
    }

    #[test]
    fn a_bad_product_is_refused_before_rendering() {
        let p = Product {
            name: "../x",
            ..DEMO
        };
        assert!(matches!(
            render(&p, &[]),
            Err(ProvisionError::InvalidProduct { .. })
        ));
    }

    proptest! {
        // Whatever the arguments, an accepted set renders into a single ExecStart
        // line made only of characters systemd does not interpret, and splitting
        // that line at spaces gives back the program and the arguments.
        #[test]
        fn accepted_arguments_are_inert_on_the_command_line(
            // Printable ASCII (often accepted) and any Unicode (mostly refused).
            raw in proptest::collection::vec(prop_oneof!["[ -~]{0,12}", "\\PC{0,20}"], 0..6),
        ) {
            if let Ok(out) = render(&DEMO, &raw) {
                let exec = exec_lines(&out);
                prop_assert_eq!(exec.len(), 1);
                let line = exec[0];
                prop_assert!(line.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
                for c in ['%', '$', '\\', '"', '\'', ';', '`'] {
                    prop_assert!(!line.contains(c));
                }
                let words: Vec<&str> = line["ExecStart=".len()..].split(' ').collect();
                prop_assert_eq!(words[0], "/usr/local/bin/demo");
                prop_assert_eq!(&words[1..], raw.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }

        // What the validators accept is always an inert argument.
        #[test]
        fn validated_values_are_inert_arguments(
            domain in "\\PC{0,40}",
            email in "\\PC{0,40}",
            listen in "\\PC{0,30}",
        ) {
            for v in [
                validate_domain(&domain).ok(),
                validate_email(&email).ok(),
                validate_listen(&listen).ok(),
            ].into_iter().flatten() {
                prop_assert!(validate_arg(&v).is_ok(), "{:?}", v);
            }
        }

        #[test]
        fn generated_domains_are_accepted(domain in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}") {
            let d = validate_domain(&domain);
            prop_assert!(d.is_ok(), "{:?}", d);
            prop_assert!(validate_arg(&d.unwrap()).is_ok());
        }

        #[test]
        fn generated_listen_addresses_are_inert(ip in any::<std::net::IpAddr>(), port in any::<u16>()) {
            let v = validate_listen(&SocketAddr::new(ip, port).to_string()).unwrap();
            prop_assert!(validate_arg(&v).is_ok(), "{}", v);
        }
    }
}
