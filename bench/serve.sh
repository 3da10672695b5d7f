#!/usr/bin/env bash
# HTTP benchmark of issue 5 (not a test: a shared 2-core machine varies ±25 %). In one run,
# the same XGBoost model (iris, 20 rounds) answers POST /v1/projects/bench/predict from
#   (a) pgml-serve (release build) over the project cluster, and
#   (b) a Python microservice: Flask under gunicorn (2 workers, one per core), the model
#       loaded into the xgboost library from the same bytes (bench/serve_peer.py);
# wrk (Debian package) drives each for BENCH_SECONDS with BENCH_CONNECTIONS connections and
# reports requests/s and p50/p99 latency; then pgbench on pgml.predict for the same model is
# the in-database ceiling. Installs wrk and a virtual environment (flask, gunicorn, xgboost).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
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
cargo build --release -q -p pgml-serve

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SELECT pgml.train('bench', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 20}')" >/dev/null
q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN CREATE ROLE bench_app; END IF; END \$\$" \
  -c "GRANT pgml_predictor TO bench_app"
TOKEN=$("$ROOT/target/release/pgml-serve" token create --database-url "$(uri $DB)" --name "bench-$$" --role bench_app)
TMP=$(mktemp -d)
q -c "SELECT encode(data, 'hex') FROM pgml.files WHERE model_id = 1" > "$TMP/model.hex"

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
body='{"features": [5.9, 3.0, 5.1, 1.8]}'
for port in $PORT_RS $PORT_PY; do
  a=$(curl -s -X POST "http://127.0.0.1:$port/v1/projects/bench/predict" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d "$body")
  echo "   $port answers: $a"
done
cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
run() {  # prints "requests/s p50_ms p99_ms non2xx"
  wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency -s "$TMP/post.lua" "http://127.0.0.1:$1/v1/projects/bench/predict" > "$TMP/wrk.out"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%d %.2f %.2f %d\n", rps, p50, p99, bad }' "$TMP/wrk.out"
}
echo "== POST /v1/projects/bench/predict, wrk -t2 -c$CONNS -d${SECS}s (client, servers and PostgreSQL share 2 cores)"
read -r rs_rps rs_p50 rs_p99 rs_bad < <(run $PORT_RS)
read -r py_rps py_p50 py_p99 py_bad < <(run $PORT_PY)
printf "   %-44s %9s %9s %9s %8s\n" "" "req/s" "p50 ms" "p99 ms" "non-2xx"
printf "   %-44s %9d %9.2f %9.2f %8d\n" "pgml-serve (Rust, via PostgreSQL)" "$rs_rps" "$rs_p50" "$rs_p99" "$rs_bad"
printf "   %-44s %9d %9.2f %9.2f %8d\n" "Flask + gunicorn -w 2 + xgboost (in process)" "$py_rps" "$py_p50" "$py_p99" "$py_bad"
printf "   throughput ratio pgml-serve / Python: %s (target >= 10)   pgml-serve p99: %s ms (target < 5)\n" \
  "$(awk -v a="$rs_rps" -v b="$py_rps" 'BEGIN { printf "%.1f", a / b }')" "$rs_p99"
echo "== the in-database ceiling: pgbench on pgml.predict for the same model (prepared, 2 clients, ${SECS}s)"
echo "SELECT pgml.predict('bench', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" > "$TMP/predict.sql"
tps=$("$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T "$SECS" -f "$TMP/predict.sql" "$DB" 2>/dev/null | awk '/^tps/ {print int($3)}')
printf "   pgml.predict under pgbench: %d TPS (pgml-serve reaches %s of it over HTTP)\n" "$tps" \
  "$(awk -v a="$rs_rps" -v b="$tps" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
