#!/usr/bin/env bash
# Recomputes the scikit-learn / XGBoost reference figures in a project-local virtual
# environment (PyPI); the product itself never uses Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.build/pyref
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q scikit-learn==1.9.1 xgboost==3.2.0 lightgbm==4.7.0 numpy
"$VENV/bin/python" bench/reference/reference.py | tee bench/reference/reference.txt
