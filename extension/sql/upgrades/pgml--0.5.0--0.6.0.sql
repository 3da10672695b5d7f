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
CREATE INDEX prediction_log_request_id_idx ON pgml.prediction_log (request_id);
CREATE INDEX prediction_log_key_idx ON pgml.prediction_log (project_id, key, predicted_at) WHERE key IS NOT NULL;

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
BEGIN
    IF to_regclass('pgml.' || part) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE pgml.%I PARTITION OF pgml.prediction_log FOR VALUES FROM (%L) TO (%L)',
                           part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- another writer created it meanwhile
        END;
        IF to_regclass('cron.job') IS NOT NULL AND NOT EXISTS (
            SELECT FROM cron.job WHERE jobname = 'pgml_log_maintenance' AND database = current_database()
        ) THEN
            PERFORM cron.schedule('pgml_log_maintenance', '7 * * * *', 'SELECT pgml.log_maintenance()');
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
END $$;

-- what pg_dump keeps (as sql/backup.sql does for a fresh install): the new registry tables and
-- the outcomes' sequence. The log's partitions are not members of the extension: pg_dump keeps
-- them, and their rows, as it keeps any table.
SELECT pg_catalog.pg_extension_config_dump('pgml.monitoring', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcomes', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.outcomes_id_seq', '');

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

CREATE FUNCTION pgml."flush_prediction_log"(
	"timeout_seconds" double precision DEFAULT 10 /* f64 */
) RETURNS bool /* bool */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'flush_prediction_log_wrapper';

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

CREATE FUNCTION pgml."record_outcome"(
	"project_name" TEXT, /* Option < & str > */
	"label" real, /* Option < f32 > */
	"request_id" uuid DEFAULT NULL, /* Option < Uuid > */
	"key" TEXT DEFAULT NULL, /* Option < & str > */
	"occurred_at" timestamp with time zone DEFAULT NULL /* Option < TimestampWithTimeZone > */
) RETURNS bigint /* i64 */
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'record_outcome_wrapper';

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
GRANT SELECT ON pgml.monitoring TO pgml_predictor;
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
GRANT EXECUTE ON FUNCTION pgml.record_outcome(text, real, uuid, text, timestamp with time zone) TO pgml_monitor;
GRANT EXECUTE ON FUNCTION
    pgml.set_monitoring(text, boolean, real, integer, real, real, interval, interval, interval),
    pgml.log_maintenance(integer)
TO pgml_admin;
