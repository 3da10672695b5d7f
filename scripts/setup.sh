#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build, test and run pgml-rs.
# Idempotent: each step checks first, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PGRX_VERSION=0.18.1
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang
  pkg-config build-essential sudo cmake ninja-build curl python3-venv
  chromium chromium-driver)  # the dashboard's browser test (scripts/test-ui.sh)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q " ${PGRX_VERSION}\$"; then
  echo "setup: installing cargo-pgrx ${PGRX_VERSION} (about 8 minutes, once)"
  cargo install cargo-pgrx --version "${PGRX_VERSION}" --locked --force
fi

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "pg15" "$PGRX_HOME/config.toml"; then
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi

# LightGBM's build needs CMake >= 3.28; Debian 12 ships 3.25. A pinned CMake from PyPI, used
# only by the lightgbm3-sys build (.cargo/config.toml sets CMAKE to it).
CMAKE_VERSION=3.31.6
if ! .build/venv-cmake/bin/cmake --version 2>/dev/null | grep -q " ${CMAKE_VERSION}\$"; then
  echo "setup: installing CMake ${CMAKE_VERSION} from PyPI into .build/venv-cmake"
  python3 -m venv .build/venv-cmake
  .build/venv-cmake/bin/pip install -q "cmake==${CMAKE_VERSION}"
fi
