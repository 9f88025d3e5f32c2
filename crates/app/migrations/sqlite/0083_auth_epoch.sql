-- The authentication epoch: a counter the database itself moves whenever a
-- row that authentication reads changes (accounts::store::load_access: a
-- session, its user, the user's live grants and households). The server
-- caches what that query returns per session (accounts::cache) and trusts
-- an entry only while the epoch it was filled under is current: it reads the
-- epoch in every batch it commits, and polls it once a second for the
-- changes of other processes (the CLI, an operator's SQL). Triggers, not the
-- code that writes, move it, so no write site can be forgotten.
--
-- Not moved by: the once-a-minute touch (UPDATE OF last_seen_at only; the
-- server updates its own cache entry), failed-login counting, the lockout,
-- the last used TOTP step and updated_at (authentication reads none of
-- them), a new session (no cache entry can exist for a session id not yet
-- in the table; the BEFORE INSERT guard moves it if the id is there
-- already), and updates or deletes of residents without an account.
-- SQLite's REPLACE conflict resolution deletes rows without firing DELETE
-- triggers (unless recursive_triggers is on); nothing uses it on these
-- tables, and inserts of users, grants and residents move the epoch anyway.
--
-- The column lists are checked against the tables by the test
-- `auth_cache::epoch_triggers_cover_the_columns_authentication_reads`: a
-- column added to one of these tables must go into its list or into the
-- test's list of columns authentication does not read.
CREATE TABLE auth_epoch (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    v BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, v) VALUES (1, 0);

CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE OF id, user_id, kind, csrf_token, created_at, expires_at, revoked_at ON sessions
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_sessions_replace BEFORE INSERT ON sessions
WHEN EXISTS (SELECT 1 FROM sessions WHERE id = NEW.id)
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_users_insert AFTER INSERT ON users
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE OF id, login_index, login_masked, login_enc, display_name, password_hash, active, created_at, password_changed_at, totp_secret_enc ON users
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_role_grants_insert AFTER INSERT ON role_grants
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_role_grants_update AFTER UPDATE OF id, user_id, role, org_id, org_path, granted_by, created_at, revoked_at ON role_grants
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_role_grants_delete AFTER DELETE ON role_grants
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_residents_insert AFTER INSERT ON residents
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_residents_update AFTER UPDATE OF id, household_id, org_path, user_id ON residents
WHEN OLD.user_id IS NOT NULL OR NEW.user_id IS NOT NULL
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_residents_delete AFTER DELETE ON residents
WHEN OLD.user_id IS NOT NULL
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
