//! The deploy client: what runs on the user's laptop. Talks to a fazt server's API over HTTP
//! or HTTPS, packs folders into ZIPs, and remembers servers and tokens in a small settings
//! file (the laptop has no fazt.db).

pub mod config;
pub mod http;
pub mod pack;
#[cfg(feature = "acme")]
pub mod tls;
