#!/usr/bin/env bash
# pgml-serve against the project cluster, on a fresh database: the router tests (cargo test,
# app().oneshot, no socket), then the binary on a port: curl, a schemathesis run against its
# /openapi.json that must find no server error and no schema violation, and a graceful
# shutdown with a request in flight.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DB=pgml_serve_test
PORT=${PGML_SERVE_TEST_PORT:-18080}
# fresh_db NAME: a new database with the extension
fresh_db() {
  psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  psql -X -q -d "$1" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml"
}
# cargo_tests WHAT DATABASE LOG CARGO_ARGS...: cargo test against DATABASE, its summary lines shown
cargo_tests() {
  local what=$1 db=$2 log=$ROOT/.build/$3; shift 3
  if ! PGML_SERVE_TEST_DATABASE_URL=$(uri "$db") cargo test -q -p pgml-serve "$@" >"$log" 2>&1; then
    cat "$log"; echo "test-serve: FAILED: $what"; exit 1
  fi
  grep -oE "^test result.*|deploy storm:.*|after REVOKE:.*" "$log" | sed 's/^/   /'
}
export PGML_SERVE_TEST_DATABASE_URL=$(uri $DB)
fresh_db $DB

echo "== router tests (no socket)"
cargo_tests "router tests" $DB serve-cargo-test.log --lib --bins --examples --test router

# each in a database of its own: the router tests count on their model ids
echo "== in-process predictions"
fresh_db ${DB}_in_process
cargo_tests "in-process tests" ${DB}_in_process serve-in-process-test.log --test in_process -- --nocapture

echo "== the dashboard's router tests"
fresh_db ${DB}_ui
cargo_tests "dashboard router tests" ${DB}_ui serve-ui-test.log --test ui

echo "== the binary on 127.0.0.1:$PORT"
cargo build -q -p pgml-serve --profile test
BIN=$ROOT/target/debug/pgml-serve
predictor=$("$BIN" token create --database-url "$PGML_SERVE_TEST_DATABASE_URL" --name "schemathesis-$$" --role serve_test_predictor)
LOG=$ROOT/.build/serve-test.log
# --rpc-schemas public: schemathesis also calls the router tests' rpc_* functions over /rpc
"$BIN" --database-url "$PGML_SERVE_TEST_DATABASE_URL" --listen "127.0.0.1:$PORT" --rpc-schemas public >"$LOG" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
# the function list loads once the server listens on pgrst
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$PORT/openapi.json" | grep -q '/rpc/rpc_add' && break; sleep 0.1; done
fail() { echo "test-serve: FAILED: $*"; tail -5 "$LOG"; exit 1; }
out=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/projects/serve_iris/predict" -H "Authorization: Bearer $predictor" \
  -H 'Content-Type: application/json' -d '{"features": {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}}')
want=$(psql -X -At -d $DB -c "SELECT pgml.predict('serve_iris', ARRAY[6.3, 3.3, 6.0, 2.5]::real[])")
uuid='"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"'
[[ "$out" =~ ^\{\"project\":\"serve_iris\",\"stage\":\"production\",\"model_id\":1,\"predictions\":\[$want(\.0)?\],\"request_ids\":\[$uuid\]\}$ ]] \
  || fail "curl predict answered $out (SQL says $want)"
echo "   ok: curl predict = SQL predict ($out)"
# the prediction log: the caller's request id (a header) and key come back and are logged by
# pgml-serve's writer (source http), within its second
rid=0190f1e2-3a4b-7c5d-8e6f-0123456789ab
out=$(curl -s -D "$ROOT/.build/serve-test.headers" -X POST "http://127.0.0.1:$PORT/v1/projects/serve_iris/predict" \
  -H "Authorization: Bearer $predictor" -H 'Content-Type: application/json' -H "X-Request-Id: $rid" \
  -d '{"features": [6.3, 3.3, 6.0, 2.5], "key": "curl-1"}')
grep -qi "^x-request-id: $rid" "$ROOT/.build/serve-test.headers" && [[ "$out" == *"\"request_ids\":[\"$rid\"]"* ]] \
  || fail "the caller's request id did not come back: $out"
logged=""
for _ in $(seq 1 50); do
  logged=$(psql -X -At -d $DB -c "SELECT source || ' ' || key || ' ' || model_id FROM pgml.prediction_log WHERE request_id = '$rid'")
  [ -n "$logged" ] && break
  sleep 0.2
done
[ "$logged" = "http curl-1 1" ] || fail "pgml-serve's prediction was not logged: '$logged'"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^pgml_log_records_total{state="written"} [1-9]' \
  || fail "/metrics does not count the written log records"
echo "   ok: the request id comes back (header and body) and the prediction is logged (source http, key curl-1)"
# an open alert is a series of /metrics (pgml-serve reads the open alerts with the settings)
psql -X -q -d $DB -c "SELECT pgml.add_alert_rule('serve_iris', 'any latency', 'latency_p99_us', above => 0, min_count => 1)" \
  -c "SELECT count(*) FROM pgml.evaluate_alerts('serve_iris')" >/dev/null
[ "$(psql -X -At -d $DB -c "SELECT state FROM pgml.alerts WHERE rule_name = 'any latency'")" = open ] \
  || fail "the alert rule did not open an alert on pgml-serve's logged prediction"
series='^pgml_alert_open{project="serve_iris",rule="any latency",stage="production",model_id="1",metric="latency_p99_us"} 1$'
for _ in $(seq 1 60); do
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -q "$series" && break
  sleep 0.25
done
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q "$series" && curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^pgml_alerts_open 1$' \
  || fail "/metrics does not show the open alert: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep alert)"
psql -X -q -d $DB -c "SELECT pgml.remove_alert_rule('serve_iris', 'any latency')" -c "UPDATE pgml.alerts SET state = 'resolved', resolved_at = now()" >/dev/null
echo "   ok: the open alert is a series of /metrics (pgml_alert_open, pgml_alerts_open)"
# a shadow rollout: the baseline answers, the candidate scores the request after the response,
# logged under the same request id (source shadow)
candidate=$(psql -X -At -d $DB -c "SET client_min_messages = warning" \
  -c "SELECT count(*) FROM pgml.train('serve_iris', algorithm => 'linear', automatic_deploy => false)" \
  -c "SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'serve_iris'" | tail -1)
psql -X -q -d $DB -c "SELECT pgml.start_rollout('serve_iris', $candidate, mode => 'shadow')" >/dev/null
for _ in $(seq 1 50); do
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -q "^pgml_serve_rollout_percent{project=\"serve_iris\",stage=\"production\",rollout_id=\"[0-9]*\",phase=\"shadow\",baseline_model_id=\"1\",candidate_model_id=\"$candidate\"} 0$" && break
  sleep 0.1
done
rid=0190f1e2-3a4b-7c5d-8e6f-0123456789ac
out=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/projects/serve_iris/predict" -H "Authorization: Bearer $predictor" \
  -H 'Content-Type: application/json' -H "X-Request-Id: $rid" -d '{"features": [6.3, 3.3, 6.0, 2.5], "key": "curl-2"}')
[[ "$out" == *'"model_id":1,'* ]] || fail "in shadow, pgml-serve answered $out, not with the baseline"
for _ in $(seq 1 50); do
  logged=$(psql -X -At -d $DB -c "SELECT string_agg(source || ' ' || key || ' ' || model_id, ', ' ORDER BY source)
                                  FROM pgml.prediction_log WHERE request_id = '$rid'")
  [ "$logged" = "http curl-2 1, shadow curl-2 $candidate" ] && break
  sleep 0.2
done
[ "$logged" = "http curl-2 1, shadow curl-2 $candidate" ] || fail "the shadow's records: '$logged'"
psql -X -q -d $DB -c "SELECT pgml.stop_rollout('serve_iris')" >/dev/null
echo "   ok: in shadow the baseline answers and the candidate's score is logged under the same request id ($logged)"
# a keyed canary of a harmful candidate (trained on labels shifted by one class), rolled back by
# the job's evaluation: pgml-serve stops sending the candidate's keys to it within a deploy's
# freshness
harmful=$(psql -X -At -d $DB -c "SET client_min_messages = warning" \
  -c "CREATE TABLE IF NOT EXISTS serve_shifted AS
      SELECT sepal_length, sepal_width, petal_length, petal_width, (target + 1) % 3 AS target FROM pgml.iris" \
  -c "SELECT count(*) FROM pgml.train('serve_iris', 'classification', 'serve_shifted', 'target', algorithm => 'linear', automatic_deploy => false)" \
  -c "SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'serve_iris'" | tail -1)
psql -X -q -d $DB -c "SELECT pgml.set_monitoring('serve_iris', scan_after => 1000000)" \
  -c "SELECT pgml.start_rollout('serve_iris', $harmful, mode => 'canary', percent => 50, policy => '{\"min_rows\": 30, \"bake_seconds\": 0}')" \
  -c "CREATE TEMP VIEW t AS SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS n, * FROM pgml.iris" \
  -c "SELECT count(pgml.predict('serve_iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'dec-$$-' || n)) FROM t" \
  -c "SELECT pgml.flush_prediction_log()" \
  -c "SELECT count(pgml.record_outcome('serve_iris', target, key => 'dec-$$-' || n)) FROM t" >/dev/null
key=$(psql -X -At -d $DB -c "SELECT key FROM pgml.prediction_log WHERE key LIKE 'dec-$$-%' AND model_id = $harmful ORDER BY key LIMIT 1")
canary() {
  curl -s -X POST "http://127.0.0.1:$PORT/v1/projects/serve_iris/predict" -H "Authorization: Bearer $predictor" \
    -H 'Content-Type: application/json' -d "{\"features\": [6.3, 3.3, 6.0, 2.5], \"key\": \"$key\"}"
}
for _ in $(seq 1 50); do [[ "$(canary)" == *"\"model_id\":$harmful,"* ]] && break; sleep 0.1; done
[[ "$(canary)" == *"\"model_id\":$harmful,"* ]] || fail "pgml-serve did not send the canary's key $key to model $harmful: $(canary)"
decided=$(psql -X -At -d $DB -c "SELECT state FROM pgml.evaluate_rollouts('serve_iris')")
start=$(date +%s%N)
[ "$decided" = rolled_back ] || fail "the harmful canary was $decided, not rolled_back"
while [[ "$(canary)" != *'"model_id":1,'* ]]; do
  [ $(( $(date +%s%N) - start )) -lt 5000000000 ] || fail "pgml-serve still answers $key with the rolled-back candidate: $(canary)"
  sleep 0.002
done
echo "   ok: a keyed canary of model $harmful rolled back by the evaluation: pgml-serve answered its key with model 1 again $(( ($(date +%s%N) - start) / 1000 )) us after the commit"
psql -X -q -d $DB -c "SELECT pgml.set_monitoring('serve_iris', scan_after => 100)" >/dev/null
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^pgml_serve_stage_model{project="serve_iris",stage="production",model_id="1"}' \
  || fail "the model that answered is not held in process (/metrics)"
echo "   ok: answered in process (the model is held: /metrics)"
# models in and out: GET /v1/models/{id}/export gives pgml.export's bytes as the role; an
# imported model is served over HTTP like any other, deployed and rolled back
xgb=$(psql -X -At -d $DB -c "SELECT min(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
                               WHERE p.name = 'serve_iris' AND m.algorithm = 'xgboost'")
for format in bundle xgboost xgboost_json onnx; do
  got=$(curl -sf "http://127.0.0.1:$PORT/v1/models/$xgb/export?format=$format" -H "Authorization: Bearer $predictor" | md5sum | cut -d' ' -f1)
  want=$(psql -X -At -d $DB -c "SELECT md5(pgml.export($xgb, '$format'))")
  [ "$got" = "$want" ] || fail "GET /v1/models/$xgb/export?format=$format: md5 $got, SQL's $want"
done
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models/$xgb/export?format=lightgbm" -H "Authorization: Bearer $predictor")
[ "$status" = 400 ] || fail "exporting XGBoost as LightGBM answered $status, not 400"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models/999999/export" -H "Authorization: Bearer $predictor")
[ "$status" = 404 ] || fail "exporting no model answered $status, not 404"
echo "   ok: GET /v1/models/$xgb/export gives pgml.export's bytes (bundle, xgboost, xgboost_json, onnx); 400 for a format the model has not, 404 for no model"
first=$(psql -X -q -At -d $DB -c "SET client_min_messages = warning" -c "SELECT pgml.import('serve_imported', NULL, pgml.export($xgb, 'xgboost'),
          relation_name => 'pgml.iris', y_column_name => 'target')")
second=$(psql -X -q -At -d $DB -c "SET client_min_messages = warning" -c "SELECT pgml.import('serve_imported', NULL, pgml.export(1),
          relation_name => 'pgml.iris', y_column_name => 'target', automatic_deploy => false)")
imported() {
  curl -s -X POST "http://127.0.0.1:$PORT/v1/projects/serve_imported/predict_proba" -H "Authorization: Bearer $predictor" \
    -H 'Content-Type: application/json' -d '{"features": {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}}'
}
want=$(psql -X -At -d $DB -c "SELECT array_to_string(pgml.predict_proba($xgb, ARRAY[6.3, 3.3, 6.0, 2.5]::real[]), ',')")
[[ "$(imported)" == *"\"model_id\":$first,"*"[[${want}]]"* ]] || fail "the imported model answered $(imported), the source's probabilities are $want"
psql -X -q -d $DB -c "SELECT pgml.deploy($second)" >/dev/null
for _ in $(seq 1 100); do [[ "$(imported)" == *"\"model_id\":$second,"* ]] && break; sleep 0.05; done
[[ "$(imported)" == *"\"model_id\":$second,"* ]] || fail "after deploying imported model $second pgml-serve answers $(imported)"
psql -X -q -d $DB -c "SELECT pgml.deploy('serve_imported', 'rollback')" >/dev/null
for _ in $(seq 1 100); do [[ "$(imported)" == *"\"model_id\":$first,"* ]] && break; sleep 0.05; done
[[ "$(imported)" == *"\"model_id\":$first,"* ]] || fail "after the rollback pgml-serve answers $(imported)"
echo "   ok: imported models $first (XGBoost file) and $second (bundle) served over HTTP, the source's probabilities ($want), deployed and rolled back"
# the same XGBoost model as ONNX (pgml.export), imported, deployed: its own arithmetic (f32, as
# ONNX Runtime's) gives the source's probabilities within 1e-6
third=$(psql -X -q -At -d $DB -c "SET client_min_messages = warning" -c "SELECT pgml.import('serve_imported', NULL, pgml.export($xgb, 'onnx'),
          relation_name => 'pgml.iris', y_column_name => 'target', automatic_deploy => false)")
psql -X -q -d $DB -c "SELECT pgml.deploy($third)" >/dev/null
for _ in $(seq 1 100); do [[ "$(imported)" == *"\"model_id\":$third,"* ]] && break; sleep 0.05; done
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); want = [float(v) for v in sys.argv[3].split(",")]
assert d["model_id"] == int(sys.argv[2]), d
assert max(abs(a - b) for a, b in zip(d["probabilities"][0], want)) <= 1e-6, (d, want)' "$(imported)" "$third" "$want" \
  || fail "the ONNX import $third answered $(imported), the source's probabilities are $want"
psql -X -q -d $DB -c "SELECT pgml.deploy('serve_imported', 'rollback')" >/dev/null
echo "   ok: the model exported as ONNX and imported ($third) serves the source's probabilities over HTTP, and rolls back"
# explanations over HTTP: the held model's attributions are SQL's pgml.explain, by name or in order
explained=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/projects/serve_imported/explain" -H "Authorization: Bearer $predictor" \
  -H 'Content-Type: application/json' -d '{"features": {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}, "top_k": 2}')
want=$(psql -X -At -d $DB -c "SELECT string_agg(feature || '=' || round(attribution::numeric, 5), ',' ORDER BY abs(attribution) DESC, feature)
                               FROM pgml.explain('serve_imported', ARRAY[6.3, 3.3, 6.0, 2.5], top_k => 2)")
got=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(",".join("%s=%.5f" % (a["feature"], a["attribution"]) for a in d["attributions"]))' "$explained")
[ "$got" = "$want" ] || fail "POST /explain answered $explained; SQL's attributions are $want"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["method"] == "tree_shap" and d["approximation_error"] < 1e-9 and d["model_id"] > 0, d' "$explained" \
  || fail "POST /explain: $explained"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/projects/serve_imported/explain" -H "Authorization: Bearer $predictor" \
  -H 'Content-Type: application/json' -d '{"features": [6.3, 3.3, 6.0, 2.5], "method": "kernel"}')
[ "$status" = 400 ] || fail "an unknown explanation method answered $status, not 400"
echo "   ok: POST /v1/projects/serve_imported/explain gives SQL's attributions ($got), 400 for an unknown method"
grep -q '"message":"pgml-serve listening"' "$LOG" || fail "no structured (JSON) start log line"

echo "== schemathesis $SCHEMATHESIS_VERSION against /openapi.json"
VENV=$ROOT/.build/venv-schemathesis
venv_schemathesis
# (from .build: schemathesis keeps a cache directory where it runs)
(cd "$ROOT/.build" && "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" -H "Authorization: Bearer $predictor" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples 50 --seed 1 >"$ROOT/.build/schemathesis.log" 2>&1) \
  || { tail -60 "$ROOT/.build/schemathesis.log"; fail "schemathesis found failures"; }
grep -E "generated, .* passed|test cases" "$ROOT/.build/schemathesis.log" | sed 's/^/   /' || true
grep -q '"level":"ERROR"' "$LOG" && fail "the server logged an internal error"

echo "== graceful shutdown with a request in flight"
# a 200-instance batch uploaded at 2 KB/s: still arriving when SIGTERM comes
batch=$(python3 -c 'print("{\"features\": [" + ", ".join(["[5.1, 3.5, 1.4, 0.2]"] * 200) + "]}")')
curl -s -o /dev/null -w "%{http_code}" --limit-rate 2k -X POST "http://127.0.0.1:$PORT/v1/projects/serve_iris/predict" \
  -H "Authorization: Bearer $predictor" -H 'Content-Type: application/json' -d "$batch" >"$ROOT/.build/inflight.code" &
sleep 1
kill -TERM $pid
wait $pid || fail "pgml-serve exited with status $? on SIGTERM"
trap - EXIT
wait
grep -q '"message":"pgml-serve stopped"' "$LOG" || fail "no clean stop logged"
[ "$(cat "$ROOT/.build/inflight.code")" = 200 ] || fail "the request in flight got $(cat "$ROOT/.build/inflight.code")"
echo "   ok: the request in flight was answered (200), then the server stopped cleanly"
echo "test-serve: all passed"
