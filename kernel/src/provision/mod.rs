//! Provisioning fazt as an operating-system service, without the verticals:
//! `fazt service install|uninstall|status|logs` file-writing and systemd
//! logic, and `sd_notify` for the `Type=notify` unit.
//!
//! This module knows nothing about SQLite or `may`: the caller passes a hook
//! that creates the database ([`install::CreateDb`]) and prints the report.
//! The unit template is the repository's `systemd/fazt.service`.

mod error;
mod fsutil;
mod install;
mod notify;
mod systemctl;
#[cfg(test)]
mod testutil;
mod unit;

pub use error::ProvisionError;
pub use install::{
    install, uninstall, CreateDb, InstallPlan, InstallReport, UninstallPlan, UninstallReport,
    DB_FILE,
};
pub use notify::{notify_socket, sd_notify, READY, STOPPING};
pub use systemctl::{logs, status, UNIT};
pub use unit::{render, ServeFlags, BIN_PATH, DEFAULT_LISTEN, UNIT_TEMPLATE};
