#!/usr/bin/env bash
# The prediction log's cost (issue 29). Not a test: timings on a shared 2-core machine vary
# ±25 % run to run, so rounds alternate and the median is printed. Prints, as ratios:
#   1. pgbench, one-row pgml.predict per call (prepared, 2 clients), every prediction logged
#      against logging off, for a linear model and XGBoost (20 trees) (target >= 0.95);
#   2. the 1,000,000-row scan of `make bench` (the default plan, parallel, and one backend):
#      the default settings against logging off (target <= 1.05); then 100 % logged: its time,
#      and the rows per second the writers wrote;
#   3. the writer held back (pgml.log_flush_interval = 60 s, the buffer fills and drops):
#      the predict path's own cost, against logging off;
#   4. pgml-serve under wrk, every prediction logged against logging off (target >= 0.95, p99
#      at most 0.3 ms higher).
# Usage: make bench-monitoring  (BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_ROWS=1000000; BENCH_PARTS=4 runs
# only part 4, BENCH_PARTS=12 parts 1 and 2)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
ROWS=${BENCH_ROWS:-1000000}
DB=pgml_bench_monitoring
PARTS=${BENCH_PARTS:-1234}
part() { [[ $PARTS == *$1* ]]; }
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}')" >/dev/null
q -c "SELECT pgml.train('bench', algorithm => 'linear', automatic_deploy => false)" >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; q -c "ALTER SYSTEM RESET pgml.log_flush_interval" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true' EXIT
logging() { q -c "SELECT pgml.set_monitoring('bench', enabled => $1, scan_after => ${2:-100}, scan_sample => ${3:-0.001})" >/dev/null; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tps() { "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" -f "$TMP/predict.sql" "$DB" 2>/dev/null \
          | awk '/^tps/ {print int($3)}'; }
echo "SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" >"$TMP/predict.sql"

if part 1; then
echo "== 1. one-row predict per call under pgbench (prepared, 2 clients, ${SECONDS_PER_RUN}s each, $ROUNDS rounds), every prediction logged"
for id in $(q -c "SELECT id FROM pgml.models ORDER BY id DESC"); do
  name=$(q -c "SELECT algorithm FROM pgml.models WHERE id = $id")
  q -c "SELECT pgml.deploy($id)" >/dev/null
  : >"$TMP/ratios"
  for _ in $(seq 1 "$ROUNDS"); do
    logging false; off=$(tps)
    logging true; on=$(tps)
    ratio "$on" "$off" >>"$TMP/ratios"; echo >>"$TMP/ratios"
    printf "   %-8s off %7d TPS, logged %7d TPS   ratio %s\n" "$name" "$off" "$on" "$(ratio "$on" "$off")"
  done
  printf "   %-8s median ratio %s  (target >= 0.95)\n" "$name" "$(median <"$TMP/ratios")"
done
q -c "SELECT pgml.flush_prediction_log(60)" >/dev/null
q -c "SELECT 'log: ' || appended || ' appended, ' || written || ' written, ' || dropped_full || ' dropped' FROM pgml.monitoring_status()"

fi
if part 2; then
echo "== 2. predict over a ${ROWS}-row table, logging off against the default settings and against 100 %"
q -c "DROP TABLE IF EXISTS big" -c "CREATE TABLE big AS SELECT (4 + random() * 4)::real AS a, (2 + random() * 2)::real AS b,
      (1 + random() * 6)::real AS c, (random() * 2.5)::real AS d FROM generate_series(1, $ROWS)" -c "VACUUM ANALYZE big"
ms() { q -c "${2:-SELECT 1}" -c "\\timing on" -c "$1" | awk '/^Time:/ {print $2}'; }
scan="SELECT sum(pgml.predict('bench', ARRAY[a, b, c, d])) FROM big"
for plan in "parallel|" "serial|SET max_parallel_workers_per_gather = 0"; do
  IFS='|' read -r name setting <<<"$plan"
  : >"$TMP/ratios"
  for _ in $(seq 1 "$ROUNDS"); do
    logging false; off=$(ms "$scan" "$setting")
    logging true; on=$(ms "$scan" "$setting")
    q -c "SELECT pgml.flush_prediction_log(60)" >/dev/null
    ratio "$on" "$off" >>"$TMP/ratios"; echo >>"$TMP/ratios"
  done
  printf "   %-8s off %7.0f ms, default settings %7.0f ms   median ratio %sx  (target <= 1.05)\n" "$name" "$off" "$on" "$(median <"$TMP/ratios")"
  logging true 1000000000 1
  before=$(q -c "SELECT written FROM pgml.monitoring_status()")
  all=$(ms "$scan" "$setting")
  start=$(date +%s%N)
  q -c "SELECT pgml.flush_prediction_log(600)" >/dev/null
  lag=$(( ($(date +%s%N) - start) / 1000000 ))
  written=$(( $(q -c "SELECT written FROM pgml.monitoring_status()") - before ))
  printf "   %-8s 100 %% logged %7.0f ms (%sx off); %d rows written, all of them %d ms after the scan: %d rows/s\n" \
    "$name" "$all" "$(ratio "$all" "$off")" "$written" "$lag" "$(awk -v n="$written" -v t="$all" -v l="$lag" 'BEGIN { printf "%d", n / ((t + l) / 1000) }')"
done
logging true

fi
if part 3; then
echo "== 3. the writer held back: the predict path's own cost (the buffer fills, then drops)"
q -c "ALTER SYSTEM SET pgml.log_flush_interval = 60000" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
logging false; off=$(tps)
logging true; on=$(tps)
printf "   off %7d TPS, logged into a full buffer %7d TPS   ratio %s\n" "$off" "$on" "$(ratio "$on" "$off")"
q -c "ALTER SYSTEM RESET pgml.log_flush_interval" -c "SELECT pg_reload_conf()" >/dev/null
q -c "SELECT pgml.flush_prediction_log(60)" >/dev/null
q -c "SELECT 'log: ' || appended || ' appended, ' || written || ' written, ' || dropped_full || ' dropped' FROM pgml.monitoring_status()"

fi
if part 4; then
echo "== 4. pgml-serve: one-instance predictions under wrk (-t2 -c${BENCH_CONNECTIONS:-32}, ${SECONDS_PER_RUN}s), every prediction logged vs logging off"
SUDO_=""; [ "$(id -u)" -eq 0 ] || SUDO_=sudo
command -v wrk >/dev/null || { $SUDO_ apt-get update -qq && $SUDO_ apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p pgml-serve --bins --config "$PGRX_LINK_CONFIG"
q -c "SELECT pgml.deploy(1)" >/dev/null
q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN CREATE ROLE bench_app; END IF; END \$\$" \
  -c "GRANT pgml_predictor TO bench_app" >/dev/null
TOKEN=$("$ROOT/target/release/pgml-serve" token create --database-url "$(uri $DB)" --name "bench-monitoring-$$" --role bench_app)
PORT=18095
"$ROOT/target/release/pgml-serve" --database-url "$(uri $DB)" --listen "127.0.0.1:$PORT" >"$TMP/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; rm -rf "$TMP"; q -c "ALTER SYSTEM RESET pgml.log_flush_interval" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/projects/bench/predict" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"features": [5.9, 3.0, 5.1, 1.8]}' && break
  sleep 0.2
done
printf 'wrk.method = "POST"\nwrk.body = [=[{"features": [5.9, 3.0, 5.1, 1.8]}]=]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' \
  "$TOKEN" > "$TMP/post.lua"
wrk_run() {  # prints "requests/s p99_ms"
  wrk -t 2 -c "${BENCH_CONNECTIONS:-32}" -d "${SECONDS_PER_RUN}s" --latency -s "$TMP/post.lua" \
    "http://127.0.0.1:$PORT/v1/projects/bench/predict" > "$TMP/wrk.out"
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
       /Requests\/sec/ { rps = $2 } /^ +99%/ { p99 = ms($2) } END { printf "%d %.2f\n", rps, p99 }' "$TMP/wrk.out"
}
: >"$TMP/ratios"
for _ in $(seq 1 "$ROUNDS"); do
  # pgml-serve reads the logging settings every 10 s
  logging false; sleep 11; read -r off off_p99 <<<"$(wrk_run)"
  logging true; sleep 11; read -r on on_p99 <<<"$(wrk_run)"
  ratio "$on" "$off" >>"$TMP/ratios"; echo >>"$TMP/ratios"
  printf "   off %7d req/s p99 %5.2f ms, logged %7d req/s p99 %5.2f ms   ratio %s, p99 %+.2f ms\n" \
    "$off" "$off_p99" "$on" "$on_p99" "$(ratio "$on" "$off")" "$(awk -v a="$on_p99" -v b="$off_p99" 'BEGIN { print a - b }')"
done
printf "   median ratio %s  (target >= 0.95, p99 at most 0.3 ms higher)\n" "$(median <"$TMP/ratios")"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^pgml_log_records_total' | sed 's/^/   /'
fi
