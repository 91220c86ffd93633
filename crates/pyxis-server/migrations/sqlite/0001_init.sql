-- Pyxis catalog, SQLite flavour. Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and meaning; only the types differ.

-- Server secrets: the grant-signing seed, the session key.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL UNIQUE,
    kdf_salt            BLOB    NOT NULL,
    kdf_memory_kib      INTEGER NOT NULL,
    kdf_iterations      INTEGER NOT NULL,
    kdf_parallelism     INTEGER NOT NULL,
    login_hash          TEXT    NOT NULL,  -- Argon2id PHC string of the login secret
    wrapped_master_key  BLOB    NOT NULL,
    reader_public_key   BLOB    NOT NULL,
    quota_bytes         INTEGER NOT NULL,
    used_bytes          INTEGER NOT NULL DEFAULT 0,  -- sealed chunk bytes + manifest bytes
    created_at          INTEGER NOT NULL
);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Files and directories, by normalised path ("/a/b").
CREATE TABLE entries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path             TEXT    NOT NULL,
    parent           TEXT    NOT NULL,  -- parent's path; lists a directory
    kind             INTEGER NOT NULL,  -- 1 directory, 2 file
    current_version  INTEGER,           -- versions.id, files only
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (user_id, path)
);

CREATE TABLE versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id      INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    mtime         INTEGER NOT NULL,
    content_hash  BLOB    NOT NULL,
    manifest      BLOB    NOT NULL,
    wrapped_key   BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (entry_id, seq)
);

-- Which chunks a version uses (each once): the refcounts' source of truth.
CREATE TABLE version_chunks (
    version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    chunk_id    BLOB    NOT NULL,
    PRIMARY KEY (version_id, chunk_id)
);

CREATE TABLE remotes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    url          TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL,
    capacity     INTEGER NOT NULL,
    free         INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    state        INTEGER NOT NULL,  -- 1 online, 2 offline, 3 suspect, 4 draining, 5 drained
    last_seen    INTEGER NOT NULL,  -- Unix ms
    audit_failures INTEGER NOT NULL DEFAULT 0,  -- failed audits since the last passed one
    created_at   INTEGER NOT NULL
);

-- Chunks are per user: ids are keyed per account, so they never collide.
CREATE TABLE chunks (
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chunk_id       BLOB    NOT NULL,
    data_shards    INTEGER NOT NULL,
    parity_shards  INTEGER NOT NULL,
    blob_len       INTEGER NOT NULL,
    refcount       INTEGER NOT NULL DEFAULT 0,
    state          INTEGER NOT NULL,  -- 1 placed (upload in progress), 2 stored
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,           -- unreferenced chunks may be collected after this (Unix ms)
    PRIMARY KEY (user_id, chunk_id)
);

CREATE TABLE shards (
    user_id    INTEGER NOT NULL,
    chunk_id   BLOB    NOT NULL,
    idx        INTEGER NOT NULL,
    hash       BLOB    NOT NULL,
    remote_id  INTEGER NOT NULL REFERENCES remotes(id),
    state      INTEGER NOT NULL DEFAULT 1,  -- 1 ok, 2 lost (audit or scrub found it missing or corrupt)
    PRIMARY KEY (user_id, chunk_id, idx),
    FOREIGN KEY (user_id, chunk_id) REFERENCES chunks(user_id, chunk_id) ON DELETE CASCADE
);
-- Shards no chunk needs any more, still on their remotes: collection deletes
-- them there (under a delete grant) and then here.
CREATE TABLE garbage (
    hash        BLOB    NOT NULL,
    remote_id   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (hash, remote_id)
);

CREATE INDEX entries_by_parent ON entries (user_id, parent, path);
CREATE INDEX shards_by_remote ON shards (remote_id);
CREATE INDEX shards_by_hash ON shards (hash);
CREATE INDEX chunks_unreferenced ON chunks (refcount, expires_at);
CREATE INDEX shards_not_ok ON shards (state);
CREATE INDEX version_chunks_by_chunk ON version_chunks (user_id, chunk_id);
