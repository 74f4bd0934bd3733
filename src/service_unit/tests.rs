//! fazt's unit and layout: the hardening its template must keep, the exact
//! `ExecStart=` lines `fazt service install` writes, the paths the kernel's
//! installer derives from [`PRODUCT`], and the `serve` flag rules. Installing into
//! a root is the kernel's (tested there with its own product) and `fazt service
//! install --root` is tested through the real binary in `tests/service.rs`.

use super::*;
use crate::kernel::provision::{render, ProvisionError};
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
fn the_product_matches_its_template() {
    assert_eq!(PRODUCT.unit_name(), "fazt.service");
    assert_eq!(PRODUCT.bin_path(), "/usr/local/bin/fazt");
    assert_eq!(PRODUCT.state_dir(), "/var/lib/fazt");
    let lines: Vec<&str> = UNIT_TEMPLATE.lines().collect();
    let db = format!(
        "Environment=FAZT_DB={}/{}",
        PRODUCT.state_dir(),
        PRODUCT.db_file
    );
    assert!(lines.contains(&db.as_str()), "{db}");
    let state = format!("StateDirectory={}", PRODUCT.name);
    assert!(lines.contains(&state.as_str()), "{state}");
    let exec = format!("ExecStart={} ", PRODUCT.bin_path());
    assert!(lines.iter().any(|l| l.starts_with(&exec)), "{exec}");
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
    let out = render(&PRODUCT, &f.args()).unwrap();
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
fn rendered_unit_is_the_template_with_one_line_replaced() {
    // Byte for byte what `fazt service install` has always written: the shipped
    // line swapped for `ExecStart=/usr/local/bin/fazt <serve flags>`.
    let shipped = "ExecStart=/usr/local/bin/fazt serve --listen 0.0.0.0:80\n";
    assert_eq!(UNIT_TEMPLATE.matches(shipped).count(), 1);
    for f in [
        flags(),
        ServeFlags::new("a.b", Some("10.0.0.1:8080"), false, None).unwrap(),
        ServeFlags::new("x.com", None, true, Some("me@x.com")).unwrap(),
    ] {
        let expected = UNIT_TEMPLATE.replace(
            shipped,
            &format!("ExecStart=/usr/local/bin/fazt {}\n", f.command_line()),
        );
        assert_eq!(render(&PRODUCT, &f.args()).unwrap(), expected);
    }
}

#[test]
fn defaults_and_normalisation() {
    assert_eq!(
        flags().command_line(),
        "serve --domain example.com --listen 0.0.0.0:80"
    );
    let f = ServeFlags::new("a.b.", None, false, Some("ignored@x.y")).unwrap();
    assert_eq!(f.command_line(), "serve --domain a.b --listen 0.0.0.0:80");
    let f = ServeFlags::new("a.b", None, true, Some("me@x.y")).unwrap();
    assert_eq!(
        f.command_line(),
        "serve --domain a.b --listen 127.0.0.1:4698 --https --email me@x.y"
    );
}

/// Each kind of bad value is refused through the kernel's validators (which test every
/// rule with many values) and reported as such; `--https` without `--email` is fazt's own.
#[test]
fn rejects_bad_values() {
    let value_err = |r: Result<ServeFlags, ServeFlagsError>| match r {
        Err(ServeFlagsError::Value(e)) => e,
        other => panic!("{other:?}"),
    };
    for d in ["", "a..b", "%h.com", "é.com"] {
        let e = value_err(ServeFlags::new(d, None, false, None));
        assert!(matches!(e, ProvisionError::InvalidDomain { .. }), "{d:?}");
    }
    for e in ["me", "me%i@x.com", "me@x_y.com"] {
        let err = value_err(ServeFlags::new("x.com", None, true, Some(e)));
        assert!(matches!(err, ProvisionError::InvalidEmail { .. }), "{e:?}");
    }
    for l in ["80", "localhost:80", "0.0.0.0:80 --x"] {
        let err = value_err(ServeFlags::new("x.com", Some(l), false, None));
        assert!(matches!(err, ProvisionError::InvalidListen { .. }), "{l:?}");
    }
    let err = ServeFlags::new("x.com", None, true, None).unwrap_err();
    assert!(matches!(err, ServeFlagsError::HttpsNeedsEmail));
    assert_eq!(
        err.to_string(),
        "--https needs --email (the ACME account contact)"
    );
}

proptest! {
    // Whatever the input, accepted flags render into a single ExecStart line made
    // only of characters systemd does not interpret.
    #[test]
    fn accepted_values_are_inert_on_the_command_line(
        domain in "\\PC{0,40}",
        email in "\\PC{0,40}",
        listen in "\\PC{0,30}",
        https in any::<bool>(),
    ) {
        if let Ok(f) = ServeFlags::new(&domain, Some(&listen), https, Some(&email)) {
            let out = render(&PRODUCT, &f.args()).unwrap();
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
        prop_assert!(render(&PRODUCT, &f.unwrap().args()).is_ok());
    }
}
