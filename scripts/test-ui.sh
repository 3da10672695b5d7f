#!/usr/bin/env bash
# The dashboard in a real browser: a fresh database on the project cluster with a project of
# two models (linear in production, XGBoost in staging), a promotion waiting for an approval
# and a recorded drift check; pgml-serve on port 18082; then scripts/ui_e2e.py drives Debian's
# headless Chromium (installed by scripts/setup.sh) through Selenium (PyPI, in .build/): sign
# in, every page, approve, roll back, phone width, console errors, a predictor's view.
# Screenshots land in .build/ui-screenshots/ (docs/screenshots/ keeps copies for the README).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DB=pgml_ui_test
PORT=${PGML_UI_TEST_PORT:-18082}
PROJECT="UI Iris"
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
q <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION pgml;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ui_test_admin') THEN CREATE ROLE ui_test_admin; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ui_test_predictor') THEN CREATE ROLE ui_test_predictor; END IF;
END \$\$;
GRANT pgml_admin TO ui_test_admin;
GRANT pgml_predictor TO ui_test_predictor;
SELECT pgml.load_dataset('iris');
SELECT pgml.train('$PROJECT', 'classification', 'pgml.iris', 'target', hyperparams => '{"C": 0.01}');
SELECT pgml.train('$PROJECT', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}', automatic_deploy => false);
SELECT pgml.deploy('$PROJECT', 2::bigint, 'staging');
SELECT pgml.set_promotion_policy('$PROJECT', approvals => 1);
SELECT pgml.promote('$PROJECT', 'staging', 'production');
-- a drift check's record, as pgml._pgml_run_schedule writes it
INSERT INTO pgml.scheduled_runs (project_name, kind, outcome, finished_at, model_id, dataset_drifted, details)
SELECT '$PROJECT', 'drift', 'succeeded', clock_timestamp(), 2, bool_or(dataset_drifted),
       jsonb_agg(jsonb_build_object('feature', feature, 'drifted', drifted, 'psi', psi,
                                    'ks_p_value', ks_p_value, 'js_distance', js_distance))
FROM pgml.drift('$PROJECT', 'pgml.iris', 2);
-- live traffic with outcomes (wrong from row 100 on), and an alert that opened on it
SELECT pgml.set_monitoring('$PROJECT', scan_after => 1000);
SELECT count(pgml.predict('$PROJECT', ARRAY[sepal_length, sepal_width, petal_length, petal_width], key => 'u' || n))
FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.flush_prediction_log();
SELECT count(pgml.record_outcome('$PROJECT', CASE WHEN n > 100 THEN (target::int + 1) % 3 ELSE target END, key => 'u' || n))
FROM (SELECT row_number() OVER () AS n, * FROM pgml.iris) i;
SELECT pgml.add_alert_rule('$PROJECT', 'accuracy drop', 'accuracy', below => 0.9, time_window => '1 day', min_count => 100);
SELECT pg_sleep(2.2);
SELECT count(*) FROM pgml.evaluate_alerts('$PROJECT');
-- a rollout running on staging: model 1 in shadow beside model 2
SELECT pgml.start_rollout('$PROJECT', 1, mode => 'shadow', stage => 'staging');
SQL

cargo build -q -p pgml-serve --profile test
BIN=$ROOT/target/debug/pgml-serve
admin=$("$BIN" token create --database-url "$(uri $DB)" --name "ui-admin-$$" --role ui_test_admin)
predictor=$("$BIN" token create --database-url "$(uri $DB)" --name "ui-predictor-$$" --role ui_test_predictor)
LOG=$ROOT/.build/ui-test-serve.log
"$BIN" --database-url "$(uri $DB)" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

VENV=$ROOT/.build/venv-selenium
venv_selenium
echo "== the dashboard in headless Chromium ($(chromium --version 2>/dev/null | head -1))"
# Selenium must not look for drivers on the network: the Debian chromedriver is given
SE_OFFLINE=true "$VENV/bin/python" "$ROOT/scripts/ui_e2e.py" "http://127.0.0.1:$PORT" "$admin" "$predictor" "$PROJECT" \
  "$ROOT/.build/ui-screenshots"
grep -q '"level":"ERROR"' "$LOG" && { echo "test-ui: FAILED: the server logged an internal error"; grep '"level":"ERROR"' "$LOG" | head -3; exit 1; }
echo "test-ui: all passed"
