-- The paste bin's schema: append-only steps, as for any product on the kernel.
-- step 1: pastes
CREATE TABLE IF NOT EXISTS pastes (
    id TEXT PRIMARY KEY,
    body TEXT,
    delete_hash TEXT,
    created_at INTEGER
);
CREATE INDEX IF NOT EXISTS idx_pastes_created ON pastes(created_at);
