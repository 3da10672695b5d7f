#!/usr/bin/env bash
# Recomputes crates/embed/tests/fixtures/minilm_l6_reference.* with sentence-transformers
# (PyPI, in a project-local virtual environment). The product never runs Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/embed/venv.sh
"$VENV/bin/python" bench/embed/reference.py
