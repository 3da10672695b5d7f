-- Preprocessing (impute, scale, encode per column): fitted on the training rows only, stored
-- with the model, and applied on every predict path — arrays, rows, batches, by model id,
-- probabilities (PostgresML applies it to row predicts only).
\ir include/try.sql
SET client_min_messages = warning;
CREATE TABLE houses AS
SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE (50 + i * 37 % 150)::real END AS area,
       CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 5 END AS rooms,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (ARRAY['east', 'north', 'south'])[1 + i % 3] END AS city,
       ((50 + i * 37 % 150) * 3 + (1 + i % 5) * 10 + (i % 3) * 25 + i * 13 % 7)::real AS price
FROM generate_series(1, 300) i;

-- Without preprocess, NULLs are refused (as before).
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.train('Plain', 'regression', 'houses', 'price')$$);
\pset format aligned
\pset tuples_only off

SELECT * FROM pgml.train('Houses', 'regression', 'houses', 'price', preprocess => '{
    "area": {"impute": "mean", "scale": "standard"},
    "rooms": {"impute": "median", "scale": "min_max"},
    "city": {"impute": "mode", "encode": "one_hot"}}');
SELECT round((metrics->>'r2')::numeric, 3) AS r2 FROM pgml.models;

-- Every path gives the same answer for the same raw features, NULLs included.
CREATE TABLE probe AS SELECT * FROM (VALUES (120::real, 3, 'north'), (NULL, 2, 'south'), (80, NULL, NULL)) v (area, rooms, city);
SELECT p.area, p.rooms, p.city,
       round(pgml.predict('Houses', p)::numeric, 2) AS from_row,
       round(pgml.predict('Houses', ARRAY[p.area, p.rooms,
             CASE p.city WHEN 'east' THEN 0 WHEN 'north' THEN 1 WHEN 'south' THEN 2 END]::real[])::numeric, 2) AS from_array,
       round(pgml.predict(1, ARRAY[p.area, p.rooms,
             CASE p.city WHEN 'east' THEN 0 WHEN 'north' THEN 1 WHEN 'south' THEN 2 END]::real[])::numeric, 2) AS by_model_id
FROM probe p;
SELECT round(v::numeric, 2) AS from_batch
FROM pgml.predict_batch('Houses', ARRAY[120, 3, 1, NULL, 2, 2, 80, NULL, NULL]::real[]) v;

-- Scaling a least-squares model's features changes nothing but the coefficients.
CREATE TABLE houses_complete AS SELECT area, rooms, price FROM houses WHERE area IS NOT NULL AND rooms IS NOT NULL;
SELECT * FROM pgml.train('Unscaled', 'regression', 'houses_complete', 'price');
SELECT * FROM pgml.train('Scaled', 'regression', 'houses_complete', 'price',
    preprocess => '{"area": {"scale": "robust"}, "rooms": {"scale": "max_abs"}}');
SELECT abs(pgml.predict('Unscaled', ARRAY[120, 3]::real[]) - pgml.predict('Scaled', ARRAY[120, 3]::real[])) < 0.01 AS same_prediction;

-- Target encoding of a category, for a classifier: probabilities go through it too.
CREATE TABLE churn AS
SELECT (ARRAY['basic', 'plus', 'pro'])[1 + i % 3] AS plan, (i % 13)::real AS tenure, (i % 3 = 0 OR i % 13 < 2) AS churned
FROM generate_series(1, 240) i;
SELECT * FROM pgml.train('Churn', 'classification', 'churn', 'churned', algorithm => 'xgboost',
    hyperparams => '{"n_estimators": 10}', preprocess => '{"plan": {"encode": "target"}, "tenure": {"scale": "standard"}}');
SELECT pgml.predict('Churn', c) AS predicted, churned,
       (SELECT array_agg(round(p::numeric, 2)) FROM unnest(pgml.predict_proba('Churn', ARRAY[CASE c.plan WHEN 'basic' THEN 0 WHEN 'plus' THEN 1 ELSE 2 END, c.tenure]::real[])) p) AS proba
FROM churn c LIMIT 4;

\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.predict('Unscaled', ARRAY[NULL, 3]::real[])$$);
CREATE TABLE houses_full AS
SELECT coalesce(area, 100) AS area, coalesce(rooms, 1) AS rooms, coalesce(city, 'east') AS city, price FROM houses;
SELECT regress.try($$SELECT pgml.train('Bad', 'regression', 'houses', 'price', preprocess => '{"area": {"impute": "average"}}')$$);
SELECT regress.try($$SELECT pgml.train('Bad', 'regression', 'houses_full', 'price', preprocess => '{"size": {"impute": "mean"}}')$$);
SELECT regress.try($$SELECT pgml.train('Bad', 'regression', 'houses_full', 'price', preprocess => '{"city": {"scale": "standard", "impute": "mode"}}')$$);
SELECT regress.try($$SELECT pgml.train('Bad', 'regression', 'houses_full', 'price', preprocess => '{"area": {"encode": "one_hot"}}')$$);
-- rooms has NULLs and no imputation
SELECT regress.try($$SELECT pgml.train('Bad', 'regression', 'houses', 'price', preprocess => '{"area": {"impute": "mean"}}')$$);
