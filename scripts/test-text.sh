#!/usr/bin/env bash
# The text flow end to end, as Tembo's ML stack runs it, on the project cluster: headlines are
# embedded into a table, XGBoost and a linear model train on them (the better deploys), a SQL
# function predicts new headlines, pgml-serve calls it over HTTP PostgREST-style (/rpc,
# reloading its function list on NOTIFY pgrst), and pg_cron retrains weekly (a schedule that
# fires every minute proves the retraining runs and lands in pgml.scheduled_runs). Runs in
# cron.database_name's database, about 1-2 minutes (pg_cron starts jobs on whole minutes).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$DBNAME" "$@"; }
fail() { echo "test-text: FAILED: $*"; cleanup || true; exit 1; }
PORT=${PGML_TEXT_TEST_PORT:-8094}
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null
  q -c "SELECT pgml.unschedule_training(project_name) FROM pgml.schedules WHERE project_name = 'Clickbait'" \
    -c "DELETE FROM pgml.projects WHERE name = 'Clickbait'" -c "DELETE FROM pgml.scheduled_runs WHERE project_name = 'Clickbait'" \
    -c "DROP FUNCTION IF EXISTS predict_clickbait(text)" -c "DROP FUNCTION IF EXISTS headline_words(text)" >/dev/null
}
cleanup
passed=0
ok() { echo "   ok: $*"; passed=$((passed + 1)); }

echo "== 1. embed, train, deploy, predict in SQL (scripts/sql/clickbait.sql)"
q -f "$ROOT/scripts/sql/clickbait.sql" > "$ROOT/.build/text-flow.out" || fail "the flow's SQL failed: $(tail -5 "$ROOT/.build/text-flow.out")"
rows=$(q -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE array_length(embedding, 1) = 384) FROM clickbait_embeddings")
[ "$rows" = "289 289" ] || fail "clickbait_embeddings has $rows rows / 384-dimension rows, expected 289 289"
ok "289 headlines embedded into clickbait_embeddings"
# The deployed model's test F1 on the held-out quarter: the headlines are easy for a
# sentence embedding, so both models must be good and the deployed one the better.
read -r best deployed_f1 < <(q -F ' ' -c "SELECT max((m.metrics->>'f1')::float8), (SELECT (mm.metrics->>'f1')::float8 FROM pgml.models mm
    JOIN pgml.deployed_models d ON d.id = mm.id WHERE d.name = 'Clickbait') FROM pgml.models m
    JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Clickbait'")
awk -v b="$best" -v d="$deployed_f1" 'BEGIN { exit !(d == b && d >= 0.9) }' \
  || fail "deployed test F1 $deployed_f1, best $best (expected the best deployed, >= 0.9)"
q -c "SELECT algorithm || ' f1 ' || round((metrics->>'f1')::numeric, 3) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
      WHERE p.name = 'Clickbait' ORDER BY m.id" | sed 's/^/      /'
ok "the better model deployed (test F1 $deployed_f1)"
got=$(q -c "SELECT (SELECT * FROM predict_clickbait('You Will Never Guess What This Dog Did At The Beach')) || ' ' ||
                   (SELECT * FROM predict_clickbait('Senate Passes Annual Defence Spending Bill'))")
[ "$got" = "1 0" ] || fail "predict_clickbait on a clickbait and a news headline gave $got, expected 1 0"
ok "predict_clickbait: clickbait 1, news 0"

echo "== 2. the same function over HTTP: pgml-serve --rpc-schemas public"
cargo build -q -p pgml-serve --profile test
BIN=$ROOT/target/debug/pgml-serve
URL=$(uri "$DBNAME")
q -c "SET client_min_messages = warning" \
  -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'text_test_app') THEN CREATE ROLE text_test_app; END IF; END \$\$" \
  -c "GRANT pgml_predictor TO text_test_app" \
  -c "REVOKE EXECUTE ON FUNCTION predict_clickbait(text) FROM PUBLIC" -c "GRANT EXECUTE ON FUNCTION predict_clickbait(text) TO text_test_app"
TOKEN=$("$BIN" token create --database-url "$URL" --name "text-test-$$" --role text_test_app)
"$BIN" --database-url "$URL" --listen "127.0.0.1:$PORT" --rpc-schemas public --log-format text >"$ROOT/.build/text-serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
rpc() { curl -s -w ' %{http_code}' "$@" -H "Authorization: Bearer $TOKEN"; }
post() { rpc -X POST "http://127.0.0.1:$PORT/rpc/$1" -H 'Content-Type: application/json' -d "$2"; }
for _ in $(seq 1 50); do [ "$(post predict_clickbait '{"input_string": "x"}' | awk '{print $NF}')" = 200 ] && break; sleep 0.2; done
out=$(post predict_clickbait '{"input_string": "17 Secrets Your Landlord Will Never Tell You"}')
[ "$out" = '[{"is_clickbait": 1}] 200' ] || [ "$out" = '[{"is_clickbait":1}] 200' ] || fail "POST /rpc/predict_clickbait answered $out"
ok "POST /rpc/predict_clickbait {\"input_string\": …} = [{\"is_clickbait\":1}]"
out=$(post predict_clickbait '{"input_string": "Parliament Approves Revised Water Treaty"}')
case "$out" in '[{"is_clickbait":0}] 200'|'[{"is_clickbait": 0}] 200') ;; *) fail "news headline over HTTP answered $out";; esac
ok "a news headline over HTTP: [{\"is_clickbait\":0}]"
out=$(post predict_clickbait '{"input": "x"}')
case "$out" in *'takes no arguments named {input}'*' 400') ;; *) fail "a wrong argument name answered $out";; esac
ok "a wrong argument name: 400 naming it and the function's arguments"
out=$(rpc "http://127.0.0.1:$PORT/rpc/predict_clickbait?input_string=x")
case "$out" in *' 405') ;; *) fail "GET of a VOLATILE function answered $out";; esac
ok "GET of a VOLATILE function: 405"
# A function created after the server started: 404 until NOTIFY pgrst, then callable by GET.
q -c "CREATE FUNCTION headline_words(title text) RETURNS integer IMMUTABLE LANGUAGE sql AS \$\$ SELECT array_length(regexp_split_to_array(title, '\s+'), 1) \$\$"
out=$(rpc "http://127.0.0.1:$PORT/rpc/headline_words?title=one%20two%20three")
case "$out" in *' 404') ;; *) fail "a function unknown to the server answered $out";; esac
q -c "NOTIFY pgrst, 'reload schema'"
for _ in $(seq 1 50); do out=$(rpc "http://127.0.0.1:$PORT/rpc/headline_words?title=one%20two%20three"); [ "$out" = "3 200" ] && break; sleep 0.1; done
[ "$out" = "3 200" ] || fail "after NOTIFY pgrst, GET /rpc/headline_words answered $out"
ok "NOTIFY pgrst, 'reload schema' exposes a new function; GET of an IMMUTABLE one answers its bare value"
out=$(curl -s "http://127.0.0.1:$PORT/openapi.json" | python3 -c "import json,sys; d=json.load(sys.stdin)['paths']; print(sorted(k for k in d if k.startswith('/rpc/')), 'get' in d['/rpc/headline_words'], 'get' in d['/rpc/predict_clickbait'])")
[ "$out" = "['/rpc/headline_words', '/rpc/predict_clickbait'] True False" ] || fail "openapi.json lists $out"
ok "openapi.json lists the exposed functions"
out=$(rpc -X POST "http://127.0.0.1:$PORT/rpc/no_such_function" -H 'Content-Type: application/json' -d '{}')
case "$out" in *' 404') ;; *) fail "an unknown function answered $out";; esac
ok "an unknown function: 404"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=

echo "== 3. weekly retraining with pg_cron"
q -c "SELECT * FROM pgml.schedule_training('Clickbait', '0 3 * * 1', 'clickbait_embeddings', 'is_clickbait', algorithm => 'xgboost')" >/dev/null
weekly=$(q -c "SELECT schedule FROM cron.job WHERE jobname LIKE '%Clickbait%'")
[ "$weekly" = "0 3 * * 1" ] || fail "cron.job holds schedule '$weekly' for the weekly retraining"
ok "pgml.schedule_training made the weekly pg_cron job (0 3 * * 1)"
# The same retraining every minute, to see one run.
q -c "SELECT pgml.unschedule_training('Clickbait')" \
  -c "SELECT * FROM pgml.schedule_training('Clickbait', '* * * * *', 'clickbait_embeddings', 'is_clickbait', algorithm => 'xgboost')" >/dev/null
for _ in $(seq 1 75); do
  run=$(q -c "SELECT outcome FROM pgml.scheduled_runs WHERE project_name = 'Clickbait' AND outcome <> 'running' LIMIT 1")
  [ -n "$run" ] && break
  sleep 2
done
[ "$run" = succeeded ] || fail "the scheduled retraining's run is '${run:-missing after 150 s}'"
ok "the scheduled retraining ran and is in pgml.scheduled_runs (succeeded)"
cleanup
echo "test-text: $passed passed, 0 failed"
