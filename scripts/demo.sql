\pset footer off
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION pgml;

\echo '== 1. Load a dataset shipped with pgml-rs (scikit-learn''s iris, 150 flowers)'
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.iris LIMIT 3;

\echo '== 2. Train three algorithms on the same project with one SQL call each'
SELECT * FROM pgml.train('Iris Flowers', 'classification', 'pgml.iris', 'target', algorithm => 'linear');
SELECT * FROM pgml.train('Iris Flowers', algorithm => 'xgboost', hyperparams => '{"n_estimators": 25, "max_depth": 3}');
SELECT * FROM pgml.train('Iris Flowers', algorithm => 'random_forest', hyperparams => '{"n_estimators": 50}');

\echo '== 3. The registry: every version with its test metrics (a newer model deploys only if its F1 is strictly better)'
SELECT t.id, t.name, t.algorithm, t.deployed,
       round((m.metrics->>'f1')::numeric, 4) AS f1,
       round((m.metrics->>'accuracy')::numeric, 4) AS accuracy,
       round((m.metrics->>'fit_time')::numeric, 3) AS fit_seconds
FROM pgml.trained_models t JOIN pgml.models m USING (id) ORDER BY t.id;

\echo '== 4. Predict from SQL with the deployed model'
SELECT target, pgml.predict('Iris Flowers', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS from_array,
       pgml.predict('Iris Flowers', iris) AS from_row
FROM pgml.iris iris WHERE ctid IN ('(0,1)', '(0,60)', '(0,120)');
SELECT pgml.predict_proba('Iris Flowers', ARRAY[6.3, 2.5, 4.9, 1.5]::real[]) AS class_probabilities;

\echo '== 5. Deploy by strategy'
SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'most_recent');
SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'best_score', algorithm => 'linear');
SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'best_score');

\echo '== 6. Roll back, and roll back again (two rollbacks return to where you started)'
SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'rollback');
SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'rollback');

\echo '== 7. Deployment history: who deployed which model, why, and what it replaced'
SELECT id, model_id, algorithm, strategy, deployed_by, replaced_model_id,
       to_char(deployed_at, 'HH24:MI:SS.MS') AS deployed_at, to_char(served_until, 'HH24:MI:SS.MS') AS served_until
FROM pgml.deployment_history WHERE project = 'Iris Flowers';

\echo '== 8. Regression: diabetes progression, linear against XGBoost and LightGBM (r2 decides)'
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target');
SELECT * FROM pgml.train('Diabetes', algorithm => 'xgboost', hyperparams => '{"n_estimators": 50, "max_depth": 2, "learning_rate": 0.1}');
SELECT * FROM pgml.train('Diabetes', algorithm => 'lightgbm', hyperparams => '{"n_estimators": 50, "num_leaves": 7}');
SELECT t.id, t.algorithm, t.deployed, round((m.metrics->>'r2')::numeric, 4) AS r2,
       round((m.metrics->>'mean_absolute_error')::numeric, 2) AS mae
FROM pgml.trained_models t JOIN pgml.models m USING (id) WHERE t.name = 'Diabetes' ORDER BY t.id;
SELECT round(pgml.predict('Diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])::numeric, 1) AS predicted, target
FROM pgml.diabetes LIMIT 3;

\echo '== 9. Why this prediction: each feature''s part (TreeSHAP), what the model relies on overall, and the model as a file another tool loads'
-- the XGBoost model's attributions for one patient: baseline + attributions = its prediction
SELECT feature, round(value::numeric, 3) AS value, round(attribution::numeric, 2) AS attribution,
       round(baseline::numeric, 1) AS baseline, round(prediction::numeric, 1) AS prediction
FROM pgml.explain((SELECT max(id) FROM pgml.trained_models WHERE name = 'Diabetes' AND algorithm = 'xgboost'),
                  ARRAY[0.04, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, 0.02], top_k => 4);
-- stored by the training: mean |attribution| over the test rows
SELECT rank, feature, round(mean_abs_attribution::numeric, 2) AS mean_abs_attribution, rows
FROM pgml.global_explain((SELECT max(id) FROM pgml.trained_models WHERE name = 'Diabetes' AND algorithm = 'xgboost')) WHERE rank <= 4;
-- the model as XGBoost's own JSON (Python: xgboost.Booster().load_model(...)), and back in as a new version
SELECT octet_length(pgml.export(id, 'xgboost_json')) AS json_bytes,
       convert_from(pgml.export(id, 'xgboost_json'), 'UTF8')::jsonb #> '{learner,feature_names}' AS names
FROM pgml.trained_models WHERE name = 'Diabetes' AND algorithm = 'xgboost' ORDER BY id DESC LIMIT 1;
SELECT pgml.import('Diabetes (imported)', NULL,
                   (SELECT pgml.export(max(id), 'xgboost') FROM pgml.trained_models WHERE name = 'Diabetes' AND algorithm = 'xgboost'),
                   relation_name => 'pgml.diabetes', y_column_name => 'target') AS imported_model;
SELECT id, algorithm, round((metrics->>'r2')::numeric, 4) AS r2_on_holdout, origin->>'format' AS format
FROM pgml.models WHERE origin IS NOT NULL;

\echo '== 10. Drift: new measurements against the statistics kept from the training rows'
CREATE TABLE iris_next_season AS
SELECT sepal_length + 1.5 AS sepal_length, sepal_width, petal_length * 1.3 AS petal_length, petal_width FROM pgml.iris;
SELECT feature, kind, round(psi::numeric, 3) AS psi, round(ks_p_value::numeric, 4) AS ks_p_value,
       round(js_distance::numeric, 3) AS js_distance, drifted, drift_share, dataset_drifted
FROM pgml.drift('Iris Flowers', 'iris_next_season');

\echo '== 11. Stages and gates: a model reaches production only through its policy and an approval'
-- two people: one trains and asks, another approves (the extension's roles, granted to them)
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_ana') THEN CREATE ROLE demo_ana; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_ben') THEN CREATE ROLE demo_ben; END IF;
END $$;
GRANT pgml_trainer, pgml_deployer, pgml_approver TO demo_ana;
GRANT pgml_approver TO demo_ben;
SELECT pgml.set_promotion_policy('Iris Flowers', 'production',
    min_metrics => '{"accuracy": 0.8, "f1": 0.8}', min_improvement => 0.0, approvals => 1) AS production_policy;
SET ROLE demo_ana;
SELECT * FROM pgml.train('Iris Flowers', algorithm => 'random_forest', hyperparams => '{"n_estimators": 1, "max_depth": 1}', automatic_deploy => false);
SELECT * FROM pgml.deploy('Iris Flowers', 'most_recent', stage => 'staging');
\set ON_ERROR_STOP off
SELECT * FROM pgml.promote('Iris Flowers', from_stage => 'staging', to_stage => 'production');
\set ON_ERROR_STOP on
SELECT * FROM pgml.deploy('Iris Flowers', 'best_score', stage => 'staging');
SELECT * FROM pgml.promote('Iris Flowers', from_stage => 'staging', to_stage => 'production');
\set ON_ERROR_STOP off
SELECT * FROM pgml.approve((SELECT max(id) FROM pgml.promotion_requests));
\set ON_ERROR_STOP on
RESET ROLE;
SET ROLE demo_ben;
SELECT * FROM pgml.approve((SELECT max(id) FROM pgml.promotion_requests), comment => 'metrics and schema checked');
RESET ROLE;
SELECT project, stage, model_id, algorithm, strategy, deployed_by FROM pgml.stages_overview WHERE project = 'Iris Flowers';
SELECT pgml.predict('Iris Flowers', ARRAY[6.3, 2.5, 4.9, 1.5]::real[], stage => 'staging') AS staging_says,
       pgml.predict('Iris Flowers', ARRAY[6.3, 2.5, 4.9, 1.5]::real[]) AS production_says;

\echo '== 12. A rollout: the one-tree forest tried in shadow beside the staging model on live traffic; outcomes arrive; the database rolls it back'
SELECT pgml.set_monitoring('Iris Flowers', scan_after => 1000) IS NOT NULL AS every_prediction_logged;
SELECT pgml.start_rollout('Iris Flowers',
    (SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
     WHERE p.name = 'Iris Flowers' AND m.algorithm = 'random_forest'),
    mode => 'shadow', stage => 'staging', policy => '{"min_rows": 100, "bake_seconds": 0}') AS rollout;
-- 150 requests, each with the flower's key: the staging model answers, the candidate scores each beside it
SELECT count(pgml.predict('Iris Flowers', ARRAY[sepal_length, sepal_width, petal_length, petal_width], 'staging',
                          key => 'flower ' || n)) AS requests
FROM (SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS n, * FROM pgml.iris) i;
SELECT pgml.flush_prediction_log() AS logged;
SELECT count(pgml.record_outcome('Iris Flowers', target, key => 'flower ' || n)) AS outcomes
FROM (SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS n, * FROM pgml.iris) i;
-- what pg_cron's job pgml_rollouts runs every minute
SELECT rollout_id, phase, state, labelled_rows, round(estimate::numeric, 3) AS estimate,
       round(lower_bound::numeric, 3) AS lower_bound, reason
FROM pgml.evaluate_rollouts('Iris Flowers');
SELECT id, stage, mode, baseline_id, candidate_id, state, loss, labelled_rows FROM pgml.rollouts_overview WHERE project = 'Iris Flowers';

\echo '== 13. The audit trail: every lifecycle event, who, when (append-only)'
SELECT to_char(at, 'HH24:MI:SS.MS') AS at, event, role, model_id, stage, details ->> 'action' AS rollout FROM pgml.audit_log
WHERE project = 'Iris Flowers' ORDER BY id DESC LIMIT 8;

\echo '== 14. Mistakes get clear errors, not crashes'
\set ON_ERROR_STOP off
SELECT pgml.predict('Iris Flowers', ARRAY[1.0, 2.0]::real[]);
SELECT * FROM pgml.train('Iris Flowers', algorithm => 'xgboost', hyperparams => '{"n_estimator": 10}');
SELECT * FROM pgml.deploy('No Such Project');
