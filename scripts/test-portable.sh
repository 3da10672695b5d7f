#!/usr/bin/env bash
# Models in and out against Python's own libraries (scripts/portable_roundtrip.py): XGBoost
# and LightGBM models trained in Python are imported and predict in SQL what Python predicts;
# models trained here are exported and predict in Python what SQL predicts; then a bundle moves
# a model with preprocessing from one database to another. Runs in databases pgml_portable_*
# of the project cluster; Python's packages come from PyPI into .build/venv-portable
# (scripts/lib.sh venv_portable, installed by make setup).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
fail() { echo "test-portable: FAILED: $*"; exit 1; }
venv_portable
fresh() { psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
  -c "CREATE DATABASE $1" && psql -X -q -d "$1" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgml"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$@"; }

echo "== 1. Python's XGBoost and LightGBM, both ways (every row, and each feature missing in turn)"
fresh pgml_portable_a
"$ROOT/.build/venv-portable/bin/python" "$ROOT/scripts/portable_roundtrip.py" pgml_portable_a || fail "Python and SQL disagree"

echo "== 2. a bundle moves a model with preprocessing to another database"
fresh pgml_portable_b
q pgml_portable_a -c "SET client_min_messages = warning" -c "SELECT pgml.load_dataset('diabetes')" \
  -c "SELECT pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target', 'ridge', preprocess => '{\"bmi\": {\"scale\": \"standard\"}, \"age\": {\"impute\": \"mean\"}}')" >/dev/null
bundle=$(q pgml_portable_a -c "SELECT encode(pgml.export(m.id), 'base64') FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Diabetes'" | tr -d '\n')
q pgml_portable_b -c "SET client_min_messages = warning" -c "SELECT pgml.load_dataset('diabetes')" >/dev/null
id=$(q pgml_portable_b -c "SELECT pgml.import('Moved', NULL, decode('$bundle', 'base64'))")
predictions() { q "$1" -c "SELECT md5(string_agg(pgml.predict('$2', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])::text, ',' ORDER BY ctid))
                            || ' ' || pgml.predict('$2', ARRAY[NULL, 1, 30, 90, 150, 100, 50, 4, 4.5, 90]::real[]) FROM pgml.diabetes"; }
a=$(predictions pgml_portable_a Diabetes); b=$(predictions pgml_portable_b Moved)
[ "$a" = "$b" ] || fail "the moved model predicts otherwise: $a against $b"
echo "   ok: model $id in the other database predicts every row identically, an imputed NULL included ($a)"
psql -X -q -d postgres -c "DROP DATABASE pgml_portable_a WITH (FORCE)" -c "DROP DATABASE pgml_portable_b WITH (FORCE)"
echo "test-portable: ok"
