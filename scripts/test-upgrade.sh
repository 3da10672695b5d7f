#!/usr/bin/env bash
# Upgrades keep a team's work, and a released schema never changes.
#   1. For each earlier release (extension/sql/releases/pgml--<version>.sql): a database gets
#      that release, trains (linear, XGBoost, a forest), deploys, rolls back, promotes through an
#      approval and archives, writing audit rows; then ALTER EXTENSION pgml UPDATE. Every
#      registry row, every sequence and every model's predictions must be as before; the
#      schema must equal a fresh install's (pg_dump --schema-only of each, with the
#      extension's objects detached so that pg_dump writes them out, and the tables pg_dump
#      keeps); and the upgraded registry must go on working (one audit event per deploy).
#   2. This build's schema must equal the committed release script of its version: a schema
#      change needs a new version, an upgrade script and its release script (CONTRIBUTING.md).
# Runs in the project cluster, in databases pgml_upgrade_*.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SHAREDIR=$($PG_CONFIG --sharedir)/extension
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
TMP=$(mktemp -d)
chmod 0755 "$TMP"
trap 'rm -rf "$TMP"; "${SUDO[@]}" rm -f "$SHAREDIR/pgml--$VERSION-committed.sql"' EXIT
fail() { echo "test-upgrade: FAILED: $*"; exit 1; }
q() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fresh_db() { psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
  -c "CREATE DATABASE $1"; }

# The extension's schema as pg_dump writes it: in a copy of the database, every object of the
# extension is detached from it (pg_dump leaves an extension's own objects out) and the tables
# that are not the extension's (datasets, a test's views) are dropped; then the tables whose
# rows pg_dump keeps (pg_extension_config_dump), read before the detaching.
schema_of() {
  local db=$1 copy=${1}_schema
  psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $copy" \
    -c "CREATE DATABASE $copy TEMPLATE $db"
  q "$copy" <<'SQL'
SET client_min_messages = warning;
SELECT format('DROP %s %s CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, c.oid::regclass)
FROM pg_class c
WHERE c.relnamespace = 'pgml'::regnamespace AND c.relkind IN ('r', 'v')
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
\gexec
SELECT format('ALTER EXTENSION pgml DROP %s %s', o.type, o.identity)
FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) o
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgml')
ORDER BY o.type, o.identity \gexec
SQL
  q "$db" -c "SELECT 'kept by pg_dump: ' || string_agg(c::regclass::text, ', ' ORDER BY c::regclass::text)
              FROM pg_extension, unnest(extconfig) c WHERE extname = 'pgml'"
  # (without psql's \restrict lines, whose key is new in each dump)
  "$PG_BIN/pg_dump" --schema-only -n pgml -d "$copy" | grep -Ev '^\\(un)?restrict '
  psql -X -q -d postgres -c "DROP DATABASE $copy"
}

# Every row of the registry, every sequence, and every model's predictions on iris.
registry_of() {
  q "$1" -f "$ROOT/scripts/sql/registry_checksums.sql"
  q "$1" -c "SELECT 'model ' || m.id, md5(string_agg(pgml.predict(m.id, ARRAY[sepal_length, sepal_width, petal_length, petal_width])::text,
                     ',' ORDER BY i.sepal_length, i.sepal_width, i.petal_length, i.petal_width, i.target))
             FROM pgml.models m, pgml.iris i GROUP BY m.id ORDER BY m.id" \
         -c "SELECT 'production', pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]),
                    array_to_string(pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]), ' ')"
}

fresh_db pgml_upgrade_fresh
q pgml_upgrade_fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml"
schema_of pgml_upgrade_fresh >"$TMP/fresh.sql"

releases=$(cd "$ROOT/extension/sql/releases" && ls pgml--*.sql | sed 's/^pgml--\(.*\)\.sql$/\1/' | grep -vx "$VERSION" || true)
for old in $releases; do
  echo "== 1. release $old, with a registry, upgraded to $VERSION"
  db=pgml_upgrade_from_${old//./_}
  fresh_db "$db"
  psql -X -q -d postgres -c "DO \$\$ BEGIN CREATE ROLE upgrade_approver IN ROLE pgml_approver;
                                        EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
  q "$db" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pgml VERSION '$old';
SELECT pgml.load_dataset('iris');
SELECT pgml.train('Iris', 'classification', 'pgml.iris', 'target');
SELECT pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.train('Iris', algorithm => 'linear', hyperparams => '{"C": 0.5}', automatic_deploy => false);
SELECT pgml.deploy('Iris', 'most_recent');
SELECT pgml.deploy('Iris', 'rollback');
SELECT pgml.deploy(2, stage => 'staging');
SELECT pgml.set_promotion_policy('Iris', approvals => 1);
SELECT pgml.promote('Iris');
SET ROLE upgrade_approver;
SELECT pgml.approve(1, 'checked');
RESET ROLE;
SELECT pgml.archive_model(4);
-- the comparison's own predictions are not logged (from 0.6.0 on they would be, written by the
-- log's writer at its own pace: before or after the upgrade)
DO \$\$ BEGIN PERFORM pgml.set_monitoring('Iris', enabled => false);
EXCEPTION WHEN undefined_function THEN NULL; END \$\$;
SQL
  [ "$(q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'pgml'")" = "$old" ] || fail "release $old not installed"
  registry_of "$db" >"$TMP/before.txt"
  q "$db" -c "ALTER EXTENSION pgml UPDATE"
  [ "$(q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'pgml'")" = "$VERSION" ] || fail "not updated to $VERSION"
  # (a table or sequence the upgrade added is new and empty: left out of the comparison)
  registry_of "$db" | awk -F'|' 'NR == FNR { known[$1] = 1; next }
    ($1 in known) || !(($2 == 0 && $3 == "d41d8cd98f00b204e9800998ecf8427e") || ($1 ~ /_seq$/ && $2 == 1 && $3 == "f"))' \
    "$TMP/before.txt" - >"$TMP/after.txt"
  diff -u "$TMP/before.txt" "$TMP/after.txt" || fail "the upgrade from $old changed the registry or a prediction"
  echo "   ok: $(grep -c . "$TMP/before.txt") checksums (every registry table and sequence, every model's predictions) unchanged"
  schema_of "$db" >"$TMP/upgraded.sql"
  diff -u "$TMP/fresh.sql" "$TMP/upgraded.sql" || fail "the schema upgraded from $old differs from a fresh install of $VERSION"
  echo "   ok: the upgraded schema equals a fresh install's ($(grep -c '^CREATE' "$TMP/fresh.sql") CREATE statements in pg_dump --schema-only)"
  events=$(q "$db" -c "SELECT count(*) FROM pgml.audit_log")
  q "$db" -c "SET client_min_messages = warning" -c "SELECT pgml.deploy(3, stage => 'staging')" \
    -c "SELECT pgml.train('Iris', algorithm => 'linear', hyperparams => '{\"C\": 2}', automatic_deploy => false)" >/dev/null
  [ "$(q "$db" -c "SELECT count(*) FROM pgml.audit_log")" = $((events + 2)) ] \
    || fail "after the upgrade a deploy and a training did not add exactly one audit event each"
  echo "   ok: the upgraded registry trains and deploys, one audit event each"
  # a model trained before the upgrade moves out and back in (pgml.export / pgml.import, 0.8.0)
  copy=$(q "$db" -c "SET client_min_messages = warning" -c "SELECT pgml.import('Iris copy', NULL, pgml.export(2))")
  [ "$(q "$db" -c "SELECT count(*) FROM pgml.iris
        WHERE pgml.predict($copy, ARRAY[sepal_length, sepal_width, petal_length, petal_width]) <>
              pgml.predict(2, ARRAY[sepal_length, sepal_width, petal_length, petal_width])")" = 0 ] \
    || fail "a model trained before the upgrade, exported and imported, predicts otherwise"
  echo "   ok: a model trained by $old exports and imports with the same predictions"
done

echo "== 2. the schema of $VERSION equals its committed release script"
committed=$ROOT/extension/sql/releases/pgml--$VERSION.sql
[ -f "$committed" ] || fail "extension/sql/releases/pgml--$VERSION.sql is missing: copy $SHAREDIR/pgml--$VERSION.sql there when $VERSION is released"
"${SUDO[@]}" install -m 0644 "$committed" "$SHAREDIR/pgml--$VERSION-committed.sql"
fresh_db pgml_upgrade_committed
q pgml_upgrade_committed -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml VERSION '$VERSION-committed'"
schema_of pgml_upgrade_committed >"$TMP/committed.sql"
diff -u "$TMP/committed.sql" "$TMP/fresh.sql" || fail "this build's schema differs from the released $VERSION: a schema
  change needs a new version in Cargo.toml, extension/sql/upgrades/pgml--$VERSION--<new>.sql and the new release script
  (CONTRIBUTING.md, 'Changing the schema')"
echo "   ok: the same schema"
echo "test-upgrade: ok"
