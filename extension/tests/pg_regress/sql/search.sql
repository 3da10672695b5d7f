-- Hyperparameter search: every combination cross-validated on the training rows (NOTICEs
-- report progress), the best refit on the whole training split and scored on the test rows,
-- every combination's scores kept in metrics.search_results.
\ir include/try.sql
SET client_min_messages = notice;
SELECT * FROM pgml.load_dataset('breast_cancer');
SELECT * FROM pgml.train('Cancer', 'classification', 'pgml.breast_cancer', 'malignant', algorithm => 'xgboost',
    search => 'grid', search_params => '{"max_depth": [1, 3], "n_estimators": [3, 30]}', search_args => '{"cv": 3}');
SELECT id, hyperparams, search, search_params, search_args, round((metrics->>'f1')::numeric, 4) AS test_f1,
       metrics->'search_results'->'params' AS tried, metrics->'search_results'->'rank_test_score' AS ranks,
       metrics->'search_results'->>'cv' AS folds
FROM pgml.models;
-- the refit equals an ordinary training with the best combination
SELECT * FROM pgml.train('Cancer', algorithm => 'xgboost', hyperparams => (SELECT hyperparams FROM pgml.models WHERE id = 1), automatic_deploy => false);
SELECT (SELECT metrics->>'f1' FROM pgml.models WHERE id = 1) = (SELECT metrics->>'f1' FROM pgml.models WHERE id = 2) AS same_test_f1;

-- random: n_iter distinct combinations drawn with the split's seed; base hyperparams kept
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target', algorithm => 'elastic_net',
    hyperparams => '{"max_iter": 5000}', search => 'random',
    search_params => '{"alpha": [0.0001, 0.001, 0.01, 0.1, 1], "l1_ratio": [0.1, 0.5, 0.9]}', search_args => '{"n_iter": 4, "cv": 4}');
SELECT hyperparams ? 'max_iter' AS kept_base, jsonb_array_length(metrics->'search_results'->'params') AS tried,
       (SELECT count(DISTINCT p) FROM jsonb_array_elements(metrics->'search_results'->'params') p) AS distinct_tried,
       round((metrics->>'r2')::numeric, 3) AS test_r2
FROM pgml.models WHERE algorithm = 'elastic_net';

\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'bayes', search_params => '{"alpha": [1]}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid', search_params => '{"alpha": 1}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid', search_params => '{"alpha": [1, -1]}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid', search_params => '{"alpha": [1]}', search_args => '{"n_iter": 3}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid', search_params => '{"alpha": [1]}', search_args => '{"cv": 1}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', search => 'grid', search_params => '{"alpah": [1]}')$$);
