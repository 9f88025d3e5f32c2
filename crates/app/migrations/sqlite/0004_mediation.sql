-- Dispute mediation (矛盾调解): a case in a compound (or village), possibly
-- started from a demand of kind 纠纷; its parties (households), mediators,
-- sessions, outcome and follow-up visits. Statuses, outcomes and kinds are
-- checked in Rust (cases::mediation::model), not by the database.

CREATE TABLE mediations (
    id TEXT PRIMARY KEY,
    org_path TEXT NOT NULL,
    compound_id TEXT NOT NULL REFERENCES org_nodes(id),
    demand_id TEXT REFERENCES demands(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome_kind TEXT,
    agreement_text TEXT,
    outcome_note TEXT,
    outcome_at BIGINT,
    outcome_by TEXT REFERENCES users(id),
    closed_at BIGINT,
    closed_by TEXT REFERENCES users(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX mediations_scope ON mediations(org_path, id);
CREATE INDEX mediations_status ON mediations(status, id);
CREATE INDEX mediations_demand ON mediations(demand_id);
-- At most one open case per demand.
CREATE UNIQUE INDEX mediations_open_demand ON mediations(demand_id) WHERE status = 'open';

CREATE TABLE mediation_parties (
    mediation_id TEXT NOT NULL REFERENCES mediations(id),
    household_id TEXT NOT NULL REFERENCES org_nodes(id),
    role TEXT NOT NULL,
    PRIMARY KEY (mediation_id, household_id)
);
CREATE INDEX mediation_parties_household ON mediation_parties(household_id);

CREATE TABLE mediation_mediators (
    mediation_id TEXT NOT NULL REFERENCES mediations(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    PRIMARY KEY (mediation_id, user_id)
);
CREATE INDEX mediation_mediators_user ON mediation_mediators(user_id);

CREATE TABLE mediation_sessions (
    id TEXT PRIMARY KEY,
    mediation_id TEXT NOT NULL REFERENCES mediations(id),
    held_at BIGINT NOT NULL,
    place TEXT NOT NULL,
    notes TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX mediation_sessions_mediation ON mediation_sessions(mediation_id, held_at);

CREATE TABLE mediation_followups (
    id TEXT PRIMARY KEY,
    mediation_id TEXT NOT NULL REFERENCES mediations(id),
    visited_at BIGINT NOT NULL,
    notes TEXT NOT NULL,
    satisfied BIGINT,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX mediation_followups_mediation ON mediation_followups(mediation_id, visited_at);
