-- Sharing (docs/SECURITY.md, "Sharing"): an owner gives a grantee read
-- access to a path of the owner's tree. The keys are wrapped by the owner's
-- client; the server stores them and enforces the ACL.
-- Keep in step with ../postgres/0006_shares.sql.
CREATE TABLE shares (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path         TEXT    NOT NULL,  -- normalised; the share covers it and everything under it
    grantee_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mode         INTEGER NOT NULL,  -- 1 read, 2 read and write
    owner_key    BLOB    NOT NULL,  -- the share key wrapped for the owner
    grantee_key  BLOB    NOT NULL,  -- the share key wrapped to the grantee's public key
    created_at   INTEGER NOT NULL,
    UNIQUE (owner_id, path, grantee_id)
);
CREATE INDEX shares_by_grantee ON shares (grantee_id);

-- A version's file key and binding key under a share's key: what lets the
-- grantee read that version. Goes with the share or the version.
CREATE TABLE share_keys (
    share_id    INTEGER NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    wrapped     BLOB    NOT NULL,
    PRIMARY KEY (share_id, version_id)
);
CREATE INDEX share_keys_by_version ON share_keys (version_id);

-- A version another user made through a write share: who (NULL: the tree's
-- owner; its chunks are then that user's, see version_chunks.user_id) and
-- the binding key they wrapped for the owner (its file key is wrapped_key).
ALTER TABLE versions ADD COLUMN writer_id INTEGER;
ALTER TABLE versions ADD COLUMN writer_keys BLOB;
