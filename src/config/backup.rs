//! `fazt serve`'s backup options: scheduled snapshots (`--backup-dir`, `--backup-every`,
//! `--backup-keep`) and `--replicated`, resolved into [`crate::backup::Policy`].

use super::opt::{AnyOpt, Opt, Spec};
use super::parse;
use super::sources::Sources;
use crate::backup::Policy;

pub static BACKUP_DIR: Opt<std::path::PathBuf> = Opt {
    spec: Spec::value(
        "--backup-dir",
        "DIR",
        "Take scheduled snapshots of the database into DIR (created\nif missing); off without it",
    ),
    parse: parse::path,
};
pub static BACKUP_EVERY: Opt<std::time::Duration> = Opt {
    spec: Spec::value(
        "--backup-every",
        "DUR",
        "Time between snapshots: 30m, 6h, 24h, 7d (default 24h)",
    )
    .default("24h"),
    parse: parse::duration,
};
pub static BACKUP_KEEP: Opt<usize> = Opt {
    spec: Spec::value(
        "--backup-keep",
        "N",
        "Snapshots kept in --backup-dir; older ones are removed after\na new one succeeds (default 7)",
    )
    .default("7"),
    parse: |raw| parse::range(raw, 1, 10_000),
};
pub static REPLICATED: Opt<bool> = Opt {
    spec: Spec::switch(
        "--replicated",
        "A replicator (Litestream) streams the database's WAL: make no\nTRUNCATE checkpoints (also detected from Litestream's tables)",
    ),
    parse: parse::switch,
};

/// The backup options, in help order.
pub static OPTIONS: &[&dyn AnyOpt] = &[&BACKUP_DIR, &BACKUP_EVERY, &BACKUP_KEEP, &REPLICATED];

/// The policy the options describe.
pub fn resolve(src: &Sources) -> Result<Policy, String> {
    // Checked even without a directory, so a bad stored value is reported now, not on the
    // day a directory is set.
    let (every, keep) = (src.value(&BACKUP_EVERY)?, src.value(&BACKUP_KEEP)?);
    let schedule = src
        .given(&BACKUP_DIR)?
        .map(|dir| Policy::schedule(dir, every, keep));
    Ok(Policy {
        schedule,
        replicated: src.value(&REPLICATED)?,
    })
}
