//! The cartridge kernel: reusable plumbing that knows nothing of the product built on it.
//! HTTP edge (and TLS and ACME with the `tls`/`acme` features), a small blocking HTTP
//! client, the cartridge database with EDD, the VFS, compression, MIME types, ZIP and
//! multipart parsing, provisioning. The product passes in everything that is its own: the
//! schema, table names, the `Server` header, the service's name and unit template.

pub mod civil;
pub mod compress;
pub mod db;
pub mod http;
pub mod http_client;
pub mod memory;
pub mod mime;
pub mod multipart;
pub mod provision;
#[cfg(feature = "tls")]
pub mod tls;
pub mod vfs;
pub mod zip;

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
