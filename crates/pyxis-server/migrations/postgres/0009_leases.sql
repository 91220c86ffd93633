-- Leases (docs/OPERATIONS.md, "Scale"): several server instances share one
-- catalog, and each background worker (repair, audit, collect, history)
-- runs on one of them at a time: the holder of its lease.
-- Keep in step with ../sqlite/0009_leases.sql.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,          -- the worker
    holder TEXT NOT NULL,           -- the instance holding it
    expires_at BIGINT NOT NULL         -- Unix ms; after it, anyone may take it
);
