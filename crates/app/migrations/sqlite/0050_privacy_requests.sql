-- PIPL rights (个人信息主体权利): a resident's requests to correct identity
-- fields (art. 46) or to delete their personal information (art. 47), which
-- staff of the compound's community process within the statutory time.
-- The proposed new value is encrypted like the field it would replace.

CREATE TABLE privacy_requests (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    resident_id TEXT REFERENCES residents(id),
    org_path TEXT NOT NULL,
    field TEXT,
    new_value_enc TEXT,
    reason TEXT,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES users(id),
    decided_at BIGINT,
    decision_note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX privacy_requests_org_path ON privacy_requests(org_path, status);
CREATE INDEX privacy_requests_user ON privacy_requests(user_id, created_at);

-- Set when a demand's personal details were anonymised (by the retention
-- job, or when its resident's deletion request was processed).
ALTER TABLE demands ADD COLUMN anonymised_at BIGINT;
