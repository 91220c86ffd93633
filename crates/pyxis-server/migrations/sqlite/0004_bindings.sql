-- Bindings (docs/FORMAT.md): tags the client makes under keys the server
-- never holds, stored and returned as they came. NULL for versions written
-- before them ("legacy"), which clients re-bind with `pyxis upgrade`.
-- Keep in step with ../postgres/0004_bindings.sql.
ALTER TABLE versions ADD COLUMN file_id BLOB;
ALTER TABLE versions ADD COLUMN version_tag BLOB;
-- The entry tag of the path's current version (it names the version, so a
-- new version, a move or a restore replaces it).
ALTER TABLE entries ADD COLUMN entry_tag BLOB;
