-- The open demands of a scope, read by every dashboard ("open now",
-- overdue, escalated, and the late ones of a period): a partial index holds
-- only the open ones, so those counts read as many index entries as there
-- are open demands in the scope, and no table rows. Without it the planner
-- walked the scope's whole history (its average rows per status hide that
-- open statuses are rare). The WHERE list is insight::store::OPEN, written
-- the same way: a query uses a partial index only when it repeats its
-- condition.
CREATE INDEX demands_open_now ON demands(org_path, status, overdue, escalation_level, feedback_deadline, resolved_at, closed_at)
    WHERE status IN ('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended');
