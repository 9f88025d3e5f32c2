-- The dashboards at city scale (#8), flat as demands grow:
-- - demand_filings_monthly: the filings of demand_filings summed by
--   (Shanghai) month, its key the month's first day number, so a year's
--   trend and heat table read twelve rows per node, category and channel
--   instead of 365;
-- - demand_open: the open demands as they stand, per node and day of the
--   feedback deadline (-1: none yet), so "open now", overdue, escalated and
--   the open demands past their deadline read a scope's rows, not its open
--   demands;
-- - demands_open_deadline: the open demands by deadline, for the part of
--   "open past the deadline" the counters cannot answer (today's deadlines,
--   which pass as the day goes on).
CREATE TABLE demand_filings_monthly (
    node_path TEXT NOT NULL,
    month BIGINT NOT NULL,
    category TEXT NOT NULL,
    channel TEXT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (node_path, month, category, channel)
);
CREATE TABLE demand_open (
    node_path TEXT NOT NULL,
    day BIGINT NOT NULL,
    open BIGINT NOT NULL DEFAULT 0,
    overdue BIGINT NOT NULL DEFAULT 0,
    escalated BIGINT NOT NULL DEFAULT 0,
    awaiting_feedback BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (node_path, day)
);
CREATE INDEX demands_open_deadline ON demands(feedback_deadline, org_path)
    WHERE status IN ('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended');
-- The new tables start empty: the server rebuilds every rollup at its next
-- start when none is left (cases::rollup::ensure).
DELETE FROM demand_rollups;
