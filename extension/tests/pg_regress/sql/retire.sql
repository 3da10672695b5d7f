-- Retiring models: pgml.archive_model (kept for audit, hidden from strategies and promotion)
-- and pgml.delete_model (PostgresML users delete rows by hand, its issue #1032); neither
-- touches a model that serves a stage. The audit trail keeps every event.
\ir include/try.sql
SET client_min_messages = notice;
SELECT * FROM pgml.load_dataset('iris');
-- 1: linear (production); 2: XGBoost, the best score; 3: a small forest (staging)
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 5, "max_depth": 2}', automatic_deploy => false);
SELECT * FROM pgml.deploy('Iris', 3, stage => 'staging');
SELECT * FROM pgml.deploy('Iris', 2);
SELECT * FROM pgml.deploy('Iris', 1);

-- Archive model 2: kept and listed, but no strategy, rollback or promotion picks it.
SELECT pgml.archive_model(2);
SELECT pgml.archive_model(2) AS archived_again;
SELECT id, algorithm, status FROM pgml.models ORDER BY id;
SELECT id, algorithm FROM pgml.trained_models ORDER BY id;
SELECT * FROM pgml.deploy('Iris', 'best_score');
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', strategy => 'best_score', algorithm => 'xgboost')$$);
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', 2)$$);
SELECT regress.try($$SELECT * FROM pgml.promote('Iris', 2)$$);
-- a model serving a stage can be neither archived nor deleted
SELECT regress.try($$SELECT pgml.archive_model(3)$$);
SELECT regress.try($$SELECT pgml.delete_model(1)$$);
SELECT regress.try($$SELECT pgml.delete_model(999)$$);
\pset format aligned
\pset tuples_only off

-- Delete model 2: the model, its files and its past deployment rows go; the trail stays.
SELECT pgml.delete_model(2);
SELECT (SELECT count(*) FROM pgml.models WHERE id = 2) AS models, (SELECT count(*) FROM pgml.files WHERE model_id = 2) AS files,
       (SELECT count(*) FROM pgml.deployments WHERE model_id = 2) AS deployments;
-- rollback has nothing to return to: the only other model production served is gone
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.deploy('Iris', strategy => 'rollback')$$);
\pset format aligned
\pset tuples_only off
SELECT event, role, model_id, stage, details->>'algorithm' AS algorithm, details->>'strategy' AS strategy
FROM pgml.audit_log ORDER BY id;
-- the trail still answers which model served production at a time, and who put it there
SELECT model_id, event, deployed_by
FROM pgml.served_at('Iris', (SELECT at FROM pgml.audit_log WHERE event = 'deploy' AND model_id = 2));
SELECT model_id, event, deployed_by
FROM pgml.served_at('Iris', (SELECT at FROM pgml.audit_log WHERE event = 'archive'));
