#![doc = include_str!("../README.md")]
// Every public item says what it is; `cargo doc` is the kernel's reference.
#![deny(missing_docs)]
// `unsafe` lives in `memory` (two allocator calls), `priority` (one setpriority), `process`
// (fcntl, kill, adopting inherited descriptors) and `terminal` (echo off) alone. The root
// denies it so that a new module starts without it; every other module forbids it, so no
// `allow` inside can let it in.
#![deny(unsafe_code)]

#[forbid(unsafe_code)]
pub mod backup;
#[forbid(unsafe_code)]
pub mod base64;
#[forbid(unsafe_code)]
pub mod civil;
#[forbid(unsafe_code)]
pub mod compress;
#[forbid(unsafe_code)]
pub mod crc32;
#[forbid(unsafe_code)]
pub mod db;
#[forbid(unsafe_code)]
pub mod http;
#[forbid(unsafe_code)]
pub mod http_client;
#[forbid(unsafe_code)]
pub mod http_date;
#[forbid(unsafe_code)]
pub mod logger;
#[allow(unsafe_code)]
pub mod memory;
#[forbid(unsafe_code)]
pub mod mime;
#[forbid(unsafe_code)]
pub mod multipart;
#[forbid(unsafe_code)]
pub mod net_guard;
#[forbid(unsafe_code)]
pub mod oneshot;
#[allow(unsafe_code)]
pub mod priority;
#[allow(unsafe_code)]
pub mod process;
#[forbid(unsafe_code)]
pub mod provision;
#[forbid(unsafe_code)]
pub mod queue;
#[forbid(unsafe_code)]
pub mod release;
#[allow(unsafe_code)]
pub mod terminal;
#[cfg(feature = "tls")]
#[forbid(unsafe_code)]
pub mod tls;
#[forbid(unsafe_code)]
pub mod vfs;
#[forbid(unsafe_code)]
pub mod ws;
#[forbid(unsafe_code)]
pub mod zip;

#[cfg(test)]
mod testdir;

/// Settings for the property tests of the hand-written parsers: `default_cases` cases, kept
/// modest because the lib tests run on every push, unless `PROPTEST_CASES` asks for more (a
/// long fuzzing run: `PROPTEST_CASES=100000 cargo test --lib`). Failures are saved under
/// `proptest-regressions/` next to the source and replayed first on every run: commit them.
#[cfg(test)]
pub(crate) fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config
}
