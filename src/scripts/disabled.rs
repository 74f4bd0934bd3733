//! The `--no-default-features` stand-in: no JS runtime in this binary, so a site with a
//! script serves its other files statically (the script's own source never), and the log
//! says so once per site.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::hosting::sites::SiteInfo;
use crate::kernel::http::{Body, Request, Response};

#[derive(Default)]
pub struct Scripts {
    warned: Mutex<HashSet<String>>,
}

impl Scripts {
    /// Never handles a request; warns once per site that has a script.
    pub fn handle(
        &self,
        site: &str,
        info: &SiteInfo,
        _req: &Request,
        _path: &str,
        _body: &mut Body<'_>,
    ) -> Option<Response> {
        if info.main_js || info.api_main_js {
            if let Ok(mut w) = self.warned.lock() {
                if w.insert(site.to_string()) {
                    log::warn!(
                        "site '{site}' has a main.js but this fazt was built without the `js` feature: serving its other files as static files (never the script itself)"
                    );
                }
            }
        }
        None
    }

    pub fn forget(&self, _site: &str) {}

    /// No WebSockets without the JS runtime.
    pub fn websockets(&self) -> Option<crate::kernel::ws::Stats> {
        None
    }

    pub fn websocket_clients(&self, _site: &str) -> usize {
        0
    }
}
