-- pgml-rs 0.3.0 -> 0.4.0, written by hand: PostgresML's example files run unchanged.
-- PostgresML's remaining signatures: pgml.load_dataset's limit is bigint; predict,
-- predict_joint and predict_batch take a model id as they take a project (predict_batch by
-- id returns one array, as in PostgresML); PostgresML's Hugging Face functions (transform,
-- transform_stream, generate, tune) exist with their signatures and refuse with 0A000 and a
-- hint; pgml.version() reports the installed version. Everything else in this release
-- (hyperparameters, task defaults, logistic regression) is in the library. No table
-- changes: the registry is untouched.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.4.0'" to load this file. \quit

-- limit integer -> bigint: the function is replaced (nothing in the schema depends on it)
DROP FUNCTION pgml.load_dataset(text, text, integer, jsonb);

-- pgml::api::predict::predict
CREATE FUNCTION pgml."predict"(
	"model_id" bigint, /* i64 */
	"row" anyelement /* pgrx :: AnyElement */
) RETURNS real /* f32 */
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_model_row_wrapper';

-- pgml::api::predict::predict_joint
CREATE FUNCTION pgml."predict_joint"(
	"model_id" bigint, /* i64 */
	"features" real[] /* Vec < Option < f32 > > */
) RETURNS real[] /* Vec < f32 > */
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_joint_model_wrapper';

-- pgml::api::predict::predict_batch
CREATE FUNCTION pgml."predict_batch"(
	"model_id" bigint, /* i64 */
	"features" real[] /* Vec < Option < f32 > > */
) RETURNS real[] /* Vec < f32 > */
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_batch_model_wrapper';

-- pgml::api::datasets::load_dataset
CREATE FUNCTION pgml."load_dataset"(
	"source" TEXT, /* & str */
	"subset" TEXT DEFAULT NULL, /* Option < & str > */
	"limit" bigint DEFAULT NULL, /* Option < i64 > */
	"kwargs" jsonb DEFAULT '{}' /* JsonB */
) RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"rows" bigint  /* i64 */
)
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'load_dataset_wrapper';

-- pgml::api::transformers::transform
CREATE FUNCTION pgml."transform"(
	"task" jsonb, /* JsonB */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"inputs" TEXT[] DEFAULT ARRAY[]::TEXT[], /* Array < & str > */
	"cache" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_json_wrapper';

-- pgml::api::transformers::transform
CREATE FUNCTION pgml."transform"(
	"task" TEXT, /* & str */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"inputs" TEXT[] DEFAULT ARRAY[]::TEXT[], /* Array < & str > */
	"cache" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_string_wrapper';

-- pgml::api::transformers::transform
CREATE FUNCTION pgml."transform"(
	"task" jsonb, /* JsonB */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"inputs" jsonb[] DEFAULT ARRAY[]::JSONB[], /* Vec < Option < JsonB > > */
	"cache" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_conversational_json_wrapper';

-- pgml::api::transformers::transform
CREATE FUNCTION pgml."transform"(
	"task" TEXT, /* & str */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"inputs" jsonb[] DEFAULT ARRAY[]::JSONB[], /* Vec < Option < JsonB > > */
	"cache" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_conversational_string_wrapper';

-- pgml::api::transformers::transform_stream
CREATE FUNCTION pgml."transform_stream"(
	"task" jsonb, /* JsonB */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"input" TEXT DEFAULT '', /* & str */
	"cache" bool DEFAULT false /* bool */
) RETURNS SETOF jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_stream_json_wrapper';

-- pgml::api::transformers::transform_stream
CREATE FUNCTION pgml."transform_stream"(
	"task" TEXT, /* & str */
	"args" jsonb DEFAULT '{}', /* JsonB */
	"input" TEXT DEFAULT '', /* & str */
	"cache" bool DEFAULT false /* bool */
) RETURNS SETOF jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'transform_stream_string_wrapper';

-- pgml::api::transformers::generate
CREATE FUNCTION pgml."generate"(
	"project_name" TEXT, /* & str */
	"inputs" TEXT, /* & str */
	"config" jsonb DEFAULT '{}' /* JsonB */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'generate_wrapper';

-- pgml::api::transformers::tune
CREATE FUNCTION pgml."tune"(
	"project_name" TEXT, /* & str */
	"task" TEXT DEFAULT NULL, /* Option < & str > */
	"relation_name" TEXT DEFAULT NULL, /* Option < & str > */
	"y_column_name" TEXT DEFAULT NULL, /* Option < & str > */
	"model_name" TEXT DEFAULT NULL, /* Option < & str > */
	"hyperparams" jsonb DEFAULT '{}', /* JsonB */
	"test_size" real DEFAULT 0.25, /* f32 */
	"test_sampling" TEXT DEFAULT 'stratified', /* & str */
	"automatic_deploy" bool DEFAULT true, /* Option < bool > */
	"materialize_snapshot" bool DEFAULT false /* bool */
) RETURNS TABLE (
	"status" TEXT,  /* String */
	"task" TEXT,  /* String */
	"algorithm" TEXT,  /* String */
	"deployed" bool  /* bool */
)
PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'tune_wrapper';

-- pgml::api::transformers::version
CREATE FUNCTION pgml."version"() RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'version_wrapper';

-- privileges.sql's grants for the new and replaced functions (EXECUTE is revoked from PUBLIC).
REVOKE EXECUTE ON FUNCTION pgml.predict(bigint, anyelement) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.predict_joint(bigint, real[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.predict_batch(bigint, real[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.version() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.generate(text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform(jsonb, jsonb, text[], boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform(text, jsonb, text[], boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform(jsonb, jsonb, jsonb[], boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform(text, jsonb, jsonb[], boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform_stream(jsonb, jsonb, text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.transform_stream(text, jsonb, text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.load_dataset(text, text, bigint, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgml.tune(text, text, text, text, text, jsonb, real, text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgml.predict(bigint, anyelement) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.predict_joint(bigint, real[]) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.predict_batch(bigint, real[]) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.version() TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.generate(text, text, jsonb) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform(jsonb, jsonb, text[], boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform(text, jsonb, text[], boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform(jsonb, jsonb, jsonb[], boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform(text, jsonb, jsonb[], boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform_stream(jsonb, jsonb, text, boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.transform_stream(text, jsonb, text, boolean) TO pgml_predictor;
GRANT EXECUTE ON FUNCTION pgml.load_dataset(text, text, bigint, jsonb) TO pgml_trainer;
GRANT EXECUTE ON FUNCTION pgml.tune(text, text, text, text, text, jsonb, real, text, boolean, boolean) TO pgml_trainer;
