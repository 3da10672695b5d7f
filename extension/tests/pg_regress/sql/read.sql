-- A plain table of numbers is read straight from its pages; a view, or a table the caller
-- sees only through column privileges or row-level security, is read by a query. Both read
-- the same values in the same order, with the same NULL handling; only the wording of a
-- float8's range error differs (ours names the column).
\ir include/try.sql
SET client_min_messages = warning;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgml_test_grace') THEN
    CREATE ROLE pgml_test_grace NOLOGIN;
  END IF;
END $$;
GRANT pgml_trainer TO pgml_test_grace;
-- every fixed-width number type, NULLs in one feature (imputed below)
CREATE TABLE mixed AS
SELECT i, (i % 7)::int2 AS small, (i * 37 % 101)::int4 AS medium, (i::int8 * 2654435761 % 4294967291) AS big,
       (i % 3 = 0) AS flag, CASE WHEN i % 11 = 0 THEN NULL ELSE sin(i) END::float8 AS wave,
       (2 * sin(i) + (i % 7) * 0.5 + (i % 3 = 0)::int + 0.1 * cos(7 * i))::float8 AS target
FROM generate_series(1, 400) i;
-- a column added later: the rows written before it store no value and take its default
ALTER TABLE mixed ADD COLUMN late real DEFAULT 1.5;
INSERT INTO mixed SELECT i, (i % 7)::int2, (i * 37 % 101)::int4, i::int8 * 2654435761 % 4294967291, i % 3 = 0, sin(i),
       2 * sin(i) + (i % 7) * 0.5 + (i % 3 = 0)::int + 0.1 * cos(7 * i), (i % 4)::real
FROM generate_series(401, 480) i;
CREATE VIEW mixed_view AS SELECT * FROM mixed;

\pset format unaligned
\pset tuples_only on
SELECT * FROM pgml.train('From pages', 'regression', 'mixed', 'target', algorithm => 'linear',
  preprocess => '{"wave": {"impute": "mean"}}');
SELECT * FROM pgml.train('By query', 'regression', 'mixed_view', 'target', algorithm => 'linear',
  preprocess => '{"wave": {"impute": "mean"}}');
-- the same rows, the same model: equal metrics and predictions, to the last bit
WITH m AS (
  SELECT p.name, m.metrics, s.analysis FROM pgml.models m
  JOIN pgml.projects p ON p.id = m.project_id JOIN pgml.snapshots s ON s.id = m.snapshot_id
)
SELECT a.metrics->'r2' = b.metrics->'r2' AS same_r2,
       a.metrics->'mean_squared_error' = b.metrics->'mean_squared_error' AS same_mse,
       round((a.metrics->>'r2')::numeric, 2) AS r2,
       a.analysis->'rows' AS rows, a.analysis->'features' AS features
FROM m a, m b WHERE a.name = 'From pages' AND b.name = 'By query';
SELECT pgml.predict('From pages', ARRAY[1, 3, 50, 2654435761, 0, 0.5, 1.5]::real[])
     = pgml.predict('By query', ARRAY[1, 3, 50, 2654435761, 0, 0.5, 1.5]::real[]) AS same_prediction;
-- the table's statistics count the rows read from its pages, as a query's scan counts them
BEGIN;
SELECT seq_scan AS scans, seq_tup_read AS rows_read FROM pg_stat_xact_user_tables WHERE relname = 'mixed' \gset
SELECT * FROM pgml.train('From pages', 'regression', 'mixed', 'target', algorithm => 'linear',
  preprocess => '{"wave": {"impute": "mean"}}', automatic_deploy => false);
SELECT seq_scan - :scans AS scans, seq_tup_read - :rows_read AS rows_read
FROM pg_stat_xact_user_tables WHERE relname = 'mixed';
ROLLBACK;

-- drift reads its current relation the same way: the table and its view, the same statistics
SELECT count(*) AS compared, bool_and(t::text = v::text) AS same_drift, max(t.current_rows) AS current_rows
FROM pgml.drift('From pages', 'mixed') t JOIN pgml.drift('From pages', 'mixed_view') v USING (feature);

-- NULLs that are not imputed, and values real cannot hold, are refused on both paths
SELECT regress.try($$SELECT pgml.train('Nulls', 'regression', 'mixed', 'target', algorithm => 'linear')$$);
SELECT regress.try($$SELECT pgml.train('Nulls', 'regression', 'mixed_view', 'target', algorithm => 'linear')$$);
CREATE TABLE huge AS SELECT i::real AS x, (CASE WHEN i = 5 THEN 1e300 ELSE i END)::float8 AS y FROM generate_series(1, 10) i;
CREATE VIEW huge_view AS SELECT * FROM huge;
SELECT regress.try($$SELECT pgml.train('Huge', 'regression', 'huge', 'y')$$);
SELECT regress.try($$SELECT pgml.train('Huge', 'regression', 'huge_view', 'y')$$);
UPDATE huge SET y = 1e-300 WHERE x = 5;
SELECT regress.try($$SELECT pgml.train('Huge', 'regression', 'huge', 'y')$$);

-- the caller's privileges and policies: a policy's rows are the only rows trained on, and a
-- table granted column by column is read (by a query) as well
CREATE TABLE guarded AS SELECT x, 3 * x + 1 AS y FROM (SELECT i::real AS x FROM generate_series(1, 60) i) s;
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_half ON guarded FOR SELECT USING (x <= 30);
GRANT SELECT ON guarded TO pgml_test_grace;
SET ROLE pgml_test_grace;
SELECT * FROM pgml.train('Guarded', 'regression', 'guarded', 'y', algorithm => 'linear', automatic_deploy => false);
RESET ROLE;
REVOKE SELECT ON guarded FROM pgml_test_grace;
GRANT SELECT (x, y) ON guarded TO pgml_test_grace;
SET ROLE pgml_test_grace;
SELECT * FROM pgml.train('Guarded', 'regression', 'guarded', 'y', algorithm => 'linear', automatic_deploy => false);
RESET ROLE;
SELECT (s.analysis->>'rows')::int AS rows_seen_under_the_policy
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id JOIN pgml.snapshots s ON s.id = m.snapshot_id
WHERE p.name = 'Guarded' ORDER BY m.id;
REVOKE SELECT (x, y) ON guarded FROM pgml_test_grace;
SET ROLE pgml_test_grace;
SELECT regress.try($$SELECT pgml.train('Guarded', 'regression', 'guarded', 'y', algorithm => 'linear')$$);
RESET ROLE;
