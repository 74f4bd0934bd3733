//! What a row of the route table is and how rows match a request. The rows themselves are in
//! [`super::routes`]; this file is the mechanism: a request is answered by the first row, in
//! table order, whose host kind, path pattern and method all match it.

use super::App;
use crate::access::{Caller, Scope};
use crate::envelope;
use crate::kernel::http::{Body, Request, Response};

/// Which hosts a row answers for, as `hosting::Router` sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// fazt's own host: `admin.<domain>`, `localhost`, `127.0.0.1`, `[::1]`.
    Admin,
    /// `<site>.<domain>`, `<domain>` (site `root`), …; the site may not exist.
    Site,
    /// A host no site can have.
    Unknown,
}

/// A handler anyone may call.
pub type OpenFn = fn(&App, &mut Call<'_, '_>) -> Response;
/// A handler behind a token; it gets who called.
pub type TokenFn = fn(&App, &mut Call<'_, '_>, &Caller) -> Response;

pub enum Handler {
    Open(OpenFn),
    /// Needs a bearer token of at least this scope. Checked before the handler runs; without
    /// one the answer is [`crate::access::Gate::authenticate`]'s 401, 403 or 429.
    Token(Scope, TokenFn),
    /// 405: the rows above with the same host and path take other methods (they make up the
    /// `Allow` header).
    WrongMethod(NotAllowed),
}

/// How a 405 is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAllowed {
    /// `{"error": {"code": "METHOD_NOT_ALLOWED", …}}` with `Allow`.
    Json,
    /// The same without `Allow`: what the management API has always answered.
    JsonWithoutAllow,
    /// `method not allowed` as text, with `Allow` (the public endpoints).
    Text,
}

pub struct Route {
    /// `GET`, several as `GET|HEAD`, or `*` for any method.
    pub method: &'static str,
    pub host: Host,
    /// `*` for any path at all; otherwise `/`-separated segments, each literal, `{name}` (one
    /// segment, any text, even empty) or, last, `{name*}` (the rest of the path: one or more
    /// segments, slashes included).
    pub path: &'static str,
    pub handler: Handler,
}

/// Path parameters a pattern can bind (the table's patterns have at most two).
pub const MAX_PARAMS: usize = 3;

/// The values a row's `{name}` segments matched.
#[derive(Clone, Copy, Debug, Default)]
pub struct Params<'r> {
    names: [&'static str; MAX_PARAMS],
    values: [&'r str; MAX_PARAMS],
    len: usize,
}

impl<'r> Params<'r> {
    /// The value of `{name}`; empty when the pattern has no such parameter.
    pub fn get(&self, name: &str) -> &'r str {
        (0..self.len)
            .find(|&i| self.names[i] == name)
            .map_or("", |i| self.values[i])
    }

    fn push(&mut self, name: &'static str, value: &'r str) -> bool {
        if self.len == MAX_PARAMS {
            return false;
        }
        self.names[self.len] = name;
        self.values[self.len] = value;
        self.len += 1;
        true
    }
}

/// One request as a handler sees it.
pub struct Call<'r, 'b> {
    pub req: &'r Request,
    pub body: &'r mut Body<'b>,
    /// The path the table matched (see [`table_path`]).
    pub path: &'r str,
    /// On a site host, the site's name; empty elsewhere.
    pub site: &'r str,
    pub params: Params<'r>,
}

/// The path rows are matched against: the request's, except that under `/api` trailing
/// slashes are ignored (`/api/sites/` is `/api/sites`), as the API always did.
pub fn table_path(path: &str) -> &str {
    if path == "/api" || path.starts_with("/api/") {
        path.trim_end_matches('/')
    } else {
        path
    }
}

impl Route {
    /// Whether the row takes `method`.
    pub fn takes(&self, method: &str) -> bool {
        self.method == "*" || self.method.split('|').any(|m| m == method)
    }

    /// The parameters, if `path` matches the row's pattern.
    pub fn matches<'r>(&self, path: &'r str) -> Option<Params<'r>> {
        match_path(self.path, path)
    }
}

/// Matches `path` against a pattern (see [`Route::path`]).
pub fn match_path<'r>(pattern: &'static str, path: &'r str) -> Option<Params<'r>> {
    let mut params = Params::default();
    if pattern == "*" {
        return Some(params);
    }
    let mut rest = Some(path);
    for seg in pattern.split('/') {
        let r = rest?;
        let name = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        if let Some(tail) = name.and_then(|n| n.strip_suffix('*')) {
            return params.push(tail, r).then_some(params);
        }
        let (here, next) = match r.split_once('/') {
            Some((h, n)) => (h, Some(n)),
            None => (r, None),
        };
        match name {
            Some(n) if !params.push(n, here) => return None,
            Some(_) => {}
            None if here != seg => return None,
            None => {}
        }
        rest = next;
    }
    rest.is_none().then_some(params)
}

/// The first row of `table` for this host, method and (table) path, with its parameters.
pub fn find<'t, 'r>(
    table: &'t [Route],
    host: Host,
    method: &str,
    path: &'r str,
) -> Option<(usize, &'t Route, Params<'r>)> {
    table.iter().enumerate().find_map(|(i, route)| {
        if route.host != host || !route.takes(method) {
            return None;
        }
        route.matches(path).map(|p| (i, route, p))
    })
}

/// The `Allow` list of a 405 row: the methods of the rows before it with its host and path.
pub fn allowed(table: &[Route], at: usize) -> String {
    let Some(row) = table.get(at) else {
        return String::new();
    };
    let mut methods: Vec<&str> = Vec::new();
    for r in &table[..at] {
        if r.host == row.host && r.path == row.path && r.method != "*" {
            for m in r.method.split('|') {
                if !methods.contains(&m) {
                    methods.push(m);
                }
            }
        }
    }
    methods.join(", ")
}

/// Answers `req` from `table`.
pub fn dispatch(
    app: &App,
    table: &[Route],
    host: Host,
    site: &str,
    req: &Request,
    body: &mut Body<'_>,
) -> Response {
    let method = req.method();
    let path = table_path(req.path());
    let Some((at, route, params)) = find(table, host, method, path) else {
        // The table ends with a catch-all row for every host kind, so this is not reached.
        return Response::text(404, "404 not found\n");
    };
    let mut call = Call {
        req,
        body,
        path,
        site,
        params,
    };
    match route.handler {
        Handler::Open(f) => f(app, &mut call),
        Handler::Token(scope, f) => match app.api.authenticate(req, scope) {
            Ok(who) => f(app, &mut call, &who),
            Err(r) => r,
        },
        Handler::WrongMethod(style) => {
            let allow = allowed(table, at);
            let json = || {
                envelope::error(
                    405,
                    "METHOD_NOT_ALLOWED",
                    format!("{method} is not allowed on {path}"),
                )
            };
            match style {
                NotAllowed::Json => json().header("Allow", allow),
                NotAllowed::JsonWithoutAllow => json(),
                NotAllowed::Text => {
                    Response::text(405, "method not allowed\n").header("Allow", allow)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pattern: &'static str, path: &str) -> Option<Vec<(String, String)>> {
        match_path(pattern, path).map(|p| {
            (0..p.len)
                .map(|i| (p.names[i].to_string(), p.values[i].to_string()))
                .collect()
        })
    }

    fn kv(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn literal_patterns_match_exactly() {
        assert_eq!(params("/health", "/health"), kv(&[]));
        for other in [
            "/health/",
            "/healthz",
            "/",
            "",
            "/health/x",
            "//health",
            "/Health",
        ] {
            assert_eq!(params("/health", other), None, "{other}");
        }
        assert_eq!(params("/api/system/health", "/api/system/health"), kv(&[]));
        assert_eq!(params("/api/system/health", "/api/system"), None);
    }

    #[test]
    fn segment_parameters_take_one_segment_even_an_empty_one() {
        let p = "/api/sites/{name}/env/{VAR}";
        assert_eq!(
            params(p, "/api/sites/blog/env/FOO"),
            kv(&[("name", "blog"), ("VAR", "FOO")])
        );
        assert_eq!(
            params(p, "/api/sites//env/"),
            kv(&[("name", ""), ("VAR", "")])
        );
        assert_eq!(params(p, "/api/sites/blog/env"), None);
        assert_eq!(params(p, "/api/sites/blog/env/FOO/x"), None);
        assert_eq!(params(p, "/api/sites/a/b/env/FOO"), None);
        assert_eq!(
            params("/api/sites/{name}", "/api/sites/"),
            kv(&[("name", "")])
        );
        assert_eq!(params("/api/sites/{name}", "/api/sites"), None);
    }

    #[test]
    fn rest_parameters_take_the_rest_of_the_path() {
        assert_eq!(params("/r/{slug*}", "/r/go"), kv(&[("slug", "go")]));
        assert_eq!(params("/r/{slug*}", "/r/a/b/"), kv(&[("slug", "a/b/")]));
        assert_eq!(params("/r/{slug*}", "/r/"), kv(&[("slug", "")]));
        assert_eq!(params("/r/{slug*}", "/r"), None);
        assert_eq!(params("/r/{slug*}", "/rx/go"), None);
        assert_eq!(params("/api/{rest*}", "/api/x/y"), kv(&[("rest", "x/y")]));
        assert_eq!(params("/api/{rest*}", "/api"), None);
    }

    #[test]
    fn star_matches_any_path() {
        for p in ["", "/", "*", "/a/b", "http://x/y"] {
            assert_eq!(params("*", p), kv(&[]), "{p}");
        }
    }

    #[test]
    fn params_are_looked_up_by_name_and_bounded() {
        let p = match_path("/a/{x}/{y}", "/a/1/2").unwrap();
        assert_eq!((p.get("x"), p.get("y"), p.get("z")), ("1", "2", ""));
        // More parameters than there is room for never match (and never panic).
        assert!(match_path("/{a}/{b}/{c}/{d}", "/1/2/3/4").is_none());
        assert!(match_path("/{a}/{b}/{c}", "/1/2/3").is_some());
    }

    #[test]
    fn api_paths_ignore_trailing_slashes_and_others_do_not() {
        assert_eq!(table_path("/api/sites/"), "/api/sites");
        assert_eq!(table_path("/api//"), "/api");
        assert_eq!(table_path("/api/"), "/api");
        assert_eq!(table_path("/track/"), "/track/");
        assert_eq!(table_path("/apix/"), "/apix/");
        assert_eq!(table_path("//api/"), "//api/");
    }

    fn open(_: &App, _: &mut Call<'_, '_>) -> Response {
        Response::new(200)
    }

    #[test]
    fn first_match_wins_and_methods_filter() {
        let t = [
            Route {
                method: "GET|HEAD",
                host: Host::Admin,
                path: "/a/{x}",
                handler: Handler::Open(open),
            },
            Route {
                method: "POST",
                host: Host::Admin,
                path: "/a/{x}",
                handler: Handler::Open(open),
            },
            Route {
                method: "*",
                host: Host::Admin,
                path: "/a/{x}",
                handler: Handler::WrongMethod(NotAllowed::Text),
            },
            Route {
                method: "*",
                host: Host::Admin,
                path: "*",
                handler: Handler::Open(open),
            },
            Route {
                method: "*",
                host: Host::Site,
                path: "*",
                handler: Handler::Open(open),
            },
        ];
        let at = |host, m, p| find(&t, host, m, p).map(|(i, ..)| i);
        assert_eq!(at(Host::Admin, "GET", "/a/1"), Some(0));
        assert_eq!(at(Host::Admin, "HEAD", "/a/1"), Some(0));
        assert_eq!(at(Host::Admin, "POST", "/a/1"), Some(1));
        assert_eq!(at(Host::Admin, "DELETE", "/a/1"), Some(2));
        assert_eq!(
            at(Host::Admin, "get", "/a/1"),
            Some(2),
            "methods are case-sensitive"
        );
        assert_eq!(at(Host::Admin, "GET", "/a/1/2"), Some(3));
        assert_eq!(at(Host::Site, "GET", "/a/1"), Some(4));
        assert_eq!(at(Host::Unknown, "GET", "/a/1"), None);
        assert_eq!(allowed(&t, 2), "GET, HEAD, POST");
        assert_eq!(allowed(&t, 0), "");
        assert_eq!(allowed(&t, 99), "");
    }
}
