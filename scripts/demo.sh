#!/usr/bin/env bash
# The walkthrough of `make demo`: a fresh database on the project cluster, a dataset, three
# algorithms, the registry, predictions, deployment by strategy and rollback, drift, stages
# with gates and an approval, the audit trail.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgml_demo" -c "CREATE DATABASE pgml_demo"
psql -X -q -v ON_ERROR_STOP=1 -d pgml_demo -f "$ROOT/scripts/demo.sql"
echo
echo "The demo database stays up: psql $(uri pgml_demo)"
