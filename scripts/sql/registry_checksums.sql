-- Checksums of a registry, for the tests that show a restore or an upgrade kept it whole
-- (scripts/test-backup.sh, scripts/test-upgrade.sh): for every table the pgml extension
-- created, and pgml-serve's tokens where present, its row count and an md5 of all its rows;
-- for every sequence, its position. Run with psql -At (it uses \gexec). A row is hashed as its
-- JSON without NULL values, so a column an upgrade adds (NULL in the rows before it, as
-- pgml.models.origin in 0.8.0) leaves the checksum of the rows that were there unchanged.
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(jsonb_strip_nulls(to_jsonb(t))::text, E''\n'' ORDER BY jsonb_strip_nulls(to_jsonb(t))::text), '''')) FROM %s t',
              r, r)
FROM (SELECT c.oid::regclass AS r FROM pg_depend d
      JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind = 'r'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgml' AND d.deptype = 'e'
      UNION ALL SELECT to_regclass('pgml_serve.tokens') WHERE to_regclass('pgml_serve.tokens') IS NOT NULL
      -- the prediction log (0.6.0): its partitions are ordinary tables, dumped with their rows
      UNION ALL SELECT to_regclass('pgml.prediction_log') WHERE to_regclass('pgml.prediction_log') IS NOT NULL) t
ORDER BY r::text \gexec
SELECT format('SELECT %L, last_value, is_called FROM %s', r, r)
FROM (SELECT c.oid::regclass AS r FROM pg_depend d
      JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind = 'S'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgml' AND d.deptype = 'e') s
ORDER BY r::text \gexec
