#!/usr/bin/env bash
# Predict benchmarks of issue 2 (not a test: timings on a shared 2-core machine vary ±25 %).
# Prints, in one run, as ratios:
#   1. pgml.predict per call under pgbench (prepared, 2 clients, 10 s) vs the no-op
#      pgml._pgml_noop_predict taking the same arguments (target >= 0.8);
#   2. predict over a 1,000,000-row table vs the same scan calling the no-op, under PostgreSQL's
#      default plan (parallel workers) and in one backend (target <= 1.3x for linear);
#   3. deploy latency, and the time until another session serves the new model.
# Usage: make bench  (starts the project cluster; BENCH_SECONDS=10 BENCH_ROWS=1000000)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROWS=${BENCH_ROWS:-1000000}
DB=pgml_bench
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}')" >/dev/null
q -c "SELECT pgml.train('bench', algorithm => 'linear', automatic_deploy => false)" >/dev/null
q -c "SELECT pgml.train('bench', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 20}', automatic_deploy => false)" >/dev/null

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
tps() { "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" -f "$1" "$DB" 2>/dev/null \
          | awk '/^tps/ {print int($3)}'; }
echo "SELECT pgml._pgml_noop_predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" > "$TMP/noop.sql"
echo "== 1. per-call predict under pgbench (prepared, 2 clients, ${SECONDS_PER_RUN}s each)"
noop=$(tps "$TMP/noop.sql")
printf "   %-38s %8d TPS\n" "no-op (same arguments)" "$noop"
for id in $(q -c "SELECT id FROM pgml.models ORDER BY id"); do
  name=$(q -c "SELECT algorithm || ' (' || coalesce(hyperparams->>'n_estimators' || ' trees', 'default') || ')' FROM pgml.models WHERE id = $id")
  q -c "SELECT pgml.deploy($id)" >/dev/null
  echo "SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" > "$TMP/predict.sql"
  pred=$(tps "$TMP/predict.sql")
  printf "   pgml.predict, %-24s %8d TPS   ratio %s  (target >= 0.8)\n" "$name" "$pred" "$(ratio "$pred" "$noop")"
done

echo "== 2. predict over a ${ROWS}-row table, each plan against the same scan calling the no-op under that plan"
q -c "DROP TABLE IF EXISTS big" -c "CREATE TABLE big AS SELECT (4 + random() * 4)::real AS a, (2 + random() * 2)::real AS b,
      (1 + random() * 6)::real AS c, (random() * 2.5)::real AS d FROM generate_series(1, $ROWS)" -c "VACUUM ANALYZE big"
# The plan PostgreSQL picks by default (a Gather over a Parallel Seq Scan), and one backend.
PLANS=("parallel|" "serial|SET max_parallel_workers_per_gather = 0")
ms() { q -c "${2:-SELECT 1}" -c "\\timing on" -c "$1" | awk '/^Time:/ {print $2}'; }
workers=$(q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT sum(pgml._pgml_noop_predict('bench', ARRAY[a, b, c, d])) FROM big" \
  | awk '/Workers Launched/ {print $3}')
echo "   (the default plan launched ${workers:-0} parallel worker(s))"
for plan in "${PLANS[@]}"; do
  IFS='|' read -r name setting <<<"$plan"
  scan_noop=$(ms "SELECT sum(pgml._pgml_noop_predict('bench', ARRAY[a, b, c, d])) FROM big" "$setting")
  printf "   %-8s %-40s %8.0f ms\n" "$name" "scan + no-op" "$scan_noop"
  for id in $(q -c "SELECT id FROM pgml.models ORDER BY id"); do
    label=$(q -c "SELECT algorithm || ' (' || coalesce(hyperparams->>'n_estimators' || ' trees', 'default') || ')' FROM pgml.models WHERE id = $id")
    q -c "SELECT pgml.deploy($id)" >/dev/null
    scan_pred=$(ms "SELECT sum(pgml.predict('bench', ARRAY[a, b, c, d])) FROM big" "$setting")
    printf "   %-8s scan + predict, %-24s %8.0f ms   ratio %sx  (target <= 1.3x for linear)\n" "$name" "$label" "$scan_pred" "$(ratio "$scan_pred" "$scan_noop")"
  done
done

echo "== 3. deploy latency and cross-session visibility"
linear_id=$(q -c "SELECT id FROM pgml.models WHERE algorithm = 'linear'")
xgb_id=$(q -c "SELECT min(id) FROM pgml.models")
probe="SELECT pgml.predict_proba('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);"
expected=$(q -c "SELECT pgml.predict_proba($linear_id, ARRAY[5.9, 3.0, 5.1, 1.8]::real[])")
# A second, long-lived session that has the XGBoost model cached.
coproc SESSION { psql -X -q -At -d "$DB"; }
echo "$probe" >&"${SESSION[1]}"; read -r _ <&"${SESSION[0]}"
deploy_ms=$(ms "SELECT pgml.deploy($linear_id)")
start=$(date +%s%N)
statements=0
while [ $statements -lt 10000 ]; do
  echo "$probe" >&"${SESSION[1]}"; read -r got <&"${SESSION[0]}"
  statements=$((statements + 1))
  [ "$got" = "$expected" ] && break
done
seen_us=$(( ($(date +%s%N) - start) / 1000 ))
echo '\q' >&"${SESSION[1]}"
printf "   deploy (one transaction, committed)        %8.1f ms\n" "$deploy_ms"
printf "   other session serves the new model after   %8d statement(s), %d us\n" "$statements" "$seen_us"
q -c "SELECT pgml.deploy($xgb_id)" >/dev/null
