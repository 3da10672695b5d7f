-- Stages, promotion and promotion gates (as a superuser; roles and approvals: roles.sql).
\ir include/try.sql
SET client_min_messages = notice;
SELECT * FROM pgml.load_dataset('iris');
-- 1: linear, deployed to production (the first model); 2: a one-stump forest (weak);
-- 3: a small XGBoost (better than 1, below what the later 30 rounds reach); neither 2 nor 3
-- deploys automatically here
-- a strongly regularised logistic regression (F1 0.86), which the later models can beat
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', hyperparams => '{"C": 0.01}');
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 1, "max_depth": 1}', automatic_deploy => false);
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 3, "max_depth": 1}', automatic_deploy => false);
SELECT id, algorithm, round((metrics->>'f1')::numeric, 4) AS f1, round((metrics->>'accuracy')::numeric, 4) AS accuracy
FROM pgml.models ORDER BY id;

-- Every project starts with staging and production; PostgresML's views show production.
SELECT project, stage, model_id, strategy FROM pgml.stages_overview;
SELECT id, name, algorithm FROM pgml.deployed_models;

-- Each stage has its own deployments, strategies and history; predict takes a stage.
SELECT * FROM pgml.deploy('Iris', 2, stage => 'staging');
SELECT * FROM pgml.deploy('Iris', strategy => 'most_recent', stage => 'staging');
SELECT * FROM pgml.deploy('Iris', strategy => 'rollback', stage => 'staging');
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[], stage => 'staging')
     = pgml.predict_proba(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS staging_serves_2,
       pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[])
     = pgml.predict_proba(1, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS production_serves_1;
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2], 'staging') AS numeric_array,
       pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::float8[], stage => 'staging') AS float8_array,
       pgml.predict('Iris', (SELECT i FROM pgml.iris i LIMIT 1), stage => 'staging') AS row_value;
SELECT * FROM pgml.predict_batch('Iris', ARRAY[5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5]::real[], 'staging');
SELECT stage, model_id, strategy, replaced_model_id, served_until IS NULL AS serving
FROM pgml.deployment_history WHERE project = 'Iris' ORDER BY stage, id;

-- More stages can be added.
SELECT pgml.add_stage('Iris', 'canary');
SELECT pgml.add_stage('Iris', 'canary') AS added_again;
SELECT stage FROM pgml.stages_overview WHERE project = 'Iris';

-- Gates: minimum metrics and a minimum improvement over what production serves.
SELECT pgml.set_promotion_policy('Iris', 'production',
    min_metrics => '{"accuracy": 0.8, "precision": 0.8, "recall": 0.8, "f1": 0.8}', min_improvement => 0.0);
\pset format unaligned
\pset tuples_only on
-- staging serves the stump: refused, with every check, its requirement and the model's value
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', from_stage => 'staging', to_stage => 'production')$$);
-- pgml.deploy to a gated stage passes the same gates
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', strategy => 'most_recent', algorithm => 'random_forest')$$);
\pset format aligned
\pset tuples_only off
SELECT model_id FROM pgml.stages_overview WHERE project = 'Iris' AND stage = 'production';

-- XGBoost passes the minimums; the improvement gate compares it with the linear model.
SELECT round(((SELECT metrics->>'f1' FROM pgml.models WHERE id = 3)::numeric
            - (SELECT metrics->>'f1' FROM pgml.models WHERE id = 1)::numeric), 4) AS f1_gain_of_3_over_1;
SELECT * FROM pgml.deploy('Iris', 3, stage => 'staging');
SELECT * FROM pgml.promote('Iris');
SELECT model_id FROM pgml.stages_overview WHERE project = 'Iris' AND stage = 'production';

-- A superuser (a member of pgml_admin) may force; the override is recorded with the checks.
SELECT * FROM pgml.promote('Iris', 2, 'production', force => true);
SELECT event, model_id, stage, details->'checks'->0->>'check' AS first_check,
       details->'checks'->0->>'passed' AS passed
FROM pgml.audit_log WHERE event = 'override';

-- Rollback is the emergency lever: it returns to the previous model without the metric gates.
SELECT * FROM pgml.deploy('Iris', strategy => 'rollback');
SELECT model_id FROM pgml.stages_overview WHERE project = 'Iris' AND stage = 'production';

-- Automatic deploys at train time obey production's gates: a better model that misses a
-- minimum is trained, recorded and not deployed, and the notice says why.
SELECT pgml.set_promotion_policy('Iris', min_metrics => '{"f1": 0.999}');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 30}');
SELECT pgml.set_promotion_policy('Iris');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 30}');

-- A drift gate: the candidate must show no dataset drift on a relation of current data.
CREATE TABLE iris_recent AS SELECT * FROM pgml.iris;
CREATE TABLE iris_shifted AS
SELECT sepal_length + 2 AS sepal_length, sepal_width + 1 AS sepal_width, petal_length + 3 AS petal_length,
       petal_width + 1 AS petal_width FROM pgml.iris;
SELECT pgml.set_promotion_policy('Iris', 'canary', drift_relation => 'iris_shifted');
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 3, 'canary')$$);
\pset format aligned
\pset tuples_only off
SELECT pgml.set_promotion_policy('Iris', 'canary', drift_relation => 'iris_recent');
SELECT * FROM pgml.promote('Iris', 3, 'canary');
SELECT project, stage, model_id, strategy, approvals, drift_relation FROM pgml.stages_overview;

-- Mistakes
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], stage => 'qa')$$);
SELECT pgml.add_stage('Iris', 'shadow');
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], stage => 'shadow')$$);
SELECT regress.try($$SELECT pgml.add_stage('Iris', 'Pre-Prod')$$);
SELECT regress.try($$SELECT pgml.add_stage('Nope', 'qa')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', strategy => 'best_score', stage => 'qa')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 'production', 'production')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 'qa', 'production')$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 999)$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', min_metrics => '{"r2": 0.5}')$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', min_metrics => '{"f1": "high"}')$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', approvals => -1)$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', drift_relation => 'no_such_table')$$);
SELECT regress.try($$SELECT pgml.set_promotion_policy('Iris', stage => 'qa')$$);

-- A decision's reason: pgml.audit_reason, set for the transaction, is recorded in its audit
-- event (the dashboard's forms set it); without it the event has no reason.
BEGIN;
SET LOCAL pgml.audit_reason = 'staging needs the stump for a demo';
SELECT algorithm FROM pgml.deploy('Iris', 2, stage => 'staging');
COMMIT;
SELECT algorithm FROM pgml.deploy('Iris', 3, stage => 'staging');
SELECT event, model_id, stage, details->>'reason' AS reason
FROM pgml.audit_log WHERE stage = 'staging' ORDER BY id DESC LIMIT 2;
