//! The audit trail: every state-changing API call (management or analytics) leaves a row in
//! `audit_logs` naming the caller's token and address.

use crate::access::Caller;
use crate::kernel::db::{now, Db};

pub fn record(db: &Db, who: &Caller, action: &str, resource: &str, details: &str) {
    let (a, b, c, d, e) = (
        who.name.clone(),
        action.to_string(),
        resource.to_string(),
        details.to_string(),
        who.ip.to_string(),
    );
    let r = db.write(move |conn| {
        conn.execute(
            "INSERT INTO audit_logs (actor, action, resource, details, ip_address, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![a, b, c, d, e, now()],
        )
    });
    if r.is_err() {
        log::error!("could not write the audit log for {action} {resource}");
    }
}
