//! The kernel: reusable plumbing that knows nothing of fazt's own features. HTTP edge (and
//! TLS and ACME with the `acme` feature), a small blocking HTTP client, the cartridge database with EDD, the VFS, compression, MIME
//! types, ZIP and multipart parsing, provisioning. Nothing in here imports a vertical.

pub mod civil;
pub mod compress;
pub mod db;
pub mod http;
pub mod http_client;
pub mod memory;
pub mod mime;
pub mod multipart;
pub mod provision;
#[cfg(feature = "acme")]
pub mod tls;
pub mod vfs;
pub mod zip;
