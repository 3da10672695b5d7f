# Shared settings of the project's scripts (sourced, not run).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BIN/pg_config
PGDATA=${PGML_PGDATA:-$ROOT/.pgdata}
PGPORT=${PGML_PORT:-5499}
PGHOST=127.0.0.1
DBNAME=${PGML_DB:-pgml}
export PGHOST PGPORT PGUSER=postgres

# initdb refuses root: as root, PostgreSQL runs as the unprivileged `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
  RUNAS=(sudo -u postgres)
  SUDO=()
else
  RUNAS=()
  SUDO=(sudo)
fi

# The cluster's files live in the repository unless the postgres user cannot reach it (a
# clone under /root, say); then they go to /var/tmp, keyed by the repository path.
if [ "$(id -u)" -eq 0 ] && [ -z "${PGML_PGDATA:-}" ] && ! sudo -u postgres test -x "$ROOT"; then
  PGDATA=/var/tmp/pgml-rs-$(echo "$ROOT" | md5sum | cut -c1-8)/pgdata
fi
PGLOG=$(dirname "$PGDATA")/.pglog
[ "$PGDATA" = "$ROOT/.pgdata" ] && PGLOG=$ROOT/.pglog

uri() { echo "postgresql://postgres@$PGHOST:$PGPORT/$1"; }
