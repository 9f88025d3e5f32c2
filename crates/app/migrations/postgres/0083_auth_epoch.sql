-- The authentication epoch: a counter the database itself moves whenever a
-- row that authentication reads changes (accounts::store::load_access: a
-- session, its user, the user's live grants and households). The server
-- caches what that query returns per session (accounts::cache) and trusts
-- an entry only while the epoch it was filled under is current: it reads the
-- epoch after every transaction it commits, and polls it once a second for
-- the changes of other processes (the CLI, an operator's SQL). Triggers, not
-- the code that writes, move it, so no write site can be forgotten.
--
-- The same rules as the SQLite migration (see there for what does not move
-- it). PostgreSQL specifics: the row triggers are constraint triggers
-- deferred to COMMIT, so a transaction takes the epoch row's lock as the
-- last thing it does (taken mid-transaction, it could close a deadlock with
-- the audit chain's advisory lock, or hold up every login behind a long
-- import), and once per transaction (a transaction-local setting marks it
-- done). PostgreSQL has no REPLACE; an upsert fires the UPDATE triggers.
-- TRUNCATE moves it too.
--
-- The column lists are checked against the tables by the test
-- `auth_cache::epoch_triggers_cover_the_columns_authentication_reads`.
CREATE TABLE auth_epoch (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    v BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, v) VALUES (1, 0);

CREATE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('lianxin.auth_epoch_bumped', true) IS DISTINCT FROM '1' THEN
        UPDATE auth_epoch SET v = v + 1 WHERE id = 1;
        PERFORM set_config('lianxin.auth_epoch_bumped', '1', true);
    END IF;
    RETURN NULL;
END; $$;

CREATE CONSTRAINT TRIGGER auth_epoch_sessions
AFTER UPDATE OF id, user_id, kind, csrf_token, created_at, expires_at, revoked_at OR DELETE ON sessions
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER auth_epoch_users
AFTER INSERT OR UPDATE OF id, login_index, login_masked, login_enc, display_name, password_hash, active, created_at, password_changed_at, totp_secret_enc OR DELETE ON users
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER auth_epoch_role_grants
AFTER INSERT OR UPDATE OF id, user_id, role, org_id, org_path, granted_by, created_at, revoked_at OR DELETE ON role_grants
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE CONSTRAINT TRIGGER auth_epoch_residents_insert
AFTER INSERT ON residents
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE CONSTRAINT TRIGGER auth_epoch_residents_update
AFTER UPDATE OF id, household_id, org_path, user_id ON residents
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.user_id IS NOT NULL OR NEW.user_id IS NOT NULL)
EXECUTE FUNCTION auth_epoch_bump();
CREATE CONSTRAINT TRIGGER auth_epoch_residents_delete
AFTER DELETE ON residents
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.user_id IS NOT NULL)
EXECUTE FUNCTION auth_epoch_bump();

CREATE TRIGGER auth_epoch_sessions_truncate AFTER TRUNCATE ON sessions
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_users_truncate AFTER TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_role_grants_truncate AFTER TRUNCATE ON role_grants
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_residents_truncate AFTER TRUNCATE ON residents
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
