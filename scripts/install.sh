#!/usr/bin/env bash
# Builds the extension in release mode and installs it (and libxgboost.so beside it) into
# PostgreSQL 15's directories. Restarts the project cluster when the library changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/build-xgboost.sh
PKGLIBDIR=$($PG_CONFIG --pkglibdir)
before=$(cat "$PKGLIBDIR/pgml.so" "$PKGLIBDIR"/libxgboost.so.* 2>/dev/null | md5sum || true)
# libxgboost.so.N (its soname) and the .so link, beside pgml.so: a new file rather than the old
# one overwritten, which running backends have mapped (make tune changes it).
"${SUDO[@]}" cp -P --remove-destination .build/xgboost/lib/libxgboost.so* "$PKGLIBDIR/"
pgrx_install() {
  if [ "${#SUDO[@]}" -eq 0 ]; then
    cargo pgrx install --release --pg-config "$PG_CONFIG" -p pgml >&2
  else
    cargo pgrx install --release --sudo --pg-config "$PG_CONFIG" -p pgml >&2
  fi
}
timed "the extension built (release) and installed" pgrx_install
# Earlier releases' install scripts and every upgrade script, beside the one pgrx generated for
# this version: CREATE EXTENSION pgml VERSION '<earlier>' and ALTER EXTENSION pgml UPDATE work.
SHAREDIR=$($PG_CONFIG --sharedir)/extension
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
for f in extension/sql/releases/pgml--*.sql extension/sql/upgrades/pgml--*--*.sql; do
  [ "$(basename "$f")" = "pgml--$version.sql" ] && continue
  "${SUDO[@]}" install -m 0644 "$f" "$SHAREDIR/"
done
# The embedding models (scripts/models.sh) in pgml.models_dir's default, <sharedir>/pgml/models.
bash scripts/models.sh
MODELS=$($PG_CONFIG --sharedir)/pgml/models
for model in .build/models/*/*/; do
  dest="$MODELS/${model#.build/models/}"
  stamp=$(ls "$model".installed-* 2>/dev/null | head -1)
  [ -n "$stamp" ] && [ -f "$dest/$(basename "$stamp")" ] && continue
  "${SUDO[@]}" mkdir -p "$dest"
  "${SUDO[@]}" cp -r "$model." "$dest"
  "${SUDO[@]}" chmod -R a+rX "$MODELS"
done
after=$(cat "$PKGLIBDIR/pgml.so" "$PKGLIBDIR"/libxgboost.so.* | md5sum)
if [ "$before" != "$after" ] && [ -f "$PGDATA/postmaster.pid" ]; then
  echo "install: pgml.so or libxgboost.so changed, restarting the project cluster" >&2
  "${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -w -m fast restart -l "$PGLOG/postgres.log" >/dev/null
fi
