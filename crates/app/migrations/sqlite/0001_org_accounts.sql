-- Org registry and accounts. Times are Unix milliseconds, ids UUIDv7 text.
-- Flags are BIGINT 0/1 in both databases (one SQL text, one Rust type).
-- org_path is a materialized path with a trailing slash; SQLite's default
-- BINARY collation orders it bytewise, which subtree range scans rely on.

CREATE TABLE org_nodes (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES org_nodes(id),
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    org_path TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX org_nodes_parent_code ON org_nodes(parent_id, code);
CREATE INDEX org_nodes_parent ON org_nodes(parent_id, org_path);

CREATE TABLE grids (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX grids_org_path ON grids(org_path);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login_index TEXT NOT NULL UNIQUE,
    login_masked TEXT NOT NULL,
    login_enc TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    failed_window_start BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE residents (
    id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT NOT NULL,
    name TEXT NOT NULL,
    phone_enc TEXT,
    phone_index TEXT,
    id_card_enc TEXT,
    id_card_index TEXT,
    tenure TEXT NOT NULL,
    relation TEXT,
    user_id TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX residents_org_path ON residents(org_path);
CREATE INDEX residents_household ON residents(household_id);
CREATE INDEX residents_user ON residents(user_id);
CREATE INDEX residents_phone_index ON residents(phone_index);
CREATE UNIQUE INDEX residents_id_card_index ON residents(id_card_index);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE role_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT NOT NULL,
    granted_by TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX role_grants_user ON role_grants(user_id);
CREATE INDEX role_grants_org_path ON role_grants(org_path);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at_ms BIGINT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    org_path TEXT,
    detail TEXT NOT NULL,
    ip TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at_ms);
CREATE INDEX audit_events_org_path ON audit_events(org_path, seq);

-- Append-only: the database itself refuses edits and deletes of audit rows.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
