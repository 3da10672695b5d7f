# Shared settings of the project's scripts (sourced, not run).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BIN/pg_config
PGDATA=${PGML_PGDATA:-$ROOT/.pgdata}
PGPORT=${PGML_PORT:-5499}
PGHOST=127.0.0.1
DBNAME=${PGML_DB:-pgml}
export PGHOST PGPORT PGUSER=postgres
# The link flag cargo-pgrx gives its release build of the extension (it keeps the section its
# schema generation reads). The scripts' other release builds (pgml-serve, the benchmarks'
# examples) take it too, so that cargo builds their dependencies once with the extension's:
# different flags rebuild everything, LightGBM's C++ included. Not for test builds: a test
# executable that links pgrx cannot keep its references to the server's symbols.
PGRX_LINK_CONFIG='target.'"'"'cfg(all(target_family = "unix", not(target_os = "macos")))'"'"'.rustflags = ["-C", "link-arg=-Wl,--no-gc-sections"]'

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
# (Before setup has installed sudo and PostgreSQL there is no cluster to place.)
if [ "$(id -u)" -eq 0 ] && [ -z "${PGML_PGDATA:-}" ] && command -v sudo >/dev/null && id postgres >/dev/null 2>&1 \
  && ! sudo -u postgres test -x "$ROOT"; then
  PGDATA=/var/tmp/pgml-rs-$(echo "$ROOT" | md5sum | cut -c1-8)/pgdata
fi
PGLOG=$(dirname "$PGDATA")/.pglog
[ "$PGDATA" = "$ROOT/.pgdata" ] && PGLOG=$ROOT/.pglog

uri() { echo "postgresql://postgres@$PGHOST:$PGPORT/$1"; }
# timed NAME COMMAND...: runs the command and prints how long it took (the set-up steps), unless
# it had nothing to do (under 2 s, as on every run after the first).
timed() {
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  if [ $rc != 0 ] || [ $((SECONDS - start)) -ge 2 ]; then
    echo "$(basename "$0" .sh): $name: $((SECONDS - start)) s$([ $rc = 0 ] || echo ", FAILED ($rc)")" >&2
  fi
  return $rc
}

# The Python environments of the test tools, pinned, in .build (setup.sh makes them while cargo
# builds; the tests call them again, which takes a second when they are there).
SCHEMATHESIS_VERSION=4.32.5
SELENIUM_VERSION=4.50.0
venv_schemathesis() {
  local venv=$ROOT/.build/venv-schemathesis
  if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}
# Python's XGBoost and LightGBM, for the models-in-and-out round trips (scripts/test-portable.sh);
# xgboost-cpu is XGBoost's wheel without CUDA's libraries (3.2.0: the last for Debian 12's Python 3.11;
# the extension links 3.4, whose files 3.2 reads).
PORTABLE_PACKAGES="numpy==2.3.5 xgboost-cpu==3.2.0 lightgbm==4.7.0 scikit-learn==1.9.1 onnx==1.20.1 onnxruntime==1.32.0 skl2onnx==1.20.0 onnxmltools==1.16.0"
venv_portable() {
  local venv=$ROOT/.build/venv-portable
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.packages" 2>/dev/null)" != "$PORTABLE_PACKAGES" ]; then
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q $PORTABLE_PACKAGES
    echo "$PORTABLE_PACKAGES" >"$venv/.packages"
  fi
}
venv_selenium() {
  local venv=$ROOT/.build/venv-selenium
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "selenium==$SELENIUM_VERSION"
  fi
}

# The machine beside every benchmark's figures (machines of one kind differ: AVX2 or AVX-512,
# and several times apart in pgbench), and which XGBoost build is linked (plain or make tune's).
machine() {
  local cpu flags simd f
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
  simd=""
  for f in avx512f avx512bw avx512_vnni amx_tile avx2 fma; do [[ $flags == *" $f "* ]] && simd+="$f "; done
  echo "machine: $cpu, $(nproc) cores, ${simd:-no AVX2 }(cpuinfo); XGBoost build: $(basename "$(readlink -f "$ROOT/.build/xgboost")")"
}

# a / b to two decimals: the benchmarks' ratios against their peers
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# init_cluster DATADIR PORT CRON_DATABASE: initdb (as postgres when root) and the settings every
# cluster of the project has: loopback only, pg_cron preloaded for that database.
init_cluster() {
  "${RUNAS[@]}" "$PG_BIN/initdb" -D "$1" -U postgres -A trust --locale=C.UTF-8 -E UTF8 >/dev/null
  "${RUNAS[@]}" tee -a "$1/postgresql.conf" >/dev/null <<CONF
# pgml-rs
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
# pgml: the prediction log's shared memory and writers (docs/monitoring.md)
shared_preload_libraries = 'pg_cron,pgml'
cron.database_name = '$3'
# jobs run in background workers: no connection, so no password or socket to configure
cron.use_background_workers = on
max_worker_processes = 16
CONF
}

# Throwaway clusters for the tests that need more than one (backups restored into another
# cluster, a streaming standby): each in $CLUSTERS/<name>, on its own port, configured as the
# project cluster is (pg_cron preloaded, loopback only).
CLUSTERS=$(dirname "$PGDATA")/clusters
[ "$PGDATA" = "$ROOT/.pgdata" ] && CLUSTERS=$ROOT/.build/clusters

# cluster_create NAME PORT [CRON_DATABASE]: a new, started cluster (an old one of that name is
# removed first).
cluster_create() {
  local dir=$CLUSTERS/$1 port=$2 cron_db=${3:-pgml}
  cluster_remove "$1"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$CLUSTERS" "$dir"
  init_cluster "$dir/data" "$port" "$cron_db"
  cluster_start "$1"
}

cluster_start() {
  "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$CLUSTERS/$1/data" -w -l "$CLUSTERS/$1/postgres.log" start >/dev/null
}

# cluster_remove NAME: stops the cluster (immediately: it holds nothing to keep) and deletes it.
cluster_remove() {
  local dir=$CLUSTERS/$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -w -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

# cluster_standby NAME PORT PRIMARY_PORT: a hot standby of the cluster on PRIMARY_PORT,
# streaming from it (pg_basebackup -R), started.
cluster_standby() {
  local dir=$CLUSTERS/$1
  cluster_remove "$1"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$CLUSTERS" "$dir"
  "${RUNAS[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$3" -U postgres -D "$dir/data" -R -X stream -c fast
  echo "port = $2" | "${RUNAS[@]}" tee -a "$dir/data/postgresql.auto.conf" >/dev/null
  cluster_start "$1"
}

# replayed PRIMARY_PORT STANDBY_PORT DB: waits (up to 30 s) until the standby has replayed
# everything the primary has written so far.
replayed() {
  local lsn
  lsn=$(psql -X -At -p "$1" -d "$3" -c "SELECT pg_current_wal_lsn()")
  for _ in $(seq 1 300); do
    [ "$(psql -X -At -p "$2" -d "$3" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
    sleep 0.1
  done
  echo "the standby on port $2 did not replay $lsn within 30 s" >&2
  return 1
}
