#!/usr/bin/env bash
# Runs the SQL regression files (extension/tests/pg_regress/sql/*.sql) with pg_regress
# against the project cluster, each in a fresh database, and diffs against expected/.
# `regress.sh --accept` copies the results over the expected files (review the diff!).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DIR=$ROOT/extension/tests/pg_regress
OUT=$ROOT/.build/regress
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] && chmod 0777 "$OUT"
PG_REGRESS=$($PG_CONFIG --pkglibdir)/pgxs/src/test/regress/pg_regress
tests=$(cd "$DIR/sql" && ls *.sql | sed 's/\.sql$//')
status=0
# Other sessions stay connected meanwhile, as after `make demo` (its pgml-serve) or with a psql
# open: an expected output that depends on what else is connected (a backend's slot in a
# temporary schema's name, a pid) fails here rather than on a user's machine.
idle=()
for _ in 1 2 3; do
  # (the server notices the client gone within a second: client_connection_check_interval)
  psql -X -q -d postgres -c "SET client_connection_check_interval = '1s'" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
  idle+=($!)
done
trap 'kill "${idle[@]}" 2>/dev/null || true' EXIT
crashes() { grep -c "terminated by signal" "$PGLOG/postgres.log" 2>/dev/null || true; }
crashes_before=$(crashes)
# pg_regress feeds each file to psql on standard input: `\ir include/...` resolves from here.
cd "$DIR/sql"
for t in $tests; do
  # one fresh database per file, so each file's registry starts empty
  "$PG_REGRESS" --inputdir="$DIR" --outputdir="$OUT" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --dbname="pgml_regress_$t" --load-extension=pgml "$t" >"$OUT/$t.log" 2>&1 || {
    status=1
    [ "${1:-}" = "--accept" ] || { cat "$OUT/$t.log"; head -150 "$OUT/regression.diffs" 2>/dev/null; }
  }
  grep -E "^(ok|not ok|test) " "$OUT/$t.log" || true
done
# A backend that crashes while exiting leaves no trace in the results: check the server log.
if [ "$(crashes)" != "$crashes_before" ]; then
  echo "regress: a backend crashed during the run:"; grep -B2 -A2 "terminated by signal" "$PGLOG/postgres.log" | tail -20
  status=1
fi
if [ "${1:-}" = "--accept" ]; then
  mkdir -p "$DIR/expected"
  for t in $tests; do cp "$OUT/results/$t.out" "$DIR/expected/$t.out"; done
  echo "regress: accepted $(echo $tests | wc -w) result file(s); review them with git diff"
  exit 0
fi
exit $status
