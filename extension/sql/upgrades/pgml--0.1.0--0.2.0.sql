-- pgml-rs 0.1.0 -> 0.2.0, written by hand. scripts/test-upgrade.sh installs 0.1.0, fills its
-- registry, runs ALTER EXTENSION pgml UPDATE and checks that the schema equals a fresh
-- install's and that every model, deployment and audit row is kept.

-- A project's default stages and a deployment's audit event are now written by the functions
-- that create them, not by triggers: a restore's rows fired those triggers too, adding stages
-- that the restore then collided with and doubling the audit trail.
DROP TRIGGER projects_default_stages ON pgml.projects;
DROP FUNCTION pgml._pgml_default_stages();
DROP TRIGGER deployments_audit ON pgml.deployments;
DROP FUNCTION pgml._pgml_audit_deployment();

-- The benchmark's no-op takes predict's stage argument too: bench/predict.sh compares predict
-- with a call taking the same arguments.
DROP FUNCTION pgml._pgml_noop_predict(text, real[]);
CREATE FUNCTION pgml._pgml_noop_predict("project_name" TEXT, "features" real[], "stage" TEXT DEFAULT 'production')
RETURNS real STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'noop_predict_wrapper';
REVOKE EXECUTE ON FUNCTION pgml._pgml_noop_predict(text, real[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml._pgml_noop_predict(text, real[], text) TO pgml_predictor;

-- pg_dump keeps every table of the registry with its rows, and every sequence's position (one
-- call per statement: each call updates the extension's catalog row).
SELECT pg_catalog.pg_extension_config_dump('pgml.projects', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.files', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.stages', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.stage_policies', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.promotion_requests', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.promotion_reviews', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.drift_references', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.drift_settings', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.scheduled_runs', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.projects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.snapshots_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.files_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.promotion_requests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.schedules_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgml.scheduled_runs_id_seq', '');
