-- The full case workflow (#3): urgency classes and limits per category,
-- assignment, deadlines on the working calendar, suspension, escalation,
-- merge and support, the return visit, attachments, calendar overrides.

ALTER TABLE demand_categories ADD COLUMN default_handler_role TEXT NOT NULL DEFAULT 'butler';
ALTER TABLE demand_categories ADD COLUMN default_urgency TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE demand_categories ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE category_limits (
    category TEXT NOT NULL REFERENCES demand_categories(code),
    urgency TEXT NOT NULL,
    dispatch_minutes BIGINT NOT NULL,
    feedback_minutes BIGINT NOT NULL,
    natural_clock BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (category, urgency)
);

ALTER TABLE demands ADD COLUMN urgency TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE demands ADD COLUMN assignee_user_id TEXT REFERENCES users(id);
ALTER TABLE demands ADD COLUMN dispatch_deadline BIGINT;
ALTER TABLE demands ADD COLUMN feedback_deadline BIGINT;
ALTER TABLE demands ADD COLUMN suspended_from TEXT;
ALTER TABLE demands ADD COLUMN suspended_at BIGINT;
ALTER TABLE demands ADD COLUMN remaining_minutes BIGINT;
ALTER TABLE demands ADD COLUMN dispatched_at BIGINT;
ALTER TABLE demands ADD COLUMN resolved_at BIGINT;
ALTER TABLE demands ADD COLUMN closed_at BIGINT;
ALTER TABLE demands ADD COLUMN closed_on_time BIGINT;
ALTER TABLE demands ADD COLUMN rework_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE demands ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE demands ADD COLUMN escalated_to TEXT;
ALTER TABLE demands ADD COLUMN overdue BIGINT NOT NULL DEFAULT 0;
ALTER TABLE demands ADD COLUMN merged_into TEXT REFERENCES demands(id);
ALTER TABLE demands ADD COLUMN support_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE demands ADD COLUMN rated_at BIGINT;
ALTER TABLE demands ADD COLUMN rating_contacted BIGINT;
ALTER TABLE demands ADD COLUMN rating_resolved BIGINT;
ALTER TABLE demands ADD COLUMN rating_satisfaction BIGINT;
ALTER TABLE demands ADD COLUMN rating_comment TEXT;
ALTER TABLE demands ADD COLUMN rating_source TEXT;
ALTER TABLE demands ADD COLUMN rated_by TEXT REFERENCES users(id);

CREATE INDEX demands_feedback_due ON demands(status, feedback_deadline);
CREATE INDEX demands_dispatch_due ON demands(status, dispatch_deadline);
CREATE INDEX demands_assignee ON demands(assignee_user_id, status);
CREATE INDEX demands_scope_due ON demands(org_path, feedback_deadline);
CREATE INDEX demands_scope_rated ON demands(org_path, rated_at);
CREATE INDEX demands_merged_into ON demands(merged_into);

ALTER TABLE demand_events ADD COLUMN detail TEXT;

-- Lead unit and co-units of a cross-department demand.
CREATE TABLE demand_assignees (
    demand_id TEXT NOT NULL REFERENCES demands(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    lead BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (demand_id, user_id)
);
CREATE INDEX demand_assignees_user ON demand_assignees(user_id);

-- 我也遇到: one support per household.
CREATE TABLE demand_supports (
    demand_id TEXT NOT NULL REFERENCES demands(id),
    household_id TEXT NOT NULL REFERENCES org_nodes(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (demand_id, household_id)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands(id),
    org_path TEXT COLLATE "C" NOT NULL,
    filename TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_demand ON attachments(demand_id);

-- Public holidays and 调休 working days (the office hours are settings).
CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    note TEXT
);
