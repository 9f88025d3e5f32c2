-- Demands (诉求): the first path. #3 extends categories and the workflow.

CREATE TABLE demand_categories (
    code TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL,
    dispatch_limit_minutes BIGINT NOT NULL,
    feedback_limit_minutes BIGINT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    sort_order BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE demands (
    id TEXT PRIMARY KEY,
    org_path TEXT NOT NULL,
    household_id TEXT NOT NULL REFERENCES org_nodes(id),
    building_id TEXT REFERENCES org_nodes(id),
    category TEXT NOT NULL REFERENCES demand_categories(code),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    location TEXT,
    anonymous BIGINT NOT NULL DEFAULT 0,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    reporter_user_id TEXT REFERENCES users(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX demands_scope ON demands(org_path, id);
CREATE INDEX demands_household ON demands(household_id, id);
CREATE INDEX demands_status ON demands(status, id);

CREATE TABLE demand_events (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands(id),
    at_ms BIGINT NOT NULL,
    actor_id TEXT REFERENCES users(id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT
);
CREATE INDEX demand_events_demand ON demand_events(demand_id, at_ms);
