//! `/api/sites/{name}/domains`: a site's custom domains — list, add (all or none), remove.
//! Changes take effect at once in this server (its lookup cache is dropped); certificates
//! for them are then issued on demand at the first TLS handshake.

use serde_json::{json, Value};

use super::handlers::existing_site;
use super::Api;
use crate::access::Caller;
use crate::audit;
use crate::envelope::{bad_request, body_error, data, error, internal, not_found, ok};
use crate::hosting::domains::{self, DomainError};
use crate::kernel::http::Body;
use crate::kernel::http::Response;

fn listed(api: &Api, site: &str) -> Response {
    match domains::list(&api.db, Some(site)) {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|d| json!({"domain": d.domain, "primary": d.primary, "created_at": d.created_at}))
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

fn changed(api: &Api) {
    if let Some(d) = &api.domains {
        d.invalidate();
    }
}

/// `GET /api/sites/{name}/domains`.
pub fn list(api: &Api, raw: &str) -> Response {
    match existing_site(api, raw) {
        Ok(site) => listed(api, &site),
        Err(r) => r,
    }
}

/// `POST /api/sites/{name}/domains` with `{"domains": ["example.org", "www.example.org"],
/// "redirect": true}`: with `redirect`, every name but the first redirects to it.
pub fn add(api: &Api, body: &mut Body<'_>, raw: &str, who: &Caller) -> Response {
    let site = match existing_site(api, raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let raw_body = match body.read_all(64 * 1024) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let v: Value = match serde_json::from_slice(&raw_body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let Some(list) = v
        .get("domains")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return bad_request("expected {\"domains\": [\"example.org\", …]}");
    };
    let redirect = match v.get("redirect") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return bad_request("redirect must be true or false"),
    };
    let mut names = Vec::new();
    for d in list {
        let Some(d) = d.as_str() else {
            return bad_request("domains must be strings");
        };
        match domains::check_name(d, &api.domain) {
            Ok(n) if !names.contains(&n) => names.push(n),
            Ok(_) => {}
            Err(e) => return error(400, "INVALID_DOMAIN", e.to_string()),
        }
    }
    let audit_names = names.join(",");
    match domains::add(&api.db, &site, names, redirect) {
        Ok(()) => {
            changed(api);
            audit::record(&api.db, who, "domain.add", &site, &audit_names);
            // 201 with the site's domains now.
            let mut r = listed(api, &site);
            if r.status == 200 {
                r.status = 201;
            }
            r
        }
        Err(e @ DomainError::Taken { .. }) => error(409, "DOMAIN_TAKEN", e.to_string()),
        Err(e @ DomainError::TooMany) => error(400, "TOO_MANY_DOMAINS", e.to_string()),
        Err(e) => internal(e),
    }
}

/// `DELETE /api/sites/{name}/domains/{domain}`.
pub fn remove(api: &Api, raw: &str, domain: &str, who: &Caller) -> Response {
    let site = match existing_site(api, raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let domain = domain.to_ascii_lowercase();
    match domains::list(&api.db, Some(&site)) {
        Ok(rows) if rows.iter().any(|d| d.domain == domain) => {}
        Ok(_) => return not_found(format!("'{domain}' is not a domain of '{site}'")),
        Err(e) => return internal(e),
    }
    match domains::remove(&api.db, &domain) {
        Ok(_) => {
            changed(api);
            audit::record(&api.db, who, "domain.remove", &site, &domain);
            data(
                200,
                json!({"site": site, "domain": domain, "deleted": true}),
            )
        }
        Err(e) => internal(e),
    }
}
