#!/usr/bin/env bash
# Crashes and cancels lose nothing. In a throwaway cluster (port 5496):
#   1. pg_cancel_backend in the middle of a long training of each kind (forests on one and two
#      threads and inside one deep tree, XGBoost, LightGBM, XGBoost's random forest, SVMs, a
#      Gaussian process, kernel ridge, the clusterings that compare all pairs, a grid search)
#      and of pgml.drift over 5,000,000 rows: the statement ends (the delay from the cancel to
#      its end is printed; the target is 1 s, the test fails above 2 s, which a training that
#      ran on to its end would exceed) and the registry keeps exactly its rows;
#   2. statement_timeout during a training: the same;
#   3. SIGKILL of a backend while a forest is being written: the cluster recovers, the
#      registry keeps exactly its rows, and the deployed model gives the same answers;
#   3b. SIGKILL of a backend while it evaluates a rollout (pg_cron's tick): the rollout is
#      still running with no decision recorded, and the next evaluation decides it once;
#   4. SIGKILL of a backend, then of the postmaster, under a load of logged predictions: the
#      registry, outcomes and alert state are kept, every log record written before stays, and
#      only the last seconds of records are lost.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PORT=5496 DB=pgml_crash
LIMIT_MS=2000
TMP=$(mktemp -d)
chmod 0755 "$TMP"
trap 'cluster_remove crash; rm -rf "$TMP"' EXIT
fail() { echo "test-crash: FAILED: $*"; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -p $PORT -d $DB "$@"; }

cluster_create crash $PORT $DB
psql -X -q -p $PORT -d postgres -c "CREATE DATABASE $DB"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pgml;
SELECT setseed(0.42);
-- 100,000 rows of 10 features, a label of 4 of them with noise
CREATE TABLE wide AS
SELECT f[1] AS f1, f[2] AS f2, f[3] AS f3, f[4] AS f4, f[5] AS f5, f[6] AS f6, f[7] AS f7, f[8] AS f8,
       f[9] AS f9, f[10] AS f10, (f[1] + f[2] * f[3] - f[4] + random() > 1.0)::int AS label
FROM (SELECT ARRAY(SELECT random()::real FROM generate_series(1, 10) WHERE g > 0) AS f
      FROM generate_series(1, 100000) g) s;
CREATE TABLE small AS SELECT * FROM wide LIMIT 5000;            -- the kernel methods' limit
CREATE TABLE noisy AS SELECT f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, (random() > 0.5)::int AS label FROM small;
CREATE TABLE huge AS SELECT wide.* FROM wide, generate_series(1, 10);          -- 1,000,000 rows
CREATE TABLE current_rows AS SELECT wide.* FROM wide, generate_series(1, 50);  -- 5,000,000 rows
ANALYZE;
SELECT pgml.train('wide', 'classification', 'wide', 'label');
SELECT pgml.train('wide', algorithm => 'random_forest', hyperparams => '{"n_estimators": 3}', automatic_deploy => false);
-- the probes' own predictions are not logged (step 4 logs)
SELECT pgml.set_monitoring('wide', enabled => false);
SQL
probe="SELECT md5(string_agg(pgml.predict('wide', ARRAY[f1, f2, f3, f4, f5, f6, f7, f8, f9, f10])::text, ','
                  ORDER BY f1, f2, f3, f4, f5, f6, f7, f8, f9, f10)) FROM small"
# every row of every registry table (sequences move on when a transaction that drew from them
# rolls back, as in any PostgreSQL table), and the deployed model's answers
registry() { q -f "$ROOT/scripts/sql/registry_checksums.sql" | grep -v '_seq|'; q -c "$probe"; }
registry >"$TMP/registry.txt"

# run_then NAME SQL DELAY ACTION: runs SQL in its own session, after DELAY seconds does ACTION
# (cancel, kill) to it, and prints the milliseconds from ACTION to the session's end
run_then() {
  local name=$1 sql=$2 delay=$3 action=$4 pid start
  psql -X -q -p $PORT -d $DB -c "SET client_min_messages = warning" -c "SET application_name = 'victim'" -c "$sql" \
    >/dev/null 2>"$TMP/victim.err" &
  pid=$!
  sleep "$delay"
  backend=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim' AND state = 'active'")
  [ -n "$backend" ] || fail "$name: finished before the $action (the workload is too short)"
  start=$(date +%s%N)
  case $action in
    cancel) q -c "SELECT pg_cancel_backend($backend)" >/dev/null ;;
    kill) kill -KILL "$backend" ;;
  esac
  wait $pid || true
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}

echo "== 1. pg_cancel_backend during each long training and a drift over 5,000,000 rows"
cases=(
  "random_forest|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 200}')|1.5"
  "random_forest, 2 threads|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 200, \"n_jobs\": 2}')|1.5"
  "extra_trees, inside one tree of 1,000,000 rows|SELECT pgml.train('c', 'regression', 'huge', 'label', algorithm => 'extra_trees', hyperparams => '{\"n_estimators\": 3}')|1.5"
  "xgboost|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 3000}')|1.5"
  "lightgbm|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'lightgbm', hyperparams => '{\"n_estimators\": 3000}')|1.5"
  "xgboost_random_forest (one round)|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'xgboost_random_forest', hyperparams => '{\"n_estimators\": 500, \"max_depth\": 12}')|1.5"
  "gradient_boosting_trees|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'gradient_boosting_trees', hyperparams => '{\"n_estimators\": 1000}')|1.5"
  "svm (SVR)|SELECT pgml.train('c', 'regression', 'noisy', 'label', algorithm => 'svm', hyperparams => '{\"C\": 100}')|2"
  "gaussian_process|SELECT pgml.train('c', 'classification', 'small', 'label', algorithm => 'gaussian_process')|2"
  "kernel_ridge|SELECT pgml.train('c', 'regression', 'small', 'label', algorithm => 'kernel_ridge')|2"
  "kmeans|SELECT pgml.train('c', 'clustering', 'wide', algorithm => 'kmeans', hyperparams => '{\"n_clusters\": 50}')|1.5"
  "mean_shift|SELECT pgml.train('c', 'clustering', 'wide', algorithm => 'mean_shift')|1.5"
  "birch|SELECT pgml.train('c', 'clustering', 'wide', algorithm => 'birch')|2"
  "dbscan|SELECT pgml.train('c', 'clustering', 'wide', algorithm => 'dbscan')|1.5"
  "affinity_propagation|SELECT pgml.train('c', 'clustering', 'small', algorithm => 'affinity_propagation')|2"
  "grid search (xgboost, 5 folds)|SELECT pgml.train('c', 'classification', 'wide', 'label', algorithm => 'xgboost', search => 'grid', search_params => '{\"n_estimators\": [1000, 2000]}')|1.5"
  "pgml.drift over 5,000,000 rows|SELECT count(*) FROM pgml.drift('wide', 'current_rows')|0.5"
)
for c in "${cases[@]}"; do
  IFS='|' read -r name sql delay <<<"$c"
  ms=$(run_then "$name" "$sql" "$delay" cancel)
  grep -q "canceling statement due to user request" "$TMP/victim.err" || fail "$name: $(cat "$TMP/victim.err")"
  [ "$ms" -le $LIMIT_MS ] || fail "$name: the cancel took $ms ms"
  printf "   %-48s cancelled in %5d ms\n" "$name" "$ms"
done
registry >"$TMP/after.txt"
diff -u "$TMP/registry.txt" "$TMP/after.txt" || fail "a cancelled training left something in the registry"
echo "   ok: the registry holds exactly its rows (no model, part, snapshot, deployment or audit event)"

echo "== 2. statement_timeout during a training"
start=$(date +%s%N)
out=$(psql -X -q -p $PORT -d $DB -c "SET statement_timeout = '2s'" -c "SET client_min_messages = warning" \
  -c "SELECT pgml.train('t', 'classification', 'wide', 'label', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 200}')" 2>&1 || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ "$out" == *"canceling statement due to statement timeout"* ]] || fail "statement_timeout: $out"
[ "$ms" -le $((2000 + LIMIT_MS)) ] || fail "statement_timeout 2 s: the statement ended after $ms ms"
registry >"$TMP/after.txt"
diff -u "$TMP/registry.txt" "$TMP/after.txt" || fail "a timed-out training left something in the registry"
echo "   ok: ended $((ms - 2000)) ms after its 2 s timeout; the registry holds exactly its rows"

echo "== 3. SIGKILL of a backend writing a forest"
ms=$(run_then "SIGKILL" "SELECT pgml.train('k', 'regression', 'huge', 'label', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 50}')" 4 kill)
for _ in $(seq 1 100); do
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PORT -d $DB && q -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
grep -q "terminated by signal 9" "$CLUSTERS/crash/postgres.log" || fail "the backend was not killed"
registry >"$TMP/after.txt"
diff -u "$TMP/registry.txt" "$TMP/after.txt" || fail "the killed training left something in the registry"
echo "   ok: the cluster recovered; the registry holds exactly its rows and the deployed model answers the same"

echo "== 3b. SIGKILL during a rollout's evaluation: the rollout is decided or still running, never half"
# a harmful candidate (trained on flipped labels) in shadow, its outcomes read from a view that
# takes about 3 s, so that the kill lands while the evaluation reads them
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE flipped AS SELECT f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, 1 - label AS label FROM small;
SELECT pgml.train('roll', 'classification', 'small', 'label', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}');
SELECT pgml.train('roll', 'classification', 'flipped', 'label', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}',
                  automatic_deploy => false);
SELECT pgml.set_monitoring('roll', scan_after => 1000000);
SELECT pgml.start_rollout('roll', (SELECT max(id) FROM pgml.models), mode => 'shadow', policy => '{"min_rows": 100, "bake_seconds": 0}');
CREATE TABLE roll_traffic AS SELECT row_number() OVER () AS n, * FROM small LIMIT 3000;
SELECT count(pgml.predict('roll', ARRAY[f1, f2, f3, f4, f5, f6, f7, f8, f9, f10], key => 'r' || n)) FROM roll_traffic;
SELECT pgml.flush_prediction_log();
CREATE TABLE roll_labels AS SELECT 'r' || n AS key, clock_timestamp() AS at, label FROM roll_traffic;
CREATE VIEW slow_labels AS SELECT key, at, label FROM roll_labels WHERE pg_sleep(0.001) IS NOT NULL;
SELECT pgml.add_outcome_source('roll', 'slow_labels', 'key', 'at', 'label');
SQL
rollout() { q -c "SELECT r.state || ' ' || count(a.id) FILTER (WHERE a.details ->> 'action' <> 'start')
                  FROM pgml.rollouts r LEFT JOIN pgml.audit_log a ON a.event = 'rollout' AND (a.details ->> 'rollout_id')::int = r.id
                  WHERE r.project_id = (SELECT id FROM pgml.projects WHERE name = 'roll') GROUP BY r.state"; }
ms=$(run_then "rollout tick" "SELECT * FROM pgml.evaluate_rollouts()" 1.5 kill)
for _ in $(seq 1 100); do
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PORT -d $DB && q -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
[ "$(rollout)" = "running 0" ] || fail "after a SIGKILL during its evaluation, the rollout is '$(rollout)', not running without a decision"
decided=$(q -c "SELECT state FROM pgml.evaluate_rollouts()")
[ "$decided" = rolled_back ] && [ "$(rollout)" = "rolled_back 1" ] \
  || fail "the next evaluation gave '$decided', the rollout is '$(rollout)' (want rolled_back with one audit event)"
q -c "SELECT pgml.remove_outcome_source('roll', 'slow_labels')" >/dev/null
echo "   ok: killed during its evaluation, the rollout stayed running with no decision recorded; the next evaluation rolled it back, with one audit event"

echo "== 4. SIGKILL of a predicting backend, then of the postmaster, while every prediction is logged"
q >/dev/null <<'SQL'
SELECT pgml.set_monitoring('wide', enabled => true, scan_after => 1000000);
SELECT count(pgml.predict('wide', ARRAY[f1, f2, f3, f4, f5, f6, f7, f8, f9, f10], key => 'w' || f1::text)) FROM small;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('wide', 1, key => 'w' || f1::text)) FROM small;
SELECT pgml.add_alert_rule('wide', 'accuracy', 'accuracy', below => 2, time_window => '1 day', min_count => 1);
SELECT pg_sleep(2.2);
SELECT count(*) FROM pgml.evaluate_alerts();
SQL
# everything but the log, its count of dropped records and the live statistics, which go on
# growing under the load (a busy machine's writer falls behind and the buffer drops, counted)
kept() { q -f "$ROOT/scripts/sql/registry_checksums.sql" | grep -v -e '_seq|' -e '^pgml.prediction_log|' -e '^pgml.live_stats|' -e '^pgml.log_drops|'; }
echo "SELECT pgml.predict('wide', ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]::real[], key => 'load');" >"$TMP/load.sql"
for victim in backend postmaster; do
  kept >"$TMP/kept.txt"
  "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T 30 -f "$TMP/load.sql" -p $PORT $DB >/dev/null 2>&1 &
  load=$!
  sleep 3
  q -c "SELECT pgml.flush_prediction_log()" >/dev/null
  logged=$(q -c "SELECT count(*) FROM pgml.prediction_log WHERE key = 'load'")
  sleep 2
  postmaster=$(head -1 "$CLUSTERS/crash/data/postmaster.pid")
  children=$(pgrep -P "$postmaster" | tr '\n' ' ')
  case $victim in
    backend) kill -KILL "$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")" ;;
    postmaster) kill -KILL "$postmaster" ;;
  esac
  killed=$(date +%s%N)
  wait $load 2>/dev/null || true
  if [ $victim = postmaster ]; then
    # the orphaned processes notice their postmaster's death and exit; then it starts again
    for _ in $(seq 1 100); do
      alive=0
      for c in $children; do kill -0 "$c" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break
      sleep 0.1
    done
    cluster_start crash
  fi
  for _ in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PORT -d $DB && q -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  kept >"$TMP/kept_after.txt"
  diff -u "$TMP/kept.txt" "$TMP/kept_after.txt" || fail "SIGKILL of the $victim changed the registry, the outcomes or the alerts"
  read -r after last_ms <<<"$(q -F ' ' -c "SELECT count(*), (extract(epoch FROM max(predicted_at)) * 1000)::int8 FROM pgml.prediction_log WHERE key = 'load'")"
  [ "$after" -ge "$logged" ] || fail "SIGKILL of the $victim lost written log records: $logged before, $after after"
  lost_ms=$(( killed / 1000000 - last_ms ))
  [ "$lost_ms" -le 5000 ] || fail "SIGKILL of the $victim lost the log's last $lost_ms ms"
  echo "   ok: SIGKILL of the $victim: the registry, outcomes and alerts kept; $after load records logged ($logged written before), the last $lost_ms ms of records lost"
done
echo "test-crash: ok"
