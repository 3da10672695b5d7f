-- pgml-rs: what pg_dump keeps. A table or sequence that CREATE EXTENSION makes is dumped only
-- when registered here, so every one of the registry's (projects, snapshots, models, files,
-- stages, deployments, policies, promotion requests and reviews, audit log, drift references
-- and settings, schedules and their runs) is dumped with all its rows, and each sequence with
-- its position, so a restored registry goes on numbering where it stopped. A table added by a
-- later release is registered by its upgrade script (scripts/test-backup.sh checks that none
-- is missed).
DO $$
DECLARE
    r REGCLASS;
BEGIN
    FOR r IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                   AND d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::regclass
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgml'
        WHERE c.relkind IN ('r', 'S')
        ORDER BY c.relname
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(r, '');
    END LOOP;
END $$;
