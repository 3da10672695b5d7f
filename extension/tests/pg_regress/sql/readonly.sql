-- Read paths never write: predictions, drift and the registry's views work in a READ ONLY
-- transaction and in parallel workers (and on a hot standby: scripts/test-replica.sh), with
-- the same answers as anywhere else; writes there are refused with SQLSTATE 25006, never XX000.
\ir include/try.sql
SET client_min_messages = warning;
\ir include/read_setup.sql

-- 1. The read paths as a plain session runs them.
\ir include/read_paths.sql

-- 2. Inside a READ ONLY transaction: the same answers, from backends whose caches are cold
-- and warm.
\c
\ir include/try.sql
SET client_min_messages = warning;
BEGIN TRANSACTION READ ONLY;
\ir include/read_paths.sql
COMMIT;
BEGIN TRANSACTION READ ONLY;
\ir include/read_paths.sql
COMMIT;

-- 3. In parallel workers: force_parallel_mode runs each query that may run in parallel in a
-- worker (cold caches: a worker is a new process each time).
SET force_parallel_mode = on;
\ir include/read_paths.sql
-- a worker did run it
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);
RESET force_parallel_mode;

-- 4. Writes where only reads are allowed: SQLSTATE 25006 with a hint.
\pset format unaligned
\pset tuples_only on
BEGIN TRANSACTION READ ONLY;
SELECT regress.try($$SELECT * FROM pgml.train('Iris', algorithm => 'linear')$$);
SELECT regress.try($$SELECT * FROM pgml.train('New', 'regression', 'pgml.iris', 'target')$$);
SELECT regress.try($$SELECT * FROM pgml.train_joint('Exercise')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 'most_recent')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy(2)$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris')$$);
SELECT regress.try($$SELECT * FROM pgml.approve(1)$$);
SELECT regress.try($$SELECT * FROM pgml.reject(1)$$);
SELECT regress.try($$SELECT pgml.archive_model(3)$$);
SELECT regress.try($$SELECT pgml.delete_model(3)$$);
SELECT regress.try($$SELECT pgml.add_stage('Iris', 'qa')$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', approvals => 0)$$);
SELECT regress.try($$SELECT pgml.set_drift_thresholds('Iris', '{}')$$);
SELECT regress.try($$SELECT * FROM pgml.load_dataset('wine')$$);
SELECT regress.try($$SELECT pgml.schedule_training('Iris', '0 3 * * *')$$);
COMMIT;
\pset format aligned
\pset tuples_only off

-- 5. Scoring a large table in parallel, as PostgreSQL plans it by default (a Gather over a
-- Parallel Seq Scan): the same answers as one backend, row for row.
CREATE TABLE big AS
SELECT (4 + (i * 7919 % 1000) / 250.0)::real AS a, (2 + (i * 104729 % 1000) / 500.0)::real AS b,
       (1 + (i * 15485863 % 1000) / 166.0)::real AS c, ((i * 32452843 % 1000) / 400.0)::real AS d
FROM generate_series(1::bigint, 1000000) i;
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT sum(pgml.predict('Iris', ARRAY[a, b, c, d])::numeric) FROM big;
-- exact sums (numeric) of every row's answer, in parallel then in one backend
SELECT sum(pgml.predict('Iris', ARRAY[a, b, c, d])::numeric) AS linear,
       sum(pgml.predict(2, ARRAY[a, b, c, d])::numeric) AS xgboost,
       sum((pgml.predict_proba('Iris', ARRAY[a, b, c, d]))[2]::numeric) AS proba
FROM big \gset parallel_
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT sum(pgml.predict('Iris', ARRAY[a, b, c, d])::numeric) FROM big;
SELECT sum(pgml.predict('Iris', ARRAY[a, b, c, d])::numeric) = :parallel_linear AS linear_equal,
       sum(pgml.predict(2, ARRAY[a, b, c, d])::numeric) = :parallel_xgboost AS xgboost_equal,
       sum((pgml.predict_proba('Iris', ARRAY[a, b, c, d]))[2]::numeric) = :parallel_proba AS proba_equal,
       count(DISTINCT pgml.predict('Iris', ARRAY[a, b, c, d])) AS classes_predicted
FROM big;
RESET max_parallel_workers_per_gather;
