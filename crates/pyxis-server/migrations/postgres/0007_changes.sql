-- The change feed (docs/PROTOCOL.md, "Change feed"): every catalog change of
-- a user's tree, numbered by a per-user counter that only grows, kept so a
-- client that reconnects replays what it missed.
-- Keep in step with ../sqlite/0007_changes.sql.
ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE changes (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    kind     BIGINT NOT NULL,  -- 1 commit, 2 mkdir, 3 move, 4 remove, 5 share, 6 unshare
    path     TEXT NOT NULL,
    to_path  TEXT,            -- move: the new path
    version  BIGINT,           -- commit: the version made
    peer     TEXT,            -- share, unshare: the other user
    at       BIGINT NOT NULL,  -- Unix ms
    PRIMARY KEY (user_id, seq)
);
