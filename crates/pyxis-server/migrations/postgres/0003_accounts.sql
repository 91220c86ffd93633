-- Account upkeep: recovery keys and device names.
-- A recovery key: a second wrapping of the master key, under a key the user
-- keeps on paper, and the BLAKE3 hash of its login secret (256 random bits:
-- no slow hash needed). NULL until the user makes one.
-- Keep in step with ../sqlite/0003_accounts.sql.
ALTER TABLE users ADD COLUMN recovery_hash BYTEA;
ALTER TABLE users ADD COLUMN recovery_wrapped_master_key BYTEA;

-- The name a device gave when it logged in (its host name, or what the user
-- chose), shown by `pyxis devices`. NULL for sessions made before.
ALTER TABLE sessions ADD COLUMN device TEXT;
