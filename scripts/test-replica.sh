#!/usr/bin/env bash
# Hot-standby replicas serve predictions. A throwaway primary (port 5494) and its streaming
# standby (5495, made by pg_basebackup -R):
#   1. the primary gets the registry of include/read_setup.sql; every read path of
#      include/read_paths.sql answers on the standby exactly as on the primary, in a plain
#      session, a READ ONLY transaction and parallel workers;
#   2. a standby session that serves one model serves a newly deployed one from its first
#      statement after the deploy is replayed (and the deploy's delay until then is printed);
#   3. every write on the standby is refused with SQLSTATE 25006 and a hint, never XX000; its
#      predictions are logged, forwarded to the primary's log (or counted as dropped when
#      pgml.log_primary_conninfo is off);
#   4. pgml-serve with the standby as its replica: it loads models from the standby, deploys
#      go to the primary, and it follows a deploy once the standby has replayed it (not
#      before: replay is paused meanwhile); strict predictions are answered by the standby;
#      with the standby down, the model in memory and the primary answer;
#   5. a keyed canary on the primary: 100,000 keys predicted in SQL on the primary, in SQL on
#      the standby and through pgml-serve each go to one model, the candidate's share within
#      0.5 points of its 10 %.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PRIMARY=5494 STANDBY=5495 DB=pgml_replica HTTP=${PGML_REPLICA_TEST_PORT:-18081}
INCLUDE=$ROOT/extension/tests/pg_regress/sql/include
TMP=$(mktemp -d)
chmod 0755 "$TMP"
cleanup() {
  [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null
  cluster_remove replica-standby; cluster_remove replica-primary; rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "test-replica: FAILED: $*"; exit 1; }
q() { local port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -p "$port" -d "$DB" "$@"; }

cluster_create replica-primary $PRIMARY $DB
psql -X -q -p $PRIMARY -d postgres -c "CREATE DATABASE $DB"
q $PRIMARY -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION pgml" >/dev/null
(cd "$INCLUDE" && q $PRIMARY -c "SET client_min_messages = warning" -f read_setup.sql >/dev/null)
cluster_standby replica-standby $STANDBY $PRIMARY
replayed $PRIMARY $STANDBY $DB
[ "$(q $STANDBY -c "SELECT pg_is_in_recovery()")" = t ] || fail "the standby is not in recovery"
echo "== a primary (port $PRIMARY) and its streaming hot standby (port $STANDBY)"

echo "== 1. every read path answers on the standby as on the primary"
read_paths() { (cd "$INCLUDE" && PGOPTIONS="${2:-}" psql -X -v ON_ERROR_STOP=1 -p "$1" -d $DB -f read_paths.sql 2>&1); }
read_paths $PRIMARY >"$TMP/primary.out" || { cat "$TMP/primary.out"; fail "read paths on the primary"; }
for mode in "" "-c default_transaction_read_only=on" "-c force_parallel_mode=on"; do
  read_paths $STANDBY "$mode" >"$TMP/standby.out" || true
  diff -u "$TMP/primary.out" "$TMP/standby.out" || fail "the standby answers differently (${mode:-plain session})"
  echo "   ok: $(grep -c '|' "$TMP/primary.out") result lines equal (${mode:-plain session})"
done

echo "== 2. a standby session serves a deploy from its first statement after the replay"
probe="ARRAY[5.9, 3.0, 5.1, 1.8]::real[]"
a1=$(q $PRIMARY -c "SELECT pgml.predict_proba(1, $probe)"); a2=$(q $PRIMARY -c "SELECT pgml.predict_proba(2, $probe)")
[ "$a1" != "$a2" ] || fail "models 1 and 2 must answer differently"
mkfifo "$TMP/s.in" "$TMP/s.out"
psql -X -q -At -p $STANDBY -d $DB <"$TMP/s.in" >"$TMP/s.out" 2>&1 &
exec 3>"$TMP/s.in" 4<"$TMP/s.out"
# (staging, which needs no approval: read_setup.sql's production does)
ask() { echo "SELECT pgml.predict_proba('Iris', $probe, stage => 'staging');" >&3; read -r got <&4; echo "$got"; }
[ "$(ask)" = "$a2" ] || fail "the standby session does not serve model 2"
for round in 1 2 3; do
  for target in 1 2; do
    want=$a1; [ $target = 2 ] && want=$a2
    q $PRIMARY -c "SELECT pgml.deploy($target, stage => 'staging')" >/dev/null
    replayed $PRIMARY $STANDBY $DB
    [ "$(ask)" = "$want" ] || fail "round $round: the first statement after the replay did not serve model $target"
  done
done
echo "   ok: 6 deploys on the primary, each served by the open standby session's first statement after its replay"
# how fresh a standby is: from a deploy's commit to the standby session serving it
q $PRIMARY -c "SELECT pgml.deploy(1, stage => 'staging')" >/dev/null
start=$(date +%s%N) statements=0
while [ "$(ask)" != "$a1" ]; do statements=$((statements + 1)); [ $statements -lt 100000 ] || fail "never served"; done
echo "   deploy commit -> served on the standby: $(( ($(date +%s%N) - start) / 1000 )) us, after $statements earlier statement(s)"
echo '\q' >&3
exec 3>&- 4<&-

echo "== 3. writes on the standby: SQLSTATE 25006 with a hint"
writes=(
  "SELECT pgml.train('Iris', algorithm => 'linear')"
  "SELECT pgml.train('New', 'regression', 'pgml.iris', 'target')"
  "SELECT pgml.train_joint('Exercise')"
  "SELECT pgml.deploy('Iris', 'most_recent')"
  "SELECT pgml.deploy(2)"
  "SELECT pgml.deploy('Iris', 2, stage => 'staging')"
  "SELECT pgml.promote('Iris')"
  "SELECT pgml.approve(1)"
  "SELECT pgml.reject(1)"
  "SELECT pgml.archive_model(3)"
  "SELECT pgml.delete_model(3)"
  "SELECT pgml.add_stage('Iris', 'qa')"
  "SELECT pgml.set_monitoring('Iris', sample => 0.5)"
  "SELECT pgml.record_outcome('Iris', 1, key => 'k')"
  "SELECT pgml.add_alert_rule('Iris', 'r', 'accuracy', below => 0.5)"
  "SELECT pgml.evaluate_alerts()"
  "SELECT pgml.batch_score('Iris', 'pgml.iris', 'target', 'scores')"
  "SELECT pgml.set_promotion_policy('Iris', approvals => 0)"
  "SELECT pgml.set_drift_thresholds('Iris', '{}')"
  "SELECT pgml.load_dataset('wine')"
  "SELECT pgml.schedule_training('Iris', '0 3 * * *')"
  "SELECT pgml.import('Copy', NULL, pgml.export(2))"
  "SELECT pgml.unschedule_training('Iris')"
)
for w in "${writes[@]}"; do
  out=$(psql -X -q -p $STANDBY -d $DB -v VERBOSITY=verbose -c "$w" 2>&1 || true)
  [[ "$out" == *"ERROR:  25006: cannot write the pgml registry on a hot standby"* && "$out" == *"HINT:  "* ]] \
    || fail "on the standby, $w answered: $out"
done
echo "   ok: ${#writes[@]} write calls refused with 25006 and a hint"

echo "== 3b. the prediction log: a standby forwards its predictions to the primary's log (or, forwarding off, counts them as dropped); its read paths answer"
# on the primary: logged predictions with outcomes, folded into the live metrics
q $PRIMARY >/dev/null <<'SQL'
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'r' || n))
FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', target, key => 'r' || n)) FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pg_sleep(2.2);
SELECT count(*) FROM pgml.refresh_live_metrics();
SQL
replayed $PRIMARY $STANDBY $DB
live="SELECT stage, model_id, predictions, records, labelled, round(accuracy::numeric, 6) FROM pgml.live_metrics('Iris', time_window => '1 day', bucket => '1 day')"
[ "$(q $PRIMARY -c "$live")" = "$(q $STANDBY -c "$live")" ] && [ -n "$(q $STANDBY -c "$live")" ] \
  || fail "live metrics on the standby: $(q $STANDBY -c "$live"), on the primary: $(q $PRIMARY -c "$live")"
# forwarded (the standby's primary_conninfo, from pg_basebackup -R), from plain and READ ONLY
# transactions: every record the standby appended is a row of the primary's log, source standby
q $STANDBY -c "SELECT pgml.flush_prediction_log(30)" >/dev/null
w0=$(q $STANDBY -c "SELECT written FROM pgml.monitoring_status()")
for mode in "" "BEGIN READ ONLY;"; do
  q $STANDBY -c "$mode SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 's' || sepal_length)) FROM pgml.iris" >/dev/null
done
[ "$(q $STANDBY -c "SELECT pgml.flush_prediction_log(30)")" = t ] || fail "the standby's records were not forwarded within 30 s"
status=$(q $STANDBY -c "SELECT logging, reason IS NULL, appended = written, dropped_unwritten, dropped_standby FROM pgml.monitoring_status()")
[ "$status" = "t|t|t|0|0" ] || fail "monitoring on the standby: $status"
forwarded=$(q $STANDBY -c "SELECT written - $w0 FROM pgml.monitoring_status()")
stored=$(q $PRIMARY -c "SELECT count(*) FILTER (WHERE source = 'standby' AND key LIKE 's%' AND stage = 'production') FROM pgml.prediction_log")
[ "$forwarded" = "$stored" ] && [ "$forwarded" -ge 200 ] \
  || fail "the standby forwarded $forwarded records, the primary's log has $stored of source standby"
# a primary that cannot be reached: the batch is counted as not written, with one WARNING
q $STANDBY -c "ALTER SYSTEM SET pgml.log_primary_conninfo = 'host=127.0.0.1 port=1'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
before=$(q $STANDBY -c "SELECT appended || ' ' || dropped_unwritten FROM pgml.monitoring_status()")
q $STANDBY -c "SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) FROM pgml.iris" >/dev/null
[ "$(q $STANDBY -c "SELECT pgml.flush_prediction_log(30)")" = t ] || fail "the unreachable primary's batch was not settled within 30 s"
read -r a0 d0 <<<"$before"
lost=$(q $STANDBY -c "SELECT (appended - $a0) || ' ' || (dropped_unwritten - $d0) FROM pgml.monitoring_status()")
read -r appended unwritten <<<"$lost"
[ "$appended" -ge 100 ] && [ "$appended" = "$unwritten" ] || fail "with the primary unreachable: $appended appended, $unwritten counted as not written"
grep -q "logged predictions could not be written: cannot connect to the primary" "$CLUSTERS/replica-standby/postgres.log" \
  || fail "no WARNING in the standby's log for the records it could not forward"
# forwarding off: counted as dropped, and monitoring_status says why
q $STANDBY -c "ALTER SYSTEM SET pgml.log_primary_conninfo = 'off'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
before=$(q $STANDBY -c "SELECT dropped_standby FROM pgml.monitoring_status()")
q $STANDBY -c "SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) FROM pgml.iris" >/dev/null
status=$(q $STANDBY -c "SELECT logging, reason LIKE '%counted in dropped_standby', dropped_standby - $before, pgml.flush_prediction_log(0) FROM pgml.monitoring_status()")
[ "$status" = "f|t|150|f" ] || fail "monitoring on the standby, forwarding off: $status"
q $STANDBY -c "ALTER SYSTEM RESET pgml.log_primary_conninfo" -c "SELECT pg_reload_conf()" >/dev/null
echo "   ok: live metrics equal the primary's; $forwarded standby records forwarded, all in the primary's log (source standby); primary unreachable, $unwritten counted as not written, with a WARNING; forwarding off, 150 predictions counted as dropped"

echo "== 4. pgml-serve: predictions on the standby, the lifecycle on the primary"
cargo build -q -p pgml-serve --profile test
BIN=$ROOT/target/debug/pgml-serve
psql -X -q -p $PRIMARY -d postgres -c "CREATE ROLE replica_predictor IN ROLE pgml_predictor" \
  -c "CREATE ROLE replica_deployer IN ROLE pgml_deployer"
primary_url="postgresql://postgres@127.0.0.1:$PRIMARY/$DB?application_name=pgml-serve"
standby_url="postgresql://postgres@127.0.0.1:$STANDBY/$DB?application_name=pgml-serve"
predictor=$("$BIN" token create --database-url "$primary_url" --name predictor --role replica_predictor)
deployer=$("$BIN" token create --database-url "$primary_url" --name deployer --role replica_deployer)
replayed $PRIMARY $STANDBY $DB
"$BIN" --database-url "$primary_url" --replica-url "$standby_url" --listen "127.0.0.1:$HTTP" --log-format text \
  >"$TMP/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$HTTP/readyz" >/dev/null && break; sleep 0.2; done
predict() {
  curl -s -X POST "http://127.0.0.1:$HTTP/v1/projects/Iris/predict" -H "Authorization: Bearer $predictor" \
    -H 'Content-Type: application/json' -d "{\"features\": [5.9, 3.0, 5.1, 1.8], \"stage\": \"staging\"${1:-}}"
}
# what pgml-serve's connections to a server last ran
last_ran() { psql -X -At -p "$1" -d $DB -c "SELECT count(*) FROM pg_stat_activity
                                           WHERE application_name = 'pgml-serve' AND query LIKE '%$2%'"; }
out=$(predict)
[[ "$out" == *'"model_id":1'* ]] || fail "pgml-serve's predict answered $out"
[ "$(last_ran $STANDBY pgml.files)" -ge 1 ] && [ "$(last_ran $PRIMARY pgml.files)" = 0 ] \
  || fail "the model was not loaded from the standby"
echo "   ok: the model was loaded from the standby and answered in process"
q $STANDBY -c "SELECT pg_wal_replay_pause()" >/dev/null
out=$(curl -s -X POST "http://127.0.0.1:$HTTP/v1/projects/Iris/deploy" -H "Authorization: Bearer $deployer" \
  -H 'Content-Type: application/json' -d '{"model_id": 2, "stage": "staging"}')
[[ "$out" == *'"project":"Iris"'* ]] || fail "pgml-serve's deploy answered $out"
for _ in $(seq 1 10); do
  out=$(predict)
  [[ "$out" == *'"model_id":1'* ]] || fail "before the standby replayed the deploy, pgml-serve answered $out"
  sleep 0.1
done
echo "   ok: while the standby has not replayed the deploy, the model it serves answers"
start=$(date +%s%N)
q $STANDBY -c "SELECT pg_wal_replay_resume()" >/dev/null
while out=$(predict); [[ "$out" != *'"model_id":2'* ]]; do
  [ $(( $(date +%s%N) - start )) -lt 10000000000 ] || fail "the replayed deploy was never followed: $out"
  sleep 0.005
done
echo "   ok: replay resumed -> the deployed model answers in process after $(( ($(date +%s%N) - start) / 1000000 )) ms"
out=$(predict ', "strict": true')
[[ "$out" == *'"model_id":2'* ]] && [ "$(last_ran $STANDBY _pgml_serve_predict)" -ge 1 ] \
  && [ "$(last_ran $PRIMARY _pgml_serve_predict)" = 0 ] || fail "strict: $out, not from the standby"
echo "   ok: strict predictions are answered by the standby"

echo "== 5. a keyed canary: 100,000 keys, each to one model from SQL on the primary, SQL on the standby and pgml-serve"
q $PRIMARY >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT pgml.set_monitoring('Iris', scan_after => 10000000, features_sample => 0);
SELECT pgml.start_rollout('Iris', 1, mode => 'canary', percent => 10, stage => 'staging');
SQL
replayed $PRIMARY $STANDBY $DB
# SQL on each server, 10,000 keys per statement (the log's buffer holds them all), flushed after each
for port in $PRIMARY $STANDBY; do
  for chunk in $(seq 0 9); do
    q $port -c "SELECT count(pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[], 'staging', key => 'key' || g))
                FROM generate_series($chunk * 10000, $chunk * 10000 + 9999) g" -c "SELECT pgml.flush_prediction_log()" >/dev/null
  done
done
# pgml-serve follows the rollout as it follows a deploy (notified, once the standby replayed it)
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$HTTP/metrics" | grep -q 'pgml_serve_rollout_percent{project="Iris",stage="staging"' && break
  sleep 0.1
done
curl -s "http://127.0.0.1:$HTTP/metrics" | grep '^pgml_serve_rollout_percent' | sed 's/^/   /'
python3 - "$HTTP" "$predictor" >"$TMP/serve-arms.txt" <<'PY' || fail "pgml-serve's keyed batches: $(tail -3 "$TMP/serve-arms.txt")"
import json, sys, urllib.request
port, token = sys.argv[1], sys.argv[2]
counts = {}
for chunk in range(100):
    keys = [f"key{g}" for g in range(chunk * 1000, chunk * 1000 + 1000)]
    body = json.dumps({"features": [[5.9, 3.0, 5.1, 1.8]] * 1000, "keys": keys, "stage": "staging"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/projects/Iris/predict", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(req))
    ids = answer.get("model_ids") or [answer["model_id"]] * 1000
    for key, model in zip(keys, ids):
        print(key, model)
PY
q $PRIMARY -c "CREATE TABLE served_by_http (key text, model_id bigint)" -c "\copy served_by_http FROM '$TMP/serve-arms.txt' WITH (DELIMITER ' ')"
q $PRIMARY -c "SELECT pg_sleep(0.5)" -c "SELECT pgml.flush_prediction_log()" >/dev/null
read -r keys split sql_keys share <<<"$(q $PRIMARY -F ' ' -c "
  WITH arms AS (
    SELECT key, model_id, source FROM pgml.prediction_log WHERE key LIKE 'key%' AND source IN ('sql', 'standby')
    UNION ALL SELECT key, model_id, 'http' FROM served_by_http)
  SELECT count(*), count(*) FILTER (WHERE models > 1), count(*) FILTER (WHERE sources = 3),
         round(100.0 * avg((model = 1)::int), 2)
  FROM (SELECT key, count(DISTINCT model_id) AS models, count(DISTINCT source) AS sources, min(model_id) AS model
        FROM arms GROUP BY key) k")"
echo "   $keys keys: $split on two models; $sql_keys answered by all three (primary SQL, standby SQL, pgml-serve); $share % on the candidate"
[ "$keys" = 100000 ] && [ "$split" = 0 ] || fail "a key went to two models ($split of $keys)"
[ "$sql_keys" -ge 99000 ] || fail "only $sql_keys keys were logged by both servers and answered by pgml-serve"
python3 -c "import sys; sys.exit(0 if abs($share - 10) <= 0.5 else 1)" || fail "the canary's share is $share %, not within 0.5 points of 10"
echo "   ok: every key went to one model wherever it was predicted, and the candidate's share is within 0.5 points of 10 %"
q $PRIMARY -c "SELECT pgml.stop_rollout('Iris', 'staging')" >/dev/null

cluster_remove replica-standby
out=$(predict)
[[ "$out" == *'"model_id":2'* ]] || fail "with the standby down, predict answered $out"
out=$(predict ', "strict": true')
[[ "$out" == *'"model_id":2'* ]] && [ "$(last_ran $PRIMARY _pgml_serve_predict)" -ge 1 ] || fail "with the standby down, strict predict answered $out"
echo "   ok: with the standby down, the model in memory answers, and the primary answers strict predictions"
echo "test-replica: ok"
