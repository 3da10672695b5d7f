-- Deployment: the documented examples of pgml.deploy, automatic deployment, history, and
-- transactional hot swap within one session (cross-session: scripts/test-concurrency.sh).
SET client_min_messages = notice;
SELECT * FROM pgml.load_dataset('iris');
-- 1: linear (deployed: the first model of a project), 2: a one-leaf-deep forest (worse),
-- 3: XGBoost (deployed only if its F1 is strictly better than the linear model's)
-- a strongly regularised logistic regression (F1 0.86), which the later models can beat
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', hyperparams => '{"C": 0.01}');
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 1, "max_depth": 1}');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}', automatic_deploy => false);
SELECT id, algorithm, round((metrics->>'f1')::numeric, 4) AS f1 FROM pgml.models ORDER BY id;
SELECT id, algorithm, deployed FROM pgml.trained_models ORDER BY id;

-- Strategies
SELECT * FROM pgml.deploy('Iris', strategy => 'most_recent');
SELECT * FROM pgml.deploy('Iris', 'best_score');
SELECT * FROM pgml.deploy('Iris', strategy => 'best_score', algorithm => 'random_forest');
SELECT * FROM pgml.deploy('Iris', strategy => 'most_recent', algorithm => 'linear');
SELECT * FROM pgml.deploy('Iris', strategy => 'rollback');
SELECT * FROM pgml.deploy('Iris', strategy => 'rollback');
SELECT * FROM pgml.deploy(2);
SELECT * FROM pgml.deploy('Iris', 2);
SELECT id, name, algorithm FROM pgml.deployed_models;

-- Every deployment records the strategy actually used, who, and what it replaced.
SELECT id, model_id, algorithm, strategy, deployed_by, replaced_model_id, served_until IS NULL AS serving
FROM pgml.deployment_history WHERE project = 'Iris' ORDER BY id;
-- which model served at the time of deployment 4
SELECT model_id FROM pgml.deployment_history
WHERE project = 'Iris' AND deployed_at <= (SELECT created_at FROM pgml.deployments WHERE id = 4)
  AND (served_until IS NULL OR served_until > (SELECT created_at FROM pgml.deployments WHERE id = 4));

-- A deploy in a transaction that rolls back never serves, even in the deploying session.
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) = pgml.predict_proba(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS serves_model_2;
BEGIN;
SELECT strategy FROM pgml.deploy(1);
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) = pgml.predict_proba(1, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS serves_model_1_inside;
ROLLBACK;
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) = pgml.predict_proba(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS serves_model_2_after_rollback;
SELECT count(*) AS deployments FROM pgml.deployments;
-- the same with a savepoint
BEGIN;
SAVEPOINT s;
SELECT strategy FROM pgml.deploy(1);
ROLLBACK TO SAVEPOINT s;
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) = pgml.predict_proba(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS serves_model_2_after_savepoint;
COMMIT;

-- A hand-written deployment row is served too (the table's trigger invalidates the caches).
INSERT INTO pgml.deployments (project_id, model_id, strategy) SELECT project_id, 3, 'specific' FROM pgml.models WHERE id = 3;
SELECT pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) = pgml.predict_proba(3, ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS serves_model_3;

-- Numeric, not textual, comparison of the key metric (PostgresML sorts metrics->>'r2' as text).
CREATE TABLE noisy AS SELECT i::real AS x, (i % 7 - 3 + (i % 5) * 0.1)::real AS y FROM generate_series(1, 60) i;
SELECT * FROM pgml.train('Noisy', 'regression', 'noisy', 'y', algorithm => 'xgboost', hyperparams => '{"n_estimators": 3, "max_depth": 1}');
SELECT * FROM pgml.train('Noisy', algorithm => 'linear');
SELECT * FROM pgml.train('Noisy', algorithm => 'xgboost', hyperparams => '{"n_estimators": 30, "max_depth": 3}');
SELECT m.id, m.algorithm, (m.metrics->>'r2')::float8 < 0 AS negative_r2, d.deployed
FROM pgml.models m JOIN pgml.trained_models d USING (id) WHERE d.name = 'Noisy' ORDER BY m.id;
SELECT (SELECT max(id) FROM pgml.models m2 WHERE (m2.metrics->>'r2')::float8 = (
          SELECT max((metrics->>'r2')::float8) FROM pgml.models m3 JOIN pgml.projects p ON p.id = m3.project_id WHERE p.name = 'Noisy'))
       = (SELECT id FROM pgml.deployed_models WHERE name = 'Noisy') AS deployed_is_numerically_best;

-- A deleted project stops serving at once, even from this session's cache.
SELECT pgml.predict('Noisy', ARRAY[10]::real[]) IS NOT NULL AS served;
DELETE FROM pgml.projects WHERE name = 'Noisy';
SELECT pgml.predict('Noisy', ARRAY[10]::real[]);
