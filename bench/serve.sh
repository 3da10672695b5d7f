#!/usr/bin/env bash
# HTTP benchmark of issue 21 (not a test: a shared 2-core machine varies ±25 %). In one run,
# the same XGBoost model (iris, 20 rounds) answers POST /v1/projects/bench/predict from
#   (a) pgml-serve in process (release build): the model held in memory, following deploys,
#   (b) pgml-serve strict ("strict": true in the body): the same server through PostgreSQL,
#   (c) a Python microservice: Flask under gunicorn (2 workers, one per core), the model
#       loaded into the xgboost library from the same bytes (bench/serve_peer.py);
# wrk (Debian package) drives each for BENCH_SECONDS with BENCH_CONNECTIONS connections, with
# one-instance and with 100-instance requests, and reports requests/s and p50/p99 latency;
# pgbench on pgml.predict for the same model is the in-database ceiling. Then freshness: 1,000
# deploys alternating two models while wrk keeps (a) busy, each timed from its commit until
# pgml-serve answers with the new model (crates/serve/examples/freshness.rs).
# Installs wrk and a virtual environment (flask, gunicorn, xgboost).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
DB=pgml_bench_serve
PORT_RS=18090
PORT_PY=18091
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
command -v wrk >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null; }
VENV=$ROOT/.build/venv-bench-serve
if [ ! -x "$VENV/bin/gunicorn" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q flask==3.1.2 gunicorn==23.0.0 xgboost==3.2.0 numpy
fi
cargo build --release -q -p pgml-serve --bins --example freshness --config "$PGRX_LINK_CONFIG"

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}')" >/dev/null
# a second model to deploy in turn with the first (freshness)
q -c "SELECT pgml.train('bench', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 21}', automatic_deploy => false)" >/dev/null
q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN CREATE ROLE bench_app; END IF; END \$\$" \
  -c "GRANT pgml_predictor TO bench_app"
TOKEN=$("$ROOT/target/release/pgml-serve" token create --database-url "$(uri $DB)" --name "bench-$$" --role bench_app)
TMP=$(mktemp -d)
q -c "SELECT encode(string_agg(data, ''::bytea ORDER BY part), 'hex') FROM pgml.files WHERE model_id = 1" > "$TMP/model.hex"

"$ROOT/target/release/pgml-serve" --database-url "$(uri $DB)" --listen "127.0.0.1:$PORT_RS" >"$TMP/serve.log" 2>&1 &
RS=$!
(cd "$ROOT/bench" && OMP_NUM_THREADS=1 PEER_MODEL_HEX="$TMP/model.hex" "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$PORT_PY" \
  --log-level warning serve_peer:app >"$TMP/peer.log" 2>&1) &
PY=$!
trap 'kill $RS $PY 2>/dev/null; pkill -f "serve_peer:app" 2>/dev/null; rm -rf "$TMP"' EXIT
for port in $PORT_RS $PORT_PY; do
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/v1/projects/bench/predict" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d '{"features": [5.9, 3.0, 5.1, 1.8]}' && break
    sleep 0.2
  done
done
one='{"features": [5.9, 3.0, 5.1, 1.8]}'
batch=$(python3 -c 'print("{\"features\": [" + ", ".join(["[5.9, 3.0, 5.1, 1.8]"] * 100) + "]}")')
for port in $PORT_RS $PORT_PY; do
  a=$(curl -s -X POST "http://127.0.0.1:$port/v1/projects/bench/predict" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d "$one")
  echo "   $port answers: $a"
done
run() {  # run PORT BODY: prints "requests/s p50_ms p99_ms non2xx"
  printf 'wrk.method = "POST"\nwrk.body = [=[%s]=]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' \
    "$2" "$TOKEN" > "$TMP/post.lua"
  wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency -s "$TMP/post.lua" "http://127.0.0.1:$1/v1/projects/bench/predict" > "$TMP/wrk.out"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%d %.2f %.2f %d\n", rps, p50, p99, bad }' "$TMP/wrk.out"
}
strict() { echo "${1%\}}, \"strict\": true}"; }
row() { printf "   %-46s %9d %9.2f %9.2f %8d\n" "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
for shape in one batch; do
  body=$one; [ $shape = batch ] && body=$batch
  label="one instance"; [ $shape = batch ] && label="100 instances per request"
  echo "== POST /v1/projects/bench/predict, $label, wrk -t2 -c$CONNS -d${SECS}s (client, servers and PostgreSQL share 2 cores)"
  read -r in_rps in_p50 in_p99 in_bad < <(run $PORT_RS "$body")
  read -r st_rps st_p50 st_p99 st_bad < <(run $PORT_RS "$(strict "$body")")
  read -r py_rps py_p50 py_p99 py_bad < <(run $PORT_PY "$body")
  printf "   %-46s %9s %9s %9s %8s\n" "" "req/s" "p50 ms" "p99 ms" "non-2xx"
  row "pgml-serve in process" "$in_rps" "$in_p50" "$in_p99" "$in_bad"
  row "pgml-serve strict (through PostgreSQL)" "$st_rps" "$st_p50" "$st_p99" "$st_bad"
  row "Flask + gunicorn -w 2 + xgboost (in process)" "$py_rps" "$py_p50" "$py_p99" "$py_bad"
  printf "   in process / Python: %sx (target >= 20 for one instance), p99 %s ms (target < 5); strict / Python: %sx\n" \
    "$(ratio "$in_rps" "$py_rps")" "$in_p99" "$(ratio "$st_rps" "$py_rps")"
done
echo "== the in-database ceiling: pgbench on pgml.predict for the same model (prepared, 2 clients, ${SECS}s)"
echo "SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" > "$TMP/predict.sql"
tps=$("$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECS" -f "$TMP/predict.sql" "$DB" 2>/dev/null | awk '/^tps/ {print int($3)}')
printf "   pgml.predict under pgbench: %d TPS\n" "$tps"
DEPLOYS=${BENCH_DEPLOYS:-1000}
echo "== freshness: $DEPLOYS deploys alternating models 1 and 2, each from its commit until pgml-serve answers with it, under wrk -c$CONNS"
printf 'wrk.method = "POST"\nwrk.body = [=[%s]=]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' \
  "$one" "$TOKEN" > "$TMP/post.lua"
wrk -t 1 -c "$CONNS" -d 600s -s "$TMP/post.lua" "http://127.0.0.1:$PORT_RS/v1/projects/bench/predict" > "$TMP/load.out" &
LOAD=$!
sleep 1
read -r n f50 f99 fmax stale < <("$ROOT/target/release/examples/freshness" "$(uri $DB)" "http://127.0.0.1:$PORT_RS" "$TOKEN" bench 1 2 "$DEPLOYS")
printf "   in process: commit -> new model answers: p50 %s ms, p99 %s ms, max %s ms over %s deploys (%s answers from the replaced model meanwhile)\n" \
  "$f50" "$f99" "$fmax" "$n" "$stale"
read -r n f50 f99 fmax stale < <("$ROOT/target/release/examples/freshness" "$(uri $DB)" "http://127.0.0.1:$PORT_RS" "$TOKEN" bench 1 2 "$DEPLOYS" strict)
kill -INT $LOAD 2>/dev/null; wait $LOAD 2>/dev/null || true
printf "   strict:     commit -> new model answers: p50 %s ms, p99 %s ms, max %s ms over %s deploys (%s answers from the replaced model meanwhile)\n" \
  "$f50" "$f99" "$fmax" "$n" "$stale"
grep -q '"level":"ERROR"' "$TMP/serve.log" && { echo "bench-serve: pgml-serve logged an error"; grep '"level":"ERROR"' "$TMP/serve.log" | head -3; exit 1; }
true
