#!/usr/bin/env bash
# Imported models predict at the cost of native ones (issue 31): a 1,000,000-row scan calling
# pgml.predict on models trained here (XGBoost 100 trees, a random forest of 100 trees, a
# logistic regression) against the same scan on each model exported as ONNX and imported back
# (our own compiled pipeline), and on the XGBoost model exported as XGBoost's file and imported
# (its stored form is the trained one's). One backend (no parallel workers) and PostgreSQL's
# default plan. Target: imported <= 1.1x native. Not a test: timings on a shared machine vary.
# Usage: make bench-portable  (BENCH_ROWS=1000000)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
ROWS=${BENCH_ROWS:-1000000}
DB=pgml_bench_portable
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" "$@"; }
q -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
for spec in "xgboost|{\"n_estimators\": 100}" "random_forest|{\"n_estimators\": 100}" "linear|{}"; do
  IFS='|' read -r algorithm params <<<"$spec"
  q -c "SELECT pgml.train('native_$algorithm', 'classification', 'pgml.iris', 'target', algorithm => '$algorithm', hyperparams => '$params')" >/dev/null
  q -c "SELECT pgml.import('onnx_$algorithm', NULL, pgml.export((SELECT max(id) FROM pgml.models), 'onnx'))" >/dev/null
done
q -c "SELECT pgml.import('file_xgboost', NULL, pgml.export((SELECT min(id) FROM pgml.models WHERE algorithm = 'xgboost'), 'xgboost'))" >/dev/null
q -c "DROP TABLE IF EXISTS big" -c "CREATE TABLE big AS SELECT (4 + random() * 4)::real AS a, (2 + random() * 2)::real AS b,
      (1 + random() * 6)::real AS c, (random() * 2.5)::real AS d FROM generate_series(1, $ROWS)" -c "VACUUM ANALYZE big" >/dev/null
ms() { q -c "${2:-SELECT 1}" -c "\\timing on" -c "$1" | awk '/^Time:/ {print $2}'; }
best() { local b="" t; for _ in 1 2 3; do t=$(ms "$1" "$2"); b=$(awk -v a="$t" -v b="$b" 'BEGIN { print (b == "" || a < b) ? a : b }'); done; echo "$b"; }
echo "== predict over a ${ROWS}-row table: imported against native (best of 3)"
for plan in "serial|SET max_parallel_workers_per_gather = 0" "parallel|"; do
  IFS='|' read -r name setting <<<"$plan"
  for pair in "xgboost (100 trees)|native_xgboost|onnx_xgboost" "xgboost (100 trees)|native_xgboost|file_xgboost" \
              "random_forest (100 trees)|native_random_forest|onnx_random_forest" "linear|native_linear|onnx_linear"; do
    IFS='|' read -r label native imported <<<"$pair"
    a=$(best "SELECT sum(pgml.predict('$native', ARRAY[a, b, c, d])) FROM big" "$setting")
    b=$(best "SELECT sum(pgml.predict('$imported', ARRAY[a, b, c, d])) FROM big" "$setting")
    printf "   %-8s %-26s native %7.0f ms   %-20s %7.0f ms   ratio %sx  (target <= 1.1x)\n" \
      "$name" "$label" "$a" "imported (${imported%%_*})" "$b" "$(ratio "$b" "$a")"
  done
done
psql -X -q -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
