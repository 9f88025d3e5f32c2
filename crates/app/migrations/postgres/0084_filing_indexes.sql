-- A filing writes its demand's entry into every index of `demands`. Those
-- led by `org_path` put each filing's entry in a page of its own (the
-- filings of a moment come from households all over the tree), and under
-- load those pages, written to the WAL at each commit, were most of the
-- write path's I/O. Three of them hold nothing a new demand has yet: its
-- return visit, its feedback deadline (set at dispatch). Each becomes
-- partial, over the rows that have the column, so a filing no longer
-- touches them; every query that reads them bounds the column (`>=`, `<`),
-- which implies IS NOT NULL, so they still serve.
DROP INDEX demands_scope_rated;
CREATE INDEX demands_scope_rated ON demands(org_path, rated_at) WHERE rated_at IS NOT NULL;
DROP INDEX demands_scope_due;
CREATE INDEX demands_scope_due ON demands(org_path, feedback_deadline) WHERE feedback_deadline IS NOT NULL;
DROP INDEX demands_open_deadline;
CREATE INDEX demands_open_deadline ON demands(feedback_deadline, org_path)
    WHERE status IN ('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended')
    AND feedback_deadline IS NOT NULL;
-- Statistics for the new indexes' planning.
ANALYZE demands;
