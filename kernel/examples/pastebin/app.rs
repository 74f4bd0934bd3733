//! The paste bin's request handler: its routes, its table, its limits. Everything a product
//! needs below this (HTTP edge, SQLite with EDD, body caps) comes from the kernel.
//!
//! Routes:
//! - `GET /` — a form; `GET /health` — `ok` when the database answers;
//! - `POST /` — body is the paste (UTF-8, at most 64 KiB) → 201 `{"id", "url", "delete_token"}`;
//! - `GET /p/{id}` — the paste as text/plain, 404 when unknown;
//! - `DELETE /p/{id}` with `Authorization: Bearer <delete_token>` → 200, else 403/404.

use std::sync::Arc;

use fazt_kernel::db::{migrate::hex, now, Db};
use fazt_kernel::http::{Body, Handler, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The paste bin's schema, compiled in.
pub const SCHEMA: &str = include_str!("schema.sql");
/// Largest paste accepted.
pub const MAX_PASTE: u64 = 64 * 1024;

/// The handler: the database and nothing else.
pub struct Pastebin {
    db: Arc<Db>,
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// 128 unguessable bits as hex. std's `RandomState` is seeded from the operating system's
/// random source; hashing the time and a counter on top makes each draw distinct.
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut seed = Vec::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        seed.extend_from_slice(&h.finish().to_le_bytes());
    }
    hex(&Sha256::digest(&seed)[..16])
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

impl Pastebin {
    /// The paste bin over an open database (opened with [`SCHEMA`]).
    pub fn new(db: Arc<Db>) -> Self {
        Pastebin { db }
    }

    fn create(&self, body: &mut Body<'_>) -> Response {
        let raw = match body.read_all(MAX_PASTE) {
            Ok(b) => b,
            Err(e) => return error(e.status(), "BAD_BODY", &e.to_string()),
        };
        let Ok(text) = String::from_utf8(raw) else {
            return error(400, "NOT_UTF8", "a paste is UTF-8 text");
        };
        if text.is_empty() {
            return error(400, "EMPTY", "the paste is empty");
        }
        let (id, token) = (random_hex(), random_hex());
        let (i, h) = (id.clone(), token_hash(&token));
        let stored = self.db.write(move |c| {
            c.execute(
                "INSERT INTO pastes (id, body, delete_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![i, text, h, now()],
            )
        });
        match stored {
            Ok(_) => Response::json(
                201,
                &json!({"id": id, "url": format!("/p/{id}"), "delete_token": token}),
            ),
            Err(e) => {
                log::error!("storing a paste: {e}");
                error(500, "INTERNAL", "could not store the paste")
            }
        }
    }

    fn show(&self, id: &str) -> Response {
        let found = self.db.read(|c| {
            use rusqlite::OptionalExtension;
            c.query_row("SELECT body FROM pastes WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()
        });
        match found {
            Ok(Some(body)) => Response::text(200, body),
            Ok(None) => error(404, "NOT_FOUND", "no such paste"),
            Err(e) => {
                log::error!("reading paste {id}: {e}");
                error(500, "INTERNAL", "could not read the paste")
            }
        }
    }

    fn delete(&self, req: &Request, id: &str) -> Response {
        let Some(token) = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return error(
                401,
                "UNAUTHORIZED",
                "send Authorization: Bearer <delete_token>",
            );
        };
        let (i, h) = (id.to_string(), token_hash(token.trim()));
        let r = self.db.write(move |c| {
            let known = c
                .prepare_cached("SELECT 1 FROM pastes WHERE id = ?1")?
                .exists([&i])?;
            let gone = c.execute(
                "DELETE FROM pastes WHERE id = ?1 AND delete_hash = ?2",
                [&i, &h],
            )?;
            Ok((known, gone))
        });
        match r {
            Ok((_, 1..)) => Response::json(200, &json!({"id": id, "deleted": true})),
            Ok((true, _)) => error(403, "FORBIDDEN", "wrong delete token"),
            Ok((false, _)) => error(404, "NOT_FOUND", "no such paste"),
            Err(e) => {
                log::error!("deleting paste {id}: {e}");
                error(500, "INTERNAL", "could not delete the paste")
            }
        }
    }
}

/// A paste id as [`random_hex`] makes them: 32 lower-case hex digits.
fn paste_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/p/")?;
    (id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(id)
}

impl Handler for Pastebin {
    fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response {
        let path = req.path();
        match (req.method(), path) {
            ("GET" | "HEAD", "/") => Response::html(
                200,
                "<!doctype html><title>pastebin</title>\
                 <form method=post action=/ enctype=text/plain>\
                 <textarea name=p></textarea><button>paste</button></form>",
            ),
            ("POST", "/") => self.create(body),
            ("GET" | "HEAD", "/health") => {
                if self.db.healthy() {
                    Response::text(200, "ok")
                } else {
                    Response::text(503, "database unavailable")
                }
            }
            (_, "/" | "/health") => error(405, "METHOD_NOT_ALLOWED", "method not allowed"),
            (m, p) if p.starts_with("/p/") => match (m, paste_id(p)) {
                (_, None) => error(404, "NOT_FOUND", "no such paste"),
                ("GET" | "HEAD", Some(id)) => self.show(id),
                ("DELETE", Some(id)) => self.delete(req, id),
                _ => error(405, "METHOD_NOT_ALLOWED", "method not allowed"),
            },
            _ => error(404, "NOT_FOUND", "no such page"),
        }
    }
}
