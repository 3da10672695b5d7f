-- Models in and out: pgml.export writes a stored model as a bundle, XGBoost's UBJ or JSON, or
-- LightGBM's text; pgml.import stores a file as an ordinary model version of a project, scored
-- on a holdout when one is named, deployed by pgml.train's rule, audited. (Python's XGBoost and
-- LightGBM reading our files and writing theirs: scripts/test-portable.sh; damaged files:
-- the core's portable tests.)
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.load_dataset('diabetes');
-- models 1-4: the sources
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris', algorithm => 'lightgbm', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target', algorithm => 'linear', preprocess => '{"age": {"scale": "standard"}}');
CREATE TABLE iris_rows AS SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS id, * FROM pgml.iris;

-- 1. Every format of every model it can hold; the formats sniffed from the bytes.
\pset format unaligned
\pset tuples_only on
SELECT m.id, f, CASE WHEN regress.try(format('SELECT pgml.export(%s, %L)', m.id, f)) = 'no error' THEN 'exported' ELSE regress.try(format('SELECT pgml.export(%s, %L)', m.id, f)) END
FROM pgml.models m, unnest(ARRAY['bundle', 'xgboost', 'xgboost_json', 'lightgbm', 'onnx']) f ORDER BY m.id, f;
\pset format aligned
\pset tuples_only off
SELECT encode(substr(pgml.export(1, 'xgboost_json'), 1, 10), 'escape') AS json_start,
       get_byte(pgml.export(1, 'xgboost'), 0) = 123 AS ubj_starts_with_brace,
       encode(substr(pgml.export(2, 'lightgbm'), 1, 5), 'escape') AS lightgbm_start,
       encode(substr(pgml.export(3), 1, 8), 'escape') AS bundle_start;
-- the XGBoost file names and types the features, and keeps the class labels
SELECT convert_from(pgml.export(1, 'xgboost_json'), 'UTF8')::jsonb #> '{learner,feature_names}' AS names,
       convert_from(pgml.export(1, 'xgboost_json'), 'UTF8')::jsonb #>> '{learner,attributes,pgml_classes}' AS classes;

-- 2. Bundles carry any model, its preprocessing and its labels: predictions identical on every row.
SELECT pgml.import('Iris copy', NULL, pgml.export(3)) AS forest, pgml.import('Diabetes copy', NULL, pgml.export(4)) AS linear;
SELECT count(*) AS rows, count(*) FILTER (WHERE pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]::real[]) IS NULL) AS none
FROM iris_rows;
SELECT count(*) FILTER (WHERE pgml.predict_proba('Iris copy', f) IS DISTINCT FROM (SELECT pgml.predict_proba(3::bigint, f) )) AS forest_differs
FROM (SELECT ARRAY[sepal_length, sepal_width, petal_length, petal_width]::real[] AS f FROM iris_rows) r;
SELECT count(*) FILTER (WHERE pgml.predict('Diabetes copy', d) <> pgml.predict('Diabetes', d)) AS linear_differs, count(*) AS rows
FROM (SELECT ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]::real[] AS d FROM pgml.diabetes) r;
-- the copy keeps the source's metrics (measured there) and says where it came from
SELECT m.id, p.name, m.algorithm, m.status, (m.metrics->>'r2')::numeric(6,4) = (s.metrics->>'r2')::numeric(6,4) AS same_r2,
       m.origin->>'format' AS format, m.origin #>> '{from,project}' AS from_project, m.origin #>> '{from,model_id}' AS from_model,
       m.snapshot_id IS NULL AS no_snapshot
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, pgml.models s
WHERE m.id = 6 AND s.id = 4;

-- 3. XGBoost and LightGBM files into a new project, scored on a holdout, deployed by the rule:
-- the first model is deployed; a later one only if its key metric is better.
SELECT pgml.import('Flowers', 'classification', pgml.export(2, 'lightgbm'), relation_name => 'pgml.iris', y_column_name => 'target') AS lgbm;
SELECT pgml.import('Flowers', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.iris', y_column_name => 'target') AS xgb;
SELECT m.id, m.algorithm, (m.metrics->>'f1')::numeric > 0.9 AS f1_above_090, m.metrics ? 'roc_auc' AS binary_metrics,
       m.origin->>'format' AS format, m.origin->'features' AS features, s.test_size, s.relation_name
FROM pgml.models m JOIN pgml.snapshots s ON s.id = m.snapshot_id WHERE m.id IN (7, 8) ORDER BY m.id;
SELECT d.model_id, d.strategy FROM pgml.deployments d JOIN pgml.projects p ON p.id = d.project_id WHERE p.name = 'Flowers' ORDER BY d.id;
SELECT count(*) FILTER (WHERE pgml.predict('Flowers', f) <> pgml.predict(1::bigint, f)) AS differs_from_source
FROM (SELECT ARRAY[sepal_length, sepal_width, petal_length, petal_width]::real[] AS f FROM iris_rows) r;
-- a holdout whose columns are in another order is read by the model's names; so are rows of a
-- table predicted by name
CREATE TABLE shuffled AS SELECT target, petal_width, petal_length, sepal_width, sepal_length FROM pgml.iris;
SELECT count(*) FILTER (WHERE pgml.predict('Flowers', s) <> pgml.predict(1::bigint, ARRAY[s.sepal_length, s.sepal_width, s.petal_length, s.petal_width]::real[])) AS by_name_differs
FROM shuffled s;
SELECT pgml.import('Flowers', NULL, pgml.export(1, 'xgboost_json'), relation_name => 'shuffled', y_column_name => 'target', automatic_deploy => false) AS reordered;
SELECT (metrics->>'f1') = (SELECT metrics->>'f1' FROM pgml.models WHERE id = 8) AS same_f1 FROM pgml.models WHERE id = 9;
-- names given for a file without a holdout
SELECT pgml.import('Named', NULL, pgml.export(1, 'xgboost'), features => ARRAY['a', 'b', 'c', 'd']) AS named;
SELECT origin->'features' AS features, metrics FROM pgml.models WHERE id = 10;
CREATE TABLE named_rows AS SELECT petal_width AS d, sepal_length AS a, sepal_width AS b, petal_length AS c FROM pgml.iris;
SELECT count(*) FILTER (WHERE pgml.predict('Named', n) <> pgml.predict(1::bigint, ARRAY[n.a, n.b, n.c, n.d]::real[])) AS by_new_name_differs
FROM named_rows n;
-- the audit trail
SELECT event, project, model_id, details->>'algorithm' AS algorithm, details #>> '{origin,format}' AS format, details ?| ARRAY['f1', 'r2'] AS scored
FROM pgml.audit_log WHERE event = 'import' ORDER BY id;

-- 4. Mistakes are refused with their SQLSTATE and the value named; nothing is stored.
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.export(1, 'pmml')$$);
SELECT regress.try($$SELECT pgml.export(999, 'bundle')$$);
SELECT regress.try($$SELECT pgml.export(4, 'xgboost')$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, ''::bytea)$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, 'not a model'::bytea)$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, '{"learner": {}}'::bytea)$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, substr(pgml.export(1, 'xgboost'), 1, 500))$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, substr(pgml.export(2, 'lightgbm'), 1, 900))$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, substr(pgml.export(3), 1, 300))$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, convert_to(replace(convert_from(pgml.export(1, 'xgboost_json'), 'UTF8'), '"left_children":[1,', '"left_children":[99,'), 'UTF8'))$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, '\x0801'::bytea)$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(1), format => 'xgboost')$$);
SELECT regress.try($$SELECT pgml.import('Bad', 'regression', pgml.export(1, 'xgboost'))$$);
SELECT regress.try($$SELECT pgml.import('Diabetes', NULL, pgml.export(1, 'xgboost'))$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.iris')$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(1, 'xgboost'), features => ARRAY['a', 'b'])$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.iris', y_column_name => 'target', features => ARRAY['a', 'b', 'c', 'd'])$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.diabetes', y_column_name => 'target')$$);
SELECT regress.try($$SELECT pgml.import('Bad', NULL, pgml.export(6), features => ARRAY['a','b','c','d','e','f','g','h','i','j'])$$);
\pset format aligned
\pset tuples_only off
SELECT count(*) AS models, (SELECT count(*) FROM pgml.projects WHERE name = 'Bad') AS bad_projects FROM pgml.models;

-- 5. Roles: a predictor exports and cannot import; an importer imports; a READ ONLY
-- transaction exports and refuses an import before reading the file.
DO $$ BEGIN
    CREATE ROLE regress_portable_predictor IN ROLE pgml_predictor;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE ROLE regress_portable_importer IN ROLE pgml_importer;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT SELECT ON pgml.iris TO regress_portable_importer;
SET ROLE regress_portable_predictor;
SELECT octet_length(pgml.export(1, 'xgboost')) > 1000 AS predictor_exports;
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.import('Roles', NULL, pgml.export(1, 'xgboost'))$$);
\pset format aligned
\pset tuples_only off
RESET ROLE;
SET ROLE regress_portable_importer;
SELECT pgml.import('Roles', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.iris', y_column_name => 'target') AS importer_imports;
RESET ROLE;
SELECT details->>'algorithm' AS algorithm, role FROM pgml.audit_log WHERE event = 'import' AND project = 'Roles';
BEGIN TRANSACTION READ ONLY;
SELECT octet_length(pgml.export(3)) > 1000 AS exported_read_only;
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.import('ReadOnly', NULL, pgml.export(1, 'xgboost'))$$);
\pset format aligned
\pset tuples_only off
ROLLBACK;
