-- The registry: PostgresML's tables, types and views, with the columns its users query.
-- pgml-rs additions are marked; nothing of PostgresML's is renamed or dropped.

CREATE TYPE pgml.task AS ENUM ('regression', 'classification', 'decomposition', 'clustering');
CREATE TYPE pgml.sampling AS ENUM ('random', 'last', 'stratified');
CREATE TYPE pgml.runtime AS ENUM ('python', 'rust');
CREATE TYPE pgml.strategy AS ENUM ('new_score', 'best_score', 'most_recent', 'rollback', 'specific',
    'promote'); -- pgml-rs: 'promote' (a model promoted from another stage or by request)

CREATE TABLE pgml.projects (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    task pgml.task NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX projects_name_idx ON pgml.projects (name);

CREATE TABLE pgml.snapshots (
    id BIGSERIAL PRIMARY KEY,
    relation_name TEXT NOT NULL,
    y_column_name TEXT[],
    test_size FLOAT4 NOT NULL,
    test_sampling pgml.sampling NOT NULL,
    status TEXT NOT NULL,
    columns JSONB,
    analysis JSONB,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    materialized BOOLEAN DEFAULT false
);

CREATE TABLE pgml.models (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    snapshot_id BIGINT REFERENCES pgml.snapshots (id) ON DELETE SET NULL,
    num_features INT NOT NULL,
    algorithm TEXT NOT NULL,
    runtime pgml.runtime DEFAULT 'rust'::pgml.runtime,
    hyperparams JSONB NOT NULL,
    status TEXT NOT NULL,
    metrics JSONB,
    search TEXT,
    search_params JSONB NOT NULL,
    search_args JSONB NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    -- pgml-rs 0.8.0: where an imported model came from (pgml.import: its format, size, who
    -- imported it, a bundle's source); NULL for a model trained here
    origin JSONB,
    -- pgml-rs 0.8.0: the global explanation a training computed (mean |attribution| of each
    -- feature over test rows: pgml.global_explain); NULL for models that cannot be explained
    explanation JSONB,
    -- pgml-rs 0.9.0: what a team judges a model by beyond its metrics, on its test rows (an
    -- import's holdout): a classifier's confusion matrix and ROC and precision-recall curves,
    -- a regression's predicted and actual values; NULL for models trained before
    evaluation JSONB
);
CREATE INDEX models_project_id_idx ON pgml.models (project_id);
CREATE INDEX models_snapshot_id_idx ON pgml.models (snapshot_id);

-- pgml-rs: the named stages of each project ('staging' and 'production' from the start,
-- inserted with the project by pgml.train: no trigger, so a restore's rows add none).
CREATE TABLE pgml.stages (
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by NAME NOT NULL DEFAULT current_user,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, name)
);

CREATE TABLE pgml.deployments (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    model_id BIGINT NOT NULL REFERENCES pgml.models (id) ON DELETE CASCADE,
    strategy pgml.strategy,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    -- pgml-rs: who deployed, and the model this deployment replaced in its stage (NULL for
    -- the first), and the stage (PostgresML's only one is 'production').
    deployed_by NAME NOT NULL DEFAULT current_user,
    replaced_model_id BIGINT REFERENCES pgml.models (id) ON DELETE SET NULL,
    stage TEXT NOT NULL DEFAULT 'production',
    FOREIGN KEY (project_id, stage) REFERENCES pgml.stages (project_id, name) ON DELETE CASCADE
);
CREATE INDEX deployments_project_id_created_at_idx ON pgml.deployments (project_id, created_at);
CREATE INDEX deployments_project_id_stage_idx ON pgml.deployments (project_id, stage, created_at);
CREATE INDEX deployments_model_id_idx ON pgml.deployments (model_id);

CREATE TABLE pgml.files (
    id BIGSERIAL PRIMARY KEY,
    model_id BIGINT NOT NULL REFERENCES pgml.models (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    part INTEGER NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    -- pgml-rs: lz4 compresses a stored model several times faster than the default pglz
    data BYTEA COMPRESSION lz4 NOT NULL
);
CREATE UNIQUE INDEX files_model_id_path_part_idx ON pgml.files (model_id, path, part);

-- The deployment in force per project and stage is its newest row (ids break clock ties).
CREATE VIEW pgml.stage_deployments AS
SELECT DISTINCT ON (project_id, stage) id, project_id, stage, model_id, strategy, created_at, deployed_by
FROM pgml.deployments
ORDER BY project_id, stage, created_at DESC, id DESC;

-- PostgresML's view: what production serves.
CREATE VIEW pgml.current_deployments AS
SELECT id, project_id, model_id, strategy, created_at, deployed_by
FROM pgml.stage_deployments
WHERE stage = 'production';

CREATE VIEW pgml.trained_models AS
SELECT m.id, p.name, p.task, m.algorithm, m.runtime, m.created_at,
       s.test_sampling, s.test_size, d.model_id IS NOT NULL AS deployed
FROM pgml.projects p
JOIN pgml.models m ON p.id = m.project_id
LEFT JOIN pgml.snapshots s ON s.id = m.snapshot_id
LEFT JOIN pgml.current_deployments d ON d.model_id = m.id
ORDER BY m.created_at DESC, m.id DESC;

CREATE VIEW pgml.deployed_models AS
SELECT m.id, p.name, p.task, m.algorithm, m.runtime, d.created_at AS deployed_at
FROM pgml.projects p
JOIN pgml.current_deployments d ON d.project_id = p.id
JOIN pgml.models m ON m.id = d.model_id
ORDER BY p.name ASC;

CREATE VIEW pgml.overview AS
SELECT p.name, d.created_at AS deployed_at, p.task, m.algorithm, m.runtime,
       s.relation_name, s.y_column_name, s.test_sampling, s.test_size, s.columns, s.analysis
FROM pgml.projects p
JOIN pgml.current_deployments d ON d.project_id = p.id
JOIN pgml.models m ON m.id = d.model_id
LEFT JOIN pgml.snapshots s ON s.id = m.snapshot_id
ORDER BY d.created_at DESC;

-- pgml-rs: the deployment history with who, why, and what each deployment replaced, and
-- the interval each model served its stage (served_until NULL = serving now).
CREATE VIEW pgml.deployment_history AS
SELECT d.id, p.name AS project, d.stage, d.model_id, m.algorithm, d.strategy, d.deployed_by,
       d.replaced_model_id, d.created_at AS deployed_at,
       lead(d.created_at) OVER w AS served_until
FROM pgml.deployments d
JOIN pgml.projects p ON p.id = d.project_id
JOIN pgml.models m ON m.id = d.model_id
WINDOW w AS (PARTITION BY d.project_id, d.stage ORDER BY d.created_at, d.id)
ORDER BY p.name, d.stage, d.created_at, d.id;

-- pgml-rs: drift. Reference statistics of each model's training rows and test predictions,
-- kept so drift can be measured later without the original rows.
CREATE TABLE pgml.drift_references (
    model_id BIGINT PRIMARY KEY REFERENCES pgml.models (id) ON DELETE CASCADE,
    features JSONB COMPRESSION lz4 NOT NULL,
    predictions JSONB COMPRESSION lz4 NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp()
);

-- Per-project drift thresholds (keys of pgml-core's Thresholds; missing keys keep defaults).
CREATE TABLE pgml.drift_settings (
    project_id BIGINT PRIMARY KEY REFERENCES pgml.projects (id) ON DELETE CASCADE,
    thresholds JSONB NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp()
);

-- pgml-rs: scheduled retraining and drift checks with pg_cron.
CREATE TABLE pgml.schedules (
    id BIGSERIAL PRIMARY KEY,
    project_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('training', 'drift')),
    schedule TEXT NOT NULL,
    job_name TEXT NOT NULL UNIQUE,
    -- training: the arguments of pgml.train (NULL = pgml.train's default / the last snapshot)
    relation_name TEXT,
    y_column_name TEXT,
    algorithm TEXT,
    hyperparams JSONB,
    test_size REAL,
    test_sampling TEXT,
    created_by NAME NOT NULL DEFAULT session_user,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (project_name, kind)
);

-- Every scheduled run, so a failed retraining is visible without reading server logs.
CREATE TABLE pgml.scheduled_runs (
    id BIGSERIAL PRIMARY KEY,
    schedule_id BIGINT REFERENCES pgml.schedules (id) ON DELETE SET NULL,
    project_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    finished_at TIMESTAMP WITHOUT TIME ZONE,
    outcome TEXT NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'succeeded', 'failed')),
    model_id BIGINT REFERENCES pgml.models (id) ON DELETE SET NULL,
    deployed BOOLEAN,
    dataset_drifted BOOLEAN,
    details JSONB,
    error TEXT
);
CREATE INDEX scheduled_runs_project_idx ON pgml.scheduled_runs (project_name, started_at);

-- What pg_cron runs: one training (or drift check) recorded in pgml.scheduled_runs, the
-- failure included (the inner block's rollback keeps the run row).
CREATE FUNCTION pgml._pgml_run_schedule(schedule_id BIGINT) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    s pgml.schedules;
    run_id BIGINT;
    result RECORD;
BEGIN
    SELECT * INTO s FROM pgml.schedules WHERE id = schedule_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgml schedule % does not exist', schedule_id;
    END IF;
    INSERT INTO pgml.scheduled_runs (schedule_id, project_name, kind)
    VALUES (s.id, s.project_name, s.kind) RETURNING id INTO run_id;
    BEGIN
        IF s.kind = 'training' THEN
            SELECT * INTO result FROM pgml.train(
                s.project_name,
                relation_name => s.relation_name,
                y_column_name => s.y_column_name,
                algorithm => COALESCE(s.algorithm, 'linear'),
                hyperparams => COALESCE(s.hyperparams, '{}'),
                test_size => COALESCE(s.test_size, 0.25),
                test_sampling => COALESCE(s.test_sampling, 'stratified'),
                automatic_deploy => true);
            UPDATE pgml.scheduled_runs SET outcome = 'succeeded', finished_at = clock_timestamp(),
                deployed = result.deployed,
                model_id = (SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
                            WHERE p.name = s.project_name)
            WHERE id = run_id;
        ELSE
            UPDATE pgml.scheduled_runs r SET outcome = 'succeeded', finished_at = clock_timestamp(),
                model_id = d.model_id, dataset_drifted = d.dataset_drifted, details = d.details
            FROM (SELECT min(model_id) AS model_id, bool_or(dataset_drifted) AS dataset_drifted,
                         jsonb_agg(jsonb_build_object('feature', feature, 'drifted', drifted,
                               'psi', psi, 'ks_p_value', ks_p_value, 'js_distance', js_distance)) AS details
                  FROM pgml.drift(s.project_name, s.relation_name)) d
            WHERE r.id = run_id;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        UPDATE pgml.scheduled_runs SET outcome = 'failed', finished_at = clock_timestamp(), error = SQLERRM
        WHERE id = run_id;
    END;
END $$;

CREATE VIEW pgml.training_schedules AS
SELECT s.project_name, s.schedule, s.job_name, s.relation_name, s.y_column_name, s.algorithm, s.hyperparams,
       s.created_by, s.created_at, r.started_at AS last_run_at, r.outcome AS last_outcome,
       r.model_id AS last_model_id, r.deployed AS last_deployed, r.error AS last_error
FROM pgml.schedules s
LEFT JOIN LATERAL (SELECT * FROM pgml.scheduled_runs r WHERE r.schedule_id = s.id ORDER BY r.id DESC LIMIT 1) r ON true
WHERE s.kind = 'training'
ORDER BY s.project_name;

-- Any change of pgml.deployments (pgml.deploy, a hand-written INSERT, a project's cascaded
-- DELETE) tells every backend's model cache, transactionally, that deployments changed.
CREATE FUNCTION pgml._pgml_deployments_changed_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pgml._pgml_deployments_changed();
    RETURN NULL;
END $$;
CREATE TRIGGER deployments_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgml.deployments
FOR EACH STATEMENT EXECUTE FUNCTION pgml._pgml_deployments_changed_trigger();

-- pgml-serve follows deploys: every change of pgml.deployments notifies the channel
-- pgml_deployments with the project's id ('*' after a TRUNCATE). PostgreSQL delivers a
-- notification only when its transaction commits, so a listener never hears of a deploy that
-- rolled back; the same transaction's notifications for one project are delivered once.
CREATE FUNCTION pgml._pgml_deployments_notify_trigger() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('pgml_deployments', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('pgml_deployments', OLD.project_id::text);
    ELSE
        PERFORM pg_notify('pgml_deployments', NEW.project_id::text);
        IF TG_OP = 'UPDATE' AND OLD.project_id <> NEW.project_id THEN
            PERFORM pg_notify('pgml_deployments', OLD.project_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deployments_notify
AFTER INSERT OR UPDATE OR DELETE ON pgml.deployments
FOR EACH ROW EXECUTE FUNCTION pgml._pgml_deployments_notify_trigger();
CREATE TRIGGER deployments_notify_truncate
AFTER TRUNCATE ON pgml.deployments
FOR EACH STATEMENT EXECUTE FUNCTION pgml._pgml_deployments_notify_trigger();
