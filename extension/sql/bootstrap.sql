-- The registry: PostgresML's tables, types and views, with the columns its users query.
-- pgml-rs additions are marked; nothing of PostgresML's is renamed or dropped.

CREATE TYPE pgml.task AS ENUM ('regression', 'classification', 'decomposition', 'clustering');
CREATE TYPE pgml.sampling AS ENUM ('random', 'last', 'stratified');
CREATE TYPE pgml.runtime AS ENUM ('python', 'rust');
CREATE TYPE pgml.strategy AS ENUM ('new_score', 'best_score', 'most_recent', 'rollback', 'specific');

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
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX models_project_id_idx ON pgml.models (project_id);
CREATE INDEX models_snapshot_id_idx ON pgml.models (snapshot_id);

CREATE TABLE pgml.deployments (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    model_id BIGINT NOT NULL REFERENCES pgml.models (id) ON DELETE CASCADE,
    strategy pgml.strategy,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    -- pgml-rs: who deployed, and the model this deployment replaced (NULL for the first).
    deployed_by NAME NOT NULL DEFAULT session_user,
    replaced_model_id BIGINT REFERENCES pgml.models (id) ON DELETE SET NULL
);
CREATE INDEX deployments_project_id_created_at_idx ON pgml.deployments (project_id, created_at);
CREATE INDEX deployments_model_id_idx ON pgml.deployments (model_id);

CREATE TABLE pgml.files (
    id BIGSERIAL PRIMARY KEY,
    model_id BIGINT NOT NULL REFERENCES pgml.models (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    part INTEGER NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    data BYTEA NOT NULL
);
CREATE UNIQUE INDEX files_model_id_path_part_idx ON pgml.files (model_id, path, part);

-- The deployment in force per project is its newest row (ids break clock ties).
CREATE VIEW pgml.current_deployments AS
SELECT DISTINCT ON (project_id) id, project_id, model_id, strategy, created_at, deployed_by
FROM pgml.deployments
ORDER BY project_id, created_at DESC, id DESC;

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
-- the interval each model served (served_until NULL = serving now).
CREATE VIEW pgml.deployment_history AS
SELECT d.id, p.name AS project, d.model_id, m.algorithm, d.strategy, d.deployed_by,
       d.replaced_model_id, d.created_at AS deployed_at,
       lead(d.created_at) OVER w AS served_until
FROM pgml.deployments d
JOIN pgml.projects p ON p.id = d.project_id
JOIN pgml.models m ON m.id = d.model_id
WINDOW w AS (PARTITION BY d.project_id ORDER BY d.created_at, d.id)
ORDER BY p.name, d.created_at, d.id;
