//! Running `systemctl` and `journalctl` for the product's unit.
//!
//! Only used when installing into the live system (root `/`): writing into a
//! staging root (an SD-card image, a test directory) must never touch the
//! host's service manager.

use std::process::{Command, ExitStatus, Stdio};

use super::error::ProvisionError;
use super::product::Product;

/// Runs `program args…` with inherited stdio (the user sees systemd's own
/// messages) and returns its exit status.
fn run(program: &str, args: &[&str]) -> Result<ExitStatus, ProvisionError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| ProvisionError::Command {
            command: command_line(program, args),
            detail: format!("could not start: {e}"),
        })
}

/// Like [`run`] but a non-zero exit is an error.
pub(crate) fn run_ok(program: &str, args: &[&str]) -> Result<(), ProvisionError> {
    let status = run(program, args)?;
    if status.success() {
        Ok(())
    } else {
        Err(ProvisionError::Command {
            command: command_line(program, args),
            detail: format!("failed ({status})"),
        })
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// `systemctl status <name>.service`: prints the service state; returns
/// systemctl's exit code (0 running, 3 not running, 4 no such unit).
pub fn status(product: &Product) -> Result<i32, ProvisionError> {
    product.check()?;
    let unit = product.unit_name();
    let status = run("systemctl", &["status", "--no-pager", &unit])?;
    Ok(status.code().unwrap_or(1))
}

/// What [`control`] asks systemd to do with the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `systemctl start`.
    Start,
    /// `systemctl stop`.
    Stop,
    /// `systemctl restart`.
    Restart,
}

/// `systemctl start|stop|restart <name>.service`; returns systemctl's exit code.
pub fn control(product: &Product, what: Control) -> Result<i32, ProvisionError> {
    product.check()?;
    let verb = match what {
        Control::Start => "start",
        Control::Stop => "stop",
        Control::Restart => "restart",
    };
    let unit = product.unit_name();
    let status = run("systemctl", &[verb, &unit])?;
    Ok(status.code().unwrap_or(1))
}

/// `journalctl -u <name>.service`: prints the service log, the last `lines`
/// entries (all when `None`), and keeps following it when `follow` is set.
pub fn logs(product: &Product, follow: bool, lines: Option<u32>) -> Result<i32, ProvisionError> {
    product.check()?;
    let unit = product.unit_name();
    let n = lines.map(|n| n.to_string());
    let mut args = vec!["-u", &unit, "--no-pager"];
    if let Some(n) = &n {
        args.push("-n");
        args.push(n);
    }
    if follow {
        args.push("-f");
    }
    let status = run("journalctl", &args)?;
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_is_a_named_error() {
        let err = run_ok("provision-no-such-program-xyz", &["a", "b"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("provision-no-such-program-xyz a b"), "{msg}");
        assert!(msg.contains("could not start"), "{msg}");
    }

    #[test]
    fn failing_program_reports_its_status() {
        let err = run_ok("false", &[]).unwrap_err();
        assert!(err.to_string().contains("failed"), "{err}");
        run_ok("true", &[]).unwrap();
    }

    #[test]
    fn a_bad_product_runs_nothing() {
        let p = Product {
            name: "a b",
            ..crate::provision::testutil::DEMO
        };
        assert!(matches!(
            status(&p),
            Err(ProvisionError::InvalidProduct { .. })
        ));
        assert!(matches!(
            logs(&p, false, Some(1)),
            Err(ProvisionError::InvalidProduct { .. })
        ));
    }
}
