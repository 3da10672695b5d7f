-- pgml-rs 0.6.0: production monitoring. Predictions are logged off the predict path (shared
-- memory, then background writers; see extension/src/monitoring) into a log partitioned by day;
-- outcomes that arrive later are recorded beside it.

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
