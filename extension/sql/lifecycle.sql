-- pgml-rs: promotion gates, approvals and the audit trail. The rules are pgml-core's
-- (lifecycle/gates.rs, review.rs, compat.rs); these tables record policies and decisions.

-- The gates a model passes before it serves a stage. NULL / empty = no such gate.
CREATE TABLE pgml.stage_policies (
    project_id BIGINT NOT NULL,
    stage TEXT NOT NULL,
    min_metrics JSONB NOT NULL DEFAULT '{}',
    max_metrics JSONB NOT NULL DEFAULT '{}',
    min_improvement FLOAT8,
    min_relative_improvement FLOAT8,
    approvals INT NOT NULL DEFAULT 0 CHECK (approvals >= 0),
    drift_relation TEXT,
    updated_by NAME NOT NULL DEFAULT current_user,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, stage),
    FOREIGN KEY (project_id, stage) REFERENCES pgml.stages (project_id, name) ON DELETE CASCADE
);

-- Promotions waiting for approvals, and how each ended.
CREATE TABLE pgml.promotion_requests (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pgml.projects (id) ON DELETE CASCADE,
    model_id BIGINT NOT NULL REFERENCES pgml.models (id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    approvals_required INT NOT NULL,
    allow_schema_change BOOLEAN NOT NULL DEFAULT false,
    -- superseded: the model reached the stage another way (a forced promotion, a deploy)
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'promoted', 'rejected', 'superseded')),
    requested_by NAME NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    decided_at TIMESTAMPTZ,
    FOREIGN KEY (project_id, to_stage) REFERENCES pgml.stages (project_id, name) ON DELETE CASCADE
);
-- one open request per model and stage
CREATE UNIQUE INDEX promotion_requests_pending_idx ON pgml.promotion_requests (project_id, to_stage, model_id)
WHERE status = 'pending';

CREATE TABLE pgml.promotion_reviews (
    request_id BIGINT NOT NULL REFERENCES pgml.promotion_requests (id) ON DELETE CASCADE,
    reviewer NAME NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment TEXT,
    reviewed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (request_id, reviewer)
);

-- Every lifecycle event, append-only. Projects and models are kept by name and id, not by
-- reference, so the trail outlives them. Each deployment's event is written with it by the
-- same statement (extension/src/store), never by a trigger: a restore's rows add no event.
CREATE TABLE pgml.audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    event TEXT NOT NULL CHECK (event IN ('train', 'deploy', 'rollback', 'promote', 'request', 'approve',
        'reject', 'override', 'archive', 'delete', 'schema_change', 'add_stage', 'set_policy',
        'alert', 'rollout', 'import')), -- pgml-rs 0.6.0: 'alert' (a rule of pgml.alert_rules opened an alert);
                              -- 0.7.0: 'rollout' (a rollout started, changed or ended);
                              -- 0.8.0: 'import' (pgml.import stored a model trained elsewhere)
    role NAME NOT NULL,
    project TEXT,
    model_id BIGINT,
    stage TEXT,
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_project_idx ON pgml.audit_log (project, at);

-- Privileges keep ordinary roles out (they only SELECT); this keeps the owner out too.
CREATE FUNCTION pgml._pgml_audit_log_append_only() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pgml.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON pgml.audit_log
FOR EACH STATEMENT EXECUTE FUNCTION pgml._pgml_audit_log_append_only();

-- Which model served a project's stage at a time, and who put it there.
CREATE FUNCTION pgml.served_at(project_name TEXT, at TIMESTAMPTZ, stage TEXT DEFAULT 'production')
RETURNS TABLE (model_id BIGINT, event TEXT, deployed_by NAME, deployed_at TIMESTAMPTZ)
LANGUAGE sql STABLE AS $$
    SELECT a.model_id, a.event, a.role, a.at
    FROM pgml.audit_log a
    WHERE a.project = served_at.project_name AND a.stage = served_at.stage
      AND a.event IN ('deploy', 'rollback', 'promote') AND a.at <= served_at.at
    ORDER BY a.at DESC, a.id DESC
    LIMIT 1
$$;

-- Each stage, what it serves, and its gates.
CREATE VIEW pgml.stages_overview AS
SELECT p.name AS project, s.name AS stage, d.model_id, m.algorithm, d.strategy, d.deployed_by,
       d.created_at AS deployed_at, pol.min_metrics, pol.max_metrics, pol.min_improvement,
       pol.min_relative_improvement, COALESCE(pol.approvals, 0) AS approvals, pol.drift_relation
FROM pgml.stages s
JOIN pgml.projects p ON p.id = s.project_id
LEFT JOIN pgml.stage_deployments d ON d.project_id = s.project_id AND d.stage = s.name
LEFT JOIN pgml.models m ON m.id = d.model_id
LEFT JOIN pgml.stage_policies pol ON pol.project_id = s.project_id AND pol.stage = s.name
ORDER BY p.name, s.name;
