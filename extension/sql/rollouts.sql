-- pgml-rs 0.7.0: rollouts. A candidate model meets live traffic in shadow (it scores the
-- requests the baseline answers) or as a keyed canary (it answers a stable share of the keys),
-- and pg_cron's job pgml_rollouts decides each minute, on the outcomes joined to the logged
-- predictions, whether it is promoted or rolled back (extension/src/rollout, the statistics in
-- crates/core/src/rollout and docs/rollouts.md).
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
