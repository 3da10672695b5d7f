# pgml-rs. The two commands of the README: `make demo` (the walkthrough) and `make test`
# (every test). Every target installs what it needs first, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup install db db-stop demo test lint test-core test-pg test-sql test-concurrency test-schedule test-serve test-ui test-backup test-upgrade test-replica test-crash test-text regress-accept bench bench-serve bench-embed serve reference

help:
	@echo "make demo   - build, install, start the project cluster and run the walkthrough; ends with the dashboard's URL and a token"
	@echo "make test   - fmt, clippy, core tests, in-database tests, SQL regression files"
	@echo "make db     - start the project cluster; prints its URI last (make db-stop stops it)"
	@echo "make bench  - predict benchmarks (a table scan in parallel and serial, a standby); make bench-serve - HTTP"
	@echo "make bench-embed - pgml.embed against sentence-transformers (batch and one at a time)"
	@echo "make serve  - the HTTP server (pgml-serve, dashboard under /ui) on the project cluster"
	@echo "make test-ui - the dashboard in headless Chromium (part of make test)"

setup:
	@bash scripts/setup.sh
	@bash scripts/build-xgboost.sh
	@bash scripts/models.sh

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
	cargo clippy --workspace --all-targets -- -D warnings
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

# The text flow: embed headlines, train, predict_clickbait in SQL and over /rpc, pg_cron (1-2 min).
test-text: test-pg db
	@bash scripts/test-text.sh

# The HTTP server in the foreground on the project cluster (PGML_SERVE_* variables configure it).
serve: db
	cargo run --release -p pgml-serve

regress-accept: db
	@bash scripts/regress.sh --accept

test: lint test-core test-pg test-sql test-concurrency test-schedule test-serve test-ui test-backup test-upgrade test-replica test-crash test-text
	@echo "make test: all passed"

bench: db
	@bash bench/predict.sh
	@bash bench/replica.sh

# pgml-serve in process and strict against a Python microservice (wrk), pgbench on pgml.predict, and freshness over 1,000 deploys.
bench-serve: db
	@bash bench/serve.sh

# pgml.embed against sentence-transformers (PyTorch) on the same headlines and threads.
bench-embed: db
	@bash bench/embed.sh

reference:
	@bash bench/reference/run.sh
