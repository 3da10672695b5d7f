-- Rollouts: a candidate in shadow or as a keyed canary, decided on outcomes joined to the logged
-- predictions by the always-valid sequential test; the decision, the deployment, the audit
-- event and the NOTIFY in one transaction; replay on logged traffic. (pg_cron's own tick is
-- scripts/test-schedule.sh's; here pgml.evaluate_rollouts() is called as the job calls it.)
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
-- model 1: the baseline (deployed); model 2: a good candidate; model 3: a harmful one, trained on
-- labels shifted by one class (same features, so the stage's schema check passes)
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}', automatic_deploy => false);
CREATE TABLE shifted AS SELECT sepal_length, sepal_width, petal_length, petal_width, (target + 1) % 3 AS target FROM pgml.iris;
SELECT * FROM pgml.train('Iris', 'classification', 'shifted', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT * FROM pgml.deploy('Iris', 1);
SELECT pgml.set_monitoring('Iris', scan_after => 100000, features_sample => 1.0) IS NOT NULL AS logging_everything;
CREATE TABLE traffic AS
SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS id, *
FROM pgml.iris;
CREATE TABLE other_project AS SELECT * FROM pgml.iris;
SELECT * FROM pgml.train('Other', 'classification', 'other_project', 'target', algorithm => 'linear');
DO $$ BEGIN
    CREATE ROLE regress_rollouts_predictor IN ROLE pgml_predictor;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- Mistakes are refused with their SQLSTATE and the value named.
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, mode => 'blue_green')$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, percent => 0)$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, percent => 100)$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, policy => '{"alpha": 0.05}')$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, policy => '{"loss": "squared"}')$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, policy => '{"alpha_harm": 0.9}')$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 1)$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 99)$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 4)$$);
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2, stage => 'canary')$$);
SELECT regress.try($$SELECT pgml.start_rollout('Nope', 2)$$);
SELECT regress.try($$SELECT pgml.stop_rollout('Iris')$$);
SELECT regress.try($$SELECT pgml.set_rollout_percent('Iris', 20)$$);
SELECT regress.try($$SELECT pgml.replay('Iris', 4)$$);
SET ROLE regress_rollouts_predictor;
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2)$$);
RESET ROLE;
BEGIN READ ONLY;
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2)$$);
COMMIT;
\pset format aligned
\pset tuples_only off

-- 1. Shadow: the harmful candidate scores every request beside the baseline, never answering.
SELECT pgml.start_rollout('Iris', 3, mode => 'shadow', policy => '{"min_rows": 50, "bake_seconds": 0}') AS rollout;
SELECT regress.try($$SELECT pgml.start_rollout('Iris', 2)$$) AS second_rollout;
SELECT id, project, stage, baseline_id, candidate_id, mode, phase, state, loss FROM pgml.rollouts_overview;
-- the answers are the baseline's
SELECT count(*) FILTER (WHERE p = pgml.predict(1, ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS baseline_answers,
       count(*) AS requests
FROM (SELECT *, pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 's' || id) AS p FROM traffic) t;
SELECT pgml.flush_prediction_log();
-- each logged request has its shadow record: same request id, the candidate's model, source shadow
SELECT l.source, l.model_id, count(*) AS records, count(DISTINCT l.request_id) AS requests
FROM pgml.prediction_log l WHERE l.key LIKE 's%' GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS paired FROM pgml.prediction_log b JOIN pgml.prediction_log s USING (request_id)
WHERE b.source = 'sql' AND s.source = 'shadow' AND b.key = s.key;
-- no outcomes yet: nothing decided
SELECT rollout_id, phase, state, labelled_rows FROM pgml.evaluate_rollouts();
SELECT count(pgml.record_outcome('Iris', target, key => 's' || id)) AS outcomes FROM traffic;
-- the candidate is wrong on (nearly) every request the baseline gets right: rolled back
SELECT rollout_id, phase, state, labelled_rows, estimate > 0.9 AS much_worse, lower_bound > 0 AS harm_shown, reason
FROM pgml.evaluate_rollouts();
SELECT state, reason, (statistics ->> 'rows')::int AS rows, (statistics -> 'candidate' ->> 'mean_loss')::float8 > 0.9 AS candidate_wrong,
       (statistics -> 'baseline' ->> 'mean_loss')::float8 < 0.1 AS baseline_right, ended_by IS NOT NULL AS ended
FROM pgml.rollouts WHERE id = 1;
-- the audit event carries the statistics; the stage still serves the baseline
SELECT event, model_id, stage, details ->> 'action' AS action, (details -> 'statistics' ->> 'rows')::int AS rows,
       details -> 'statistics' ->> 'loss' AS loss
FROM pgml.audit_log WHERE event = 'rollout' ORDER BY id;
SELECT id AS deployed FROM pgml.deployed_models WHERE name = 'Iris';
-- ended: the next predictions are not shadowed
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], key => 'after') AS after;
SELECT pgml.flush_prediction_log();
SELECT count(*) FILTER (WHERE source = 'shadow') AS shadowed FROM pgml.prediction_log WHERE key = 'after';

-- 2. Replay: the harmful model judged on the logged traffic before it serves anything, in a
-- read-only transaction.
BEGIN READ ONLY;
SELECT labelled_rows, loss, served_loss < 0.1 AS served_right, candidate_loss > 0.9 AS candidate_wrong, verdict
FROM pgml.replay('Iris', 3, since => now() - interval '1 hour', policy => '{"min_rows": 50}');
SELECT labelled_rows, verdict FROM pgml.replay('Iris', 2, since => now() - interval '1 hour', policy => '{"margin": 0.2, "min_rows": 50}');
-- the default policy asks for 200 labelled rows
SELECT labelled_rows, verdict FROM pgml.replay('Iris', 3, since => now() - interval '1 hour');
COMMIT;

-- 3. Keyed canary: a key always gets the same model; keyless requests get the baseline.
SELECT pgml.start_rollout('Iris', 2, mode => 'canary', percent => 50,
                          policy => '{"min_rows": 30, "bake_seconds": 0, "margin": 0.3}') AS rollout;
CREATE TABLE canary_traffic AS SELECT t.*, g AS pass FROM traffic t, generate_series(1, 3) g;
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'k' || id)) AS keyed,
       count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS keyless
FROM canary_traffic;
SELECT pgml.flush_prediction_log();
SELECT count(*) FILTER (WHERE models > 1) AS keys_on_two_models, sum(records) AS records,
       count(*) FILTER (WHERE model = 2) BETWEEN 45 AND 105 AS candidate_share_near_half
FROM (SELECT key, count(DISTINCT model_id) AS models, min(model_id) AS model, count(*) AS records
      FROM pgml.prediction_log WHERE key LIKE 'k%' GROUP BY key) k;
SELECT model_id, count(*) AS keyless FROM pgml.prediction_log
WHERE key IS NULL AND predicted_at > (SELECT started_at FROM pgml.rollouts WHERE id = 2) GROUP BY 1;
-- a failed prediction of either arm is logged as NaN while a rollout runs (the error-rate guard
-- compares the arms), and still raised
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[1, 2, 3]::real[], key => 'wrong width')$$) AS raised;
SELECT pgml.flush_prediction_log();
SELECT count(*) AS failures_logged FROM pgml.prediction_log WHERE key = 'wrong width' AND prediction IS NULL;
-- raising the percentage keeps every key already in the candidate there
CREATE TABLE in_candidate AS SELECT DISTINCT key FROM pgml.prediction_log WHERE key LIKE 'k%' AND model_id = 2;
SELECT pgml.set_rollout_percent('Iris', 80) AS rollout;
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => c.key)) > 0 AS again
FROM in_candidate c JOIN traffic t ON c.key = 'k' || t.id;
SELECT pgml.flush_prediction_log();
SELECT count(*) AS moved_to_baseline FROM pgml.prediction_log l JOIN in_candidate c USING (key) WHERE l.model_id = 1;
SELECT pgml.set_rollout_percent('Iris', 50) AS rollout;
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'k' || id)) AS keyed
FROM canary_traffic;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', target, key => 'k' || id)) AS outcomes FROM traffic;
-- the good candidate is no worse than the margin: promoted, in the transaction that records it
SELECT rollout_id, phase, state, upper_bound < 0.3 AS within_margin, reason LIKE 'the candidate is no worse than 0.3%' AS why
FROM pgml.evaluate_rollouts();
SELECT id AS deployed FROM pgml.deployed_models WHERE name = 'Iris';
SELECT d.model_id, d.strategy, a.event FROM pgml.deployments d
JOIN pgml.audit_log a ON a.model_id = d.model_id AND a.event = 'promote'
WHERE d.project_id = 1 ORDER BY d.id DESC LIMIT 1;

-- 4. shadow_then_canary: a candidate shown no worse in shadow moves on to a canary.
SELECT pgml.start_rollout('Iris', 1, mode => 'shadow_then_canary', percent => 20,
                          policy => '{"min_rows": 50, "bake_seconds": 0, "margin": 0.3}') AS rollout;
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 't' || id)) AS keyed
FROM traffic;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', target, key => 't' || id)) AS outcomes FROM traffic;
SELECT rollout_id, phase, state, reason LIKE 'shadow passed (%): canary on 20 % of the keys' AS why FROM pgml.evaluate_rollouts();
SELECT id, phase, state, rho2 IS NULL AS test_starts_again FROM pgml.rollouts WHERE id = 3;
-- the canary's keys now go to the candidate
SELECT count(DISTINCT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], key => 'u' || g)) >= 1 AS answered FROM generate_series(1, 100) g;
SELECT pgml.flush_prediction_log();
SELECT count(*) FILTER (WHERE model_id = 1) BETWEEN 5 AND 40 AS candidate_near_20_percent,
       count(*) FILTER (WHERE source = 'shadow') AS shadowed
FROM pgml.prediction_log WHERE key LIKE 'u%';

-- 5. Stopping by hand, and a deployment by another path, end a rollout; a stopped one is not
-- stopped twice.
SELECT * FROM pgml.stop_rollout('Iris');
SELECT regress.try($$SELECT pgml.stop_rollout('Iris')$$) AS again;
SELECT pgml.start_rollout('Iris', 3, mode => 'canary') AS rollout;
SELECT * FROM pgml.deploy('Iris', 'rollback');
SELECT id, state, reason LIKE 'model 1 was deployed to the stage by %' AS why FROM pgml.rollouts WHERE id = 4;
SELECT id, mode, state FROM pgml.rollouts_overview ORDER BY id;
-- every change was audited
SELECT details ->> 'rollout_id' AS rollout, details ->> 'action' AS action FROM pgml.audit_log WHERE event = 'rollout' ORDER BY id;

-- 6. A model a running rollout tries is neither archived nor deleted.
SELECT pgml.start_rollout('Iris', 3, mode => 'shadow') AS rollout;
SELECT regress.try($$SELECT pgml.delete_model(3)$$) AS delete_candidate;
SELECT regress.try($$SELECT pgml.archive_model(3)$$) AS archive_candidate;
SELECT * FROM pgml.stop_rollout('Iris');
