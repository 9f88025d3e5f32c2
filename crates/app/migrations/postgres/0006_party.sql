-- Party building (党建): organisations attached to org nodes, officers with
-- terms, members, transfers, 双报到, check-ins of floating members, the
-- red-butler roster, cross-appointments (双向进入、交叉任职), activities with
-- attendance and photos, service centres, community service tasks and
-- volunteer records. Kinds, statuses and modes are checked in Rust
-- (party::model), not by the database.
--
-- Privacy: a member's personal fields (name, phone, ID number, status,
-- dates, account, household, work unit, whereabouts) are one AES-GCM value
-- (profile_enc); lookups use keyed blind indexes in the party's own domains.
-- Check-ins' places and transfer reasons are encrypted too. No row ties an
-- account or a household to party membership in the clear.

CREATE TABLE party_orgs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES party_orgs(id),
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    joint BIGINT NOT NULL DEFAULT 0,
    founded_on TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX party_orgs_scope ON party_orgs(org_path, id);
CREATE INDEX party_orgs_parent ON party_orgs(parent_id);

-- Every node an organisation is attached to (a joint branch has several).
CREATE TABLE party_org_areas (
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    primary_area BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (party_org_id, org_id)
);
CREATE INDEX party_org_areas_path ON party_org_areas(org_path, party_org_id);

CREATE TABLE party_members (
    id TEXT PRIMARY KEY,
    branch_id TEXT NOT NULL REFERENCES party_orgs(id),
    group_id TEXT REFERENCES party_orgs(id),
    org_path TEXT COLLATE "C" NOT NULL,
    mode TEXT NOT NULL,
    reg_org_id TEXT REFERENCES party_orgs(id),
    reg_on TEXT,
    profile_enc TEXT NOT NULL,
    id_card_index TEXT,
    user_index TEXT,
    central_household BIGINT NOT NULL DEFAULT 0,
    vanguard_post TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX party_members_branch ON party_members(branch_id, id);
CREATE INDEX party_members_group ON party_members(group_id, id);
CREATE INDEX party_members_reg ON party_members(reg_org_id, id);
CREATE UNIQUE INDEX party_members_id_card ON party_members(id_card_index);
CREATE UNIQUE INDEX party_members_user ON party_members(user_index);

CREATE TABLE party_officers (
    id TEXT PRIMARY KEY,
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    member_id TEXT NOT NULL REFERENCES party_members(id),
    position TEXT NOT NULL,
    term_start TEXT NOT NULL,
    term_end TEXT,
    ended_on TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_officers_org ON party_officers(party_org_id, term_start);
CREATE INDEX party_officers_member ON party_officers(member_id);

CREATE TABLE party_service_centres (
    id TEXT PRIMARY KEY,
    party_org_id TEXT NOT NULL UNIQUE REFERENCES party_orgs(id),
    org_path TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    opening_hours TEXT,
    phone TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE party_transfers (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES party_members(id),
    from_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    to_org_id TEXT REFERENCES party_orgs(id),
    to_external TEXT,
    transferred_on TEXT NOT NULL,
    reason_enc TEXT,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_transfers_member ON party_transfers(member_id, transferred_on);
CREATE INDEX party_transfers_from ON party_transfers(from_org_id);
CREATE INDEX party_transfers_to ON party_transfers(to_org_id);

CREATE TABLE party_checkins (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES party_members(id),
    branch_id TEXT NOT NULL REFERENCES party_orgs(id),
    at_ms BIGINT NOT NULL,
    detail_enc TEXT NOT NULL,
    channel TEXT NOT NULL,
    recorded_by TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_checkins_member ON party_checkins(member_id, at_ms);

CREATE TABLE party_butlers (
    id TEXT PRIMARY KEY,
    building_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    user_id TEXT REFERENCES users(id),
    member_id TEXT REFERENCES party_members(id),
    duty TEXT,
    started_on TEXT NOT NULL,
    ended_on TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_butlers_scope ON party_butlers(org_path, id);

CREATE TABLE party_cross_appointments (
    id TEXT PRIMARY KEY,
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    member_id TEXT NOT NULL REFERENCES party_members(id),
    compound_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    direction TEXT NOT NULL,
    position TEXT NOT NULL,
    started_on TEXT NOT NULL,
    ended_on TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_cross_appointments_org ON party_cross_appointments(party_org_id);
CREATE INDEX party_cross_appointments_member ON party_cross_appointments(member_id);

CREATE TABLE party_activities (
    id TEXT PRIMARY KEY,
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    org_path TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    theme TEXT,
    held_at BIGINT NOT NULL,
    place TEXT NOT NULL,
    minutes TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX party_activities_org ON party_activities(party_org_id, held_at);

CREATE TABLE party_attendance (
    activity_id TEXT NOT NULL REFERENCES party_activities(id),
    member_id TEXT NOT NULL REFERENCES party_members(id),
    status TEXT NOT NULL,
    PRIMARY KEY (activity_id, member_id)
);
CREATE INDEX party_attendance_member ON party_attendance(member_id);

CREATE TABLE party_activity_photos (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES party_activities(id),
    org_path TEXT COLLATE "C" NOT NULL,
    filename TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_activity_photos_activity ON party_activity_photos(activity_id, created_at);

CREATE TABLE party_tasks (
    id TEXT PRIMARY KEY,
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    org_path TEXT COLLATE "C" NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    open BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX party_tasks_org ON party_tasks(party_org_id, created_at);

CREATE TABLE party_task_members (
    task_id TEXT NOT NULL REFERENCES party_tasks(id),
    member_id TEXT NOT NULL REFERENCES party_members(id),
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, member_id)
);
CREATE INDEX party_task_members_member ON party_task_members(member_id);

CREATE TABLE party_volunteer (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES party_members(id),
    party_org_id TEXT NOT NULL REFERENCES party_orgs(id),
    org_path TEXT COLLATE "C" NOT NULL,
    task_id TEXT REFERENCES party_tasks(id),
    served_on TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    points BIGINT NOT NULL DEFAULT 0,
    channel TEXT NOT NULL,
    recorded_by TEXT REFERENCES users(id),
    verified_by TEXT REFERENCES users(id),
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX party_volunteer_org ON party_volunteer(party_org_id, served_on);
CREATE INDEX party_volunteer_member ON party_volunteer(member_id, served_on);
