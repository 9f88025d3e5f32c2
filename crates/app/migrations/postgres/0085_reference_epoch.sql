-- The authentication epoch (0083) also guards the reference data that
-- filings keep in memory (cases::reference): a category's filing terms
-- (demand_categories, category_limits) and a household's chain in the org
-- tree (org_nodes). Any change to those rows moves the epoch, so a cached
-- read that predates it is neither kept nor served. New org nodes do not
-- move it: a node added below the tree's leaves changes no existing chain.
-- Deferred constraint triggers, as in 0083.
CREATE CONSTRAINT TRIGGER auth_epoch_demand_categories
AFTER INSERT OR UPDATE OR DELETE ON demand_categories
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE CONSTRAINT TRIGGER auth_epoch_category_limits
AFTER INSERT OR UPDATE OR DELETE ON category_limits
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE CONSTRAINT TRIGGER auth_epoch_org_nodes
AFTER UPDATE OR DELETE ON org_nodes
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

CREATE TRIGGER auth_epoch_demand_categories_truncate AFTER TRUNCATE ON demand_categories
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_category_limits_truncate AFTER TRUNCATE ON category_limits
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_org_nodes_truncate AFTER TRUNCATE ON org_nodes
FOR EACH STATEMENT EXECUTE FUNCTION auth_epoch_bump();
