#!/usr/bin/env bash
# Runs the extension's #[pg_test]s in a throwaway cluster (as `postgres` when run as root).
# Note: cargo pgrx test installs its debug build into PostgreSQL's directories; `make install`
# puts the release build back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
PKGLIBDIR=$($PG_CONFIG --pkglibdir)
# libxgboost.so.N (its soname) and the .so link, beside pgml.so: a new file rather than the old
# one overwritten, which running backends have mapped (make tune changes it).
"${SUDO[@]}" cp -P --remove-destination .build/xgboost/lib/libxgboost.so* "$PKGLIBDIR/"
if [ "$(id -u)" -eq 0 ]; then
  TESTDATA=$(dirname "$PGDATA")/.pgrx-test-data
  [ "$PGDATA" = "$ROOT/.pgdata" ] && TESTDATA=$ROOT/.build/pgrx-test-data
  mkdir -p "$TESTDATA" && chown postgres:postgres "$TESTDATA"
  cargo pgrx test pg15 -p pgml --runas postgres --pgdata "$TESTDATA" "$@"
else
  cargo pgrx test pg15 -p pgml "$@"
fi
