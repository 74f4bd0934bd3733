//! `/api/sites/{name}/deployments` (a site's history; `POST` is the incremental deploy, see
//! [`super::handlers::deploy_raw`]) and `/api/sites/{name}/rollback`: switching a site back
//! to a kept deployment in one transaction.

use serde_json::{json, Value};

use super::handlers::{existing_site, limit_param, query_param};
use super::Api;
use crate::access::Caller;
use crate::audit;
use crate::deploy::rollback::{self, RolledBack};
use crate::deploy::DeployError;
use crate::envelope::{bad_request, body_error, error, internal, ok};
use crate::kernel::http::{Body, Request, Response};

/// `GET /api/sites/{name}/deployments?limit=`, newest first.
pub fn list(api: &Api, req: &Request, raw: &str) -> Response {
    let site = match existing_site(api, raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match rollback::list(&api.db, &site, limit_param(req, 20, 500)) {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|l| {
                    let d = l.deployment;
                    json!({"id": d.id, "created_at": d.created_at, "deployed_by": d.deployed_by,
                           "file_count": d.file_count, "size_bytes": d.size_bytes,
                           "message": d.message, "live": l.live, "restorable": l.restorable})
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

/// The deployment a rollback asks for: `{"to": ID}` in the body or `?to=ID`; none means the
/// one before the live one.
fn target(req: &Request, body: &mut Body<'_>) -> Result<Option<i64>, Response> {
    let raw = body.read_all(4096).map_err(body_error)?;
    let from_body = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: Value =
            serde_json::from_slice(&raw).map_err(|e| bad_request(format!("invalid JSON: {e}")))?;
        match v.get("to") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                t.as_i64()
                    .ok_or_else(|| bad_request("to must be a deployment id"))?,
            ),
        }
    };
    match (from_body, query_param(req, "to")) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(q)) => q
            .parse()
            .map(Some)
            .map_err(|_| bad_request(format!("to={q} is not a deployment id"))),
        (None, None) => Ok(None),
    }
}

/// `POST /api/sites/{name}/rollback`.
pub fn rollback(
    api: &Api,
    req: &Request,
    body: &mut Body<'_>,
    raw: &str,
    who: &Caller,
) -> Response {
    let site = match existing_site(api, raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to = match target(req, body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match rollback::rollback(&api.db, &site, to, api.deploy_limits.keep_deployments) {
        Ok(RolledBack {
            from,
            to,
            file_count,
        }) => {
            api.notify_site_changed(&site);
            api.db.reclaim_in_background();
            audit::record(
                &api.db,
                who,
                "rollback",
                &site,
                &json!({"from": from, "to": to}).to_string(),
            );
            log::info!("rolled {site} back to deployment {to} (by {})", who.name);
            ok(json!({"site": site, "from": from, "deployment_id": to, "file_count": file_count}))
        }
        Err(DeployError::Refused {
            status,
            code,
            message,
        }) => error(status, code, message),
        Err(DeployError::Missing(_)) => internal("rollback: content missing"),
        Err(DeployError::Internal(e)) => internal(e),
    }
}
