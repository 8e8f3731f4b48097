-- `sightline migrate --citus`: spreads the schema over a Citus cluster, after the migrations, on
-- the coordinator. Driven by the catalog, not a list, so tables added by later migrations are
-- covered the next time it runs:
--   * every table of the schema with a `project_id` column is distributed by it, colocated with
--     `activities` (one shard group per project: the write statement, the purge and every
--     analytics query, all filtered by one project, run on one worker node);
--   * every other table (projects, accounts, ...) becomes a reference table (a copy on every
--     node, so joins with tenant tables stay local to a node);
--   * the `sightline_*` SQL functions the statements call are created on every node.
-- Partitions follow their parent; `seaql_migrations` stays the coordinator's own bookkeeping.
-- Idempotent: what is distributed already is left as it is, so running it twice is a no-op.
DO $$
DECLARE
    t regclass;
    f regprocedure;
BEGIN
    -- Functions first: distributing a table checks that the objects it depends on exist on
    -- every node.
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'sightline\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_object o
                          WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid)
        ORDER BY p.oid
    LOOP
        PERFORM create_distributed_function(f::text);
    END LOOP;

    -- Reference tables before distributed ones: a tenant table may reference one by a foreign key.
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname <> 'seaql_migrations'
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'project_id' AND NOT a.attisdropped)
          AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
        ORDER BY c.relname
    LOOP
        PERFORM create_reference_table(t);
    END LOOP;

    -- `activities` first (the colocation group's anchor), then the other tenant tables, each
    -- after the tenant tables its foreign keys point to.
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'activities'::regclass) THEN
        PERFORM create_distributed_table('activities', 'project_id');
    END IF;
    LOOP
        SELECT c.oid::regclass INTO t FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'project_id' AND NOT a.attisdropped)
          AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                          WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid
                            AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d
                                            WHERE d.logicalrelid = k.confrelid))
        ORDER BY c.relname LIMIT 1;
        EXIT WHEN t IS NULL;
        PERFORM create_distributed_table(t, 'project_id', colocate_with => 'activities');
    END LOOP;
END
$$;
