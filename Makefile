# pgml-rs. The two commands of the README: `make demo` (the walkthrough) and `make test`
# (every test). Every target installs what it needs first, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup tune bench-train install db db-stop demo test lint test-core test-pg test-sql test-concurrency test-schedule test-serve test-ui test-backup test-upgrade test-replica test-crash test-monitoring test-text test-portable regress-accept bench bench-monitoring bench-rollouts bench-explain bench-portable bench-serve bench-embed serve reference

help:
	@echo "The two commands:"
	@echo "  make demo          - installs what is missing, builds, starts the project cluster and runs the walkthrough;"
	@echo "                       ends with what to try next (psql, the dashboard, curl); pgml-serve keeps running"
	@echo "  make test          - every test, in order (the test-* targets below); about 18 minutes on a clean clone"
	@echo "Setting up and running:"
	@echo "  make setup         - Debian packages, cargo-pgrx, the XGBoost library, model weights, test tools (once)"
	@echo "  make install       - builds the extension (release) and installs it into PostgreSQL 15"
	@echo "  make db            - starts the project cluster (.pgdata, port 5499); prints its URI last"
	@echo "  make db-stop       - stops the project cluster and the demo's pgml-serve"
	@echo "  make serve         - pgml-serve (HTTP, dashboard under /ui) in the foreground on the project cluster"
	@echo "  make tune          - rebuilds XGBoost profile-guided and link-time optimised (about 10 minutes), reinstalls"
	@echo "Tests, each part of make test:"
	@echo "  make lint          - cargo fmt --check, clippy -D warnings, no pgrx in the core"
	@echo "  make test-core     - the core's and the embedding crate's tests (cargo test)"
	@echo "  make test-pg       - the #[pg_test]s (cargo pgrx test)"
	@echo "  make test-sql      - the SQL regression files (pg_regress)"
	@echo "  make test-concurrency - several sessions at once: visibility, the deploy storm"
	@echo "  make test-schedule - pg_cron really runs retrainings and drift checks"
	@echo "  make test-serve    - pgml-serve: router tests, the binary with curl, schemathesis"
	@echo "  make test-ui       - the dashboard in headless Chromium"
	@echo "  make test-backup   - pg_dump/pg_restore, plain pg_dump and pg_dumpall keep the registry"
	@echo "  make test-upgrade  - every earlier release upgrades to this one, models kept"
	@echo "  make test-replica  - a streaming hot standby serves every read path"
	@echo "  make test-crash    - cancels, timeouts and a SIGKILL mid-training or mid-logging leave nothing behind"
	@echo "  make test-monitoring - the prediction log under load: drops are counted exactly, none fails; alerts NOTIFY"
	@echo "  make test-text     - the text flow: embeddings, a classifier, /rpc, pg_cron"
	@echo "  make regress-accept - accepts the SQL regression files' current output (review the diff)"
	@echo "Benchmarks (print ratios against the peers; nothing asserts a timing):"
	@echo "  make bench         - predicts: per call, a table scan in parallel and serial, a standby"
	@echo "  make bench-monitoring - the prediction log's cost: pgbench and the 1,000,000-row scan, logging on and off"
	@echo "  make bench-rollouts - a running rollout's cost on pgbench: a 10 % keyed canary and a shadow against none"
	@echo "  make bench-serve   - pgml-serve against a Flask service, pgbench, deploy freshness"
	@echo "  make bench-embed   - pgml.embed against sentence-transformers"
	@echo "  make bench-train   - training against scikit-learn, XGBoost and LightGBM in Python"
	@echo "  make reference     - recomputes the scikit-learn/XGBoost reference figures"

setup:
	@bash scripts/setup.sh

# XGBoost profile-guided and link-time optimised (opt-in: about 10 minutes), then reinstalled.
tune: setup
	@bash scripts/build-xgboost.sh --tuned
	@bash scripts/install.sh

install: setup
	@bash scripts/install.sh

db: install
	@bash scripts/db.sh

db-stop:
	@bash scripts/db.sh stop

demo: db
	@bash scripts/demo.sh

lint: setup
	cargo fmt --all --check
	@# the test profile, as cargo test, cargo pgrx test and the scripts' pgml-serve builds use:
	@# their build scripts' runs (LightGBM's C++ build among them) are then shared
	cargo clippy --workspace --all-targets --profile test -- -D warnings
	@if cargo tree -p pgml-core --edges normal,build | grep -q pgrx; then \
	  echo "crates/core must not depend on pgrx"; exit 1; fi

test-core: setup
	cargo test -p pgml-core -p pgml-embed

test-pg: setup
	@bash scripts/pgrx-test.sh

# After test-pg, because cargo pgrx test replaces the installed build with its debug build.
test-sql: test-pg db
	@bash scripts/regress.sh

# Several connections at once: cross-session visibility and a deploy storm.
test-concurrency: test-pg db
	@bash scripts/test-concurrency.sh

# pg_cron really runs a retraining, a failing retraining and a drift check (1-2 minutes).
test-schedule: test-pg db
	@bash scripts/test-schedule.sh

# pgml-serve: router tests (no socket), the binary with curl, schemathesis, graceful shutdown.
test-serve: test-pg db
	@bash scripts/test-serve.sh

# pg_dump/pg_restore, plain pg_dump and pg_dumpall round-trip the registry (throwaway clusters).
# The dashboard in headless Chromium: sign in, every page, approve, roll back, phone width.
test-ui: test-pg db
	@bash scripts/test-ui.sh

test-backup: test-pg db
	@bash scripts/test-backup.sh

# The previous releases upgrade to this one with every model kept; released schemas never change.
test-upgrade: test-pg db
	@bash scripts/test-upgrade.sh

# A streaming hot standby serves every read path and each deploy; writes there are 25006.
test-replica: test-pg db
	@bash scripts/test-replica.sh

# Cancels, statement timeouts and a SIGKILL in the middle of trainings leave nothing behind.
test-crash: test-pg db
	@bash scripts/test-crash.sh

# The prediction log under load: a full buffer and a held-back writer drop and count, exactly.
test-monitoring: test-pg db
	@bash scripts/test-monitoring.sh

# The text flow: embed headlines, train, predict_clickbait in SQL and over /rpc, pg_cron (1-2 min).
test-text: test-pg db
	@bash scripts/test-text.sh

# Models in and out against Python's XGBoost and LightGBM, and a bundle between two databases.
test-portable: test-pg db
	@bash scripts/test-portable.sh

# The HTTP server in the foreground on the project cluster (PGML_SERVE_* variables configure it).
serve: db
	@bash -c 'source scripts/lib.sh && cargo run --release -p pgml-serve --config "$$PGRX_LINK_CONFIG"'

regress-accept: db
	@bash scripts/regress.sh --accept

test: lint test-core test-pg test-sql test-concurrency test-schedule test-serve test-ui test-backup test-upgrade test-replica test-crash test-monitoring test-text test-portable
	@echo "make test: all passed"

bench: db
	@bash bench/predict.sh
	@bash bench/replica.sh

bench-monitoring: db
	@bash bench/monitoring.sh

bench-rollouts: db
	@bash bench/rollouts.sh

# pgml-serve in process and strict against a Python microservice (wrk), pgbench on pgml.predict, and freshness over 1,000 deploys.
bench-serve: db
	@bash bench/serve.sh

# pgml.embed against sentence-transformers (PyTorch) on the same headlines and threads.
bench-embed: db
	@bash bench/embed.sh

bench-train: db
	@bash bench/train.sh

# Imported models (ONNX, XGBoost's file) against the same models trained here, 1M-row scans.
bench-portable: db
	@bash bench/portable.sh

# Explanations' cost per row against XGBoost's own pred_contribs (one thread, 20 features).
bench-explain: setup
	@bash bench/explain.sh

reference:
	@bash bench/reference/run.sh
