-- Schema compatibility: a model replaces the one a stage serves only if its task and feature
-- schema match; otherwise the refusal shows the two schemas' differences, and an explicit
-- allow_schema_change => true permits it and is recorded. Callers still sending the old
-- features get a clear error, never a silently wrong prediction.
\ir include/try.sql
SET client_min_messages = notice;
CREATE TABLE houses_v1 AS
SELECT (50 + i * 37 % 150)::real AS area, (1 + i % 5) AS rooms, (ARRAY['east', 'north', 'south'])[1 + i % 3] AS region,
       ((50 + i * 37 % 150) * 3 + (1 + i % 5) * 10 + (i % 3) * 25 + i * 13 % 7)::real AS price
FROM generate_series(1, 200) i;
-- v2 adds a column; v3 a region level; v4 swaps two columns
CREATE TABLE houses_v2 AS SELECT area, rooms, region, (area::int % 40) AS age, price FROM houses_v1;
CREATE TABLE houses_v3 AS
SELECT area, rooms, CASE WHEN rooms = 5 THEN 'west' ELSE region END AS region, price FROM houses_v1;
CREATE TABLE houses_v4 AS SELECT rooms, area, region, price FROM houses_v1;

-- 1: a deliberately weak model on v1, so better ones come along
SELECT * FROM pgml.train('Houses', 'regression', 'houses_v1', 'price', algorithm => 'xgboost', hyperparams => '{"n_estimators": 1, "max_depth": 1}');
SELECT * FROM pgml.train('Houses', relation_name => 'houses_v2', automatic_deploy => false);
SELECT * FROM pgml.train('Houses', relation_name => 'houses_v3', automatic_deploy => false);
SELECT * FROM pgml.train('Houses', relation_name => 'houses_v4', automatic_deploy => false);

\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.deploy('Houses', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Houses', 3)$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Houses', strategy => 'most_recent')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Houses', 2)$$);
-- a better model on the new schema is not deployed automatically either
\pset format aligned
\pset tuples_only off
SELECT * FROM pgml.train('Houses', relation_name => 'houses_v2');
\pset format aligned
\pset tuples_only off
SELECT model_id FROM pgml.stages_overview WHERE project = 'Houses' AND stage = 'production';

-- A model on the same schema replaces it without question.
SELECT * FROM pgml.train('Houses', relation_name => 'houses_v1', algorithm => 'xgboost', hyperparams => '{"n_estimators": 50}', automatic_deploy => false);
SELECT * FROM pgml.deploy('Houses', 6);

-- Allowed explicitly, and recorded with the differences.
SELECT * FROM pgml.promote('Houses', 2, allow_schema_change => true);
SELECT event, model_id, stage, details->'replaced_model_id' AS replaced, details->'diff' AS diff
FROM pgml.audit_log WHERE event = 'schema_change';

-- Callers of the old schema get an error naming the features the new model expects.
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.predict('Houses', ARRAY[120, 3, 1]::real[])$$);
SELECT regress.try($$SELECT pgml.predict('Houses', h) FROM houses_v1 h LIMIT 1$$);
\pset format aligned
\pset tuples_only off
SELECT round(pgml.predict('Houses', h)) AS new_schema_prediction FROM houses_v2 h LIMIT 1;
-- rolling back across the schema change is a schema change too: refused, the hint says how
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.deploy('Houses', strategy => 'rollback')$$);
