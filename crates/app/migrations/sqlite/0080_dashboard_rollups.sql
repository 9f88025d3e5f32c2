-- Rollups for the dashboards at city scale (#8), so a district's year reads
-- a few hundred rows whatever the number of demands:
-- - demand_rollups gains fed_back_late (due that day, fed back or closed
--   after the deadline) and escalated (first 督办 of a demand that day);
-- - demand_filings counts filings per node, Shanghai day, category and
--   channel (a demand's category and channel never change after filing).
ALTER TABLE demand_rollups ADD COLUMN fed_back_late BIGINT NOT NULL DEFAULT 0;
ALTER TABLE demand_rollups ADD COLUMN escalated BIGINT NOT NULL DEFAULT 0;
CREATE TABLE demand_filings (
    node_path TEXT NOT NULL,
    day BIGINT NOT NULL,
    category TEXT NOT NULL,
    channel TEXT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (node_path, day, category, channel)
);
-- The new columns start empty: the server rebuilds every rollup at its next
-- start when none is left (cases::rollup::ensure).
DELETE FROM demand_rollups;
