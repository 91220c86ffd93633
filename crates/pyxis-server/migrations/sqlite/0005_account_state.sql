-- Accounts the operator disables (`pyxis admin users disable`) and that
-- their owners delete (`pyxis account delete`). Unix milliseconds; NULL: no.
-- Keep in step with ../postgres/0005_account_state.sql.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;   -- no login, no session, data kept
ALTER TABLE users ADD COLUMN delete_after INTEGER;  -- the owner deleted it: its files go after this
ALTER TABLE users ADD COLUMN deleted_at INTEGER;    -- its files were removed (the name stays taken)
