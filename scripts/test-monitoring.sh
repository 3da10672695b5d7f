#!/usr/bin/env bash
# The prediction log under load never slows or breaks a prediction, and counts what it drops.
# In a throwaway cluster (port 5497) whose log buffer is tiny (pgml.log_buffer = 64 kB):
#   1. pgbench predictions fill the buffer faster than its writer empties it: no prediction
#      fails, and every prediction is either written or counted as dropped, exactly (pgbench's
#      own count of transactions = written + dropped; the log holds the written ones;
#      pgml.log_drops holds the dropped ones);
#   2. the same with the writer held back (pgml.log_flush_interval = 60 s): predictions go on,
#      and once the writer runs again the accounting is exact again;
#   3. an alert opens with a NOTIFY on pgml_alerts carrying its JSON, received by a listener.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PORT=5497 DB=pgml_monitoring
TMP=$(mktemp -d)
chmod 0755 "$TMP"
trap '[ -n "${KEEP:-}" ] || cluster_remove monitoring; rm -rf "$TMP"' EXIT
fail() { echo "test-monitoring: FAILED: $*"; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -p $PORT -d $DB "$@"; }

cluster_create monitoring $PORT $DB
echo "pgml.log_buffer = 64" | "${RUNAS[@]}" tee -a "$CLUSTERS/monitoring/data/postgresql.conf" >/dev/null
"${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$CLUSTERS/monitoring/data" -w -l "$CLUSTERS/monitoring/postgres.log" restart >/dev/null
psql -X -q -p $PORT -d postgres -c "CREATE DATABASE $DB"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pgml;
SELECT pgml.load_dataset('iris');
SELECT pgml.train('Iris', 'classification', 'pgml.iris', 'target');
SQL
[ "$(q -c "SHOW pgml.log_buffer")" = 64kB ] || fail "the log buffer is $(q -c "SHOW pgml.log_buffer"), not 64kB"
echo "SELECT pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]);" >"$TMP/predict.sql"

# load NAME: 5 s of pgbench; checks no transaction failed and that every prediction is written or
# counted as dropped once the writer has caught up
load() {
  local name=$1 before after n failed written dropped rows drops
  before=$(q -F ' ' -c "SELECT appended + dropped_full, written, dropped_full FROM pgml.monitoring_status()")
  "$PG_BIN/pgbench" -n -M prepared -c 2 -j 2 -T 5 -p $PORT -f "$TMP/predict.sql" $DB >"$TMP/pgbench.out" 2>&1 \
    || { cat "$TMP/pgbench.out"; fail "$name: pgbench failed"; }
  n=$(awk '/number of transactions actually processed/ {print $6}' "$TMP/pgbench.out" | cut -d/ -f1)
  failed=$(awk '/number of failed transactions/ {print $5}' "$TMP/pgbench.out")
  [ "${failed:-0}" = 0 ] || fail "$name: $failed predictions failed"
  tps=$(awk '/^tps/ {print int($3)}' "$TMP/pgbench.out")
  q -c "SELECT pgml.flush_prediction_log(30)" >/dev/null
  after=$(q -F ' ' -c "SELECT appended + dropped_full, written, dropped_full FROM pgml.monitoring_status()")
  read -r b_seen b_written b_dropped <<<"$before"
  read -r a_seen a_written a_dropped <<<"$after"
  written=$((a_written - b_written)) dropped=$((a_dropped - b_dropped))
  [ $((a_seen - b_seen)) = "$n" ] || fail "$name: pgbench made $n predictions, the log saw $((a_seen - b_seen))"
  [ $((written + dropped)) = "$n" ] || fail "$name: $n predictions, $written written + $dropped dropped"
  [ "$dropped" -gt 0 ] || fail "$name: nothing was dropped: the buffer never filled (the test proves nothing)"
  rows=$(q -c "SELECT count(*) FROM pgml.prediction_log")
  drops=$(q -c "SELECT COALESCE(sum(dropped), 0) FROM pgml.log_drops")
  [ "$rows" = "$a_written" ] || fail "$name: the log holds $rows rows, $a_written were counted written"
  [ "$drops" = "$a_dropped" ] || fail "$name: pgml.log_drops counts $drops, $a_dropped were dropped"
  echo "   ok: $name: $n predictions ($tps TPS), none failed: $written written + $dropped dropped, as the log and pgml.log_drops say"
}

echo "== 1. a buffer filled faster than its writer empties it"
load "buffer full"

echo "== 2. the writer held back (flush interval 60 s)"
q -c "ALTER SYSTEM SET pgml.log_flush_interval = 60000" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
(sleep 6.5; q -c "ALTER SYSTEM RESET pgml.log_flush_interval" -c "SELECT pg_reload_conf()" >/dev/null) &
load "writer held back"
wait

echo "== 3. an alert is a NOTIFY on pgml_alerts with its JSON"
q >/dev/null <<'SQL'
SELECT pgml.set_monitoring('Iris', scan_after => 1000);
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'n' || n))
FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', (target::int + 1) % 3, key => 'n' || n)) FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.add_alert_rule('Iris', 'accuracy drop', 'accuracy', below => 0.5, time_window => '1 hour', min_count => 100);
SQL
psql -X -q -p $PORT -d $DB -c "LISTEN pgml_alerts" -c "SELECT pg_sleep(5)" -c "SELECT 1" >"$TMP/listener.out" 2>&1 &
listener=$!
sleep 2.5
state=$(q -c "SELECT state FROM pgml.evaluate_alerts('Iris')")
[ "$state" = opened ] || fail "the alert did not open: $state"
wait $listener
payload=$(sed -n 's/^Asynchronous notification "pgml_alerts" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$TMP/listener.out")
[ -n "$payload" ] || { cat "$TMP/listener.out"; fail "the listener received no notification"; }
check=$(q -c "SELECT (p->>'project') || ' ' || (p->>'rule') || ' ' || (p->>'metric') || ' ' || (p->>'comparison') || ' ' || (p->>'count')::float8
              || ' ' || ((p->>'alert_id')::int = (SELECT max(id) FROM pgml.alerts))
              FROM (SELECT '$payload'::jsonb AS p) x")
[ "$check" = "Iris accuracy drop accuracy below 150 true" ] || fail "the notification's payload: $payload"
echo "   ok: the listener received the alert: $payload"
echo "test-monitoring: ok"
