#!/usr/bin/env bash
# Builds the real XGBoost C++ library once per machine from the source vendored in the
# `xgboost_lib-sys` crate (no download: the crate's default would fetch a prebuilt binary,
# which cannot work without network), and links it as .build/xgboost, where
# .cargo/config.toml points the xgboost_lib-sys crate.
#
#   build-xgboost.sh          the plain build: CMake's Release, as the crate's own local build
#                             makes it (366 s on 2 cores beside cargo-pgrx's build, once per machine)
#   build-xgboost.sh --tuned  profile-guided (GCC's PGO) and link-time optimised: built once
#                             instrumented, run on scripts/xgboost-profile.c's training (its own
#                             synthetic data, through the C API calls pgml makes), then built
#                             again with that profile (about 10 minutes; `make tune`). Training
#                             took about 7 % less time for the same model, bit for bit
#                             (bench/train.sh: 0.488 s to 0.453 s on the machine of 2026-12-04).
#                             Once built, it is the one linked, until it is removed from the cache.
#   build-xgboost.sh --check  exits 0 when a build is there (nothing built)
# Both are cached in ~/.cache/pgml-rs; the extension must be reinstalled (make install) after
# the link changes, which `make tune` does.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.4.0
CACHE=${PGML_CACHE:-$HOME/.cache/pgml-rs}
mkdir -p "$CACHE"
PLAIN="$CACHE/xgboost-$VERSION"
TUNED="$CACHE/xgboost-$VERSION-pgo-lto"
link() { mkdir -p .build && ln -sfn "$1" .build/xgboost; }
mode=${1:-plain}
if [ "$mode" = --check ]; then
  [ -f "$TUNED/lib/libxgboost.so" ] || [ -f "$PLAIN/lib/libxgboost.so" ]; exit
fi
if [ "$mode" != --tuned ]; then
  # the tuned build wins where it exists (make tune made it on purpose)
  if [ -f "$TUNED/lib/libxgboost.so" ]; then link "$TUNED"; exit 0; fi
  if [ -f "$PLAIN/lib/libxgboost.so" ]; then link "$PLAIN"; exit 0; fi
elif [ -f "$TUNED/lib/libxgboost.so" ]; then
  link "$TUNED"; exit 0
fi

cargo fetch -q >&2
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/xgboost_lib-sys-$VERSION/xgboost | head -n1)
[ -d "$SRC" ] || { echo "build-xgboost: vendored source not found" >&2; exit 1; }

# both builds of the tuned one in the same directory: a profile is found by its object file's path
BUILD="$CACHE/xgboost-$VERSION-build"
rm -rf "$BUILD"
build() { # flags, install prefix, IPO ON/OFF
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION="$3" \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_C_FLAGS="$1" -DCMAKE_CXX_FLAGS="$1" \
    -DCMAKE_INSTALL_PREFIX="$2" -DCMAKE_INSTALL_LIBDIR=lib >&2
  cmake --build "$BUILD" >&2
  cmake --install "$BUILD" >&2
}

if [ "$mode" != --tuned ]; then
  echo "build-xgboost: building XGBoost $VERSION from $SRC (about 6 minutes, once per machine; make tune builds a profile-guided one)" >&2
  rm -rf "$PLAIN.tmp"
  build "" "$PLAIN.tmp" OFF >"$CACHE/xgboost-build.log" 2>&1 || { tail -30 "$CACHE/xgboost-build.log" >&2; exit 1; }
  rm -rf "$BUILD" "$PLAIN"
  mv "$PLAIN.tmp" "$PLAIN"  # whole or absent: an interrupted build leaves no half library
  link "$PLAIN"
  exit 0
fi

echo "build-xgboost: building XGBoost $VERSION from $SRC, profile-guided (about 10 minutes, once per machine)" >&2
PROFILE="$CACHE/xgboost-$VERSION-profile"
STAGE="$CACHE/xgboost-$VERSION-instrumented"
rm -rf "$PROFILE" "$STAGE" "$TUNED.tmp"
# the counters are updated atomically: XGBoost trains on every core
build "-fprofile-generate -fprofile-update=atomic -fprofile-dir=$PROFILE" "$STAGE" ON
gcc -O2 scripts/xgboost-profile.c -I"$STAGE/include" -L"$STAGE/lib" -Wl,-rpath,"$STAGE/lib" \
  -lxgboost -lm -o "$STAGE/xgboost-profile"
"$STAGE/xgboost-profile" >&2
# code the profile never ran is optimised as without one (-fprofile-partial-training)
build "-fprofile-use -fprofile-partial-training -Wno-missing-profile -fprofile-dir=$PROFILE" "$TUNED.tmp" ON
rm -rf "$BUILD" "$PROFILE" "$STAGE" "$TUNED"
mv "$TUNED.tmp" "$TUNED"
link "$TUNED"
