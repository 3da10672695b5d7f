#!/usr/bin/env bash
# Builds the real XGBoost C++ library once per machine from the source vendored in the
# `xgboost_lib-sys` crate (no download: the crate's default would fetch a prebuilt binary,
# which cannot work without network). About 11 minutes on 2 cores, then reused from the cache.
# Links it as .build/xgboost, where .cargo/config.toml points the xgboost_lib-sys crate.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.4.0
CACHE=${PGML_CACHE:-$HOME/.cache/pgml-rs}
PREFIX="$CACHE/xgboost-$VERSION"
link() { mkdir -p .build && ln -sfn "$PREFIX" .build/xgboost; }
if [ -f "$PREFIX/lib/libxgboost.so" ]; then link; exit 0; fi

cargo fetch -q >&2
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/xgboost_lib-sys-$VERSION/xgboost | head -n1)
[ -d "$SRC" ] || { echo "build-xgboost: vendored source not found" >&2; exit 1; }

echo "build-xgboost: building XGBoost $VERSION from $SRC (about 11 minutes, once per machine)" >&2
BUILD="$CACHE/xgboost-$VERSION-build"
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib >&2
cmake --build "$BUILD" >&2
cmake --install "$BUILD" >&2
rm -rf "$BUILD"
link
