#!/usr/bin/env bash
# Proves that scheduled work really runs in the cluster: pg_cron (whole minutes only) runs a
# retraining, a retraining that fails, and a drift check; each run must be recorded in
# pgml.scheduled_runs. Runs in the database named by cron.database_name, takes 1-2 minutes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DBNAME" "$@"; }
fail() { echo "test-schedule: FAILED: $*"; cleanup || true; exit 1; }
P="schedule test $$"
cleanup() {
  q -c "SELECT pgml.unschedule_training(project_name) FROM pgml.schedules WHERE project_name LIKE '$P%' AND kind = 'training'" \
    -c "SELECT pgml.unschedule_drift_check(project_name) FROM pgml.schedules WHERE project_name LIKE '$P%' AND kind = 'drift'" \
    -c "DELETE FROM pgml.projects WHERE name LIKE '$P%'" -c "DELETE FROM pgml.scheduled_runs WHERE project_name LIKE '$P%'" \
    >/dev/null
}
q -c "SET client_min_messages = warning" -c "SELECT pgml.load_dataset('iris')" \
  -c "SELECT pgml.train('$P', 'classification', 'pgml.iris', 'target')" \
  -c "SELECT pgml.train('$P broken', 'classification', 'pgml.iris', 'target')" >/dev/null
q -c "SELECT pgml.schedule_training('$P', '* * * * *', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 5}')" \
  -c "SELECT pgml.schedule_training('$P broken', '* * * * *', relation_name => 'pgml.no_such_table')" \
  -c "SELECT pgml.schedule_drift_check('$P', 'pgml.iris', '* * * * *')" >/dev/null
echo "== scheduled 2 retrainings and 1 drift check every minute; waiting for pg_cron (up to 150 s)"
for _ in $(seq 1 75); do
  done_runs=$(q -c "SELECT count(DISTINCT (project_name, kind)) FROM pgml.scheduled_runs
                    WHERE project_name LIKE '$P%' AND outcome <> 'running'")
  [ "$done_runs" -ge 3 ] && break
  sleep 2
done
[ "$done_runs" -ge 3 ] || fail "pg_cron ran $done_runs of the 3 schedules within 150 s"
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
echo "test-schedule: 4 passed, 0 failed"
