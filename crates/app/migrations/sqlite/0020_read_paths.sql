-- Read paths at city scale (#8): the dashboards count the demands escalated
-- (督办) in a period from their `escalate` events; without this index that
-- walked every event of the period (millions) to find the few escalations.
CREATE INDEX demand_events_action_at ON demand_events(action, at_ms, demand_id);
