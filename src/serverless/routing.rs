//! Which of a site's scripts, if any, handles a request path.

use super::ScriptKind;

/// Whether `path` is `/api` or below it (`/api/…`), the paths `api/main.js` serves.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The script to run for `path` on a site with the given files: `api/main.js` for
/// `/api` and `/api/*` when the site has one; otherwise `main.js` (every path) when the
/// site has one; otherwise `None` (serve static files).
pub fn select_script(path: &str, has_main: bool, has_api_main: bool) -> Option<ScriptKind> {
    if has_api_main && is_api_path(path) {
        Some(ScriptKind::Api)
    } else if has_main {
        Some(ScriptKind::Main)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/"));
        assert!(is_api_path("/api/x/y"));
        assert!(!is_api_path("/apis"));
        assert!(!is_api_path("/x/api"));
        assert!(!is_api_path("/"));
        assert_eq!(select_script("/api/x", true, true), Some(ScriptKind::Api));
        assert_eq!(select_script("/other", true, true), Some(ScriptKind::Main));
        assert_eq!(select_script("/other", false, true), None);
        assert_eq!(select_script("/api", false, true), Some(ScriptKind::Api));
        assert_eq!(select_script("/api", true, false), Some(ScriptKind::Main));
        assert_eq!(select_script("/", false, false), None);
    }
}
