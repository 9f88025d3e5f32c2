-- The authentication epoch (0083) also guards the reference data that
-- filings keep in memory (cases::reference): a category's filing terms
-- (demand_categories, category_limits) and a household's chain in the org
-- tree (org_nodes). Any change to those rows moves the epoch, so a cached
-- read that predates it is neither kept nor served. New org nodes do not
-- move it: a node added below the tree's leaves changes no existing chain.
CREATE TRIGGER auth_epoch_demand_categories_insert AFTER INSERT ON demand_categories
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_demand_categories_update AFTER UPDATE ON demand_categories
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_demand_categories_delete AFTER DELETE ON demand_categories
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_category_limits_insert AFTER INSERT ON category_limits
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_category_limits_update AFTER UPDATE ON category_limits
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_category_limits_delete AFTER DELETE ON category_limits
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_org_nodes_update AFTER UPDATE ON org_nodes
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_org_nodes_delete AFTER DELETE ON org_nodes
BEGIN UPDATE auth_epoch SET v = v + 1 WHERE id = 1; END;
