-- pgml-rs 0.8.0 -> 0.9.0, written by hand: what a team judges a model by. pgml.models gains
-- the column evaluation (a classifier's confusion matrix and ROC and precision-recall curves,
-- a regression's predicted and actual values, on its test rows; NULL for every model trained
-- so far), and pgml.explain_row and pgml.explain_relation explain a table's row and a
-- relation's sample. Decisions may say why (the setting pgml.audit_reason, recorded in their audit
-- events: no schema object). Nothing of the registry, the log or the outcomes is changed; no
-- function is replaced.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.9.0'" to load this file. \quit

ALTER TABLE pgml.models ADD COLUMN evaluation JSONB;

-- explanations of a table's row and of a relation's sample
-- pgml::api::explain::explain_row
CREATE FUNCTION pgml."explain_row"(
	"project_name" TEXT, /* Option < & str > */
	"row" anyelement, /* Option < pgrx :: AnyElement > */
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
AS 'MODULE_PATHNAME', 'explain_row_wrapper';

CREATE FUNCTION pgml.explain_relation(
    project_name TEXT,
    relation_name TEXT,
    sample_size INT DEFAULT 100,
    top_k INT DEFAULT NULL,
    stage TEXT DEFAULT 'production',
    method TEXT DEFAULT 'exact'
) RETURNS TABLE (
    row_number BIGINT, explained_model_id BIGINT, output TEXT, feature TEXT, value REAL,
    attribution DOUBLE PRECISION, baseline DOUBLE PRECISION, prediction DOUBLE PRECISION,
    output_space TEXT, explanation_method TEXT, approximation_error DOUBLE PRECISION
) LANGUAGE plpgsql STABLE AS $body$
BEGIN
    IF sample_size IS NULL OR sample_size < 1 THEN
        RAISE EXCEPTION 'sample_size must be at least 1, got %', coalesce(sample_size::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'the number of rows to explain, for example 100';
    END IF;
    -- the sample: the rows ordered by a hash of their values, so a call explains the same rows
    -- again (as long as the relation holds them)
    RETURN QUERY EXECUTE format(
        'SELECT s.n, e.* FROM (SELECT row_number() OVER (ORDER BY hashtext(r::text), r::text) AS n, r
                               FROM %s r ORDER BY hashtext(r::text), r::text LIMIT $1) s,
                 LATERAL pgml.explain_row($2, s.r, $3, $4, $5) e
         ORDER BY s.n',
        relation_name::regclass)
    USING sample_size, project_name, top_k, stage, method;
END
$body$;

REVOKE EXECUTE ON FUNCTION pgml.explain_row(text, anyelement, integer, text, text),
    pgml.explain_relation(text, text, integer, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml.explain_row(text, anyelement, integer, text, text),
    pgml.explain_relation(text, text, integer, integer, text, text) TO pgml_predictor;
