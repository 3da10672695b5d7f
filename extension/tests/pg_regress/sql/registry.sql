-- The foundation: datasets, training from a table, the registry, predictions.
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.load_dataset('breast_cancer');
SELECT * FROM pgml.load_dataset('digits');
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.load_dataset('wine');
SELECT * FROM pgml.load_dataset('linnerud');
-- PostgresML's column names and types
SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = 'pgml' AND table_name IN ('breast_cancer', 'digits', 'iris')
  AND (column_name IN ('malignant', 'image', 'target', 'sepal_length') OR column_name LIKE 'mean r%')
ORDER BY table_name, column_name;
SELECT array_dims(image) FROM pgml.digits LIMIT 1;

-- Training: one call per model; later calls reuse the project's task, relation and label.
-- a strongly regularised logistic regression (F1 0.86), which the later models can beat
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', hyperparams => '{"C": 0.01}');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 20}');
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 20}');
SELECT * FROM pgml.train('Cancer', 'classification', 'pgml.breast_cancer', 'malignant', test_sampling => 'random');
SELECT * FROM pgml.train('Digits', 'classification', 'pgml.digits', 'target', algorithm => 'xgboost',
                         hyperparams => '{"n_estimators": 10, "max_depth": 4}', test_sampling => 'last');
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target');

-- The registry views, with PostgresML's columns.
SELECT id, name, task, algorithm, runtime, test_sampling, test_size, deployed FROM pgml.trained_models ORDER BY id;
SELECT id, name, task, algorithm, runtime FROM pgml.deployed_models;
SELECT name, task, algorithm, relation_name, y_column_name, test_sampling, test_size FROM pgml.overview ORDER BY name;
SELECT m.id, array_agg(k ORDER BY k) AS metric_names
FROM pgml.models m, jsonb_object_keys(m.metrics) k GROUP BY m.id ORDER BY m.id;
-- quality on the test split, against scikit-learn / XGBoost references (bench/reference)
SELECT p.name, m.algorithm,
       CASE p.task WHEN 'regression' THEN (metrics->>'r2')::float8 BETWEEN 0.30 AND 0.65
                   ELSE (metrics->>'f1')::float8 > 0.85 END AS quality_in_range
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id ORDER BY m.id;
SELECT s.id, s.relation_name, s.y_column_name, s.columns->0->>'name' AS first_column,
       jsonb_array_length(s.columns) AS feature_columns, s.analysis
FROM pgml.snapshots s ORDER BY s.id;
SELECT model_id, path, part, length(data) > 100 AS has_bytes FROM pgml.files ORDER BY model_id;

-- Predictions: by project (the deployed model) and by model id, every array type.
SELECT target, pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS predicted
FROM pgml.iris WHERE ctid IN ('(0,1)', '(0,75)', '(0,140)') ORDER BY target;
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::float8[]) AS float8,
       pgml.predict('Iris', ARRAY[5, 3, 1, 0]::int4[]) AS int4,
       pgml.predict('Iris', ARRAY[5, 3, 1, 0]::int8[]) AS int8,
       pgml.predict('Iris', ARRAY[5, 3, 1, 0]::int2[]) AS int2,
       pgml.predict('Iris', ARRAY[true, true, false, false]) IN (0, 1, 2) AS bool_ok,
       pgml.predict(1, ARRAY[6.7, 3.0, 5.2, 2.3]::real[]) AS by_id;
-- accuracy of the deployed model over all 150 flowers
SELECT round(avg((pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) = target)::int), 2) > 0.9 AS accurate
FROM pgml.iris;
SELECT array_length(pgml.predict_proba('Iris', ARRAY[6.3, 2.5, 4.9, 1.5]::real[]), 1) AS classes,
       round(sum(p)::numeric, 4) AS total
FROM unnest(pgml.predict_proba('Iris', ARRAY[6.3, 2.5, 4.9, 1.5]::real[])) p;
SELECT * FROM pgml.predict_batch('Iris', ARRAY[5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]::real[]);
SELECT pgml.predict('Cancer', ARRAY(SELECT unnest(ARRAY["mean radius", "mean texture", "mean perimeter", "mean area",
       "mean smoothness", "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
       "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error",
       "smoothness error", "compactness error", "concavity error", "concave points error", "symmetry error",
       "fractal dimension error", "worst radius", "worst texture", "worst perimeter", "worst area",
       "worst smoothness", "worst compactness", "worst concavity", "worst concave points", "worst symmetry",
       "worst fractal dimension"]))) AS predicted, malignant
FROM pgml.breast_cancer LIMIT 2;
SELECT pgml.predict('Digits', (SELECT array_agg(v) FROM unnest(image) v)) AS predicted, target
FROM pgml.digits ORDER BY ctid DESC LIMIT 3;
-- untyped numeric literals resolve too
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]) AS numeric_array;
-- a row of the training relation: its columns are found by name (the label is ignored)
SELECT target, pgml.predict('Iris', iris) AS predicted_from_row,
       pgml.predict('Iris', iris) = pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS same
FROM pgml.iris iris WHERE ctid IN ('(0,1)', '(0,75)', '(0,140)') ORDER BY target;
SELECT pgml.predict('Digits', d) AS from_row, target FROM pgml.digits d ORDER BY ctid DESC LIMIT 3;
SELECT round(pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])::numeric, 0) BETWEEN 25 AND 346 AS in_range
FROM pgml.diabetes LIMIT 2;

-- Clustering needs no label; predict returns the cluster.
CREATE TABLE flowers AS SELECT sepal_length, sepal_width, petal_length, petal_width FROM pgml.iris;
SELECT * FROM pgml.train('Flowers', 'clustering', 'flowers', algorithm => 'kmeans', hyperparams => '{"n_clusters": 3}');
SELECT count(DISTINCT pgml.predict('Flowers', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS clusters FROM flowers;
SELECT (metrics->>'silhouette')::float8 > 0.4 AS separated FROM pgml.models WHERE algorithm = 'kmeans';

-- Text columns are categorical features; relation names resolve through search_path.
CREATE SCHEMA shop;
CREATE TABLE shop."Orders" (region text, amount real, rush boolean, returned boolean);
INSERT INTO shop."Orders" SELECT (ARRAY['north', 'south', 'east'])[1 + i % 3], (i % 17)::real, i % 2 = 0,
       (i % 3 = 0) <> (i % 17 > 12) FROM generate_series(1, 300) i;
SET search_path = shop, public;
SELECT * FROM pgml.train('Returns', 'classification', '"Orders"', 'returned', algorithm => 'random_forest');
SELECT count(*) AS rows, count(*) FILTER (WHERE pgml.predict('Returns', o) = returned::int) > 200 AS mostly_right
FROM "Orders" o;
RESET search_path;
SELECT relation_name, columns->0->'levels' AS region_levels FROM pgml.snapshots ORDER BY id DESC LIMIT 1;
-- a region never seen in training is a missing value, not an error
SELECT pgml.predict('Returns', ROW('west', 3.0, true, NULL)::shop."Orders") IN (0, 1) AS predicted;

-- A model larger than one stored part (1 MB; a value is at most 1 GB in PostgreSQL): a fully
-- grown regression forest is stored in parts, and read back joined it predicts as trained.
CREATE TABLE forest_rows AS
SELECT (i * 7919 % 10007)::real AS a, (i * 104729 % 10009)::real AS b, (i % 97)::real AS c,
       ((i * 7919 % 10007) * 0.01 + 10 * sin(i))::real AS y
FROM generate_series(1, 20000) i;
SELECT * FROM pgml.train('Parts', 'regression', 'forest_rows', 'y', algorithm => 'random_forest',
                         hyperparams => '{"n_estimators": 10}');
SELECT array_agg(f.part ORDER BY f.part) AS parts, sum(octet_length(f.data)) > 1024 * 1024 AS over_a_part,
       max(octet_length(f.data)) = 1024 * 1024 AS full_parts, bool_and(m.status = 'successful') AS successful
FROM pgml.files f JOIN pgml.models m ON m.id = f.model_id JOIN pgml.projects p ON p.id = m.project_id
WHERE p.name = 'Parts';
SELECT round((m.metrics->>'r2')::numeric, 2) BETWEEN 0.85 AND 1 AS test_r2_as_expected,
       (SELECT 1 - sum((pgml.predict('Parts', ARRAY[a, b, c]) - y) ^ 2) / sum((y - (SELECT avg(y) FROM forest_rows)) ^ 2)
        FROM forest_rows) > 0.95 AS fits_its_rows
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Parts';
-- A forest is written to its parts as it trains: a training cancelled on the way (here by a
-- statement timeout, on two threads) had stored parts, and leaves no project, model or part.
CREATE TEMP TABLE cancelled (sqlstate text);
BEGIN;
SET LOCAL statement_timeout = '1s';
DO $$
BEGIN
    PERFORM pgml.train('Cancelled', 'regression', 'forest_rows', 'y', algorithm => 'random_forest',
                       hyperparams => '{"n_estimators": 5000, "n_jobs": 2}');
EXCEPTION WHEN query_canceled THEN
    INSERT INTO cancelled VALUES (SQLSTATE);
END
$$;
SELECT (SELECT sqlstate FROM cancelled), n_tup_ins > 0 AS parts_were_stored
FROM pg_stat_xact_user_tables WHERE relid = 'pgml.files'::regclass;
COMMIT;
SELECT count(*) AS projects, (SELECT count(*) FROM pgml.models WHERE status <> 'successful') AS unfinished_models,
       (SELECT count(*) FROM pgml.files WHERE model_id NOT IN (SELECT id FROM pgml.models)) AS stray_parts
FROM pgml.projects WHERE name = 'Cancelled';
