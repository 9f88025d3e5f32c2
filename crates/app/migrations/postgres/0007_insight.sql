-- Insight (评价与报表, #7): the league-table weights a district or city
-- sets for the compounds, communities, streets and butlers below it (JSON
-- criteria: indicator, points, threshold, per_point; checked in Rust by
-- insight::model). The nearest node at or above a league's node that has
-- weights supplies them; without any, the defaults apply.

CREATE TABLE insight_weights (
    org_id TEXT PRIMARY KEY REFERENCES org_nodes(id),
    org_path TEXT NOT NULL UNIQUE,
    criteria TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_by TEXT REFERENCES users(id),
    updated_at BIGINT NOT NULL
);

-- Dashboards count filings per day over a subtree.
CREATE INDEX demands_scope_created ON demands(org_path, created_at);

-- 物业服务满意度测评: property companies, which one serves each compound,
-- the yearly or quarterly resident survey of a compound (period `2026` or
-- `2026Q4`; status open → published, with the computed grade as JSON in
-- `result`), and one answer per household (five scores 1–5, a comment).
CREATE TABLE property_companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE compound_companies (
    compound_id TEXT PRIMARY KEY REFERENCES org_nodes(id),
    compound_path TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES property_companies(id),
    updated_by TEXT REFERENCES users(id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX compound_companies_path ON compound_companies(compound_path);
CREATE INDEX compound_companies_company ON compound_companies(company_id);

CREATE TABLE property_surveys (
    id TEXT PRIMARY KEY,
    compound_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT NOT NULL,
    period TEXT NOT NULL,
    company_id TEXT REFERENCES property_companies(id),
    status TEXT NOT NULL,
    result TEXT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    published_by TEXT REFERENCES users(id),
    published_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX property_surveys_period ON property_surveys(compound_id, period);
CREATE INDEX property_surveys_scope ON property_surveys(org_path, id);

CREATE TABLE property_survey_answers (
    survey_id TEXT NOT NULL REFERENCES property_surveys(id),
    household_id TEXT NOT NULL REFERENCES org_nodes(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    q1 BIGINT NOT NULL,
    q2 BIGINT NOT NULL,
    q3 BIGINT NOT NULL,
    q4 BIGINT NOT NULL,
    q5 BIGINT NOT NULL,
    comment TEXT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (survey_id, household_id)
);
