-- Drift against the references kept from each model's training rows and test predictions.
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT jsonb_array_length(features) AS features, features->0->>'name' AS first, (features->0->>'rows')::int AS training_rows,
       predictions->>'name' AS predictions
FROM pgml.drift_references;

-- The same data: nothing drifts (the reference is the 112-row training split).
SELECT feature, kind, reference_rows, current_rows, round(psi::numeric, 4) AS psi,
       round(ks_p_value::numeric, 4) AS ks_p_value, round(js_distance::numeric, 4) AS js, drifted,
       drift_share, dataset_drifted
FROM pgml.drift('Iris', 'pgml.iris');

-- Shifted and rescaled measurements drift, and so do the predictions made from them.
CREATE TABLE iris_shifted AS
SELECT sepal_length + 2 AS sepal_length, sepal_width * 1.5 AS sepal_width, petal_length, petal_width FROM pgml.iris;
SELECT feature, kind, ks_p_value < 0.05 AS ks_significant, psi > 0.1 AS psi_high, drifted, drift_share, dataset_drifted
FROM pgml.drift('Iris', 'iris_shifted');
CREATE TABLE iris_grown AS
SELECT sepal_length + 2 AS sepal_length, sepal_width + 1 AS sepal_width, petal_length + 3 AS petal_length, petal_width + 1 AS petal_width
FROM pgml.iris;
SELECT feature, kind, drifted, dataset_drifted FROM pgml.drift('Iris', 'iris_grown');

-- NULL-heavy columns: missing rates are reported; the present values are compared.
CREATE TABLE iris_holes AS
SELECT CASE WHEN (row_number() OVER ()) % 10 < 7 THEN NULL ELSE sepal_length END AS sepal_length,
       sepal_width, petal_length, NULL::real AS petal_width FROM pgml.iris;
SELECT feature, reference_missing_rate, round(current_missing_rate::numeric, 2) AS current_missing_rate,
       psi IS NULL AS no_values, drifted
FROM pgml.drift('Iris', 'iris_holes') WHERE kind <> 'prediction';

-- Thresholds per call and per project (Evidently's defaults otherwise).
SELECT feature, drifted FROM pgml.drift('Iris', 'iris_shifted', thresholds => '{"ks_p_value": 1e-300}') WHERE kind = 'numeric';
SELECT pgml.set_drift_thresholds('Iris', '{"numeric_method": "psi", "psi": 0.25, "share": 0.75}');
SELECT feature, round(psi::numeric, 3) > 0.25 AS over, drifted, drift_share, dataset_drifted
FROM pgml.drift('Iris', 'iris_shifted') WHERE kind = 'numeric';

-- Categorical features: Jensen-Shannon distance between category shares, new categories included.
CREATE TABLE orders (region text, amount real, returned boolean);
INSERT INTO orders SELECT (ARRAY['north', 'south', 'east'])[1 + i % 3], (i % 17)::real, (i % 3 = 0) <> (i % 17 > 12)
FROM generate_series(1, 300) i;
SELECT * FROM pgml.train('Orders', 'classification', 'orders', 'returned', algorithm => 'random_forest', hyperparams => '{"n_estimators": 5}');
CREATE TABLE orders_now AS SELECT CASE WHEN i % 4 = 0 THEN 'west' ELSE 'north' END AS region, (i % 17)::real AS amount
FROM generate_series(1, 200) i;
SELECT feature, kind, ks_p_value IS NULL AS no_ks, round(js_distance::numeric, 3) > 0.1 AS js_high, drifted
FROM pgml.drift('Orders', 'orders_now') WHERE feature = 'region';

-- Array features: each element is a feature; a NULL array's elements, and those a shorter
-- array lacks, are missing values.
CREATE TABLE readings AS
SELECT ARRAY[(i % 7)::real, (i % 11)::real] AS sensors, (i % 5)::real AS level, (i % 7 + i % 11)::real AS y
FROM generate_series(1, 200) i;
SELECT * FROM pgml.train('Readings', 'regression', 'readings', 'y', algorithm => 'linear');
CREATE TABLE readings_now AS
SELECT CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN ARRAY[(i % 7)::real] ELSE ARRAY[(i % 7)::real, (i % 11)::real] END AS sensors,
       (i % 5)::real AS level
FROM generate_series(1, 200) i;
SELECT feature, kind, current_rows, round(current_missing_rate::numeric, 2) AS current_missing_rate, drifted
FROM pgml.drift('Readings', 'readings_now') WHERE kind <> 'prediction' ORDER BY feature;

-- Mistakes
\pset format unaligned
\pset tuples_only on
\ir include/try.sql
SELECT regress.try($$SELECT * FROM pgml.drift('Nope', 'pgml.iris')$$);
SELECT regress.try($$SELECT * FROM pgml.drift('Iris', 'orders')$$);
SELECT regress.try($$SELECT * FROM pgml.drift('Iris', 'pgml.iris', model_id => (SELECT max(id) FROM pgml.models))$$);
SELECT regress.try($$SELECT * FROM pgml.drift('Iris', 'pgml.iris', thresholds => '{"share": 3}')$$);
SELECT regress.try($$SELECT * FROM pgml.drift('Iris', 'pgml.iris', thresholds => '{"p_value": 0.01}')$$);
SELECT regress.try($$SELECT pgml.set_drift_thresholds('Iris', '{"categorical_method": "ks"}')$$);
-- schedules need pg_cron in this database (the project cluster's `pgml` database has it)
SELECT regress.try($$SELECT pgml.schedule_training('Iris', '0 3 * * 0')$$);
SELECT regress.try($$SELECT pgml.unschedule_training('Iris')$$);
