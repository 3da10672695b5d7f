#!/usr/bin/env bash
# The walkthrough of `make demo`: a fresh database on the project cluster, a dataset, three
# algorithms, the registry, predictions, deployment by strategy and rollback, drift, stages
# with gates and an approval, explanations, an export and an import, a shadow rollout rolled
# back on its outcomes, the audit trail;
# then pgml-serve answering over HTTP (curl).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# pgml-serve (section 15) builds while the SQL sections run: its dependencies are mostly the
# extension's, already built, and the walkthrough's trainings leave a core free most of the time.
start=$SECONDS
serve_build() { cargo build --release -q -p pgml-serve --config "$PGRX_LINK_CONFIG" >"$ROOT/.build/demo-serve-build.log" 2>&1; }
timed "pgml-serve built (release)" serve_build &
serve_build=$!
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgml_demo" -c "CREATE DATABASE pgml_demo"
psql -X -q -v ON_ERROR_STOP=1 -d pgml_demo -f "$ROOT/scripts/demo.sql"

echo
echo "== 15. The same project over HTTP: pgml-serve, a token mapped to a PostgreSQL role, curl"
wait $serve_build || { cat "$ROOT/.build/demo-serve-build.log"; exit 1; }
SERVE=$ROOT/target/release/pgml-serve
PORT=${PGML_DEMO_PORT:-8080}
URL=$(uri pgml_demo)
psql -X -q -d pgml_demo -c "SET client_min_messages = warning" \
  -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_app') THEN CREATE ROLE demo_app; END IF; END \$\$" \
  -c "GRANT pgml_predictor TO demo_app"
TOKEN=$("$SERVE" token create --database-url "$URL" --name "demo-app-$(date +%s)" --role demo_app)
echo "\$ pgml-serve token create --name demo-app --role demo_app    # prints the token once; stored hashed"
# an earlier demo's server (left running for its dashboard) gives the port back first
[ -f "$ROOT/.build/demo-serve.pid" ] && kill "$(cat "$ROOT/.build/demo-serve.pid")" 2>/dev/null && sleep 0.5
rm -f "$ROOT/.build/demo-serve.pid"
# detached (its own session, no terminal, no inherited output): it keeps serving the dashboard after the demo
setsid "$SERVE" --database-url "$URL" --listen "127.0.0.1:$PORT" --rpc-schemas public --log-format text \
  </dev/null >"$ROOT/.build/demo-serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
# prints the command as it could be typed (arguments with spaces quoted, the token hidden), then runs it
show() {
  local shown="\$ curl" arg
  for arg in "$@"; do case $arg in *[\ \"{]*) shown+=" '$arg'" ;; *) shown+=" $arg" ;; esac; done
  echo "${shown//$TOKEN/\$TOKEN}"; curl -s "$@"; echo
}
show -X POST "http://127.0.0.1:$PORT/v1/projects/Iris%20Flowers/predict" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"features": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]}'
show -X POST "http://127.0.0.1:$PORT/v1/projects/Iris%20Flowers/predict_proba" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"features": {"sepal_length": 6.3, "sepal_width": 2.5, "petal_length": 4.9, "petal_width": 1.5}}'
echo "-- a rollback in SQL; the same URL answers with the other model from the next request"
psql -X -q -d pgml_demo -c "SELECT * FROM pgml.deploy('Iris Flowers', strategy => 'rollback')"
show -X POST "http://127.0.0.1:$PORT/v1/projects/Iris%20Flowers/predict" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"features": [5.1, 3.5, 1.4, 0.2]}'
echo "-- the token's role may predict, not deploy: the database says so"
show -X POST "http://127.0.0.1:$PORT/v1/projects/Iris%20Flowers/deploy" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"strategy": "best_score"}'
echo "\$ curl http://127.0.0.1:$PORT/metrics   # Prometheus text; the model each project's stage served:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^pgml_served_model_id'

echo
echo "== 16. Text: headlines embedded in the database, a clickbait classifier, and a SQL function over HTTP"
echo "-- scripts/sql/clickbait.sql: pgml.embed('all-MiniLM-L6-v2', title) for 289 headlines, xgboost and linear, predict_clickbait()"
psql -X -q -v ON_ERROR_STOP=1 -d pgml_demo -f "$ROOT/scripts/sql/clickbait.sql"
psql -X -q -d pgml_demo -c "GRANT EXECUTE ON FUNCTION predict_clickbait(text) TO demo_app" -c "NOTIFY pgrst, 'reload schema'"
echo "-- NOTIFY pgrst, 'reload schema': pgml-serve (--rpc-schemas public) now exposes predict_clickbait, PostgREST style"
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/rpc/predict_clickbait" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d '{"input_string": "x"}')" = 200 ] && break
  sleep 0.1
done
show -X POST "http://127.0.0.1:$PORT/rpc/predict_clickbait" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"input_string": "17 Secrets Your Landlord Will Never Tell You"}'
show -X POST "http://127.0.0.1:$PORT/rpc/predict_clickbait" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"input_string": "Parliament Approves Revised Water Treaty"}'
echo "-- weekly retraining, in the database pg_cron runs in (cron.database_name; make test-text runs it):"
echo "--   SELECT pgml.schedule_training('Clickbait', '0 3 * * 1', 'clickbait_embeddings', 'is_clickbait', algorithm => 'xgboost');"

echo
echo "== 17. The dashboard: the registry, metrics across versions, deployments, approvals, drift"
psql -X -q -d pgml_demo -c "SET client_min_messages = warning" \
  -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_admin') THEN CREATE ROLE demo_admin; END IF; END \$\$" \
  -c "GRANT pgml_admin TO demo_admin"
ADMIN_TOKEN=$("$SERVE" token create --database-url "$URL" --name "demo-admin-$(date +%s)" --role demo_admin)
echo "$SERVE_PID" >"$ROOT/.build/demo-serve.pid"
trap - EXIT
echo "pgml-serve keeps running (pid $SERVE_PID, log .build/demo-serve.log; make db-stop stops it with the cluster)."
echo
echo "== What to try next"
echo "  1. SQL, in the demo's database (the walkthrough's projects are there):"
echo "       psql $(uri pgml_demo)"
echo "       SELECT * FROM pgml.deployment_history;  SELECT pgml.predict('Iris Flowers', ARRAY[5.1, 3.5, 1.4, 0.2]);"
echo "  2. The dashboard: open http://127.0.0.1:$PORT/ui and sign in with this token (role demo_admin, a member of pgml_admin):"
echo "       $ADMIN_TOKEN"
echo "  3. The HTTP endpoint, with the predictor's token:"
echo "       curl -s -X POST 'http://127.0.0.1:$PORT/v1/projects/Iris%20Flowers/predict' -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' -d '{\"features\": [5.1, 3.5, 1.4, 0.2]}'"
echo "make help lists every target; make test runs every test. (The walkthrough took $((SECONDS - start)) s.)"
