#!/usr/bin/env bash
# Starts the project-local cluster (data in .pgdata, port 5499, pg_cron preloaded), creates
# the database with the extension, and prints its connection URI as the last line.
# Idempotent. `db.sh stop` stops the cluster (and the pgml-serve `make demo` left running).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = "stop" ]; then
  # the pgml-serve `make demo` leaves running for its dashboard
  if [ -f "$ROOT/.build/demo-serve.pid" ]; then
    kill "$(cat "$ROOT/.build/demo-serve.pid")" 2>/dev/null && echo "db: stopped the demo's pgml-serve"
    rm -f "$ROOT/.build/demo-serve.pid"
  fi
  if [ -f "$PGDATA/postmaster.pid" ]; then
    "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
    echo "db: stopped the cluster in $PGDATA"
  fi
  exit 0
fi

mkdir -p "$PGLOG"
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDATA" "$PGLOG"
  init_cluster "$PGDATA" "$PGPORT" "$DBNAME"
fi
# A cluster made before 0.6.0 preloads pg_cron only: the prediction log needs pgml preloaded too.
if ! grep -q "^shared_preload_libraries = 'pg_cron,pgml'" "$PGDATA/postgresql.conf"; then
  printf "# pgml: the prediction log's shared memory and writers (docs/monitoring.md)\nshared_preload_libraries = 'pg_cron,pgml'\n" |
    "${RUNAS[@]}" tee -a "$PGDATA/postgresql.conf" >/dev/null
  if "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "db: restarting the cluster to preload pgml (the prediction log)" >&2
    "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -m fast restart -l "$PGLOG/postgres.log" >/dev/null
  fi
fi
if ! "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -l "$PGLOG/postgres.log" start >/dev/null
fi
if [ "$(psql -X -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]; then
  psql -X -q -d postgres -c "CREATE DATABASE $DBNAME"
fi
# The extension is created once, then only ever updated: ALTER EXTENSION pgml UPDATE runs the
# hand-written upgrade scripts (extension/sql/upgrades) from the installed version to this
# build's, keeping the registry. A database is never dropped here.
installed=$(psql -X -At -d "$DBNAME" -c "SELECT extversion FROM pg_extension WHERE extname = 'pgml'")
available=$(psql -X -At -d "$DBNAME" -c "SELECT default_version FROM pg_available_extensions WHERE name = 'pgml'")
if [ -z "$installed" ]; then
  psql -X -q -v ON_ERROR_STOP=1 -d "$DBNAME" -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION IF NOT EXISTS pg_cron" -c "CREATE EXTENSION pgml"
elif [ "$installed" != "$available" ]; then
  echo "db: updating pgml $installed to $available in database $DBNAME (ALTER EXTENSION pgml UPDATE)" >&2
  psql -X -q -v ON_ERROR_STOP=1 -d "$DBNAME" -c "ALTER EXTENSION pgml UPDATE"
fi
uri "$DBNAME"
