#!/usr/bin/env bash
# Cross-session tests of deployment on the project cluster (they need several connections,
# which #[pg_test] and pg_regress cannot give):
#   1. visibility: a session serves a deploy from its first statement after the commit, never
#      before it, and never a deploy that rolled back;
#   2. a storm: 2 clients predict (and roll back now and then) while 2 others roll back and
#      deploy-then-abort hundreds of times, one runs ANALYZE on pgml.deployments and one floods
#      the invalidation queue (section 2 says why each). No predict or deploy may fail, and
#      every answer must come from a model that was committed as deployed (the model deployed
#      only in aborted transactions must never answer);
#      afterwards the history must chain (each row replaced the previous row's model).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DB=pgml_concurrency
SECONDS_STORM=${CONCURRENCY_SECONDS:-10}
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
fail() { echo "test-concurrency: FAILED: $*"; exit 1; }
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('iris')" >/dev/null
q -c "SET client_min_messages = warning" \
  -c "SELECT pgml.train('conc', 'classification', 'pgml.iris', 'target')" \
  -c "SELECT pgml.train('conc', algorithm => 'random_forest', hyperparams => '{\"n_estimators\": 1, \"max_depth\": 1}', automatic_deploy => false)" \
  -c "SELECT pgml.train('conc', algorithm => 'xgboost', hyperparams => '{\"n_estimators\": 3, \"max_depth\": 2}', automatic_deploy => false)" >/dev/null
probe="ARRAY[5.9, 3.0, 5.1, 1.8]::real[]"
answer() { q -c "SELECT pgml.predict_proba($1, $probe)"; }
a1=$(answer 1); a2=$(answer 2); a3=$(answer 3)
[ "$a1" != "$a2" ] && [ "$a1" != "$a3" ] && [ "$a2" != "$a3" ] || fail "the three models must answer differently"

TMP=$(mktemp -d)
# a failure leaves no client running (the next run's database would be in use)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

echo "== 1. cross-session visibility"
# Two long-lived sessions, each a psql reading statements from a FIFO and answering into one.
mkfifo "$TMP/s.in" "$TMP/s.out" "$TMP/d.in" "$TMP/d.out"
psql -X -q -At -d "$DB" <"$TMP/s.in" >"$TMP/s.out" 2>&1 &
psql -X -q -At -d "$DB" <"$TMP/d.in" >"$TMP/d.out" 2>&1 &
exec 3>"$TMP/s.in" 4<"$TMP/s.out" 5>"$TMP/d.in" 6<"$TMP/d.out"
# ask: the predicting session's answer; tell: run statements in the deploying session
ask() { echo "SELECT pgml.predict_proba('conc', $probe);" >&3; read -r got <&4; echo "$got"; }
tell() { echo "$1" >&5; echo "SELECT 'done';" >&5; while read -r line <&6; do [ "$line" = done ] && break; done; }
[ "$(ask)" = "$a1" ] || fail "session does not serve the deployed model 1"
tell "BEGIN; SELECT pgml.deploy(2);"
[ "$(ask)" = "$a1" ] || fail "an uncommitted deploy was served by another session"
tell "COMMIT;"
[ "$(ask)" = "$a2" ] || fail "the first statement after the commit did not serve the new model"
tell "BEGIN; SELECT pgml.deploy(3); ROLLBACK;"
[ "$(ask)" = "$a2" ] || fail "a rolled-back deploy was served"
tell "BEGIN; SELECT pgml.deploy(1); SELECT pgml.predict_proba('conc', $probe); ROLLBACK;"
[ "$(ask)" = "$a2" ] || fail "a rolled-back deploy was served"
tell "SELECT pgml.deploy(1);"
[ "$(ask)" = "$a1" ] || fail "an autocommitted deploy was not served by the next statement"
tell "INSERT INTO pgml.deployments (project_id, model_id, strategy, replaced_model_id) SELECT id, 2, 'specific', 1 FROM pgml.projects;"
[ "$(ask)" = "$a2" ] || fail "a hand-written deployment row was not served by the next statement"
tell "SELECT pgml.deploy(1);"
[ "$(ask)" = "$a1" ] || fail "the redeploy was not served"
exec 3>&- 5>&-
wait
echo "   ok: served from the first statement after commit (pgml.deploy or a hand-written row); uncommitted and rolled-back deploys never served"

echo "== 2. ${SECONDS_STORM}s of predictions during rollbacks, aborted deploys, ANALYZE and cache resets"
# Each of these opens the window in which a backend processes invalidations in the middle of a
# lookup of its model cache (the callback then runs inside the lookup):
#   - 2 predicting clients that also roll back after some predictions: their next prediction
#     looks the deployment up again while the other clients' invalidations arrive;
#   - 2 clients rolling back and deploying-then-aborting in a loop;
#   - 1 client running ANALYZE pgml.deployments: it rewrites the table's pg_class row, so the
#     next lookup of the table's oid misses the catalog cache and takes a lock;
#   - 1 client committing thousands of invalidations at once (temporary tables made and
#     dropped), which overflows the shared queue: the backends behind are reset (every cache,
#     the relcache callback with InvalidOid).
q -c "CREATE TABLE committed_answers AS SELECT pgml.predict_proba(id, $probe) AS proba FROM pgml.models WHERE id IN (1, 2)"
# a wrong answer divides by zero, which aborts the pgbench client and fails the run
check="SELECT 1 / (pgml.predict_proba('conc', $probe) IN (SELECT proba FROM committed_answers))::int;"
echo "$check" > "$TMP/predict.sql"
printf "%s\nSELECT pgml.deploy('conc', 'rollback');\n%s\n" "$check" "$check" > "$TMP/predict_rollback.sql"
printf "SELECT pgml.deploy('conc', 'rollback');\nBEGIN;\nSELECT pgml.deploy(3);\nROLLBACK;\n" > "$TMP/deploy.sql"
echo "ANALYZE pgml.deployments;" > "$TMP/analyze.sql"
cat > "$TMP/reset.sql" <<'SQL'
DO $$ BEGIN FOR i IN 1..250 LOOP CREATE TEMP TABLE storm_reset (a int); DROP TABLE storm_reset; END LOOP; END $$;
\sleep 200 ms
SQL
"$PG_BIN/pgbench" -n -c 2 -j 2 -T "$SECONDS_STORM" -f "$TMP/predict.sql@3" -f "$TMP/predict_rollback.sql@1" "$DB" > "$TMP/predict.out" 2>&1 &
predictors=$!
"$PG_BIN/pgbench" -n -c 1 -T "$SECONDS_STORM" -f "$TMP/analyze.sql" "$DB" > "$TMP/analyze.out" 2>&1 &
analyzer=$!
"$PG_BIN/pgbench" -n -c 1 -T "$SECONDS_STORM" -f "$TMP/reset.sql" "$DB" > "$TMP/reset.out" 2>&1 &
resetter=$!
"$PG_BIN/pgbench" -n -c 2 -j 2 -T "$SECONDS_STORM" -f "$TMP/deploy.sql" "$DB" > "$TMP/deploy.out" 2>&1 || { cat "$TMP/deploy.out"; fail "deployers failed"; }
wait $predictors || { cat "$TMP/predict.out"; fail "a prediction failed or came from an uncommitted model"; }
wait $analyzer || { cat "$TMP/analyze.out"; fail "ANALYZE failed"; }
wait $resetter || { cat "$TMP/reset.out"; fail "the invalidation flood failed"; }
processed() { awk -F': ' '/number of transactions actually processed/ {split($2, n, "/"); print n[1]}' "$1"; }
predictions=$(processed "$TMP/predict.out")
# the rollbacks of the predicting clients: their second script's transactions
predictor_rollbacks=$(awk '/^SQL script 2:/ {s = 1} s && /transactions \(/ {print $2; exit}' "$TMP/predict.out")
storm=$(processed "$TMP/deploy.out")
analyzed=$(processed "$TMP/analyze.out")
floods=$(processed "$TMP/reset.out")
[ "$(processed "$TMP/predict.out")" -gt 0 ] || fail "no predictions ran"
deployments=$(q -c "SELECT count(*) FROM pgml.deployments")
broken=$(q -c "SELECT count(*) FROM (SELECT model_id, replaced_model_id, lag(model_id) OVER (ORDER BY id) AS previous
                                     FROM pgml.deployments) h WHERE replaced_model_id IS DISTINCT FROM previous")
aborted=$(q -c "SELECT count(*) FROM pgml.deployments WHERE model_id = 3")
same=$(q -c "SELECT count(*) FROM pgml.deployments WHERE strategy = 'rollback' AND model_id = replaced_model_id")
[ "$broken" = 0 ] || fail "$broken deployment row(s) do not replace the previous row's model"
[ "$aborted" = 0 ] || fail "an aborted deploy left $aborted row(s)"
[ "$same" = 0 ] || fail "$same rollback(s) redeployed the model they replaced"
# pgbench counts the scripts it finished: when -T runs out inside one, its rollback may have
# committed uncounted (at most one per rolling-back client, of which there are 4)
expected=$((storm + predictor_rollbacks + 5))
[ "$deployments" -ge $expected ] && [ "$deployments" -le $((expected + 4)) ] \
  || fail "expected $expected deployments (up to 4 more from scripts cut by the timer), found $deployments"
echo "   ok: $predictions predictions, 0 errors, all from committed models; $((storm + predictor_rollbacks)) rollbacks, $storm aborted deploys, $analyzed ANALYZEs, $floods invalidation floods; history chained in order"
echo "test-concurrency: 2 passed, 0 failed"
