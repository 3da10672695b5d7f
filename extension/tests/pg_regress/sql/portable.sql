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

-- 5. ONNX both ways. Models trained here, exported as ONNX and imported back, predict what they
-- do (ONNX Runtime against them and against skl2onnx and onnxmltools files:
-- scripts/test-portable.sh); the imported trees are explained by TreeSHAP once a holdout gave
-- their covers.
SELECT pgml.import('Flowers onnx', NULL, pgml.export(1, 'onnx'), relation_name => 'pgml.iris', y_column_name => 'target') AS xgb_onnx \gset
SELECT pgml.import('Diabetes onnx', NULL, pgml.export(4, 'onnx')) AS linear_onnx \gset
SELECT id, algorithm, origin->>'format' AS format, origin->'features' AS features, (metrics->>'f1')::numeric > 0.9 AS f1_above_090
FROM pgml.models WHERE id IN (:xgb_onnx, :linear_onnx) ORDER BY id;
SELECT count(*) FILTER (WHERE pgml.predict('Flowers onnx', f) <> pgml.predict(1::bigint, f)) AS class_differs,
       max((SELECT max(abs(a - b)) FROM unnest(pgml.predict_proba('Flowers onnx', f), pgml.predict_proba(1::bigint, f)) u(a, b))) < 1e-6 AS same_probabilities
FROM (SELECT ARRAY[sepal_length, sepal_width, petal_length, petal_width]::real[] AS f FROM iris_rows) r;
SELECT max(abs(pgml.predict('Diabetes onnx', d) - pgml.predict('Diabetes', d)) / greatest(1, abs(pgml.predict('Diabetes', d)))) < 1e-5 AS same_values,
       count(*) AS rows
FROM (SELECT ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]::real[] AS d FROM pgml.diabetes) r;
SELECT explanation_method, max(approximation_error) < 1e-9 AS additive, count(*) AS attributions
FROM pgml.explain('Flowers onnx', ARRAY[6.3, 3.3, 6.0, 2.5]) GROUP BY 1;
-- the linear import had no holdout: no means to centre its explanations on
SELECT regress.try($$SELECT * FROM pgml.explain('Diabetes onnx', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02])$$);
-- a scikit-learn Ridge converted by skl2onnx (crates/core/tests/fixtures/onnx/ridge.onnx, trained
-- on diabetes' first 150 rows): ONNX Runtime answers 168.09268 for the first row
SELECT pgml.import('Ridge from sklearn', NULL, decode('08081208736b6c326f6e6e781a06312e32302e30220761692e6f6e6e78280032003ad3010a96010a015812087661726961626c651a0f4c696e656172526567726573736f72220f4c696e656172526567726573736f722a430a0c636f656666696369656e74733dfa436f413d2a064dc23da0421f433d2656e3423da9ac30be3dfc8fdbc13dbc27c5c23d403394423d764d2e433d86b8a942a001062a140a0a696e74657263657074733d77c91643a001063a0a61692e6f6e6e782e6d6c120b4f4e4e58285269646765295a110a0158120c0a0a080112060a000a02080a62180a087661726961626c65120c0a0a080112060a000a020801420e0a0a61692e6f6e6e782e6d6c100142040a00101142040a001011', 'hex')) AS ridge_onnx \gset
SELECT round(pgml.predict('Ridge from sklearn', ARRAY[0.038075905, 0.05068012, 0.061696205, 0.021872386, -0.0442235, -0.03482076, -0.043400846, -0.002592262, 0.019907486, -0.017646125])::numeric, 3) AS ridge_value;
-- refused: an operator it does not compile (a scaler renamed), named with its node; an imported
-- ONNX model exported as ONNX; a file cut short
\pset format unaligned
\pset tuples_only on
WITH f AS (SELECT decode('08081208736b6c326f6e6e781a06312e32302e30220761692e6f6e6e78280032003ad4040a6a0a015812087661726961626c651a065363616c657222065363616c65722a1f0a066f66667365743d96fcba403d59ab43403d128370403dc183993fa001062a1e0a057363616c653d4a189b3f3d705313403dfa80113f3d3c7da83fa001063a0a61692e6f6e6e782e6d6c0af4010a087661726961626c6512056c6162656c120d70726f626162696c69746965731a104c696e656172436c617373696669657222104c696e656172436c61737369666965722a190a10636c6173736c6162656c735f696e747340004001a001072a390a0c636f656666696369656e74733dcf890fbe3d61bf033f3d84c31ec03db70049c03dcf890f3e3d61bf03bf3d84c31e403db7004940a001062a190a0a696e74657263657074733db35173403db35173c0a001062a120a0b6d756c74695f636c6173731800a001022a1d0a0e706f73745f7472616e73666f726d22084c4f474953544943a001033a0a61692e6f6e6e782e6d6c0a2e0a056c6162656c120c6f75747075745f6c6162656c1a04436173742204436173742a090a02746f1807a001023a000a5c0a0d70726f626162696c697469657312126f75747075745f70726f626162696c6974791a065a69704d617022065a69704d61702a1b0a12636c6173736c6162656c735f696e7436347340004001a001073a0a61692e6f6e6e782e6d6c120e4f4e4e5828506970656c696e65295a110a0158120c0a0a080112060a000a02080462180a0c6f75747075745f6c6162656c12080a06080712020a0062240a126f75747075745f70726f626162696c697479120e220c0a0a2a08080712040a020801420e0a0a61692e6f6e6e782e6d6c100142040a001011', 'hex') AS b),
     g AS (SELECT overlay(b placing 'Scalez'::bytea from position('Scaler'::bytea in b) for 6) AS b FROM f),
     h AS (SELECT overlay(b placing 'Scalez'::bytea from position('Scaler'::bytea in b) for 6) AS b FROM g)
SELECT regress.try(format('SELECT pgml.import(%L, NULL, %L::bytea)', 'Bad onnx', b)) FROM h;
SELECT regress.try(format('SELECT pgml.export(%s, %L)', :ridge_onnx, 'onnx'));
SELECT regress.try($$SELECT pgml.import('Bad onnx', NULL, substr(pgml.export(1, 'onnx'), 1, 300))$$);
\pset format aligned
\pset tuples_only off
