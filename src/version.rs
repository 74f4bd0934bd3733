//! Which fazt this is: the version and the optional features it was built with. Shared by
//! `fazt --version`, the server's start-up line and `/api/system/health`, so it lives below
//! both the command line and the API.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version this process runs as: the release `fazt upgrade` installed and launched
/// (named in `FAZT_RELEASE` by the process that started it), else [`VERSION`].
pub fn running() -> String {
    std::env::var("FAZT_RELEASE")
        .ok()
        .filter(|v| v.len() <= 64 && !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| VERSION.to_string())
}

/// The cargo features this binary was built with, as `fazt --version` shows them (a size-
/// trimmed build may lack `js`, `acme` or `analytics`; bug reports and scripts need to know).
pub fn features() -> String {
    let on = [
        ("js", cfg!(feature = "js")),
        ("acme", cfg!(feature = "acme")),
        ("analytics", cfg!(feature = "analytics")),
    ];
    let names: Vec<&str> = on.iter().filter(|f| f.1).map(|f| f.0).collect();
    if names.is_empty() {
        "no optional features".to_string()
    } else {
        names.join(", ")
    }
}
