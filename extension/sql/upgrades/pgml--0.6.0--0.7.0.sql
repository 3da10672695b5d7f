-- pgml-rs 0.6.0 -> 0.7.0, written by hand: rollouts. A candidate model is tried in shadow or as
-- a keyed canary beside the model a stage serves, and pg_cron's job pgml_rollouts promotes or
-- rolls it back on live outcomes (pgml.start_rollout, pgml.stop_rollout,
-- pgml.set_rollout_percent, pgml.evaluate_rollouts, pgml.replay; the table pgml.rollouts and
-- the view pgml.rollouts_overview). The audit log accepts the event 'rollout'. Nothing of the
-- registry, the log or the outcomes is changed; no function is replaced.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.7.0'" to load this file. \quit

ALTER TABLE pgml.audit_log DROP CONSTRAINT audit_log_event_check;
ALTER TABLE pgml.audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN ('train', 'deploy', 'rollback', 'promote',
    'request', 'approve', 'reject', 'override', 'archive', 'delete', 'schema_change', 'add_stage', 'set_policy', 'alert',
    'rollout'));

CREATE TABLE pgml.rollouts (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    -- the model the stage served when the rollout started, and the one it tries
    baseline_id BIGINT NOT NULL,
    candidate_id BIGINT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('shadow', 'canary', 'shadow_then_canary')),
    -- what the traffic does now: shadow_then_canary moves from shadow to canary once the
    -- candidate is shown no worse than the margin
    phase TEXT NOT NULL CHECK (phase IN ('shadow', 'canary')),
    -- the share of keys the candidate answers in canary
    percent DOUBLE PRECISION NOT NULL CHECK (percent > 0 AND percent < 100),
    -- the rollout's own salt of the keys' hash: each rollout draws its own share of the keys
    salt BIGINT NOT NULL,
    -- the policy with every default filled in (crates/core/src/rollout/plan.rs)
    policy JSONB NOT NULL,
    state TEXT NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'promoted', 'rolled_back', 'inconclusive', 'stopped')),
    -- the test's tuning, fixed at the first evaluation with enough rows (per phase)
    rho2 DOUBLE PRECISION,
    phase_started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- the statistics behind the last evaluation, and why the rollout ended
    statistics JSONB NOT NULL DEFAULT '{}',
    evaluated_at TIMESTAMPTZ,
    reason TEXT,
    started_by NAME NOT NULL DEFAULT current_user,
    started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    ended_by NAME,
    ended_at TIMESTAMPTZ,
    FOREIGN KEY (project_id, stage) REFERENCES pgml.stages (project_id, name) ON DELETE CASCADE
);
-- one running rollout per project stage
CREATE UNIQUE INDEX rollouts_running_idx ON pgml.rollouts (project_id, stage) WHERE state = 'running';

-- Every rollout with its project's name and the test's current interval.
CREATE VIEW pgml.rollouts_overview AS
SELECT r.id, p.name AS project, r.stage, r.baseline_id, r.candidate_id, r.mode, r.phase, r.percent,
       r.state, r.policy ->> 'loss' AS loss, (r.statistics ->> 'rows')::float8 AS labelled_rows,
       (r.statistics ->> 'estimate')::float8 AS estimate, (r.statistics ->> 'lower')::float8 AS lower_bound,
       (r.statistics ->> 'upper')::float8 AS upper_bound, (r.policy ->> 'margin')::float8 AS margin,
       r.statistics, r.reason, r.started_by, r.started_at, r.evaluated_at, r.ended_by, r.ended_at
FROM pgml.rollouts r JOIN pgml.projects p ON p.id = r.project_id;

-- pg_cron's job pgml_rollouts (pgml.evaluate_rollouts() every minute): scheduled while a
-- rollout runs in this database, removed when none does. Does nothing where pg_cron is not
-- installed (pgml.evaluate_rollouts() may then be run by any scheduler).
CREATE FUNCTION pgml._pgml_rollout_job(wanted BOOLEAN) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job BIGINT;
BEGIN
    -- (dynamic SQL: cron.job is named only where it exists)
    IF to_regclass('cron.job') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT jobid FROM cron.job WHERE jobname = $1 AND database = current_database() LIMIT 1'
        INTO job USING 'pgml_rollouts';
    IF wanted AND job IS NULL THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
            USING 'pgml_rollouts', '* * * * *', 'SELECT count(*) FROM pgml.evaluate_rollouts()';
    ELSIF NOT wanted AND job IS NOT NULL THEN
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
    END IF;
    RETURN true;
END $$;

-- kept by pg_dump, as a fresh install's (backup.sql)
SELECT pg_catalog.pg_extension_config_dump('pgml.rollouts', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.rollouts_id_seq', '');

-- pgml::api::rollouts::evaluate_rollouts
CREATE FUNCTION pgml."evaluate_rollouts"(
	"project_name" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TABLE (
	"rollout_id" bigint,  /* i64 */
	"project" TEXT,  /* String */
	"stage" TEXT,  /* String */
	"phase" TEXT,  /* String */
	"state" TEXT,  /* String */
	"labelled_rows" double precision,  /* f64 */
	"estimate" double precision,  /* Option < f64 > */
	"lower_bound" double precision,  /* Option < f64 > */
	"upper_bound" double precision,  /* Option < f64 > */
	"reason" TEXT  /* Option < String > */
)
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'evaluate_rollouts_wrapper';

-- pgml::api::rollouts::replay
CREATE FUNCTION pgml."replay"(
	"project_name" TEXT, /* & str */
	"model_id" bigint, /* i64 */
	"since" timestamp with time zone DEFAULT now() - interval '7 days', /* TimestampWithTimeZone */
	"stage" TEXT DEFAULT 'production', /* & str */
	"policy" jsonb DEFAULT '{}' /* JsonB */
) RETURNS TABLE (
	"labelled_rows" double precision,  /* f64 */
	"loss" TEXT,  /* String */
	"served_loss" double precision,  /* Option < f64 > */
	"candidate_loss" double precision,  /* Option < f64 > */
	"estimate" double precision,  /* Option < f64 > */
	"lower_bound" double precision,  /* Option < f64 > */
	"upper_bound" double precision,  /* Option < f64 > */
	"verdict" TEXT  /* String */
)
STRICT STABLE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'replay_wrapper';

-- pgml::api::rollouts::set_rollout_percent
CREATE FUNCTION pgml."set_rollout_percent"(
	"project_name" TEXT, /* & str */
	"percent" double precision, /* f64 */
	"stage" TEXT DEFAULT 'production' /* & str */
) RETURNS bigint /* i64 */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'set_rollout_percent_wrapper';

-- pgml::api::rollouts::start_rollout
CREATE FUNCTION pgml."start_rollout"(
	"project_name" TEXT, /* & str */
	"model_id" bigint, /* i64 */
	"mode" TEXT DEFAULT 'canary', /* & str */
	"percent" double precision DEFAULT 10.0, /* f64 */
	"stage" TEXT DEFAULT 'production', /* & str */
	"policy" jsonb DEFAULT '{}' /* JsonB */
) RETURNS bigint /* i64 */
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'start_rollout_wrapper';

-- pgml::api::rollouts::stop_rollout
CREATE FUNCTION pgml."stop_rollout"(
	"project_name" TEXT, /* & str */
	"stage" TEXT DEFAULT 'production', /* & str */
	"promote" bool DEFAULT false /* bool */
) RETURNS TABLE (
	"rollout_id" bigint,  /* i64 */
	"state" TEXT  /* String */
)
STRICT
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'stop_rollout_wrapper';

-- privileges, as privileges.sql gives them
GRANT SELECT ON pgml.rollouts, pgml.rollouts_overview TO pgml_predictor;
REVOKE EXECUTE ON FUNCTION pgml._pgml_rollout_job(boolean), pgml.start_rollout(text, bigint, text, double precision, text, jsonb),
    pgml.stop_rollout(text, text, boolean), pgml.set_rollout_percent(text, double precision, text),
    pgml.evaluate_rollouts(text), pgml.replay(text, bigint, timestamp with time zone, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml.start_rollout(text, bigint, text, double precision, text, jsonb),
    pgml.stop_rollout(text, text, boolean), pgml.set_rollout_percent(text, double precision, text),
    pgml.evaluate_rollouts(text) TO pgml_deployer;
GRANT EXECUTE ON FUNCTION pgml.replay(text, bigint, timestamp with time zone, text, jsonb) TO pgml_monitor;
