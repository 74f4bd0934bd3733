//! `/api/redirects`: short links served at `/r/{slug}` on the admin host.

use rusqlite::params;
use serde_json::{json, Value};

use super::{opt_str, read_object, tag_list, tags_of, valid_key, Ctx, Table, Write};
use crate::envelope::{bad_request, error, internal};
use crate::kernel::db::now;
use crate::kernel::http::{Body, Response};

const DESTINATION_MAX: usize = 2048;

/// A short link's destination: an absolute http(s) URL or a path on the admin host, printable
/// ASCII only (it goes into a `Location` header).
pub fn valid_destination(d: &str) -> Result<(), String> {
    if d.is_empty() || d.len() > DESTINATION_MAX {
        return Err(format!(
            "'destination' must be 1 to {DESTINATION_MAX} characters"
        ));
    }
    if !d.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(
            "'destination' must be printable ASCII without spaces (percent-encode the rest)".into(),
        );
    }
    let lower = d.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() => Ok(()),
        Some(_) => Err(format!("'destination' has no host: '{d}'")),
        None if d.starts_with('/') && !d.starts_with("//") => Ok(()),
        None => Err(format!(
            "'destination' must start with http://, https:// or /, not '{d}'"
        )),
    }
}

fn redirect_json(cx: &Ctx<'_>, r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let slug: String = r.get(1)?;
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "slug": slug,
        "destination": r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        "tags": tag_list(&r.get::<_, Option<String>>(3)?.unwrap_or_default()),
        "click_count": r.get::<_, i64>(4)?,
        "created_at": r.get::<_, Option<i64>>(5).ok().flatten(),
        "url": cx.url(&format!("r/{slug}")),
    }))
}

pub const REDIRECTS: Table = Table {
    name: "redirects",
    key_col: "slug",
    columns: "id, COALESCE(slug, ''), destination, tags, click_count, created_at",
    list_order: "click_count DESC, id",
    noun: "short link",
    action: "redirect",
    to_json: redirect_json,
};

/// The body's slug, destination and tags, each `None` when absent.
type Fields = (Option<String>, Option<String>, Option<String>);

fn read_fields(body: &mut Body<'_>) -> Result<Fields, Response> {
    let o = read_object(body)?;
    let slug = opt_str(&o, "slug")?.map(str::to_string);
    let destination = opt_str(&o, "destination")?.map(str::to_string);
    Ok((slug, destination, tags_of(&o)?))
}

/// `POST /api/redirects`.
pub fn create(cx: &Ctx<'_>, body: &mut Body<'_>) -> Response {
    let (slug, destination, tags) = match read_fields(body) {
        Ok((Some(s), Some(d), t)) => (s, d, t.unwrap_or_default()),
        Ok(_) => return bad_request("'slug' and 'destination' are required"),
        Err(r) => return r,
    };
    if !valid_key(&slug) {
        return bad_request(format!(
            "'{slug}' is not a valid slug: use A-Z, a-z, 0-9, '_', '-' and '.', 1 to 64 characters"
        ));
    }
    if let Err(e) = valid_destination(&destination) {
        return bad_request(e);
    }
    let (s2, d2, t2) = (slug.clone(), destination.clone(), tags.clone());
    let r = cx
        .analytics
        .db
        .write(move |c| -> rusqlite::Result<Write<i64>> {
            let tx = c.transaction()?;
            if REDIRECTS.key_taken(&tx, &s2, -1)? {
                return Ok(Write::Conflict);
            }
            tx.execute(
                "INSERT INTO redirects (slug, destination, tags, click_count, created_at)
             VALUES (?1, ?2, ?3, 0, ?4)",
                params![s2, d2, t2, now()],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Write::Done(id))
        });
    match r {
        Ok(Write::Done(id)) => {
            cx.audit(
                "redirect.create",
                &slug,
                &json!({"destination": destination}),
            );
            REDIRECTS.saved(cx, id, 201, |v| v)
        }
        Ok(_) => error(409, "CONFLICT", format!("slug '{slug}' is already in use")),
        Err(e) => internal(e),
    }
}

/// `PUT /api/redirects/{id}`.
pub fn update(cx: &Ctx<'_>, body: &mut Body<'_>, id: &str) -> Response {
    let (slug, destination, tags) = match read_fields(body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(s) = &slug {
        if !valid_key(s) {
            return bad_request(format!("'{s}' is not a valid slug"));
        }
    }
    if let Some(d) = &destination {
        if let Err(e) = valid_destination(d) {
            return bad_request(e);
        }
    }
    let (s2, d2, t2) = (slug.clone(), destination.clone(), tags.clone());
    let target = id.to_string();
    let r = cx
        .analytics
        .db
        .write(move |c| -> rusqlite::Result<Write<i64>> {
            let tx = c.transaction()?;
            let Some(rid) = REDIRECTS.find_id(&tx, &target)? else {
                return Ok(Write::NotFound);
            };
            if let Some(s) = &s2 {
                if REDIRECTS.key_taken(&tx, s, rid)? {
                    return Ok(Write::Conflict);
                }
                REDIRECTS.set(&tx, rid, "slug", s)?;
            }
            if let Some(d) = &d2 {
                REDIRECTS.set(&tx, rid, "destination", d)?;
            }
            if let Some(t) = &t2 {
                REDIRECTS.set(&tx, rid, "tags", t)?;
            }
            tx.commit()?;
            Ok(Write::Done(rid))
        });
    match r {
        Ok(Write::Done(rid)) => {
            cx.audit(
                "redirect.update",
                id,
                &json!({"slug": slug, "destination": destination}),
            );
            REDIRECTS.saved(cx, rid, 200, |v| v)
        }
        Ok(Write::NotFound) => REDIRECTS.not_found(id),
        Ok(Write::Conflict) => error(
            409,
            "CONFLICT",
            format!("slug '{}' is already in use", slug.unwrap_or_default()),
        ),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        for ok in [
            "https://example.com",
            "http://x.org/a?b=c#d",
            "/docs/",
            "HTTPS://X.ORG",
        ] {
            assert!(valid_destination(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "//evil.com",
            "https://",
            "https:///path",
            "ftp://x.org",
            "https://x.org/a b",
            "https://x.org/\r\nSet-Cookie: a=b",
            "https://exämple.org",
            "relative/path",
        ] {
            assert!(valid_destination(bad).is_err(), "{bad}");
        }
        assert!(valid_destination(&format!("https://x.org/{}", "a".repeat(2100))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn validators_never_panic(s in "\\PC{0,100}") {
            let _ = valid_key(&s);
            let _ = valid_destination(&s);
        }
    }
}
