-- Production monitoring: predictions logged off their path (pgml preloaded), outcomes joined in
-- SQL, live metrics per model version equal to a plain SQL recomputation, alerts that roll back,
-- batch scoring with lineage, the log's retention by partition.
\ir include/try.sql
SET client_min_messages = warning;
SELECT logging, reason, buffer_kb FROM pgml.monitoring_status();
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris', algorithm => 'linear', automatic_deploy => false);
SELECT * FROM pgml.deploy('Iris', 1);
-- every row of the traffic below, in a fixed order
CREATE TABLE traffic AS
SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS id, *
FROM pgml.iris;
DO $$ BEGIN
    CREATE ROLE regress_monitoring_predictor IN ROLE pgml_predictor;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE ROLE regress_monitoring_monitor IN ROLE pgml_monitor;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- Mistakes are refused with their SQLSTATE and the value named.
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.set_monitoring('Iris', sample => 1.5)$$);
SELECT regress.try($$SELECT pgml.set_monitoring('Iris', scan_after => -1)$$);
SELECT regress.try($$SELECT pgml.set_monitoring('Iris', retention => '2 hours')$$);
SELECT regress.try($$SELECT pgml.set_monitoring('Iris', attribution_window => '0')$$);
SELECT regress.try($$SELECT pgml.set_monitoring('Nope')$$);
SELECT regress.try($$SELECT pgml.set_monitoring(NULL)$$);
SELECT regress.try($$SELECT pgml.live_metrics(NULL)$$);
SELECT regress.try($$SELECT pgml.live_metrics('Iris', bucket => NULL)$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', NULL, 'accuracy', below => 1)$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 1, min_count => NULL)$$);
SELECT regress.try($$SELECT pgml.evaluate_alerts('Iris', refresh => NULL)$$);
SELECT regress.try($$SELECT pgml.record_outcome('Iris', NULL, key => 'a')$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 1, min_count => 0)$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 1, above => 2)$$);
SELECT regress.try($$SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], key => repeat('k', 1025))$$);
SELECT regress.try($$SELECT pgml.record_outcome('Iris', 1)$$);
SELECT regress.try($$SELECT pgml.record_outcome('Iris', 'NaN', key => 'a')$$);
SELECT regress.try($$SELECT pgml.record_outcome('Nope', 1, key => 'a')$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'mae', below => 1)$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy')$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 0.9, action => 'page')$$);
SELECT regress.try($$SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 0.9, stage => 'canary')$$);
SELECT regress.try($$SELECT pgml.live_metrics('Iris', bucket => '10 seconds')$$);
SELECT regress.try($$SELECT pgml.live_metrics('Iris', time_window => '-1 day')$$);
SELECT regress.try($$SELECT pgml.log_maintenance(-1)$$);
SELECT regress.try($$SELECT pgml.batch_score('Iris', 'traffic', 'no_such_column', 'scores')$$);
SELECT regress.try($$SELECT pgml.add_outcome_source('Iris', 'no_such_table', 'k', 't', 'y')$$);
-- the log and the outcomes are the business's data: a predictor reads neither, records nothing
SET ROLE regress_monitoring_predictor;
SELECT regress.try($$SELECT count(*) FROM pgml.prediction_log$$);
SELECT regress.try($$SELECT pgml.record_outcome('Iris', 1, key => 'a')$$);
SELECT regress.try($$SELECT pgml.set_monitoring('Iris', sample => 0.5)$$);
RESET ROLE;
\pset format aligned
\pset tuples_only off
SELECT pgml.set_monitoring('Iris', scan_after => 100000);

-- Online predictions, each logged with the caller's key and request id; from a read-only
-- transaction too. PostgresML's forms are unchanged (NULL in, NULL out).
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[], key => 'alice', request_id => '01890a5d-ac96-774b-bcce-b302099a8057');
SELECT array_length(pgml.predict_proba('Iris', ARRAY[6.7, 3.0, 5.2, 2.3]::real[], key => 'bob'), 1) AS classes;
BEGIN READ ONLY;
SELECT pgml.predict('Iris', ARRAY[6.1, 2.8, 4.7, 1.2]::real[], key => 'carol');
COMMIT;
SELECT pgml.predict('Iris', NULL::real[]) IS NULL AS null_in, pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]) AS numeric_form;
SELECT pgml.flush_prediction_log();
SELECT request_id = '01890a5d-ac96-774b-bcce-b302099a8057' AS given_id, stage, model_id, source, key, prediction,
       array_length(probabilities, 1) AS probabilities, weight, latency_us > 0 AS timed
FROM pgml.prediction_log ORDER BY predicted_at;

-- A scan in parallel workers: every prediction is logged, whichever process made it.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE TABLE big AS SELECT t.* FROM traffic t, generate_series(1, 20);
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) FROM big;
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) FROM big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT pgml.flush_prediction_log();
SELECT count(*) AS logged, sum(weight) AS weight FROM pgml.prediction_log WHERE key IS NULL;
SELECT appended = written AS all_written, dropped_full, dropped_unwritten FROM pgml.monitoring_status();

-- A large scan with the default settings writes a sample, weighted to stand for the whole.
SELECT pgml.set_monitoring('Iris', scan_after => 100, scan_sample => 0.01);
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) FROM big;
SELECT pgml.flush_prediction_log();
SELECT count(*) FILTER (WHERE weight = 1) AS first_100_and_before, count(*) FILTER (WHERE weight = 100) BETWEEN 10 AND 60 AS sampled
FROM pgml.prediction_log WHERE key IS NULL;
SELECT pgml.set_monitoring('Iris', scan_after => 100000, scan_sample => 0.001);

-- Outcomes: half recorded by key, half by request id, and a table of the user's read as an
-- outcome source (nothing copied).
CREATE TABLE served AS
SELECT id, target, pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'c' || id) AS p
FROM traffic;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', target, key => 'c' || id)) FROM traffic WHERE id % 3 = 0;
SELECT count(pgml.record_outcome('Iris', t.target, request_id => l.request_id))
FROM traffic t JOIN pgml.prediction_log l ON l.key = 'c' || t.id WHERE t.id % 3 = 1;
CREATE TABLE labels AS SELECT 'c' || id AS customer, clock_timestamp() AS at, target AS label FROM traffic WHERE id % 3 = 2;
SELECT pgml.add_outcome_source('Iris', 'labels', 'customer', 'at', 'label') > 0 AS added;
SELECT pg_sleep(2.2);
SELECT * FROM pgml.refresh_live_metrics('Iris');
-- nothing twice
SELECT * FROM pgml.refresh_live_metrics('Iris');

-- Live metrics per model version, and the same from the log and the outcomes in plain SQL.
CREATE TABLE live AS SELECT * FROM pgml.live_metrics('Iris', time_window => '1 day', bucket => '1 day');
CREATE TABLE recomputed AS
WITH outcomes AS (
    SELECT l.model_id, l.prediction, o.label, l.weight, date_bin('1 day', l.predicted_at, '2000-01-01 00:00:00+00') AS b
    FROM pgml.outcomes o JOIN pgml.prediction_log l ON l.request_id = o.request_id
    UNION ALL
    SELECT l.model_id, l.prediction, o.label, l.weight, date_bin('1 day', l.predicted_at, '2000-01-01 00:00:00+00')
    FROM pgml.outcomes o JOIN pgml.prediction_log l ON o.request_id IS NULL AND l.key = o.key
    UNION ALL
    SELECT l.model_id, l.prediction, s.label, l.weight, date_bin('1 day', l.predicted_at, '2000-01-01 00:00:00+00')
    FROM labels s JOIN pgml.prediction_log l ON l.key = s.customer
), logged AS (
    SELECT model_id, date_bin('1 day', predicted_at, '2000-01-01 00:00:00+00') AS b, sum(weight) AS predictions,
           count(*) AS records
    FROM pgml.prediction_log GROUP BY 1, 2
), cumulative AS (
    -- the weighted median: a sampled record stands for 1 / its rate predictions
    SELECT model_id, date_bin('1 day', predicted_at, '2000-01-01 00:00:00+00') AS b, latency_us,
           sum(weight) OVER (PARTITION BY model_id, date_bin('1 day', predicted_at, '2000-01-01 00:00:00+00')
                             ORDER BY latency_us, request_id) AS below,
           sum(weight) OVER (PARTITION BY model_id, date_bin('1 day', predicted_at, '2000-01-01 00:00:00+00')) AS total
    FROM pgml.prediction_log
), medians AS (
    SELECT DISTINCT ON (model_id, b) model_id, b, latency_us AS p50
    FROM cumulative WHERE below >= total / 2 ORDER BY model_id, b, latency_us
)
SELECT g.model_id, g.b, g.predictions, g.records, m.p50, sum(o.weight) AS labelled,
       sum(o.weight * (o.prediction = o.label)::int) / sum(o.weight) AS accuracy
FROM logged g JOIN medians m USING (model_id, b) LEFT JOIN outcomes o ON o.model_id = g.model_id AND o.b = g.b
GROUP BY 1, 2, 3, 4, 5;
SELECT sum(labelled) AS labelled FROM live;
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE l.predictions = r.predictions AND l.records = r.records) AS same_counts,
       count(*) FILTER (WHERE l.labelled = r.labelled AND abs(l.accuracy - r.accuracy) < 1e-9) AS same_accuracy,
       count(*) FILTER (WHERE abs(l.latency_p50_us / r.p50 - 1) < 0.1) AS p50_within_10_percent
FROM live l JOIN recomputed r ON r.model_id = l.model_id AND r.b = l.bucket_start;
SELECT round(accuracy::numeric, 4) AS live_accuracy, round(f1::numeric, 4) AS f1, log_loss IS NULL AS no_log_loss,
       prediction_drift < 0.25 AS no_large_drift
FROM live;
-- The predicted classes' drift against the training reference, recomputed in SQL (Jensen-Shannon
-- distance, natural log) from the weighted log. It varies run to run (the sampled scan above
-- stands for 2,900 rows with about 29 records), so it is compared, not pinned.
WITH ref AS (
    SELECT c.key AS class, c.value::float8 / sum(c.value::float8) OVER () AS p
    FROM pgml.drift_references d, jsonb_each_text(d.predictions->'categorical') c WHERE d.model_id = 1
), cur AS (
    SELECT prediction::text AS class, sum(weight)::float8 / sum(sum(weight)::float8) OVER () AS q
    FROM pgml.prediction_log WHERE model_id = 1 GROUP BY 1
), shares AS (SELECT p, q, (p + q) / 2 AS m FROM ref JOIN cur USING (class))
SELECT count(*) AS classes,
       abs(sqrt((sum(p * ln(p / m)) + sum(q * ln(q / m))) / 2) - (SELECT prediction_drift FROM live)) < 1e-4 AS same_drift
FROM shares;

-- Alerts: a healthy model raises nothing; a model that degrades (its outcomes flipped from some
-- point on) opens an alert that rolls the stage back, with the audit event, in one transaction.
SELECT pgml.add_alert_rule('Iris', 'accuracy drop', 'accuracy', below => 0.8, time_window => '1 day', min_count => 100) > 0 AS added;
SELECT * FROM pgml.evaluate_alerts('Iris');
SELECT * FROM pgml.deploy('Iris', 2);
SELECT pgml.add_alert_rule('Iris', 'accuracy drop', 'accuracy', below => 0.8, time_window => '1 day', min_count => 100, action => 'rollback') > 0 AS replaced;
CREATE TABLE served_2 AS
SELECT id, target, pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'd' || id) AS p
FROM traffic;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', CASE WHEN id > 30 THEN (target::int + 1) % 3 ELSE target END, key => 'd' || id)) FROM traffic;
SELECT pg_sleep(2.2);
SELECT project_name, rule, model_id, round(value::numeric, 4) AS value, count, state, action_taken FROM pgml.evaluate_alerts('Iris');
SELECT rule_name, model_id, metric, round(value::numeric, 4) AS value, comparison, threshold, count, state, action_taken FROM pgml.alerts;
SELECT event, model_id, stage, details->>'metric' AS metric, details->>'action_taken' AS action FROM pgml.audit_log
WHERE event IN ('alert', 'rollback') ORDER BY id;
SELECT model_id AS serving FROM pgml.stage_deployments WHERE stage = 'production';
-- the next evaluation closes the alert of the model that no longer serves
SELECT rule, model_id, state FROM pgml.evaluate_alerts('Iris', refresh => false);
SELECT model_id, state FROM pgml.alerts;

-- Batch scoring: per row the key, the prediction, and the model and stage that made it.
SELECT * FROM pgml.batch_score('Iris', 'traffic', 'id', 'traffic_scores');
SELECT * FROM pgml.batch_score('Iris', 'traffic', 'id', 'traffic_scores');
SELECT count(*) AS rows, count(DISTINCT model_id) AS models, bool_and(stage = 'production') AS production,
       count(*) FILTER (WHERE s.prediction <> v.p) AS differing_from_predict
FROM traffic_scores s JOIN served v ON v.id::text = s.key;
SELECT pgml.flush_prediction_log();
SELECT source, count(*) FROM pgml.prediction_log WHERE source = 'batch' GROUP BY 1;

-- predict_batch: each row of the batch is a logged prediction, with the batch's answer.
CREATE TABLE logged_before AS SELECT count(*) AS n FROM pgml.prediction_log;
SELECT array_agg(p) AS batch FROM pgml.predict_batch('Iris', ARRAY[5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]::real[]) p;
SELECT pgml.flush_prediction_log();
SELECT (SELECT count(*) FROM pgml.prediction_log) - n AS batch_rows_logged FROM logged_before;
SELECT array_agg(prediction ORDER BY request_id) AS logged, bool_and(source = 'sql' AND stage = 'production') AS sql
FROM (SELECT * FROM pgml.prediction_log ORDER BY request_id DESC LIMIT 2) l;

-- A broken outcome source (its view dropped) is skipped with a WARNING: the other streams, the
-- other projects and every alert rule are still evaluated.
CREATE VIEW late_labels AS SELECT customer, at, label FROM labels;
SELECT pgml.add_outcome_source('Iris', 'late_labels', 'customer', 'at', 'label') > 0 AS added;
DROP VIEW late_labels;
SELECT project_name, source FROM pgml.refresh_live_metrics('Iris') ORDER BY 1, 2;
SELECT project_name, rule, model_id, state FROM pgml.evaluate_alerts('Iris');
SELECT pgml.remove_outcome_source('Iris', 'late_labels');

-- Retention: partitions ahead are created, a partition past every project's retention is
-- dropped whole.
SELECT pgml._pgml_log_partition('2020-01-01');
SELECT action, count(*) FROM pgml.log_maintenance() GROUP BY 1 ORDER BY 1;
SELECT to_regclass('pgml.prediction_log_20200101') IS NULL AS old_partition_dropped;
