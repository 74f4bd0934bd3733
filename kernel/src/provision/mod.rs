//! Provisioning a product as an operating-system service: installing and
//! uninstalling its binary, systemd unit and database (idempotently, into
//! the live system or a staging root), `systemctl status` / `journalctl` for
//! it, and `sd_notify` for its `Type=notify` unit.
//!
//! Nothing here is specific to one program: the caller describes it with a
//! [`Product`] (name, database file, unit template) and supplies the
//! `ExecStart=` arguments, which are checked to be inert on a systemd command
//! line ([`validate_arg`]; [`validate_domain`], [`validate_email`] and
//! [`validate_listen`] check the values such arguments usually carry). This
//! module knows nothing about SQLite or `may` either: the caller passes a
//! hook that creates the database ([`CreateDb`]) and prints the report.

mod error;
mod fsutil;
mod install;
mod notify;
mod product;
mod systemctl;
#[cfg(test)]
mod testutil;
mod unit;

pub use error::ProvisionError;
pub use install::{
    install, uninstall, CreateDb, HookError, InstallPlan, InstallReport, UninstallPlan,
    UninstallReport,
};
pub use notify::{notify_socket, sd_notify, READY, STOPPING};
pub use product::Product;
pub use systemctl::{control, logs, status, Control};
pub use unit::{
    render, render_unit, validate_arg, validate_domain, validate_email, validate_listen,
};
