#!/usr/bin/env bash
# What a running rollout costs the predict path (issue 30). Not a test: timings on a shared
# 2-core machine vary ±25 % run to run, so rounds alternate and the median is printed.
# pgbench, one-row keyed pgml.predict per call (prepared, 2 clients, a new key per call, every
# prediction logged as in production), XGBoost (20 trees) serving, a second XGBoost as candidate:
#   1. a 10 % keyed canary against no rollout (target >= 0.9);
#   2. a shadow (the candidate also scores every logged request) against no rollout: what the
#      candidate's own compute costs, reported.
# Usage: make bench-rollouts  (BENCH_SECONDS=10 BENCH_ROUNDS=3)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
DB=pgml_bench_rollouts
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}')" >/dev/null
q -c "SELECT pgml.train('bench', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 19}', automatic_deploy => false)" >/dev/null
candidate=$(q -c "SELECT max(id) FROM pgml.models")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tps() { "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" -f "$TMP/predict.sql" "$DB" 2>/dev/null \
          | awk '/^tps/ {print int($3)}'; }
# a new key per call: the canary's share applies
cat >"$TMP/predict.sql" <<'SQL'
\set k random(1, 10000000)
SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[], key => 'k' || :k);
SQL
none() { q -c "SELECT count(*) FROM pgml.stop_rollout('bench')" >/dev/null 2>&1 || true; }
start() { none; q -c "SELECT pgml.start_rollout('bench', $candidate, mode => '$1', percent => 10)" >/dev/null; }
for mode in canary shadow; do
  echo "== $mode: one-row keyed predict per call under pgbench (prepared, 2 clients, ${SECONDS_PER_RUN}s each, $ROUNDS rounds)"
  : >"$TMP/ratios"
  for _ in $(seq 1 "$ROUNDS"); do
    none; off=$(tps)
    start $mode; on=$(tps)
    ratio "$on" "$off" >>"$TMP/ratios"; echo >>"$TMP/ratios"
    printf "   no rollout %7d TPS, %-6s %7d TPS   ratio %s\n" "$off" "$mode" "$on" "$(ratio "$on" "$off")"
  done
  case $mode in
    canary) printf "   canary 10 %%: median ratio %s  (target >= 0.9)\n" "$(median <"$TMP/ratios")" ;;
    shadow) printf "   shadow: median ratio %s  (the candidate's own compute on every logged request)\n" "$(median <"$TMP/ratios")" ;;
  esac
done
none
q -c "SELECT pgml.flush_prediction_log(60)" >/dev/null
q -c "SELECT 'log: ' || source || ' ' || model_id || ': ' || count(*) FROM pgml.prediction_log GROUP BY source, model_id ORDER BY 1"
