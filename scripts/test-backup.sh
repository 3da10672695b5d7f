#!/usr/bin/env bash
# Backups keep the registry. A database holding several projects with every storage kind of
# model (JSON-stored linear models, XGBoost, LightGBM, a forest in several 1 MB parts, a joint
# model, a preprocessed one), stages, deployments and a rollback, approved and pending
# promotions, archived and deleted models, drift thresholds, a pg_cron schedule and its run,
# logged predictions with their outcomes, live statistics and an alert, and a pgml-serve token
# is dumped and restored three ways:
#   1. pg_dump -Fc, then pg_restore into a new database of another cluster;
#   2. pg_dump (plain SQL), then psql, likewise;
#   3. pg_dumpall, then psql into a new cluster.
# Each restore must hold the same registry (every row of every registry table and every
# sequence's position, as checksums) and give the same predictions from every model, row for
# row; it adds no audit event and no stage; the audit log still refuses UPDATE, DELETE and
# TRUNCATE; and a new training gets a fresh id. Runs in throwaway clusters (ports 5491-5493).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DB=pgml_backup # pg_cron's database in every cluster here
SRC=5491 DST=5492 ALL=5493
TMP=$(mktemp -d)
chmod 0755 "$TMP"
cleanup() { for c in backup-src backup-dst backup-all; do cluster_remove $c; done; rm -rf "$TMP"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() { echo "test-backup: FAILED: $*"; exit 1; }
q() { local port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -p "$port" -d "$DB" "$@"; }

echo "== a registry of every kind (cluster on port $SRC)"
cluster_create backup-src $SRC $DB
psql -X -q -p $SRC -d postgres -c "CREATE DATABASE $DB"
q $SRC >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION pgml;
CREATE ROLE backup_alice LOGIN IN ROLE pgml_deployer, pgml_trainer;
CREATE ROLE backup_bob LOGIN IN ROLE pgml_approver;
SELECT pgml.load_dataset('iris');
SELECT pgml.load_dataset('diabetes');
SELECT pgml.load_dataset('linnerud');
-- Iris: linear (JSON), XGBoost, LightGBM, a small forest
SELECT pgml.train('Iris', 'classification', 'pgml.iris', 'target');
SELECT pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('Iris', algorithm => 'lightgbm', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('Iris', algorithm => 'linear', hyperparams => '{"C": 0.5}', automatic_deploy => false);
-- Diabetes: least squares, and a forest stored in several 1 MB parts
SELECT pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target');
SELECT pgml.train('Diabetes', algorithm => 'random_forest', hyperparams => '{"n_estimators": 600}', automatic_deploy => false);
SELECT pgml.train('Diabetes', algorithm => 'ridge', automatic_deploy => false);
-- a joint model
CREATE VIEW exercise AS SELECT chins, situps, jumps, weight, waist, pulse FROM pgml.linnerud;
SELECT pgml.train_joint('Exercise', 'regression', 'exercise', ARRAY['weight', 'waist', 'pulse']);
-- preprocessing: text levels, imputed NULLs, scaling
CREATE TABLE houses AS
SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE (50 + i * 37 % 150)::real END AS area,
       CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 5 END AS rooms,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (ARRAY['east', 'north', 'south'])[1 + i % 3] END AS city,
       ((50 + i * 37 % 150) * 3 + (1 + i % 5) * 10 + (i % 3) * 25 + i * 13 % 7)::real AS price
FROM generate_series(1, 300) i;
GRANT SELECT ON houses TO pgml_predictor;
SELECT pgml.train('Houses', 'regression', 'houses', 'price', preprocess => '{
    "area": {"impute": "mean", "scale": "standard"},
    "rooms": {"impute": "median", "scale": "min_max"},
    "city": {"impute": "mode", "encode": "one_hot"}}');
-- the lifecycle: a stage, deploys and a rollback, a policy, approved and pending promotions,
-- an archived and a deleted model, drift thresholds
SELECT pgml.add_stage('Iris', 'qa');
SELECT pgml.deploy(2, stage => 'staging');
SELECT pgml.deploy(3, stage => 'qa');
SELECT pgml.deploy('Iris', 'most_recent');
SELECT pgml.deploy('Iris', 'rollback');
SELECT pgml.set_promotion_policy('Iris', approvals => 1);
SET ROLE backup_alice;
SELECT pgml.promote('Iris');
SELECT pgml.promote('Iris', 4);
SET ROLE backup_bob;
SELECT pgml.approve(1, 'holdout metrics checked');
RESET ROLE;
SELECT pgml.archive_model(5);
SELECT pgml.delete_model(8);
SELECT pgml.set_drift_thresholds('Iris', '{"psi": 0.3}');
-- a schedule (a pg_cron job) and one recorded run of it, as pg_cron would run it
SELECT pgml.schedule_training('Iris', '0 3 * * *', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}');
SELECT pgml._pgml_run_schedule(id) FROM pgml.schedules;
-- monitoring (0.6.0): logged predictions (the log's day partitions), outcomes, live statistics,
-- an alert rule and the alert it opened; then logging off, so the checks' own predictions add
-- nothing to what is compared
SELECT pgml.set_monitoring('Iris', scan_after => 1000);
SELECT count(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'k' || n))
FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('Iris', target, key => 'k' || n)) FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.add_alert_rule('Iris', 'accuracy up', 'accuracy', above => 0.1, time_window => '1 day', min_count => 10);
SELECT pg_sleep(2.2);
SELECT count(*) FROM pgml.evaluate_alerts();
SELECT pgml.set_monitoring(name, enabled => false) FROM pgml.projects;
-- rollouts (0.7.0): one stopped, one running (with its pg_cron job)
SELECT pgml.start_rollout('Diabetes', 7, mode => 'canary', percent => 30);
SELECT pgml.stop_rollout('Diabetes');
SELECT pgml.start_rollout('Diabetes', 7, mode => 'shadow', policy => '{"loss": "absolute"}');
-- models in and out, and explanations (0.8.0): an imported XGBoost file scored on a holdout
-- (its origin and global explanation in pgml.models), an imported bundle
SELECT pgml.import('Imported', NULL, pgml.export(m.id, 'xgboost'), relation_name => 'pgml.iris', y_column_name => 'target')
FROM pgml.models m WHERE m.id = 2;
SELECT pgml.import('Imported', NULL, pgml.export(1), automatic_deploy => false);
SQL
cargo build -q -p pgml-serve --profile test
"$ROOT/target/debug/pgml-serve" token create --database-url "postgresql://postgres@127.0.0.1:$SRC/$DB" \
  --name backup --role backup_alice >/dev/null

parts=$(q $SRC -c "SELECT count(*) FROM pgml.files WHERE model_id = 7")
[ "$parts" -ge 3 ] || fail "the diabetes forest was to be stored in several 1 MB parts, it has $parts"
monitored=$(q $SRC -c "SELECT (SELECT count(*) FROM pgml.prediction_log) || ' logged, ' || (SELECT count(*) FROM pgml.outcomes)
  || ' outcomes, ' || (SELECT count(*) FROM pgml.live_stats) || ' live buckets, ' || (SELECT count(*) FROM pgml.alerts) || ' alert'")
[ "$monitored" = "150 logged, 150 outcomes, 1 live buckets, 1 alert" ] || [[ "$monitored" == "150 logged, 150 outcomes, 2 live buckets, 1 alert" ]] ||
  fail "the monitoring data to back up is not as set up: $monitored"
rollouts=$(q $SRC -c "SELECT string_agg(state, ' ' ORDER BY id) FROM pgml.rollouts")
[ "$rollouts" = "stopped running" ] || fail "the rollouts to back up are not as set up: $rollouts"
missing=$(q $SRC -c "SELECT string_agg(c.oid::regclass::text, ', ')
  FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgml'
  WHERE d.deptype = 'e' AND c.relkind IN ('r', 'S') AND c.oid <> ALL (e.extconfig)")
[ -z "$missing" ] || fail "registry tables or sequences not registered with pg_extension_config_dump: $missing"
echo "   $(q $SRC -c "SELECT count(*) FROM pgml.projects") projects, $(q $SRC -c "SELECT count(*) FROM pgml.models") models" \
  "($parts parts of the forest), $(q $SRC -c "SELECT count(*) FROM pgml.deployments") deployments," \
  "$(q $SRC -c "SELECT count(*) FROM pgml.audit_log") audit events; every table and sequence registered for pg_dump"

# What must survive: every row of every registry table (and pgml-serve's tokens), every
# sequence's position, and every model's predictions on its data.
snapshot() {
  local port=$1
  q "$port" -f "$ROOT/scripts/sql/registry_checksums.sql"
  q "$port" <<'SQL'
SELECT 'Iris model ' || m.id, md5(string_agg(pgml.predict(m.id, ARRAY[sepal_length, sepal_width, petal_length, petal_width])::text,
       ',' ORDER BY i.sepal_length, i.sepal_width, i.petal_length, i.petal_width, i.target))
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, pgml.iris i WHERE p.name = 'Iris'
GROUP BY m.id ORDER BY m.id;
SELECT 'Iris probabilities', md5(string_agg(pgml.predict_proba('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])::text,
       ',' ORDER BY sepal_length, sepal_width, petal_length, petal_width, target)) FROM pgml.iris;
SELECT 'Iris ' || s, md5(string_agg(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width], stage => s)::text,
       ',' ORDER BY sepal_length, sepal_width, petal_length, petal_width, target))
FROM pgml.iris, unnest(ARRAY['production', 'staging', 'qa']) s GROUP BY s ORDER BY s;
SELECT 'Diabetes model ' || m.id, md5(string_agg(pgml.predict(m.id, ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])::text,
       ',' ORDER BY d.age, d.sex, d.bmi, d.bp, d.s1, d.target))
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, pgml.diabetes d WHERE p.name = 'Diabetes'
GROUP BY m.id ORDER BY m.id;
SELECT 'Exercise', md5(string_agg(pgml.predict_joint('Exercise', ARRAY[chins, situps, jumps])::text,
       ',' ORDER BY chins, situps, jumps, weight)) FROM pgml.linnerud;
SELECT 'Houses', md5(string_agg(pgml.predict('Houses', h)::text, ',' ORDER BY h::text)) FROM houses h;
SELECT 'Imported model ' || m.id, md5(string_agg(pgml.predict(m.id, ARRAY[sepal_length, sepal_width, petal_length, petal_width])::text,
       ',' ORDER BY i.sepal_length, i.sepal_width, i.petal_length, i.petal_width, i.target))
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id, pgml.iris i WHERE p.name = 'Imported'
GROUP BY m.id ORDER BY m.id;
SELECT 'Imported explained', md5(string_agg(feature || round(attribution::numeric, 6), ',' ORDER BY feature))
FROM pgml.explain('Imported', ARRAY[5.9, 3.0, 5.1, 1.8]);
SELECT 'cron job', count(*) FROM cron.job WHERE jobname = 'pgml training Iris';
SQL
}

# Checks a restored database against the source's snapshot, then that it goes on working.
verify() {
  local port=$1 how=$2
  snapshot "$port" >"$TMP/restored.txt"
  if ! diff -u "$TMP/source.txt" "$TMP/restored.txt" >"$TMP/diff.txt"; then
    cat "$TMP/diff.txt"; fail "$how: the restored registry differs from the source"
  fi
  echo "   ok: $how: the same registry ($(wc -l <"$TMP/source.txt") checksums: tables, sequences, predictions)"
  for statement in "DELETE FROM pgml.audit_log" "UPDATE pgml.audit_log SET role = 'nobody'" "TRUNCATE pgml.audit_log"; do
    out=$(psql -X -q -At -p "$port" -d $DB -c "$statement" 2>&1 || true)
    [[ "$out" == *"append-only"* ]] || fail "$how: the restored audit log accepted: $statement ($out)"
  done
  local last new
  last=$(q "$port" -c "SELECT last_value FROM pgml.models_id_seq")
  new=$(q "$port" -c "SET client_min_messages = warning" \
    -c "SELECT pgml.train('Iris', algorithm => 'linear', hyperparams => '{\"C\": 2}', automatic_deploy => false)" \
    -c "SELECT pgml.deploy('Iris', 'most_recent', stage => 'qa')" -c "SELECT max(id) FROM pgml.models" | tail -1)
  [ "$new" = $((last + 1)) ] || fail "$how: a new training got id $new, the restored sequence was at $last"
  echo "   ok: $how: audit log still append-only; a new training got id $new and deployed"
}

snapshot $SRC >"$TMP/source.txt"
"$PG_BIN/pg_dump" -p $SRC -Fc -d $DB -f "$TMP/registry.dump"
"$PG_BIN/pg_dump" -p $SRC -Fp -d $DB -f "$TMP/registry.sql"
"$PG_BIN/pg_dumpall" -p $SRC -f "$TMP/cluster.sql"

echo "== 1. pg_dump -Fc | pg_restore into another cluster (port $DST)"
cluster_create backup-dst $DST $DB
# the roles first, as for any single-database restore
"$PG_BIN/pg_dumpall" -p $SRC --roles-only | psql -X -q -p $DST -d postgres >/dev/null 2>&1
psql -X -q -p $DST -d postgres -c "CREATE DATABASE $DB"
"$PG_BIN/pg_restore" -p $DST -d $DB --exit-on-error "$TMP/registry.dump"
verify $DST "pg_dump -Fc / pg_restore"

echo "== 2. pg_dump (plain) | psql"
psql -X -q -p $DST -d postgres -c "DROP DATABASE $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -p $DST -d $DB -v ON_ERROR_STOP=1 -f "$TMP/registry.sql" >/dev/null
verify $DST "pg_dump plain / psql"

echo "== 3. pg_dumpall | psql into a new cluster (port $ALL)"
cluster_create backup-all $ALL $DB
# the only error a restore of pg_dumpall into a new cluster gives: its own superuser exists
psql -X -q -p $ALL -d postgres -f "$TMP/cluster.sql" >/dev/null 2>"$TMP/all.err" || true
errors=$(grep -v 'role "postgres" already exists' "$TMP/all.err" | grep -c ERROR || true)
[ "$errors" = 0 ] || { cat "$TMP/all.err"; fail "pg_dumpall's script failed"; }
verify $ALL "pg_dumpall / psql"
echo "test-backup: ok"
