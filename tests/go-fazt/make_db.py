#!/usr/bin/env python3
"""Builds a Go fazt data.db the way a given Go fazt version left it, for tests/import_go.rs.

    make_db.py VERSION OUT.db CERT.pem KEY.pem

The schema is Go fazt's own migration SQL (migrations/, MIT licence, copied unchanged from
the Go project at v0.10.0, v0.15.0 and v0.20.0), applied in the order and with the `migrations`
bookkeeping Go's runMigrations uses. The rows are what that version's code writes:
text DATETIMEs (CURRENT_TIMESTAMP and Go's driver format), bcrypt token hashes,
certmagic's certificate keys, site ids that are app ids from v0.10 on. Content is
deterministic so the test can compare it byte for byte.
"""
import hashlib
import os
import sqlite3
import sys

VERSIONS = {
    # version -> migrations applied (Go's own list at that release)
    "v0.5": [1, 2, 3, 4, 5],
    "v0.7": [1, 2, 3, 4, 5, 6],
    "v0.8": [1, 2, 3, 4, 5, 6, 7],
    "v0.20": [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17],
}

HERE = os.path.dirname(os.path.abspath(__file__))


def migration_file(n):
    for f in sorted(os.listdir(os.path.join(HERE, "migrations"))):
        if f.startswith("%03d_" % n):
            return os.path.join(HERE, "migrations", f)
    raise SystemExit("no migration %d" % n)


def big_binary():
    # 3 MiB that do not compress: a SHA-256 stream.
    out = bytearray()
    block = b"fazt"
    while len(out) < 3 * 1024 * 1024:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out)


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd4"
    "0000000049454e44ae426082"
)

SITES = {
    "blog": {
        "index.html": b"<!doctype html><h1>Go blog</h1>",
        "posts/h\u00e9llo w\u00f6rld.html".encode().decode(): "<p>unicode path \u2713</p>".encode(),
        "\u6587\u6863/\u7d22\u5f15.html": "<p>\u4e2d\u6587</p>".encode(),
        "img/pixel.png": PNG,
        "big.bin": None,  # filled with big_binary()
        "css/site.css": b"body{color:#333}",
    },
    "counter": {
        "index.html": b"<p>counter</p>",
        "main.js": b"var n = (kv.get('count') || 0) + 1; kv.set('count', n); res.json({count: n});",
    },
    "shop": {"index.html": b"<p>shop</p>", "app.js": b"console.log('shop')"},
}


def main():
    version, out, cert_path, key_path = sys.argv[1:5]
    steps = VERSIONS[version]
    if os.path.exists(out):
        os.remove(out)
    db = sqlite3.connect(out)
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " version INTEGER UNIQUE NOT NULL, name TEXT NOT NULL,"
        " applied_at DATETIME DEFAULT CURRENT_TIMESTAMP)"
    )
    later = 12 in steps
    # Go v0.8 seeds nothing into files before 007 copies sites into apps, so the rows
    # of files go in before the migrations that read them, as on a server that ran
    # the older version first.
    def apply(n):
        db.executescript(open(migration_file(n)).read())
        db.execute(
            "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (n, os.path.basename(migration_file(n))[4:-4], "2024-03-0%d 10:00:00" % min(n, 9)),
        )

    for n in [s for s in steps if s <= 6]:
        apply(n)
    big = big_binary()
    for site, files in SITES.items():
        for path, content in files.items():
            content = big if content is None else content
            db.execute(
                "INSERT INTO files (site_id, path, content, size_bytes, mime_type, hash,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (site, path, content, len(content), "application/octet-stream",
                 hashlib.sha256(content).hexdigest(), "2024-03-05 12:00:00",
                 "2024-03-05 12:00:00.123456789+00:00"),
            )
    # Go's own dashboard site, which the importer leaves behind.
    db.execute(
        "INSERT INTO files (site_id, path, content, size_bytes, mime_type, hash) VALUES"
        " ('admin', 'index.html', 'go dashboard', 12, 'text/html', ?)",
        (hashlib.sha256(b"go dashboard").hexdigest(),),
    )
    # A path this fazt would never serve.
    db.execute(
        "INSERT INTO files (site_id, path, content, size_bytes, mime_type, hash) VALUES"
        " ('shop', '.env', 'SECRET=1', 8, 'text/plain', ?)",
        (hashlib.sha256(b"SECRET=1").hexdigest(),),
    )
    for n in [s for s in steps if s > 6]:
        apply(n)
    if 16 in steps:
        db.execute("UPDATE apps SET spa = 1 WHERE title = 'shop'")
    app_id = {}
    if later:
        for (app, title) in db.execute("SELECT id, title FROM apps"):
            app_id[title] = app
        # An extra alias pointing at the blog: the first (oldest) alias stays its name.
        db.execute(
            "INSERT INTO aliases (subdomain, type, targets, created_at) VALUES"
            " ('journal', 'proxy', json_object('app_id', ?), '2030-01-01 00:00:00')",
            (app_id["blog"],),
        )
    key = lambda site: app_id.get(site, site)

    db.executemany(
        "INSERT INTO kv_store (site_id, key, value, updated_at) VALUES (?, ?, ?, ?)",
        [(key("counter"), "count", "41", "2024-03-06 08:00:00"),
         (key("counter"), "caf\u00e9", '{"a":[1,2]}', "2024-03-06 08:00:01"),
         ("ghost", "x", "1", "2024-03-06 08:00:00")],
    )
    if later:
        db.executemany(
            "INSERT INTO app_kv (app_id, key, value, expires_at, user_id) VALUES (?, ?, ?, ?, ?)",
            [(key("blog"), "theme", '"dark"', None, None),
             (key("blog"), "session", '"old"', 1000, None),
             (key("blog"), "prefs", '"mine"', None, "user_1")],
        )
    db.executemany(
        "INSERT INTO env_vars (site_id, name, value) VALUES (?, ?, ?)",
        [(key("counter"), "API_KEY", "s3cr3t"), (key("blog"), "TITLE", "My blog")],
    )
    db.executemany(
        "INSERT INTO redirects (slug, destination, tags, click_count) VALUES (?, ?, ?, ?)",
        [("gh", "https://github.com/example", "social", 17), ("docs", "https://example.org/docs", None, 0)],
    )
    db.execute(
        "INSERT INTO webhooks (name, endpoint, secret, is_active) VALUES"
        " ('GitHub', 'github', 'whsec_go', 1)"
    )
    db.executemany(
        "INSERT INTO api_keys (name, key_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
        [("laptop", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
          '["deploy"]', "2024-03-02 09:00:00")],
    )
    db.executemany(
        "INSERT INTO site_logs (site_id, level, message, created_at) VALUES (?, ?, ?, ?)",
        [(key("counter"), "info", "count is 41", "2024-03-06 08:00:00"),
         (key("counter"), "error", "boom \u26a0", "2024-03-06 08:00:02")],
    )
    db.execute(
        "INSERT INTO deployments (site_id, size_bytes, file_count, deployed_by, created_at)"
        " VALUES (?, 3145823, 6, 'laptop', '2024-03-05 12:00:00')",
        (key("blog"),),
    )
    if 7 in steps:
        # v0.8's custom domains: the apex serves, www is not primary.
        db.executemany(
            "INSERT INTO domains (id, domain, app_id, is_primary) VALUES (?, ?, ?, ?)",
            [("dom_1", "blog.example.com", key("blog"), 1),
             ("dom_2", "www.blog.example.com", key("blog"), 0)],
        )
    if 6 in steps:
        db.executemany(
            "INSERT INTO configurations (key, value) VALUES (?, ?)",
            [("server.domain", "example.com"), ("https.enabled", "true")],
        )
    cert, pkey = open(cert_path, "rb").read(), open(key_path, "rb").read()
    issuer = "acme-v02.api.letsencrypt.org-directory"
    db.executemany(
        "INSERT INTO certificates (key, value) VALUES (?, ?)",
        [("certificates/%s/blog.example.com/blog.example.com.crt" % issuer, cert),
         ("certificates/%s/blog.example.com/blog.example.com.key" % issuer, pkey),
         ("certificates/%s/blog.example.com/blog.example.com.json" % issuer, b"{}"),
         ("acme/%s/users/me@example.com/me.json" % issuer, b"{}")],
    )
    # Events last, so their pages are at the end of the file (the test damages them).
    rows = []
    for i in range(3000):
        day = 1 + i % 5
        rows.append(("blog", None, "hosting", "pageview", "/" if i % 3 else "/posts/",
                     "https://news.example/" if i % 4 == 0 else "",
                     "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
                     "203.0.113.%d" % (i % 50), None,
                     "2024-03-%02d %02d:%02d:00" % (day, i % 24, i % 60)))
    rows.append(("blog.example.com", "launch,mail", "web", "signup", "/pricing", "", "", "198.51.100.7",
                 '{"plan":"pro"}', "2024-03-06 10:00:00"))
    rows.append(("gh", None, "redirect", "click", "/r/gh", "", "curl/8", "198.51.100.8", None,
                 "2024-03-06 10:05:00"))
    db.executemany(
        "INSERT INTO events (domain, tags, source_type, event_type, path, referrer, user_agent,"
        " ip_address, query_params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
