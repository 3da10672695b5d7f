-- Every user mistake is an error with a real SQLSTATE, a message naming the value, and a
-- hint where one helps; nothing is changed by a failed call.
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target');
CREATE TABLE empty_table (x real, y real);
CREATE TABLE null_labels AS SELECT x::real, CASE WHEN x = 5 THEN NULL ELSE x % 2 END AS y FROM generate_series(1, 10) x;
CREATE TABLE null_features AS SELECT CASE WHEN x = 3 THEN NULL ELSE x END::real AS x, (x % 2)::int AS y FROM generate_series(1, 10) x;
CREATE TABLE ragged (v real[], y int);
INSERT INTO ragged VALUES ('{1,2}', 0), ('{1,2,3}', 1);
CREATE TABLE dates (d date, y int);
INSERT INTO dates VALUES ('2024-01-01', 0), ('2024-01-02', 1);

\pset format unaligned
\pset tuples_only on
-- datasets
SELECT regress.try($$SELECT pgml.load_dataset('titanic')$$);
-- projects, relations, columns
SELECT regress.try($$SELECT pgml.predict('Nope', ARRAY[1, 2, 3, 4]::real[])$$);
SELECT regress.try($$SELECT pgml.deploy('Nope')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'no_such_table', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'pgml.iris', 'species')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'pgml.iris; DROP TABLE pgml.iris', 'target')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'empty_table', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'null_labels', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'null_features', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'ragged', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification', 'dates', 'y')$$);
SELECT regress.try($$SELECT pgml.train('New', relation_name => 'pgml.iris', y_column_name => 'target')$$);
SELECT regress.try($$SELECT pgml.train('New', 'classification')$$);
-- tasks, algorithms, hyperparameters
SELECT regress.try($$SELECT pgml.train('New', 'clasification', 'pgml.iris', 'target')$$);
SELECT regress.try($$SELECT pgml.train('Iris', 'regression', 'pgml.iris', 'target')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'svm')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'xgbost')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'lasso')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'kmeans')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"max_depth": "deep"}')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"learning_rate": 2}')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 0}')$$);
SELECT regress.try($$SELECT pgml.train('Iris', hyperparams => '[1, 2]')$$);
SELECT regress.try($$SELECT pgml.train('Iris', test_size => 1.5)$$);
SELECT regress.try($$SELECT pgml.train('Iris', test_sampling => 'first')$$);
SELECT regress.try($$SELECT pgml.train('Iris', runtime => 'java')$$);
SELECT regress.try($$SELECT pgml.train('Iris', search => 'grid')$$);
SELECT regress.try($$SELECT pgml.train('Iris', preprocess => '{"sepal_length": {"scale": "z_score"}}')$$);
-- predictions
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[1, 2]::real[])$$);
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[1, NULL, 3, 4]::real[])$$);
SELECT regress.try($$SELECT pgml.predict(424242, ARRAY[1, 2, 3, 4]::real[])$$);
-- an anonymous row is read by position, as PostgresML reads it: four values, or an error
SELECT regress.try($$SELECT pgml.predict('Iris', ROW(5.1, 3.5, 1.4, 0.2))$$);
SELECT regress.try($$SELECT pgml.predict('Iris', ROW(5.1, 3.5, 1.4))$$);
SELECT regress.try($$SELECT pgml.predict('Iris', r) FROM (SELECT 5.1 AS sepal_length, 'wide' AS sepal_width, 1.4 AS petal_length, 0.2 AS petal_width) r$$);
SELECT regress.try($$SELECT pgml.predict('Iris', r) FROM (SELECT 5.1 AS sepal_length, 3.5 AS sepal_width, NULL::real AS petal_length, 0.2 AS petal_width) r$$);
SELECT regress.try($$SELECT pgml.predict('Iris', 'text'::text)$$);
SELECT regress.try($$SELECT pgml.predict_batch('Iris', ARRAY[1, 2, 3, 4, 5]::real[])$$);
-- deployment
SELECT regress.try($$SELECT pgml.deploy('Iris', 'newest')$$);
SELECT regress.try($$SELECT pgml.deploy('Iris', 'rollback')$$);
SELECT regress.try($$SELECT pgml.deploy('Iris', 'best_score', 'xgboost')$$);
SELECT regress.try($$SELECT pgml.deploy(424242)$$);
SELECT regress.try($$SELECT pgml.deploy('Iris', 424242)$$);
SELECT regress.try($$SELECT pgml.deploy('Nope', 1)$$);
SELECT regress.try($$SELECT pgml.train('Undeployed', 'classification', 'pgml.iris', 'target', automatic_deploy => false)$$);
SELECT regress.try($$SELECT pgml.predict('Undeployed', ARRAY[1, 2, 3, 4]::real[])$$);
SELECT regress.try($$SELECT pgml.deploy('Iris', (SELECT max(id) FROM pgml.models))$$);
\pset format aligned
\pset tuples_only off
-- nothing changed by the failed calls (the Undeployed project trained, without deploying)
SELECT name FROM pgml.projects ORDER BY id;
SELECT count(*) AS models, count(*) FILTER (WHERE status = 'successful') AS successful FROM pgml.models;
SELECT count(*) AS deployments FROM pgml.deployments;
SELECT count(*) AS iris_rows FROM pgml.iris;
