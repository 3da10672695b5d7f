#!/usr/bin/env bash
# Builds the real XGBoost C++ library once per machine from the source vendored in the
# `xgboost_lib-sys` crate (no download: the crate's default would fetch a prebuilt binary,
# which cannot work without network). Links it as .build/xgboost, where .cargo/config.toml
# points the xgboost_lib-sys crate.
#
# The build is profile-guided (GCC's PGO) and link-time optimised: built once instrumented,
# run on scripts/xgboost-profile.c's training (its own synthetic data, through the C API
# calls pgml makes), then built again with that profile. Training takes about 7 % less time
# for the same model, bit for bit (bench/train.sh: 0.488 s to 0.453 s). About 10 minutes on
# 2 cores, once per machine; then reused from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.4.0
CACHE=${PGML_CACHE:-$HOME/.cache/pgml-rs}
PREFIX="$CACHE/xgboost-$VERSION-pgo-lto"
link() { mkdir -p .build && ln -sfn "$PREFIX" .build/xgboost; }
if [ -f "$PREFIX/lib/libxgboost.so" ]; then link; exit 0; fi

cargo fetch -q >&2
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/xgboost_lib-sys-$VERSION/xgboost | head -n1)
[ -d "$SRC" ] || { echo "build-xgboost: vendored source not found" >&2; exit 1; }

echo "build-xgboost: building XGBoost $VERSION from $SRC, profile-guided (about 10 minutes, once per machine)" >&2
# both builds in the same directory: a profile is found by its object file's path
BUILD="$CACHE/xgboost-$VERSION-build"
PROFILE="$CACHE/xgboost-$VERSION-profile"
STAGE="$CACHE/xgboost-$VERSION-instrumented"
rm -rf "$BUILD" "$PROFILE" "$STAGE"
build() { # flags, install prefix
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_C_FLAGS="$1" -DCMAKE_CXX_FLAGS="$1" \
    -DCMAKE_INSTALL_PREFIX="$2" -DCMAKE_INSTALL_LIBDIR=lib >&2
  cmake --build "$BUILD" >&2
  cmake --install "$BUILD" >&2
}
# the counters are updated atomically: XGBoost trains on every core
build "-fprofile-generate -fprofile-update=atomic -fprofile-dir=$PROFILE" "$STAGE"
gcc -O2 scripts/xgboost-profile.c -I"$STAGE/include" -L"$STAGE/lib" -Wl,-rpath,"$STAGE/lib" \
  -lxgboost -lm -o "$STAGE/xgboost-profile"
"$STAGE/xgboost-profile" >&2
# code the profile never ran is optimised as without one (-fprofile-partial-training)
build "-fprofile-use -fprofile-partial-training -Wno-missing-profile -fprofile-dir=$PROFILE" "$PREFIX"
rm -rf "$BUILD" "$PROFILE" "$STAGE"
link
