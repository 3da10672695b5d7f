-- pgml-rs 0.5.0 -> 0.6.0, written by hand: production monitoring. Predictions are logged off
-- the predict path (shared memory, then background writers: pgml must be in
-- shared_preload_libraries) into pgml.prediction_log, partitioned by day; outcomes recorded
-- later go to pgml.outcomes; pgml.monitoring holds each project's logging settings.
-- pgml.predict (by project, every form) and pgml.predict_proba take two new optional
-- arguments, key and request_id: they are dropped and created again, so an object of the
-- database that depends on them (a view calling pgml.predict, say) stops the update with a
-- message naming it. The registry's tables are untouched.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.6.0'" to load this file. \quit

DO $$
DECLARE
    dependents TEXT;
BEGIN
    SELECT string_agg(DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid), ', ') INTO dependents
    FROM pg_depend d
    WHERE d.refclassid = 'pg_proc'::regclass
      AND d.refobjid IN (
          'pgml.predict(text, boolean[], text)'::regprocedure, 'pgml.predict(text, real[], text)'::regprocedure,
          'pgml.predict(text, double precision[], text)'::regprocedure, 'pgml.predict(text, smallint[], text)'::regprocedure,
          'pgml.predict(text, integer[], text)'::regprocedure, 'pgml.predict(text, bigint[], text)'::regprocedure,
          'pgml.predict(text, numeric[], text)'::regprocedure, 'pgml.predict(text, anyelement, text)'::regprocedure,
          'pgml.predict_proba(text, real[], text)'::regprocedure)
      AND d.deptype = 'n';
    IF dependents IS NOT NULL THEN
        RAISE EXCEPTION 'pgml 0.6.0 replaces pgml.predict and pgml.predict_proba (new optional arguments key and request_id), and these objects depend on them: %', dependents
            USING ERRCODE = '2BP01',
                  HINT = 'drop them (pg_dump -s keeps their definitions), run ALTER EXTENSION pgml UPDATE, then create them again: calls written for 0.5.0 work unchanged';
    END IF;
END $$;



-- Per project: what is logged and for how long. A project without a row has the defaults.
CREATE TABLE pgml.monitoring (
    project_id BIGINT PRIMARY KEY REFERENCES pgml.projects (id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL DEFAULT true,
    -- the share of a statement's first scan_after predictions logged (online traffic)
    sample REAL NOT NULL DEFAULT 1.0,
    scan_after INTEGER NOT NULL DEFAULT 100,
    -- the share of the rest of a statement's predictions logged (a scan of a table)
    scan_sample REAL NOT NULL DEFAULT 0.001,
    -- the share of logged predictions that keep their features
    features_sample REAL NOT NULL DEFAULT 0.01,
    retention INTERVAL NOT NULL DEFAULT '30 days',
    -- how long after a prediction its outcome is expected: younger predictions are not judged
    label_delay INTERVAL NOT NULL DEFAULT '0',
    -- an outcome by key joins the latest prediction for that key at most this long before it
    attribution_window INTERVAL NOT NULL DEFAULT '7 days',
    updated_by NAME NOT NULL DEFAULT current_user,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Every logged prediction. Partitions (one per UTC day, pgml.prediction_log_YYYYMMDD) are
-- created by the writers as needed and ahead of time by pgml.log_maintenance(), which also
-- drops those past every project's retention: rows are never deleted one by one.
CREATE TABLE pgml.prediction_log (
    request_id UUID NOT NULL,
    predicted_at TIMESTAMPTZ NOT NULL,
    project_id BIGINT NOT NULL,
    stage TEXT,
    model_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    key TEXT,
    prediction REAL,
    probabilities REAL[],
    features REAL[],
    latency_us REAL NOT NULL,
    -- how many predictions this row stands for: 1 / the rate it was sampled at
    weight REAL NOT NULL
) PARTITION BY RANGE (predicted_at);
-- (No index on the partitioned table itself: each partition gets its own, made with it, so that
-- pg_dump restores partitions and their indexes as the ordinary tables they are; an index of
-- the extension's table would be made again by ATTACH PARTITION during a restore and clash.)

-- Outcomes (labels) recorded by pgml.record_outcome: by the prediction's request id, or by the
-- entity's key and the time the outcome happened.
CREATE TABLE pgml.outcomes (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    request_id UUID,
    key TEXT,
    label REAL NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    recorded_by NAME NOT NULL DEFAULT current_user,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CHECK (request_id IS NOT NULL OR key IS NOT NULL)
);
CREATE INDEX outcomes_request_id_idx ON pgml.outcomes (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX outcomes_key_idx ON pgml.outcomes (project_id, key, occurred_at) WHERE key IS NOT NULL;

-- The partition of one UTC day, created if missing (by the writers, and ahead of time by
-- pgml.log_maintenance). Also schedules the log's maintenance with pg_cron the first time, when
-- pg_cron is installed in this database.
CREATE FUNCTION pgml._pgml_log_partition(day DATE) RETURNS REGCLASS
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part TEXT := 'prediction_log_' || to_char(day, 'YYYYMMDD');
    missing BOOLEAN;
    job RECORD;
BEGIN
    IF to_regclass('pgml.' || part) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE pgml.%I PARTITION OF pgml.prediction_log FOR VALUES FROM (%L) TO (%L)',
                           part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
            -- outcomes find their prediction by request id, or by key and time
            EXECUTE format('CREATE INDEX %I ON pgml.%I (request_id)', part || '_request_id_idx', part);
            EXECUTE format('CREATE INDEX %I ON pgml.%I (project_id, key, predicted_at) WHERE key IS NOT NULL',
                           part || '_key_idx', part);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- another writer created it meanwhile
        END;
        -- (dynamic SQL: cron.job is named only where it exists)
        IF to_regclass('cron.job') IS NOT NULL THEN
            FOR job IN SELECT * FROM (VALUES
                ('pgml_log_maintenance', '7 * * * *', 'SELECT pgml.log_maintenance()'),
                ('pgml_live_metrics', '* * * * *', 'SELECT count(*) FROM pgml.evaluate_alerts()')) AS j (name, schedule, command)
            LOOP
                EXECUTE 'SELECT NOT EXISTS (SELECT FROM cron.job WHERE jobname = $1 AND database = current_database())'
                    INTO missing USING job.name;
                IF missing THEN
                    EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING job.name, job.schedule, job.command;
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN ('pgml.' || part)::regclass;
END $$;

-- Creates the partitions of today and the next days_ahead days, and drops each partition whose
-- day ended longer ago than every project's retention (30 days for a project without
-- settings). Run every hour by pg_cron (job pgml_log_maintenance).
CREATE FUNCTION pgml.log_maintenance(days_ahead INTEGER DEFAULT 2)
RETURNS TABLE (action TEXT, partition_name TEXT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    keep INTERVAL;
    d DATE;
    r RECORD;
BEGIN
    IF days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366, not %', days_ahead USING ERRCODE = '22023';
    END IF;
    FOR d IN SELECT generate_series((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date + days_ahead, '1 day')::date LOOP
        IF to_regclass('pgml.prediction_log_' || to_char(d, 'YYYYMMDD')) IS NULL THEN
            PERFORM pgml._pgml_log_partition(d);
            action := 'created'; partition_name := 'pgml.prediction_log_' || to_char(d, 'YYYYMMDD');
            RETURN NEXT;
        END IF;
    END LOOP;
    SELECT greatest(max(COALESCE(m.retention, interval '30 days')), interval '1 day') INTO keep
    FROM pgml.projects p LEFT JOIN pgml.monitoring m ON m.project_id = p.id;
    keep := COALESCE(keep, interval '30 days');
    FOR r IN
        SELECT format('pgml.%I', c.relname) AS part, to_date(substr(c.relname, 16), 'YYYYMMDD') AS day
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'pgml.prediction_log'::regclass AND c.relname ~ '^prediction_log_[0-9]{8}$'
        ORDER BY c.relname
    LOOP
        IF ((r.day + 1)::timestamp AT TIME ZONE 'UTC') <= now() - keep THEN
            EXECUTE format('DROP TABLE %s', r.part);
            action := 'dropped'; partition_name := r.part;
            RETURN NEXT;
        END IF;
    END LOOP;
    -- the live statistics, per project's own retention
    DELETE FROM pgml.live_stats s
    WHERE s.bucket < now() - COALESCE((SELECT m.retention FROM pgml.monitoring m WHERE m.project_id = s.project_id),
                                      interval '30 days');
END $$;

-- Live statistics per project, stage, model and minute of prediction: sums that merge
-- (crates/core/src/monitoring/live.rs), folded in by the log's writers as predictions are
-- written (in the same transaction) and by pgml.refresh_live_metrics() as outcomes arrive.
-- pgml.live_metrics() merges them into any window and bucket size, without reading the log.
CREATE TABLE pgml.live_stats (
    project_id BIGINT NOT NULL,
    stage TEXT NOT NULL,
    model_id BIGINT NOT NULL,
    bucket TIMESTAMPTZ NOT NULL,
    stats JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, stage, model_id, bucket)
);

-- Outcomes read from the user's own table or view where they already live (nothing copied):
-- each row's key, time and label, joined like a recorded outcome's.
CREATE TABLE pgml.outcome_sources (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    relation_name TEXT NOT NULL,
    key_column TEXT NOT NULL,
    time_column TEXT NOT NULL,
    label_column TEXT NOT NULL,
    created_by NAME NOT NULL DEFAULT current_user,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (project_id, relation_name)
);

-- How far pgml.refresh_live_metrics() has read each outcome stream of a project: pgml.outcomes
-- by id (source_id NULL), an outcome source by time; and how many outcomes found their
-- prediction.
CREATE TABLE pgml.live_watermarks (
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    source_id BIGINT REFERENCES pgml.outcome_sources (id) ON DELETE CASCADE,
    last_id BIGINT NOT NULL DEFAULT 0,
    last_time TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    matched BIGINT NOT NULL DEFAULT 0,
    unmatched BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX live_watermarks_idx ON pgml.live_watermarks (project_id, COALESCE(source_id, 0));

-- Predictions the log dropped (buffer full, or not writable), per minute, for this database:
-- counted by the writers as they find them.
CREATE TABLE pgml.log_drops (
    minute TIMESTAMPTZ PRIMARY KEY,
    dropped BIGINT NOT NULL
);

-- Alert rules: a live metric of what a stage serves, over a window, crossing a threshold once
-- at least min_count predictions (labelled ones, for a quality metric) are in the window.
-- Evaluated every minute by pg_cron (job pgml_live_metrics, pgml.evaluate_alerts()).
CREATE TABLE pgml.alert_rules (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT 'production',
    metric TEXT NOT NULL,
    comparison TEXT NOT NULL CHECK (comparison IN ('below', 'above')),
    threshold DOUBLE PRECISION NOT NULL,
    time_window INTERVAL NOT NULL DEFAULT '1 hour',
    min_count BIGINT NOT NULL DEFAULT 100,
    -- 'notify', or 'rollback': the stage returns to the model it served before, in the
    -- transaction that opens the alert
    action TEXT NOT NULL DEFAULT 'notify' CHECK (action IN ('notify', 'rollback')),
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_by NAME NOT NULL DEFAULT current_user,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (project_id, name)
);

-- Alerts: opened when a rule's condition holds (one open alert per rule and model), resolved
-- when it no longer does. Each opening also notifies the channel pgml_alerts (JSON) and writes
-- an audit event.
CREATE TABLE pgml.alerts (
    id BIGSERIAL PRIMARY KEY,
    rule_id BIGINT REFERENCES pgml.alert_rules (id) ON DELETE SET NULL,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    rule_name TEXT NOT NULL,
    stage TEXT NOT NULL,
    model_id BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION,
    comparison TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    count DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    action_taken TEXT,
    opened_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX alerts_open_idx ON pgml.alerts (rule_id, model_id) WHERE state = 'open';
CREATE INDEX alerts_project_idx ON pgml.alerts (project_id, opened_at);
-- what pg_dump keeps (as sql/backup.sql does for a fresh install): the new registry tables and
-- the outcomes' sequence. The log's partitions are not members of the extension: pg_dump keeps
-- them, and their rows, as it keeps any table.
-- (one statement each: each updates pg_extension's row)
SELECT pg_catalog.pg_extension_config_dump('pgml.monitoring', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcomes', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcomes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.live_stats', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcome_sources', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcome_sources_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.live_watermarks', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.log_drops', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.alert_rules_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.alerts_id_seq', '');

-- the audit trail records alerts
ALTER TABLE pgml.audit_log DROP CONSTRAINT audit_log_event_check;
ALTER TABLE pgml.audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN ('train', 'deploy', 'rollback', 'promote',
    'request', 'approve', 'reject', 'override', 'archive', 'delete', 'schema_change', 'add_stage', 'set_policy', 'alert'));

-- pgml.predict and pgml.predict_proba with key and request_id. NULL in, NULL out, as before
-- (they are no longer declared STRICT: key and request_id may be NULL).
DROP FUNCTION pgml.predict(text, boolean[], text);
DROP FUNCTION pgml.predict(text, real[], text);
DROP FUNCTION pgml.predict(text, double precision[], text);
DROP FUNCTION pgml.predict(text, smallint[], text);
DROP FUNCTION pgml.predict(text, integer[], text);
DROP FUNCTION pgml.predict(text, bigint[], text);
DROP FUNCTION pgml.predict(text, numeric[], text);
DROP FUNCTION pgml.predict(text, anyelement, text);
DROP FUNCTION pgml.predict_proba(text, real[], text);

CREATE FUNCTION pgml."_pgml_log_write"(
	"records" bytea /* & [u8] */
) RETURNS bigint /* i64 */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_log_write_wrapper';

CREATE FUNCTION pgml."_pgml_score"(
	"project_name" TEXT, /* & str */
	"model_id" bigint, /* i64 */
	"stage" TEXT, /* & str */
	"row" anyelement, /* Option < pgrx :: AnyElement > */
	"key" TEXT /* Option < & str > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_score_wrapper';

CREATE FUNCTION pgml."add_alert_rule"(
	"project_name" TEXT, /* Option < & str > */
	"name" TEXT, /* Option < & str > */
	"metric" TEXT, /* Option < & str > */
	"below" double precision DEFAULT NULL, /* Option < f64 > */
	"above" double precision DEFAULT NULL, /* Option < f64 > */
	"time_window" interval DEFAULT '1 hour', /* Option < Interval > */
	"min_count" bigint DEFAULT 100, /* Option < i64 > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"action" TEXT DEFAULT 'notify' /* Option < & str > */
) RETURNS bigint /* i64 */
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_alert_rule_wrapper';

CREATE FUNCTION pgml."add_outcome_source"(
	"project_name" TEXT, /* & str */
	"relation_name" TEXT, /* & str */
	"key_column" TEXT, /* & str */
	"time_column" TEXT, /* & str */
	"label_column" TEXT /* & str */
) RETURNS bigint /* i64 */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_outcome_source_wrapper';

CREATE FUNCTION pgml."batch_score"(
	"project_name" TEXT, /* & str */
	"relation_name" TEXT, /* & str */
	"key_column" TEXT, /* & str */
	"into" TEXT, /* & str */
	"stage" TEXT DEFAULT 'production' /* & str */
) RETURNS TABLE (
	"rows" bigint,  /* i64 */
	"model_id" bigint,  /* i64 */
	"stage" TEXT,  /* String */
	"into" TEXT  /* String */
)
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'batch_score_wrapper';

CREATE FUNCTION pgml."evaluate_alerts"(
	"project_name" TEXT DEFAULT NULL, /* Option < & str > */
	"refresh" bool DEFAULT true /* Option < bool > */
) RETURNS TABLE (
	"project_name" TEXT,  /* String */
	"rule" TEXT,  /* String */
	"model_id" bigint,  /* Option < i64 > */
	"value" double precision,  /* Option < f64 > */
	"count" double precision,  /* f64 */
	"state" TEXT,  /* String */
	"action_taken" TEXT  /* Option < String > */
)
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'evaluate_alerts_wrapper';

CREATE FUNCTION pgml."flush_prediction_log"(
	"timeout_seconds" double precision DEFAULT 10 /* f64 */
) RETURNS bool /* bool */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'flush_prediction_log_wrapper';

CREATE FUNCTION pgml."live_metrics"(
	"project_name" TEXT, /* Option < & str > */
	"time_window" interval DEFAULT '1 day', /* Option < Interval > */
	"bucket" interval DEFAULT '1 hour', /* Option < Interval > */
	"stage" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TABLE (
	"stage" TEXT,  /* String */
	"model_id" bigint,  /* i64 */
	"bucket_start" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"predictions" double precision,  /* f64 */
	"records" bigint,  /* i64 */
	"labelled" double precision,  /* f64 */
	"judged" bool,  /* bool */
	"accuracy" double precision,  /* Option < f64 > */
	"log_loss" double precision,  /* Option < f64 > */
	"precision" double precision,  /* Option < f64 > */
	"recall" double precision,  /* Option < f64 > */
	"f1" double precision,  /* Option < f64 > */
	"calibration_error" double precision,  /* Option < f64 > */
	"mae" double precision,  /* Option < f64 > */
	"rmse" double precision,  /* Option < f64 > */
	"r2" double precision,  /* Option < f64 > */
	"bias" double precision,  /* Option < f64 > */
	"latency_p50_us" double precision,  /* Option < f64 > */
	"latency_p99_us" double precision,  /* Option < f64 > */
	"prediction_drift" double precision,  /* Option < f64 > */
	"dropped" bigint  /* i64 */
)
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'live_metrics_wrapper';

CREATE FUNCTION pgml."monitoring_status"() RETURNS TABLE (
	"logging" bool,  /* bool */
	"reason" TEXT,  /* Option < String > */
	"buffer_kb" INT,  /* i32 */
	"flush_interval_ms" INT,  /* i32 */
	"appended" bigint,  /* i64 */
	"written" bigint,  /* i64 */
	"dropped_full" bigint,  /* i64 */
	"dropped_unwritten" bigint,  /* i64 */
	"dropped_no_buffer" bigint,  /* i64 */
	"dropped_standby" bigint,  /* i64 */
	"pending_bytes" bigint  /* i64 */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'monitoring_status_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" bool[], /* :: std :: option :: Option < Vec < Option < bool > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_bool_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" real[], /* :: std :: option :: Option < Vec < Option < f32 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_f32_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" double precision[], /* :: std :: option :: Option < Vec < Option < f64 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_f64_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" smallint[], /* :: std :: option :: Option < Vec < Option < i16 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_i16_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" INT[], /* :: std :: option :: Option < Vec < Option < i32 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_i32_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" bigint[], /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_i64_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"features" NUMERIC[], /* :: std :: option :: Option < Vec < Option < AnyNumeric > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_numeric_keyed_wrapper';

CREATE FUNCTION pgml."predict"(
	"project_name" TEXT, /* Option < & str > */
	"row" anyelement, /* Option < pgrx :: AnyElement > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real /* Option < f32 > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_row_keyed_wrapper';

CREATE FUNCTION pgml."predict_proba"(
	"project_name" TEXT, /* Option < & str > */
	"features" real[], /* :: std :: option :: Option < Vec < Option < f32 > > > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"request_id" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS real[] /* :: std :: option :: Option < Vec < f32 > > */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_proba_keyed_wrapper';

CREATE FUNCTION pgml."record_outcome"(
	"project_name" TEXT, /* Option < & str > */
	"label" real, /* Option < f32 > */
	"request_id" uuid DEFAULT NULL, /* Option < Uuid > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"occurred_at" timestamp with time zone DEFAULT NULL /* Option < TimestampWithTimeZone > */
) RETURNS bigint /* i64 */
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'record_outcome_wrapper';

CREATE FUNCTION pgml."refresh_live_metrics"(
	"project_name" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TABLE (
	"project_name" TEXT,  /* String */
	"source" TEXT,  /* String */
	"matched" bigint,  /* i64 */
	"unmatched" bigint  /* i64 */
)
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'refresh_live_metrics_wrapper';

CREATE FUNCTION pgml."remove_alert_rule"(
	"project_name" TEXT, /* & str */
	"name" TEXT /* & str */
) RETURNS bool /* bool */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remove_alert_rule_wrapper';

CREATE FUNCTION pgml."remove_outcome_source"(
	"project_name" TEXT, /* & str */
	"relation_name" TEXT /* & str */
) RETURNS bool /* bool */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remove_outcome_source_wrapper';

CREATE FUNCTION pgml."set_monitoring"(
	"project_name" TEXT, /* Option < & str > */
	"enabled" bool DEFAULT NULL, /* Option < bool > */
	"sample" real DEFAULT NULL, /* Option < f32 > */
	"scan_after" INT DEFAULT NULL, /* Option < i32 > */
	"scan_sample" real DEFAULT NULL, /* Option < f32 > */
	"features_sample" real DEFAULT NULL, /* Option < f32 > */
	"retention" interval DEFAULT NULL, /* Option < Interval > */
	"label_delay" interval DEFAULT NULL, /* Option < Interval > */
	"attribution_window" interval DEFAULT NULL /* Option < Interval > */
) RETURNS jsonb /* JsonB */
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'set_monitoring_wrapper';

-- Every project's live metrics over the last day, per hour.
CREATE VIEW pgml.live_metrics AS
SELECT p.name AS project_name, m.*
FROM pgml.projects p, LATERAL pgml.live_metrics(p.name) m;


-- privileges (as sql/privileges.sql gives a fresh install)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgml_monitor') THEN
        CREATE ROLE pgml_monitor NOLOGIN;
    END IF;
    IF NOT pg_has_role('pgml_monitor', 'pgml_predictor', 'MEMBER') THEN
        GRANT pgml_predictor TO pgml_monitor;
    END IF;
    IF NOT pg_has_role('pgml_admin', 'pgml_monitor', 'MEMBER') THEN
        GRANT pgml_monitor TO pgml_admin;
    END IF;
END $$;
GRANT SELECT ON pgml.prediction_log, pgml.outcomes TO pgml_monitor;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgml FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    pgml.predict(text, boolean[], text, text, uuid), pgml.predict(text, real[], text, text, uuid),
    pgml.predict(text, double precision[], text, text, uuid), pgml.predict(text, smallint[], text, text, uuid),
    pgml.predict(text, integer[], text, text, uuid), pgml.predict(text, bigint[], text, text, uuid),
    pgml.predict(text, numeric[], text, text, uuid), pgml.predict(text, anyelement, text, text, uuid),
    pgml.predict_proba(text, real[], text, text, uuid),
    pgml.monitoring_status(), pgml.flush_prediction_log(double precision)
TO pgml_predictor;
GRANT EXECUTE ON FUNCTION
    pgml.live_metrics(text, interval, interval, text),
    pgml.batch_score(text, text, text, text, text), pgml._pgml_score(text, bigint, text, anyelement, text)
TO pgml_predictor;
GRANT EXECUTE ON FUNCTION
    pgml.record_outcome(text, real, uuid, text, timestamp with time zone), pgml.refresh_live_metrics(text),
    pgml.add_outcome_source(text, text, text, text, text), pgml.remove_outcome_source(text, text),
    pgml.evaluate_alerts(text, boolean), pgml._pgml_log_write(bytea)
TO pgml_monitor;
GRANT EXECUTE ON FUNCTION
    pgml.set_monitoring(text, boolean, real, integer, real, real, interval, interval, interval),
    pgml.log_maintenance(integer), pgml.add_alert_rule(text, text, text, double precision, double precision, interval,
    bigint, text, text), pgml.remove_alert_rule(text, text)
TO pgml_admin;
GRANT SELECT ON pgml.monitoring, pgml.live_stats, pgml.outcome_sources, pgml.live_watermarks, pgml.log_drops,
    pgml.alert_rules, pgml.alerts, pgml.live_metrics TO pgml_predictor;
