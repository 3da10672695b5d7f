#!/usr/bin/env bash
# Starts the project-local cluster (data in .pgdata, port 5499, pg_cron preloaded), creates
# the database with the extension, and prints its connection URI as the last line.
# Idempotent. `db.sh stop` stops the cluster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = "stop" ]; then
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
  "${RUNAS[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust --locale=C.UTF-8 -E UTF8 >/dev/null
  cat >> "$PGDATA/postgresql.conf" <<CONF
# pgml-rs project cluster
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'pg_cron'
cron.database_name = '$DBNAME'
# jobs run in background workers: no connection, so no password or socket to configure
cron.use_background_workers = on
max_worker_processes = 16
CONF
fi
if ! "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -l "$PGLOG/postgres.log" start >/dev/null
fi
if [ "$(psql -X -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]; then
  psql -X -q -d postgres -c "CREATE DATABASE $DBNAME"
fi
# Until versions are released with upgrade scripts, a build with a changed schema keeps its
# version number: the extension's comment records the install script that created it, and an
# extension created by another script is recreated when its registry is empty (never
# otherwise).
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
built="pgml-rs build $(md5sum "$($PG_CONFIG --sharedir)/extension/pgml--$version.sql" | cut -d' ' -f1)"
recorded=$(psql -X -At -d "$DBNAME" -c "SELECT coalesce(obj_description(oid, 'pg_extension'), 'none')
                                       FROM pg_extension WHERE extname = 'pgml'")
create=(-c "CREATE EXTENSION IF NOT EXISTS pg_cron" -c "CREATE EXTENSION pgml" -c "COMMENT ON EXTENSION pgml IS '$built'")
if [ -z "$recorded" ]; then
  psql -X -q -v ON_ERROR_STOP=1 -d "$DBNAME" -c "SET client_min_messages = warning" "${create[@]}"
elif [ "$recorded" != "$built" ]; then
  if [ "$(psql -X -At -d "$DBNAME" -c "SELECT count(*) FROM pgml.models")" = 0 ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d "$DBNAME" -c "SET client_min_messages = warning" \
      -c "DROP EXTENSION pgml CASCADE" "${create[@]}"
  else
    echo "db: database $DBNAME holds models under another build of the pgml schema; keeping it." >&2
    echo "db: to start afresh: psql -d postgres -c 'DROP DATABASE $DBNAME WITH (FORCE)', then make db" >&2
  fi
fi
uri "$DBNAME"
