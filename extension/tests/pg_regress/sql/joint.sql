-- Multi-target regression: pgml.train_joint (one model per label column, trained on the same
-- rows) and pgml.predict_joint (every target of a row), as PostgresML's linnerud example.
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('linnerud');
-- physiological measurements (weight, waist, pulse) from exercises (chins, situps, jumps)
CREATE VIEW exercise AS SELECT chins, situps, jumps, weight, waist, pulse FROM pgml.linnerud;
SELECT * FROM pgml.train_joint('Exercise', 'regression', 'exercise', ARRAY['weight', 'waist', 'pulse']);
SELECT y_column_name, (metrics->>'r2') IS NOT NULL AS has_r2 FROM pgml.models m JOIN pgml.snapshots s ON s.id = m.snapshot_id;
SELECT array_length(pgml.predict_joint('Exercise', ARRAY[5, 162, 60]::real[]), 1) AS targets;

-- each target equals a single model trained on that label alone (same rows, same split)
CREATE VIEW exercise_weight AS SELECT chins, situps, jumps, weight FROM pgml.linnerud;
SELECT * FROM pgml.train('Weight', 'regression', 'exercise_weight', 'weight');
SELECT abs((pgml.predict_joint('Exercise', ARRAY[5, 162, 60]::real[]))[1] - pgml.predict('Weight', ARRAY[5, 162, 60]::real[])) < 0.01
       AS first_target_matches;
-- a later call may omit the relation and labels; XGBoost works per target too
SELECT * FROM pgml.train_joint('Exercise', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}', automatic_deploy => false);
SELECT * FROM pgml.deploy('Exercise', 3);
SELECT array_length(pgml.predict_joint('Exercise', ARRAY[5, 162, 60]::real[]), 1) AS xgboost_targets;

\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.predict_joint('Weight', ARRAY[5, 162, 60]::real[])$$);
SELECT regress.try($$SELECT pgml.train_joint('One', 'regression', 'exercise', ARRAY['weight'])$$);
SELECT regress.try($$SELECT pgml.train_joint('Classes', 'classification', 'exercise', ARRAY['weight', 'waist'])$$);
SELECT regress.try($$SELECT pgml.train_joint('Bad', 'regression', 'exercise', ARRAY['weight', 'height'])$$);
SELECT regress.try($$SELECT pgml.train_joint('Searched', 'regression', 'exercise', ARRAY['weight', 'waist'], search => 'grid', search_params => '{"fit_intercept": [true, false]}')$$);
