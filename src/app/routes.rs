//! The route table: every URL fazt answers, in one place. A request is answered by the first
//! row, in this order, whose method, host kind and path pattern match it — the order of the
//! rows *is* the precedence. Patterns: `{name}` is one path segment, a last `{name*}` the rest
//! of the path, `*` any path ([`Route::path`]); under `/api` trailing slashes are ignored.
//!
//! The last column says who may call: `open(…)` anyone; `deploy(…)`/`admin(…)` a bearer token
//! of at least that scope, checked here before the handler runs (401, 403, 429 as
//! [`crate::access::Gate::authenticate`] answers); `WrongMethod(…)` is the 405 of a path the
//! rows just above serve with other methods (they make up its `Allow`). Where no `WrongMethod`
//! row follows a path, another method falls through to the next rows (under `/api`, the 404).
//!
//! The adapters below the table turn a matched row into a call of the vertical's handler, so
//! the verticals know nothing of URLs. README.md's API table is checked against this table
//! (see the tests).

use super::route::{Call, Handler, Host, NotAllowed, OpenFn, Route, TokenFn};
use super::App;
use crate::access::{Caller, Scope};
#[cfg(feature = "analytics")]
use crate::analytics;
use crate::api::go_routes as go;
use crate::api::handlers as api;
use crate::kernel::http::Response;

use Handler::WrongMethod;
use Host::{Admin, Site, Unknown};
#[cfg(feature = "analytics")]
use NotAllowed::Text;
use NotAllowed::{Json, JsonWithoutAllow};

const fn r(method: &'static str, host: Host, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        host,
        path,
        handler,
    }
}

const fn open(f: OpenFn) -> Handler {
    Handler::Open(f)
}

const fn deploy(f: TokenFn) -> Handler {
    Handler::Token(Scope::Deploy, f)
}

const fn admin(f: TokenFn) -> Handler {
    Handler::Token(Scope::Admin, f)
}

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // ── admin host: the analytics API, before the management API's catch-all ──────────────
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/stats",                  admin(stats)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/stats",                  WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/events",                 admin(events)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/events",                 WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/domains",                admin(domains)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/domains",                WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/tags",                   admin(tags)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/tags",                   WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/redirects",              admin(redirects_list)),
    #[cfg(feature = "analytics")] r("POST",   Admin, "/api/redirects",              admin(redirects_create)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/redirects",              WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/redirects/{id}",         admin(redirects_show)),
    #[cfg(feature = "analytics")] r("PUT",    Admin, "/api/redirects/{id}",         admin(redirects_update)),
    #[cfg(feature = "analytics")] r("DELETE", Admin, "/api/redirects/{id}",         admin(redirects_delete)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/redirects/{id}",         WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/webhooks",               admin(webhooks_list)),
    #[cfg(feature = "analytics")] r("POST",   Admin, "/api/webhooks",               admin(webhooks_create)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/webhooks",               WrongMethod(Json)),
    #[cfg(feature = "analytics")] r("GET",    Admin, "/api/webhooks/{id}",          admin(webhooks_show)),
    #[cfg(feature = "analytics")] r("PUT",    Admin, "/api/webhooks/{id}",          admin(webhooks_update)),
    #[cfg(feature = "analytics")] r("DELETE", Admin, "/api/webhooks/{id}",          admin(webhooks_delete)),
    #[cfg(feature = "analytics")] r("*",      Admin, "/api/webhooks/{id}",          WrongMethod(Json)),

    // ── admin host: the management API ─────────────────────────────────────────────────────
    r("POST",   Admin, "/api/deploy",                  deploy(deploy_multipart)),
    r("*",      Admin, "/api/deploy",                  WrongMethod(JsonWithoutAllow)),
    r("GET",    Admin, "/api/sites",                   deploy(list_sites)),
    r("DELETE", Admin, "/api/sites",                   admin(delete_site_query)),
    r("*",      Admin, "/api/sites",                   WrongMethod(JsonWithoutAllow)),
    r("PUT",    Admin, "/api/sites/{name}",            deploy(deploy_raw)),
    r("GET",    Admin, "/api/sites/{name}",            deploy(get_site)),
    r("PATCH",  Admin, "/api/sites/{name}",            deploy(patch_site)),
    r("DELETE", Admin, "/api/sites/{name}",            admin(delete_site)),
    r("*",      Admin, "/api/sites/{name}",            WrongMethod(JsonWithoutAllow)),
    r("GET",    Admin, "/api/sites/{name}/deployments", deploy(site_deployments)),
    r("POST",   Admin, "/api/sites/{name}/deployments", deploy(deploy_incremental)),
    r("*",      Admin, "/api/sites/{name}/deployments", WrongMethod(Json)),
    r("POST",   Admin, "/api/sites/{name}/rollback",   deploy(rollback)),
    r("*",      Admin, "/api/sites/{name}/rollback",   WrongMethod(Json)),
    r("GET",    Admin, "/api/sites/{name}/files",      deploy(list_files)),
    r("GET",    Admin, "/api/sites/{name}/files/{path*}", admin(file_content)),
    r("GET",    Admin, "/api/sites/{name}/domains",    admin(domains_list)),
    r("POST",   Admin, "/api/sites/{name}/domains",    admin(domains_add)),
    r("*",      Admin, "/api/sites/{name}/domains",    WrongMethod(Json)),
    r("DELETE", Admin, "/api/sites/{name}/domains/{domain}", admin(domains_remove)),
    r("*",      Admin, "/api/sites/{name}/domains/{domain}", WrongMethod(Json)),
    r("GET",    Admin, "/api/sites/{name}/env",        admin(list_env)),
    r("GET",    Admin, "/api/sites/{name}/env/{VAR}",  admin(get_env)),
    r("PUT",    Admin, "/api/sites/{name}/env/{VAR}",  admin(put_env)),
    r("DELETE", Admin, "/api/sites/{name}/env/{VAR}",  admin(delete_env)),
    r("GET",    Admin, "/api/sites/{name}/logs",       admin(site_logs)),
    r("GET",    Admin, "/api/envvars",                 admin(envvars_list)),
    r("POST",   Admin, "/api/envvars",                 admin(envvars_set)),
    r("DELETE", Admin, "/api/envvars",                 admin(envvars_delete)),
    r("*",      Admin, "/api/envvars",                 WrongMethod(Json)),
    r("GET",    Admin, "/api/logs",                    admin(logs_v0)),
    r("*",      Admin, "/api/logs",                    WrongMethod(Json)),
    r("GET",    Admin, "/api/deployments",             deploy(deployments)),
    r("*",      Admin, "/api/deployments",             WrongMethod(JsonWithoutAllow)),
    r("GET",    Admin, "/api/keys",                    admin(list_keys)),
    r("POST",   Admin, "/api/keys",                    admin(create_key)),
    r("DELETE", Admin, "/api/keys",                    admin(delete_key_query)),
    r("*",      Admin, "/api/keys",                    WrongMethod(JsonWithoutAllow)),
    r("DELETE", Admin, "/api/keys/{id}",               admin(delete_key)),
    r("*",      Admin, "/api/keys/{id}",               WrongMethod(JsonWithoutAllow)),
    r("POST",   Admin, "/api/login",                   open(login)),
    r("*",      Admin, "/api/login",                   WrongMethod(Json)),
    r("POST",   Admin, "/api/logout",                  admin(logout)),
    r("*",      Admin, "/api/logout",                  WrongMethod(Json)),
    r("GET",    Admin, "/api/auth/status",             open(auth_status)),
    r("*",      Admin, "/api/auth/status",             WrongMethod(Json)),
    r("GET",    Admin, "/api/sessions",                admin(sessions_list)),
    r("*",      Admin, "/api/sessions",                WrongMethod(Json)),
    r("DELETE", Admin, "/api/sessions/{id}",           admin(sessions_revoke)),
    r("*",      Admin, "/api/sessions/{id}",           WrongMethod(Json)),
    r("GET",    Admin, "/api/system/health",           deploy(system_health)),
    r("GET",    Admin, "/api/system/limits",           admin(system_limits)),
    r("*",      Admin, "/api/system/limits",           WrongMethod(Json)),
    r("GET",    Admin, "/api/system/cache",            admin(system_cache)),
    r("*",      Admin, "/api/system/cache",            WrongMethod(Json)),
    r("GET",    Admin, "/api/system/db",               admin(system_db)),
    r("*",      Admin, "/api/system/db",               WrongMethod(Json)),
    r("GET",    Admin, "/api/system/config",           admin(system_config)),
    r("*",      Admin, "/api/system/config",           WrongMethod(Json)),
    r("GET",    Admin, "/api/config",                  admin(system_config)),
    r("*",      Admin, "/api/config",                  WrongMethod(Json)),
    r("GET",    Admin, "/api/system/backup",           admin(system_backup)),
    r("*",      Admin, "/api/system/backup",           WrongMethod(Json)),
    r("GET",    Admin, "/api/system/upgrade",          admin(system_upgrade_status)),
    r("POST",   Admin, "/api/system/upgrade",          admin(system_upgrade)),
    r("*",      Admin, "/api/system/upgrade",          WrongMethod(Json)),
    r("*",      Admin, "/api",                         open(no_api_route)),
    r("*",      Admin, "/api/{rest*}",                 open(no_api_route)),

    // ── admin host: analytics' public endpoints (without the feature: the dashboard's) ─────
    #[cfg(feature = "analytics")] r("POST",     Admin, "/track",                open(track)),
    #[cfg(feature = "analytics")] r("OPTIONS",  Admin, "/track",                open(track_preflight)),
    #[cfg(feature = "analytics")] r("*",        Admin, "/track",                WrongMethod(Text)),
    #[cfg(feature = "analytics")] r("*",        Admin, "/pixel.gif",            open(pixel)),
    #[cfg(feature = "analytics")] r("*",        Admin, "/track.js",             open(track_js)),
    #[cfg(feature = "analytics")] r("GET|HEAD", Admin, "/r/{slug*}",            open(redirect)),
    #[cfg(feature = "analytics")] r("*",        Admin, "/r/{slug*}",            WrongMethod(Text)),
    #[cfg(feature = "analytics")] r("POST",     Admin, "/webhook/{endpoint*}",  open(webhook)),
    #[cfg(feature = "analytics")] r("*",        Admin, "/webhook/{endpoint*}",  WrongMethod(Text)),

    // ── admin host: health, then the dashboard (the `admin` system site) ───────────────────
    r("GET", Admin, "/metrics", admin(metrics)),
    r("*",   Admin, "/metrics", WrongMethod(Json)),
    r("*", Admin,   "/health", open(health)),
    r("*", Admin,   "*",       open(admin_site)),

    // ── site hosts: the site's script for the path, else its static files; recorded ─────────
    r("*", Site,    "*",       open(site)),
    r("*", Unknown, "*",       open(unknown_host)),
];

// ── adapters: matched row → the vertical's handler ──────────────────────────────────────────

fn deploy_multipart(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::deploy_multipart(&a.api, c.req, c.body, who)
}

fn deploy_raw(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::deploy_raw(&a.api, c.req, c.body, who, c.params.get("name"), false)
}

fn deploy_incremental(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::deploy_raw(&a.api, c.req, c.body, who, c.params.get("name"), true)
}

fn site_deployments(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    crate::api::deployments::list(&a.api, c.req, c.params.get("name"))
}

fn rollback(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::api::deployments::rollback(&a.api, c.req, c.body, c.params.get("name"), who)
}

fn login(a: &App, c: &mut Call<'_, '_>) -> Response {
    crate::api::auth::login(&a.api, c.req, c.body)
}

fn logout(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::api::auth::logout(&a.api, c.req, who)
}

fn auth_status(a: &App, c: &mut Call<'_, '_>) -> Response {
    crate::api::auth::status(&a.api, c.req)
}

fn sessions_list(a: &App, _: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::api::auth::list(&a.api, who)
}

fn sessions_revoke(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::api::auth::revoke(&a.api, c.params.get("id"), who)
}

fn list_sites(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::list_sites(&a.api, c.req)
}

fn get_site(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::get_site(&a.api, c.req, c.params.get("name"))
}

fn patch_site(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::patch_site(&a.api, c.body, c.params.get("name"), who)
}

fn delete_site(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::delete_site(&a.api, c.req, c.params.get("name"), who)
}

/// Go fazt's `DELETE /api/sites?site_id=NAME`: the same as `DELETE /api/sites/{name}`.
fn delete_site_query(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    match api::query_param(c.req, "site_id").filter(|v| !v.is_empty()) {
        Some(name) => api::delete_site(&a.api, c.req, name, who),
        None => crate::envelope::error(400, "BAD_REQUEST", "DELETE /api/sites needs ?site_id=NAME"),
    }
}

/// Go fazt's `DELETE /api/keys?id=N`: the same as `DELETE /api/keys/{id}`.
fn delete_key_query(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    match api::query_param(c.req, "id").filter(|v| !v.is_empty()) {
        Some(id) => api::delete_key(&a.api, id, who),
        None => crate::envelope::error(400, "BAD_REQUEST", "DELETE /api/keys needs ?id=N"),
    }
}

fn list_files(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::list_files(&a.api, c.params.get("name"))
}

fn domains_list(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    crate::api::domains::list(&a.api, c.params.get("name"))
}

fn domains_add(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::api::domains::add(&a.api, c.body, c.params.get("name"), who)
}

fn domains_remove(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    let (name, domain) = (c.params.get("name"), c.params.get("domain"));
    crate::api::domains::remove(&a.api, name, domain, who)
}

fn list_env(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::list_env(&a.api, c.params.get("name"))
}

fn get_env(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::get_env(&a.api, c.params.get("name"), c.params.get("VAR"))
}

fn put_env(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    let (name, var) = (c.params.get("name"), c.params.get("VAR"));
    api::put_env(&a.api, c.body, name, var, who)
}

fn delete_env(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::delete_env(&a.api, c.params.get("name"), c.params.get("VAR"), who)
}

fn site_logs(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::site_logs(&a.api, c.req, c.params.get("name"))
}

fn deployments(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::deployments(&a.api, c.req)
}

fn list_keys(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::list_keys(&a.api)
}

fn create_key(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::create_key(&a.api, c.body, who)
}

fn delete_key(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    api::delete_key(&a.api, c.params.get("id"), who)
}

fn file_content(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::file_content(&a.api, c.params.get("name"), c.params.get("path"))
}

fn envvars_list(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::envvars_list(&a.api, c.req)
}

fn envvars_set(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    go::envvars_set(&a.api, c.body, who)
}

fn envvars_delete(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    go::envvars_delete(&a.api, c.req, who)
}

fn logs_v0(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::logs(&a.api, c.req)
}

fn system_limits(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::limits(&a.api)
}

fn system_cache(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::cache(&a.api)
}

fn system_db(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::db(&a.api)
}

fn system_config(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    go::config(&a.api)
}

fn system_health(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    api::system_health(&a.api)
}

fn system_backup(a: &App, _: &mut Call<'_, '_>, who: &Caller) -> Response {
    crate::backup::download(&a.db, who)
}

fn system_upgrade_status(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    match a.upgrader() {
        Ok(up) => crate::upgrade::api::status(&up),
        Err(r) => r,
    }
}

fn system_upgrade(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
    match a.upgrader() {
        Ok(up) => crate::upgrade::api::upgrade(&up, &a.db, c.body, who),
        Err(r) => r,
    }
}

fn no_api_route(_: &App, c: &mut Call<'_, '_>) -> Response {
    api::no_route(c.req.method(), c.path)
}

fn metrics(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
    a.metrics_text()
}

fn health(a: &App, _: &mut Call<'_, '_>) -> Response {
    a.health()
}

fn admin_site(a: &App, c: &mut Call<'_, '_>) -> Response {
    a.hosting.serve("admin", c.req)
}

fn site(a: &App, c: &mut Call<'_, '_>) -> Response {
    a.site(c.site, c.req, c.body)
}

fn unknown_host(a: &App, c: &mut Call<'_, '_>) -> Response {
    a.hosting.not_found_site(c.req)
}

#[cfg(feature = "analytics")]
use analytics_adapters::*;

#[cfg(feature = "analytics")]
mod analytics_adapters {
    use super::*;
    use analytics::manage::{self, redirects::REDIRECTS, webhooks::WEBHOOKS, Ctx};
    use analytics::{api as stats_api, public};

    fn ctx<'a>(a: &'a App, c: &Call<'_, '_>, who: &'a Caller) -> Ctx<'a> {
        Ctx {
            analytics: &a.analytics,
            who,
            admin_url: a.api.site_url("admin", c.req),
        }
    }

    pub fn stats(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
        stats_api::get_stats(&a.analytics, c.req)
    }

    pub fn events(a: &App, c: &mut Call<'_, '_>, _: &Caller) -> Response {
        stats_api::list_events(&a.analytics, c.req)
    }

    pub fn domains(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
        analytics::go_api::list_domains(&a.analytics)
    }

    pub fn tags(a: &App, _: &mut Call<'_, '_>, _: &Caller) -> Response {
        analytics::go_api::list_tags(&a.analytics)
    }

    pub fn redirects_list(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        REDIRECTS.list(&ctx(a, c, who))
    }

    pub fn redirects_create(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        manage::redirects::create(&ctx(a, c, who), c.body)
    }

    pub fn redirects_show(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        REDIRECTS.show(&ctx(a, c, who), c.params.get("id"))
    }

    pub fn redirects_update(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        let cx = ctx(a, c, who);
        manage::redirects::update(&cx, c.body, c.params.get("id"))
    }

    pub fn redirects_delete(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        REDIRECTS.delete(&ctx(a, c, who), c.params.get("id"))
    }

    pub fn webhooks_list(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        WEBHOOKS.list(&ctx(a, c, who))
    }

    pub fn webhooks_create(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        manage::webhooks::create(&ctx(a, c, who), c.body)
    }

    pub fn webhooks_show(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        WEBHOOKS.show(&ctx(a, c, who), c.params.get("id"))
    }

    pub fn webhooks_update(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        let cx = ctx(a, c, who);
        manage::webhooks::update(&cx, c.body, c.params.get("id"))
    }

    pub fn webhooks_delete(a: &App, c: &mut Call<'_, '_>, who: &Caller) -> Response {
        WEBHOOKS.delete(&ctx(a, c, who), c.params.get("id"))
    }

    pub fn track(a: &App, c: &mut Call<'_, '_>) -> Response {
        public::track(&a.analytics, c.req, c.body)
    }

    pub fn track_preflight(_: &App, _: &mut Call<'_, '_>) -> Response {
        public::track_preflight()
    }

    pub fn pixel(a: &App, c: &mut Call<'_, '_>) -> Response {
        public::pixel(&a.analytics, c.req)
    }

    pub fn track_js(_: &App, _: &mut Call<'_, '_>) -> Response {
        public::track_js()
    }

    pub fn redirect(a: &App, c: &mut Call<'_, '_>) -> Response {
        public::redirect(&a.analytics, c.req, c.params.get("slug"))
    }

    pub fn webhook(a: &App, c: &mut Call<'_, '_>) -> Response {
        public::webhook(&a.analytics, c.req, c.body, c.params.get("endpoint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::route::{allowed, find, match_path, table_path, MAX_PARAMS};

    /// `{name}`, `{VAR}`, `{slug*}` → `{}`: docs and table may name parameters differently.
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// A path the pattern matches, with `x` for every parameter.
    fn sample(pattern: &str) -> String {
        if pattern == "*" {
            return "/no-such-page".into();
        }
        pattern
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn scope_of(h: &Handler) -> &'static str {
        match h {
            Handler::Open(_) => "public",
            Handler::Token(Scope::Deploy, _) => "deploy",
            Handler::Token(Scope::Admin, _) => "admin",
            Handler::WrongMethod(_) => "405",
        }
    }

    struct Documented {
        method: String,
        path: String,
        scope: String,
        analytics: bool,
    }

    /// The routes in README.md's `## API` table: every `` `METHOD[|METHOD] /path` `` of a
    /// row, with the row's scope.
    fn documented() -> Vec<Documented> {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let start = readme
            .find("\n## API\n")
            .expect("README.md has an `## API` section");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let mut out = Vec::new();
        for line in section.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<String> = line
                .replace("\\|", "\u{0}")
                .split('|')
                .map(|c| c.replace('\u{0}', "|").trim().to_string())
                .collect();
            let (Some(routes), Some(scope)) = (cells.get(1), cells.get(2)) else {
                continue;
            };
            let analytics = cells
                .get(3)
                .is_some_and(|n| n.contains("feature `analytics`"));
            for span in routes.split('`').skip(1).step_by(2) {
                let Some((methods, path)) = span.split_once(' ') else {
                    continue;
                };
                if !path.starts_with('/')
                    || !methods.bytes().all(|b| b.is_ascii_uppercase() || b == b'|')
                {
                    continue;
                }
                let path = path.split('?').next().unwrap_or(path);
                for m in methods.split('|') {
                    out.push(Documented {
                        method: m.to_string(),
                        path: path.to_string(),
                        scope: scope.clone(),
                        analytics,
                    });
                }
            }
        }
        assert!(
            out.len() > 20,
            "found only {} routes in README.md's API table",
            out.len()
        );
        out
    }

    #[test]
    fn every_documented_route_is_in_the_table_with_its_scope() {
        for d in documented() {
            if d.analytics && !cfg!(feature = "analytics") {
                continue;
            }
            let path = sample(&d.path);
            let found = find(ROUTES, Admin, &d.method, table_path(&path));
            let Some((_, row, _)) = found else {
                panic!("README: {} {} is not in the route table", d.method, d.path);
            };
            assert_eq!(
                shape(row.path),
                shape(&d.path),
                "README: {} {} is answered by the row for {} {}",
                d.method,
                d.path,
                row.method,
                row.path
            );
            assert_eq!(
                scope_of(&row.handler),
                d.scope,
                "README: {} {} has scope {}, the table {}",
                d.method,
                d.path,
                d.scope,
                scope_of(&row.handler)
            );
        }
    }

    #[test]
    fn every_admin_route_with_methods_is_documented() {
        let docs: Vec<(String, String)> = documented()
            .into_iter()
            .map(|d| (d.method, shape(&d.path)))
            .collect();
        for row in ROUTES {
            if row.host != Admin || row.method == "*" {
                continue;
            }
            for m in row.method.split('|') {
                assert!(
                    docs.contains(&(m.to_string(), shape(row.path))),
                    "{m} {} is in the route table but not in README.md's API table",
                    row.path
                );
            }
        }
    }

    #[test]
    fn every_row_is_reachable() {
        for (i, row) in ROUTES.iter().enumerate() {
            let method = match row.method {
                "*" => "BREW",
                m => m.split('|').next().unwrap_or(m),
            };
            let path = sample(row.path);
            let found = find(ROUTES, row.host, method, table_path(&path)).map(|(at, ..)| at);
            assert_eq!(
                found,
                Some(i),
                "row {i} ({} {:?} {}) is shadowed by an earlier row",
                row.method,
                row.host,
                row.path
            );
        }
    }

    #[test]
    fn patterns_are_well_formed_and_every_405_has_methods() {
        for (i, row) in ROUTES.iter().enumerate() {
            let segs: Vec<&str> = row.path.split('/').collect();
            let params = segs.iter().filter(|s| s.starts_with('{')).count();
            assert!(params <= MAX_PARAMS, "{}: too many parameters", row.path);
            for (at, s) in segs.iter().enumerate() {
                assert!(
                    !s.ends_with("*}") || at + 1 == segs.len(),
                    "{}: a {{name*}} parameter must be last",
                    row.path
                );
            }
            assert!(row.path == "*" || row.path.starts_with('/'), "{}", row.path);
            assert!(
                match_path(row.path, &sample(row.path)).is_some(),
                "{}",
                row.path
            );
            if let Handler::WrongMethod(_) = row.handler {
                assert!(
                    !allowed(ROUTES, i).is_empty(),
                    "405 row {} allows nothing",
                    row.path
                );
            }
        }
        // Every host kind ends in a catch-all, so every request finds a row.
        for host in [Admin, Site, Unknown] {
            assert!(find(ROUTES, host, "BREW", "weird").is_some(), "{host:?}");
        }
    }

    /// Who answers what: the precedence the table encodes, as the verticals answered before.
    #[test]
    fn precedence_and_wrong_methods() {
        let at = |m: &str, p: &str| {
            let (i, row, _) = find(ROUTES, Admin, m, table_path(p)).unwrap();
            (row.path, scope_of(&row.handler), allowed(ROUTES, i))
        };
        // The management API: 405 without a list on its old paths, 404 elsewhere.
        assert_eq!(
            at("PATCH", "/api/sites"),
            ("/api/sites", "405", "GET, DELETE".into())
        );
        assert_eq!(
            at("POST", "/api/sites/x/"),
            ("/api/sites/{name}", "405", "PUT, GET, PATCH, DELETE".into())
        );
        assert_eq!(at("POST", "/api/system/health").0, "/api/{rest*}");
        assert_eq!(at("POST", "/api/sites/x/files").0, "/api/{rest*}");
        assert_eq!(at("GET", "/api/").0, "/api");
        assert_eq!(at("GET", "/api/sites/x/env/FOO").1, "admin");
        assert_eq!(at("GET", "/api/sites/x").1, "deploy");
        assert_eq!(at("GET", "/health").0, "/health");
        assert_eq!(at("POST", "/health").0, "/health");
        assert_eq!(at("GET", "/health/").0, "*", "the start page's");
        assert_eq!(at("GET", "/track/").0, "*");
        if cfg!(feature = "analytics") {
            assert_eq!(
                at("PATCH", "/api/redirects"),
                ("/api/redirects", "405", "GET, POST".into())
            );
            assert_eq!(
                at("POST", "/api/stats"),
                ("/api/stats", "405", "GET".into())
            );
            assert_eq!(at("GET", "/api/stats/x").0, "/api/{rest*}");
            assert_eq!(
                at("GET", "/track"),
                ("/track", "405", "POST, OPTIONS".into())
            );
            assert_eq!(
                at("POST", "/r/go"),
                ("/r/{slug*}", "405", "GET, HEAD".into())
            );
            assert_eq!(
                at("GET", "/webhook/x"),
                ("/webhook/{endpoint*}", "405", "POST".into())
            );
            assert_eq!(at("POST", "/pixel.gif").1, "public");
        } else {
            assert_eq!(at("GET", "/api/stats").0, "/api/{rest*}");
            assert_eq!(at("POST", "/track").0, "*");
        }
    }
}
