-- History (docs/PROTOCOL.md, "History"): removed files go to a trash, and
-- each account has a retention policy for old versions and the trash.
-- Keep in step with ../postgres/0008_history.sql.
--
-- A file in the trash keeps its entry (so its versions and numbering stay)
-- under the path '#trash/ID' in the parent '#trash': every real path starts
-- with '/', so no path lookup, listing or range ever reaches it.
ALTER TABLE entries ADD COLUMN removed_from TEXT;    -- in the trash: the path it had
ALTER TABLE entries ADD COLUMN removed_at INTEGER;   -- in the trash: since when (Unix ms)
-- The account's retention policy as JSON (pyxis_proto::retention::Retention);
-- NULL: the default.
ALTER TABLE users ADD COLUMN retention TEXT;
