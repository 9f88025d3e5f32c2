-- Open311 GeoReport v2: API keys, issued per integration by admins in scope.
-- Only the SHA-256 of a key is stored; each key files demands through its own
-- service account (inactive, no password), so timelines and the audit log
-- name the integration. A revoked key is kept for the record.

CREATE TABLE open311_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT REFERENCES users(id)
);
CREATE INDEX open311_keys_org_path ON open311_keys(org_path, id);

-- The public list filters on the requested time; the updates feed on the
-- time of each status change.
CREATE INDEX demands_created ON demands(created_at, id);
CREATE INDEX demand_events_at ON demand_events(at_ms, id);
