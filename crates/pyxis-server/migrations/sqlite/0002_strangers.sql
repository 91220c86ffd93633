-- Remotes are strangers: identity keys, admission, vetting, receipts,
-- quarantine. Keep in step with ../postgres/0002_strangers.sql.

-- A remote is its Ed25519 key. NULL only for a remote of an earlier release
-- that has not come back since the upgrade (it binds its new key by
-- presenting its old id and token, once).
ALTER TABLE remotes ADD COLUMN public_key BLOB;
CREATE UNIQUE INDEX remotes_by_key ON remotes (public_key);
-- The most it may claim to offer (from its admission token); NULL: no cap.
-- Remotes that joined before admission existed keep the capacity they last
-- reported as their cap.
ALTER TABLE remotes ADD COLUMN capacity_cap INTEGER;
-- 1 when the operator vouched for it or it passed enough audits; until then
-- it holds at most ceil(m/2) shards of any chunk. Remotes that joined
-- before vetting existed were the operator's own: vetted.
ALTER TABLE remotes ADD COLUMN vetted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remotes ADD COLUMN audits_passed INTEGER NOT NULL DEFAULT 0;
-- What it keeps aside because this catalog had no record of it (reported).
ALTER TABLE remotes ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remotes ADD COLUMN quarantined_bytes INTEGER NOT NULL DEFAULT 0;
-- The operator released its quarantine at this time (Unix ms).
ALTER TABLE remotes ADD COLUMN quarantine_release INTEGER;
UPDATE remotes SET vetted = 1, capacity_cap = capacity;

-- Single-use tokens that admit one remote each (`pyxis admin remote-token`).
CREATE TABLE admission_tokens (
    token_hash    BLOB    PRIMARY KEY,  -- BLAKE3 of the token; the token itself is not kept
    capacity_cap  INTEGER,
    vetted        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,     -- Unix ms
    used_at       INTEGER,
    used_by       INTEGER               -- remotes.id
);

-- Why the catalog counts a shard as stored: 0 none yet (placed, upload in
-- progress or failed), 1 a receipt signed by its remote (or a passed audit),
-- 2 stored before receipts existed (counted, audited first, never blamed).
ALTER TABLE shards ADD COLUMN proof INTEGER NOT NULL DEFAULT 0;
UPDATE shards SET proof = 2;
CREATE INDEX shards_by_proof ON shards (proof);

-- Grant-key rotations, oldest first: remotes follow a new key only when the
-- key they pinned signed it (directly or through this chain).
CREATE TABLE grant_rotations (
    seq          INTEGER PRIMARY KEY,
    previous     BLOB    NOT NULL,
    key          BLOB    NOT NULL,
    endorsement  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
