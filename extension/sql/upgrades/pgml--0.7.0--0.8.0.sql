-- pgml-rs 0.7.0 -> 0.8.0, written by hand: models in and out, and explanations. pgml.export
-- writes a stored model as a file (a bundle, XGBoost's UBJ or JSON, LightGBM's text);
-- pgml.import stores a model trained elsewhere as an ordinary model version; pgml.explain,
-- pgml.global_explain and pgml.feature_importance say why a model predicts what it does.
-- pgml.models gains the columns origin and explanation (NULL for every model trained so far),
-- the audit log accepts the event 'import', and the role pgml_importer (granted to
-- pgml_admin) may import. Nothing of the registry, the log or the outcomes is changed; no
-- function is replaced.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.8.0'" to load this file. \quit

ALTER TABLE pgml.models ADD COLUMN origin JSONB;
ALTER TABLE pgml.models ADD COLUMN explanation JSONB;

ALTER TABLE pgml.audit_log DROP CONSTRAINT audit_log_event_check;
ALTER TABLE pgml.audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN ('train', 'deploy', 'rollback', 'promote',
    'request', 'approve', 'reject', 'override', 'archive', 'delete', 'schema_change', 'add_stage', 'set_policy', 'alert',
    'rollout', 'import'));

-- pgml::api::portable::export
CREATE FUNCTION pgml."export"(
	"model_id" bigint, /* i64 */
	"format" TEXT DEFAULT 'bundle' /* & str */
) RETURNS bytea /* Vec < u8 > */
STRICT STABLE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'export_wrapper';

-- pgml::api::portable::import
CREATE FUNCTION pgml."import"(
	"project_name" TEXT, /* & str */
	"task" TEXT, /* Option < & str > */
	"model" bytea, /* & [u8] */
	"format" TEXT DEFAULT NULL, /* Option < & str > */
	"features" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < String > > */
	"relation_name" TEXT DEFAULT NULL, /* Option < & str > */
	"y_column_name" TEXT DEFAULT NULL, /* Option < & str > */
	"automatic_deploy" bool DEFAULT true /* Option < bool > */
) RETURNS bigint /* i64 */
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'import_wrapper';

-- pgml::api::explain::explain
CREATE FUNCTION pgml."explain"(
	"model_id" bigint, /* Option < i64 > */
	"features" real[], /* :: std :: option :: Option < Vec < Option < f32 > > > */
	"top_k" INT DEFAULT NULL, /* Option < i32 > */
	"method" TEXT DEFAULT 'exact' /* Option < & str > */
) RETURNS TABLE (
	"explained_model_id" bigint,  /* i64 */
	"output" TEXT,  /* String */
	"feature" TEXT,  /* String */
	"value" real,  /* f32 */
	"attribution" double precision,  /* f64 */
	"baseline" double precision,  /* f64 */
	"prediction" double precision,  /* f64 */
	"output_space" TEXT,  /* String */
	"explanation_method" TEXT,  /* String */
	"approximation_error" double precision  /* f64 */
)
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'explain_model_wrapper';

-- pgml::api::explain::explain
CREATE FUNCTION pgml."explain"(
	"project_name" TEXT, /* Option < & str > */
	"features" real[], /* :: std :: option :: Option < Vec < Option < f32 > > > */
	"top_k" INT DEFAULT NULL, /* Option < i32 > */
	"stage" TEXT DEFAULT 'production', /* Option < & str > */
	"method" TEXT DEFAULT 'exact' /* Option < & str > */
) RETURNS TABLE (
	"explained_model_id" bigint,  /* i64 */
	"output" TEXT,  /* String */
	"feature" TEXT,  /* String */
	"value" real,  /* f32 */
	"attribution" double precision,  /* f64 */
	"baseline" double precision,  /* f64 */
	"prediction" double precision,  /* f64 */
	"output_space" TEXT,  /* String */
	"explanation_method" TEXT,  /* String */
	"approximation_error" double precision  /* f64 */
)
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'explain_project_wrapper';

-- pgml::api::explain::feature_importance
CREATE FUNCTION pgml."feature_importance"(
	"model_id" bigint /* i64 */
) RETURNS TABLE (
	"feature" TEXT,  /* String */
	"importance_type" TEXT,  /* String */
	"importance" double precision,  /* f64 */
	"output" TEXT  /* Option < String > */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'feature_importance_wrapper';

-- pgml::api::explain::global_explain
CREATE FUNCTION pgml."global_explain"(
	"model_id" bigint /* i64 */
) RETURNS TABLE (
	"explained_model_id" bigint,  /* i64 */
	"feature" TEXT,  /* String */
	"mean_abs_attribution" double precision,  /* f64 */
	"rank" INT,  /* i32 */
	"rows" INT,  /* i32 */
	"method" TEXT  /* String */
)
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'global_explain_model_wrapper';

-- pgml::api::explain::global_explain
CREATE FUNCTION pgml."global_explain"(
	"project_name" TEXT, /* & str */
	"stage" TEXT DEFAULT 'production' /* & str */
) RETURNS TABLE (
	"explained_model_id" bigint,  /* i64 */
	"feature" TEXT,  /* String */
	"mean_abs_attribution" double precision,  /* f64 */
	"rank" INT,  /* i32 */
	"rows" INT,  /* i32 */
	"method" TEXT  /* String */
)
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'global_explain_project_wrapper';

-- the role, and privileges as privileges.sql gives them (roles are cluster-wide: another
-- database may have made it already)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgml_importer') THEN
        CREATE ROLE pgml_importer NOLOGIN;
    END IF;
    IF NOT pg_has_role('pgml_importer', 'pgml_predictor', 'MEMBER') THEN
        GRANT pgml_predictor TO pgml_importer;
    END IF;
    IF NOT pg_has_role('pgml_admin', 'pgml_importer', 'MEMBER') THEN
        GRANT pgml_importer TO pgml_admin;
    END IF;
END $$;
REVOKE EXECUTE ON FUNCTION pgml.export(bigint, text),
    pgml.import(text, text, bytea, text, text[], text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml.export(bigint, text) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.import(text, text, bytea, text, text[], text, text, boolean) TO pgml_importer;
REVOKE EXECUTE ON FUNCTION pgml.explain(text, real[], integer, text, text), pgml.explain(bigint, real[], integer, text),
    pgml.global_explain(text, text), pgml.global_explain(bigint), pgml.feature_importance(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml.explain(text, real[], integer, text, text), pgml.explain(bigint, real[], integer, text),
    pgml.global_explain(text, text), pgml.global_explain(bigint), pgml.feature_importance(bigint) TO pgml_predictor;
