#!/usr/bin/env bash
# Proves that scheduled work really runs in the cluster: pg_cron (whole minutes only) runs a
# retraining, a retraining that fails, and a drift check; each run must be recorded in
# pgml.scheduled_runs. In the same minutes, pg_cron's job pgml_rollouts decides two rollouts on
# generated traffic with known outcomes: a harmful candidate in shadow is rolled back, a good one
# in a keyed canary is promoted, each with its audit event carrying the statistics, and the job
# is removed once no rollout runs. Runs in the database named by cron.database_name, takes 1-2
# minutes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DBNAME" "$@"; }
fail() { echo "test-schedule: FAILED: $*"; cleanup || true; exit 1; }
P="schedule test $$"
cleanup() {
  q -c "SELECT pgml.unschedule_training(project_name) FROM pgml.schedules WHERE project_name LIKE '$P%' AND kind = 'training'" \
    -c "SELECT pgml.unschedule_drift_check(project_name) FROM pgml.schedules WHERE project_name LIKE '$P%' AND kind = 'drift'" \
    -c "SELECT pgml.stop_rollout(name) FROM pgml.projects p
        WHERE name LIKE '$P%' AND EXISTS (SELECT FROM pgml.rollouts r WHERE r.project_id = p.id AND r.state = 'running')" \
    -c "DELETE FROM pgml.projects WHERE name LIKE '$P%'" -c "DELETE FROM pgml.scheduled_runs WHERE project_name LIKE '$P%'" \
    >/dev/null
}
q -c "SET client_min_messages = warning" -c "SELECT pgml.load_dataset('iris')" \
  -c "SELECT pgml.train('$P', 'classification', 'pgml.iris', 'target')" \
  -c "SELECT pgml.train('$P broken', 'classification', 'pgml.iris', 'target')" >/dev/null
q -c "SELECT pgml.schedule_training('$P', '* * * * *', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 5}')" \
  -c "SELECT pgml.schedule_training('$P broken', '* * * * *', relation_name => 'pgml.no_such_table')" \
  -c "SELECT pgml.schedule_drift_check('$P', 'pgml.iris', '* * * * *')" >/dev/null

# Two rollouts for pg_cron's job: in "$P harm" the candidate was trained on labels shifted by one
# class (wrong nearly always) and tried in shadow; in "$P good" the candidate is as good as the
# baseline and answers half of the keys. 300 keyed requests each, every one logged, then their
# outcomes (the true class).
q >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS pgml_schedule_shifted AS
SELECT sepal_length, sepal_width, petal_length, petal_width, (target + 1) % 3 AS target FROM pgml.iris;
SELECT pgml.train('$P harm', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT pgml.train('$P harm', 'classification', 'pgml_schedule_shifted', 'target', algorithm => 'xgboost',
                  hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('$P good', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT pgml.train('$P good', algorithm => 'xgboost', hyperparams => '{"n_estimators": 8}', automatic_deploy => false);
SELECT pgml.set_monitoring(name, scan_after => 1000000) FROM pgml.projects WHERE name IN ('$P harm', '$P good');
SELECT pgml.start_rollout('$P harm', (SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = '$P harm'),
                          mode => 'shadow', policy => '{"min_rows": 100, "bake_seconds": 0}');
SELECT pgml.start_rollout('$P good', (SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = '$P good'),
                          mode => 'canary', percent => 50, policy => '{"min_rows": 100, "bake_seconds": 0, "margin": 0.2}');
CREATE TEMP VIEW t AS
SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS n, * FROM pgml.iris;
SELECT count(pgml.predict(p.name, ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => n || '/' || g))
FROM t, generate_series(1, 2) g, (VALUES ('$P harm'), ('$P good')) p (name);
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome(p.name, target, key => n || '/' || g))
FROM t, generate_series(1, 2) g, (VALUES ('$P harm'), ('$P good')) p (name);
SQL
echo "== scheduled 2 retrainings, 1 drift check and 2 rollouts' evaluation every minute; waiting for pg_cron (up to 150 s)"
for _ in $(seq 1 75); do
  done_runs=$(q -c "SELECT count(DISTINCT (project_name, kind)) FROM pgml.scheduled_runs
                    WHERE project_name LIKE '$P%' AND outcome <> 'running'")
  decided=$(q -c "SELECT count(*) FROM pgml.rollouts_overview WHERE project LIKE '$P%' AND state <> 'running'")
  [ "$done_runs" -ge 3 ] && [ "$decided" -ge 2 ] && break
  sleep 2
done
[ "$done_runs" -ge 3 ] || fail "pg_cron ran $done_runs of the 3 schedules within 150 s"
[ "$decided" -ge 2 ] || fail "pg_cron's job decided $decided of the 2 rollouts within 150 s: $(q -c "SELECT string_agg(project || ' ' || state || ' ' || statistics::text, '; ') FROM pgml.rollouts_overview WHERE project LIKE '$P%'")"
q -c "SELECT project, mode, state, labelled_rows, round(estimate::numeric, 3), round(lower_bound::numeric, 3),
             round(upper_bound::numeric, 3), reason FROM pgml.rollouts_overview WHERE project LIKE '$P%' ORDER BY id" | sed 's/^/   /'
harm=$(q -c "SELECT state FROM pgml.rollouts_overview WHERE project = '$P harm'")
[ "$harm" = rolled_back ] || fail "the harmful candidate's rollout ended $harm, not rolled_back"
good=$(q -c "SELECT r.state || ' ' || (d.model_id = r.candidate_id)::text FROM pgml.rollouts_overview r
             JOIN pgml.stage_deployments d ON d.project_id = (SELECT id FROM pgml.projects WHERE name = r.project) AND d.stage = r.stage
             WHERE r.project = '$P good'")
[ "$good" = "promoted true" ] || fail "the good candidate's rollout ended '$good', not promoted and deployed"
# each decision's audit event carries the statistics, and was written by the job (its role)
audited=$(q -c "SELECT string_agg(details ->> 'action' || ':' || (details -> 'statistics' ->> 'rows'), ' ' ORDER BY project)
                FROM pgml.audit_log WHERE event = 'rollout' AND project LIKE '$P%' AND details ->> 'action' <> 'start'")
case "$audited" in "promote:"[0-9]*" roll_back:"[0-9]*) ;; *) fail "the decisions' audit events: $audited";; esac
job=$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'pgml_rollouts' AND database = current_database()")
running=$(q -c "SELECT count(*) FROM pgml.rollouts WHERE state = 'running'")
[ "$running" != 0 ] || [ "$job" = 0 ] || fail "pg_cron's job pgml_rollouts is still scheduled with no rollout running"
q -c "SELECT project_name, kind, outcome, model_id IS NOT NULL AS has_model, deployed, dataset_drifted, left(error, 60)
      FROM pgml.scheduled_runs WHERE project_name LIKE '$P%' ORDER BY id" | sed 's/^/   /'
trained=$(q -c "SELECT outcome || ' ' || (r.model_id = (SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p
                  ON p.id = m.project_id WHERE p.name = '$P' AND m.algorithm = 'xgboost'))::text
                FROM pgml.scheduled_runs r WHERE project_name = '$P' AND kind = 'training' AND outcome <> 'running' LIMIT 1")
[ "$trained" = "succeeded true" ] || fail "the retraining did not record its new XGBoost model ($trained)"
broken=$(q -c "SELECT outcome || ': ' || error FROM pgml.scheduled_runs WHERE project_name = '$P broken' AND outcome <> 'running' LIMIT 1")
case "$broken" in "failed: relation \"pgml.no_such_table\" does not exist"*) ;; *) fail "the failing retraining was recorded as: $broken";; esac
drift=$(q -c "SELECT outcome || ' ' || dataset_drifted FROM pgml.scheduled_runs WHERE project_name = '$P' AND kind = 'drift' AND outcome <> 'running' LIMIT 1")
[ "$drift" = "succeeded false" ] || fail "the drift check was recorded as: $drift"
listed=$(q -c "SELECT count(*) FROM pgml.training_schedules WHERE project_name LIKE '$P%' AND last_outcome IS NOT NULL")
[ "$listed" = 2 ] || fail "pgml.training_schedules lists $listed schedules with runs, expected 2"
cleanup || fail "unscheduling failed"
left=$(q -c "SELECT count(*) FROM cron.job WHERE jobname LIKE '%$P%'")
[ "$left" = 0 ] || fail "$left pg_cron job(s) left after unscheduling"
echo "test-schedule: 7 passed, 0 failed"
