#!/usr/bin/env bash
# Predictions on a hot standby against the primary (not a test: timings on a shared 2-core
# machine vary). A throwaway primary (port 5497) and its streaming standby (port 5498, made by
# pg_basebackup -R) serve the same model; pgbench (prepared, 2 clients, BENCH_SECONDS each) runs
# pgml.predict on the primary, then on the standby. Target: the standby >= 0.9x the primary.
# Usage: make bench (after bench/predict.sh), or bash bench/replica.sh.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
PRIMARY=5497 STANDBY=5498 DB=pgml_bench_replica
TMP=$(mktemp -d)
chmod 0755 "$TMP"
trap 'cluster_remove bench-standby; cluster_remove bench-primary; rm -rf "$TMP"' EXIT
tps() { "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" -h 127.0.0.1 -p "$1" -f "$2" $DB 2>/dev/null \
          | awk '/^tps/ {print int($3)}'; }

cluster_create bench-primary $PRIMARY $DB
psql -X -q -p $PRIMARY -d postgres -c "CREATE DATABASE $DB"
psql -X -q -p $PRIMARY -d $DB -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml" \
  -c "SELECT pgml.load_dataset('iris')" \
  -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target')" \
  -c "SELECT pgml.train('bench', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}', automatic_deploy => false)" >/dev/null
cluster_standby bench-standby $STANDBY $PRIMARY
replayed $PRIMARY $STANDBY $DB
echo "SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" >"$TMP/predict.sql"
echo "== pgml.predict on a hot standby against its primary (pgbench, prepared, 2 clients, ${SECONDS_PER_RUN}s each)"
for id in 1 2; do
  psql -X -q -p $PRIMARY -d $DB -c "SELECT pgml.deploy($id)" >/dev/null
  replayed $PRIMARY $STANDBY $DB
  name=$(psql -X -At -p $PRIMARY -d $DB -c "SELECT algorithm FROM pgml.models WHERE id = $id")
  primary=$(tps $PRIMARY "$TMP/predict.sql")
  standby=$(tps $STANDBY "$TMP/predict.sql")
  printf "   %-10s primary %7d TPS   standby %7d TPS   ratio %s  (target >= 0.9)\n" "$name" "$primary" "$standby" \
    "$(ratio "$standby" "$primary")"
done
