-- fazt.db schema. Evolutionary Database Design: this file is APPEND-ONLY.
--
-- * Each step starts with a line `-- step N: name` and is applied once, in order, at every
--   start; `schema_steps` records which ran. A released step never changes: its hash is
--   pinned in tests/schema.lock and the tests fail if it moves.
-- * Add tables and columns only. Never DROP, RENAME, or add FOREIGN KEY constraints
--   (relations are checked in Rust). A NOT NULL column always has a DEFAULT.
-- * Each statement ends with `;` at the end of a line. `ALTER TABLE … ADD COLUMN` is skipped
--   when the column already exists, so a database from fazt's Go version upgrades cleanly.
-- * Code names the columns it reads (no SELECT *), so an older binary keeps working on a
--   database that a newer one has extended.
-- Times are unix seconds (INTEGER) unless said otherwise.

-- step 1: core tables (names from fazt's Go version)
CREATE TABLE IF NOT EXISTS files (
    site_id TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    content BLOB,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    mime_type TEXT,
    hash TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    PRIMARY KEY (site_id, path)
);
CREATE TABLE IF NOT EXISTS certificates (
    key TEXT PRIMARY KEY,
    value BLOB,
    updated_at INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT,
    tags TEXT,
    source_type TEXT,
    event_type TEXT,
    path TEXT,
    referrer TEXT,
    user_agent TEXT,
    ip_address TEXT,
    query_params TEXT,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_events_created ON events (created_at);
CREATE INDEX IF NOT EXISTS idx_events_domain ON events (domain, created_at);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    key_hash TEXT,
    scopes TEXT,
    created_at INTEGER,
    last_used_at INTEGER
);
CREATE TABLE IF NOT EXISTS kv_store (
    site_id TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL DEFAULT '',
    value TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    PRIMARY KEY (site_id, key)
);
CREATE TABLE IF NOT EXISTS env_vars (
    site_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    value TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    PRIMARY KEY (site_id, name)
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id TEXT,
    size_bytes INTEGER,
    file_count INTEGER,
    deployed_by TEXT,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_deployments_site ON deployments (site_id, created_at);
CREATE TABLE IF NOT EXISTS site_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id TEXT,
    level TEXT,
    message TEXT,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_site_logs_site ON site_logs (site_id, id);
CREATE TABLE IF NOT EXISTS configurations (
    key TEXT PRIMARY KEY,
    value TEXT,
    updated_at INTEGER
);
CREATE TABLE IF NOT EXISTS redirects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT UNIQUE,
    destination TEXT,
    tags TEXT,
    click_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER
);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    endpoint TEXT UNIQUE,
    secret TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER
);
CREATE TABLE IF NOT EXISTS audit_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT,
    action TEXT,
    resource TEXT,
    details TEXT,
    ip_address TEXT,
    created_at INTEGER
);

-- step 2: fazt additions: sites, gzip variants stored beside each file
CREATE TABLE IF NOT EXISTS sites (
    name TEXT PRIMARY KEY,
    spa INTEGER NOT NULL DEFAULT 0,
    system INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER,
    updated_at INTEGER
);
ALTER TABLE files ADD COLUMN gzip BLOB;
ALTER TABLE files ADD COLUMN gzip_size INTEGER;

-- step 3: deploy: token lookup by hash, audit and deployment queries
CREATE UNIQUE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys (key_hash);
CREATE INDEX IF NOT EXISTS idx_audit_logs_created ON audit_logs (created_at);
ALTER TABLE deployments ADD COLUMN deployed_from TEXT;

-- step 4: analytics: request details on events, hourly and daily rollups, top lists
ALTER TABLE events ADD COLUMN site TEXT;
ALTER TABLE events ADD COLUMN status INTEGER;
ALTER TABLE events ADD COLUMN bytes INTEGER;
ALTER TABLE events ADD COLUMN referrer_host TEXT;
ALTER TABLE events ADD COLUMN ua_class TEXT;
ALTER TABLE events ADD COLUMN visitor TEXT;
ALTER TABLE events ADD COLUMN hits INTEGER;
CREATE TABLE IF NOT EXISTS analytics_rollups (
    site TEXT NOT NULL DEFAULT '',
    period TEXT NOT NULL DEFAULT 'hour',
    bucket INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    visitors INTEGER NOT NULL DEFAULT 0,
    bots INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    status_2xx INTEGER NOT NULL DEFAULT 0,
    status_3xx INTEGER NOT NULL DEFAULT 0,
    status_4xx INTEGER NOT NULL DEFAULT 0,
    status_5xx INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, period, bucket)
);
CREATE INDEX IF NOT EXISTS idx_analytics_rollups_bucket ON analytics_rollups (period, bucket);
CREATE TABLE IF NOT EXISTS analytics_top (
    site TEXT NOT NULL DEFAULT '',
    day INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT '',
    value TEXT NOT NULL DEFAULT '',
    hits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, kind, value)
);
CREATE INDEX IF NOT EXISTS idx_analytics_top_day ON analytics_top (day, kind);

-- step 5: backups: every snapshot taken (scheduled, from the CLI, downloaded) and its result
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER,
    kind TEXT NOT NULL DEFAULT '',
    ok INTEGER NOT NULL DEFAULT 0,
    path TEXT,
    size_bytes INTEGER,
    schema_version INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS idx_backups_started ON backups (started_at);

-- step 6: import-go: how far each Go fazt database was imported; Go's view of events
CREATE TABLE IF NOT EXISTS imports (
    source TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    last_id INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER,
    PRIMARY KEY (source, kind)
);
CREATE VIEW IF NOT EXISTS events_v0 AS
    SELECT id,
           CASE WHEN source_type = 'hosting' THEN COALESCE(site, domain) ELSE domain END AS domain,
           tags, source_type, event_type, path, referrer, user_agent, ip_address, query_params,
           datetime(created_at, 'unixepoch') AS created_at
    FROM events;

-- step 7: custom domains (the table fazt's Go version v0.8 named): a host name a site answers for
CREATE TABLE IF NOT EXISTS domains (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL DEFAULT '' UNIQUE,
    app_id TEXT NOT NULL DEFAULT '',
    is_primary INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_domains_app_id ON domains (app_id);

-- step 8: deployment history: each deployment's files by sha256 (`deployment_files`), and the
-- contents that a kept deployment names but no live `files` row holds, once each (`file_blobs`)
ALTER TABLE deployments ADD COLUMN message TEXT;
ALTER TABLE sites ADD COLUMN deployment_id INTEGER;
CREATE TABLE IF NOT EXISTS deployment_files (
    deployment_id INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment_id, path)
);
CREATE INDEX IF NOT EXISTS idx_deployment_files_hash ON deployment_files (hash);
CREATE TABLE IF NOT EXISTS file_blobs (
    hash TEXT PRIMARY KEY,
    content BLOB,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    gzip BLOB,
    gzip_size INTEGER,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_files_hash ON files (hash);

-- step 9: the dashboard's login sessions, each kept as the SHA-256 of its cookie value
-- (the admin password itself is the `configurations` row `auth.password_hash`)
CREATE TABLE IF NOT EXISTS admin_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL DEFAULT '' UNIQUE,
    created_at INTEGER,
    expires_at INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER,
    ip_address TEXT,
    user_agent TEXT
);

-- step 10: a site without main.js may still open GET /ws (messages go to its other clients)
ALTER TABLE sites ADD COLUMN websocket INTEGER NOT NULL DEFAULT 0;
