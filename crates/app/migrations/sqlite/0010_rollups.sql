-- Incremental rollups of the indicator counts: one row per org node and
-- Shanghai day (day number since 1970-01-01), for every node from a
-- demand's household up. Maintained in the demand's own transactions.
CREATE TABLE demand_rollups (
    node_path TEXT NOT NULL,
    day BIGINT NOT NULL,
    rated BIGINT NOT NULL DEFAULT 0,
    contacted BIGINT NOT NULL DEFAULT 0,
    resolved BIGINT NOT NULL DEFAULT 0,
    satisfied BIGINT NOT NULL DEFAULT 0,
    due BIGINT NOT NULL DEFAULT 0,
    suspended BIGINT NOT NULL DEFAULT 0,
    closed BIGINT NOT NULL DEFAULT 0,
    closed_on_time BIGINT NOT NULL DEFAULT 0,
    handled BIGINT NOT NULL DEFAULT 0,
    rework BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (node_path, day)
);
