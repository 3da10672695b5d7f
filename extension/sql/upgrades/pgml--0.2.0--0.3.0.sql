-- pgml-rs 0.2.0 -> 0.3.0, written by hand: the text workflow. pgml.embed and
-- pgml.embedding_models (sentence embeddings in the backend), pgml.chunk (LangChain's
-- character splitters), PostgresML's vector functions over real[] and float8[] and their
-- element-wise aggregates, and the clickbait dataset (compiled into the library). No table
-- changes: the registry is untouched.
\echo Use "ALTER EXTENSION pgml UPDATE TO '0.3.0'" to load this file. \quit

-- pgml::api::vectors::float8::_pgml_max_abs_step
CREATE FUNCTION pgml."_pgml_max_abs_step"(
	"state" double precision[], /* State */
	"next" double precision[] /* :: std :: option :: Option < Array < f64 > > */
) RETURNS double precision[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_max_abs_step_float8_wrapper';

-- pgml::api::vectors::real::_pgml_max_abs_step
CREATE FUNCTION pgml."_pgml_max_abs_step"(
	"state" real[], /* State */
	"next" real[] /* :: std :: option :: Option < Array < f32 > > */
) RETURNS real[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_max_abs_step_real_wrapper';

-- pgml::api::vectors::float8::_pgml_max_step
CREATE FUNCTION pgml."_pgml_max_step"(
	"state" double precision[], /* State */
	"next" double precision[] /* :: std :: option :: Option < Array < f64 > > */
) RETURNS double precision[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_max_step_float8_wrapper';

-- pgml::api::vectors::real::_pgml_max_step
CREATE FUNCTION pgml."_pgml_max_step"(
	"state" real[], /* State */
	"next" real[] /* :: std :: option :: Option < Array < f32 > > */
) RETURNS real[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_max_step_real_wrapper';

-- pgml::api::vectors::float8::_pgml_min_abs_step
CREATE FUNCTION pgml."_pgml_min_abs_step"(
	"state" double precision[], /* State */
	"next" double precision[] /* :: std :: option :: Option < Array < f64 > > */
) RETURNS double precision[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_min_abs_step_float8_wrapper';

-- pgml::api::vectors::real::_pgml_min_abs_step
CREATE FUNCTION pgml."_pgml_min_abs_step"(
	"state" real[], /* State */
	"next" real[] /* :: std :: option :: Option < Array < f32 > > */
) RETURNS real[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_min_abs_step_real_wrapper';

-- pgml::api::vectors::float8::_pgml_min_step
CREATE FUNCTION pgml."_pgml_min_step"(
	"state" double precision[], /* State */
	"next" double precision[] /* :: std :: option :: Option < Array < f64 > > */
) RETURNS double precision[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_min_step_float8_wrapper';

-- pgml::api::vectors::real::_pgml_min_step
CREATE FUNCTION pgml."_pgml_min_step"(
	"state" real[], /* State */
	"next" real[] /* :: std :: option :: Option < Array < f32 > > */
) RETURNS real[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_min_step_real_wrapper';

-- pgml::api::vectors::float8::_pgml_sum_step
CREATE FUNCTION pgml."_pgml_sum_step"(
	"state" double precision[], /* State */
	"next" double precision[] /* :: std :: option :: Option < Array < f64 > > */
) RETURNS double precision[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_sum_step_float8_wrapper';

-- pgml::api::vectors::real::_pgml_sum_step
CREATE FUNCTION pgml."_pgml_sum_step"(
	"state" real[], /* State */
	"next" real[] /* :: std :: option :: Option < Array < f32 > > */
) RETURNS real[] /* State */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_pgml_sum_step_real_wrapper';

-- pgml::api::vectors::float8::add
CREATE FUNCTION pgml."add"(
	"vector" double precision[], /* Array < f64 > */
	"addend" double precision /* f64 */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_scalar_float8_wrapper';

-- pgml::api::vectors::real::add
CREATE FUNCTION pgml."add"(
	"vector" real[], /* Array < f32 > */
	"addend" real /* f32 */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_scalar_real_wrapper';

-- pgml::api::vectors::float8::add
CREATE FUNCTION pgml."add"(
	"vector" double precision[], /* Array < f64 > */
	"addend" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_vector_float8_wrapper';

-- pgml::api::vectors::real::add
CREATE FUNCTION pgml."add"(
	"vector" real[], /* Array < f32 > */
	"addend" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'add_vector_real_wrapper';

-- pgml::api::chunk::chunk
CREATE FUNCTION pgml."chunk"(
	"splitter" TEXT, /* & str */
	"text" TEXT, /* & str */
	"kwargs" jsonb DEFAULT '{}' /* JsonB */
) RETURNS TABLE (
	"chunk_index" bigint,  /* i64 */
	"chunk" TEXT  /* String */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'chunk_wrapper';

-- pgml::api::vectors::float8::cosine_similarity
CREATE FUNCTION pgml."cosine_similarity"(
	"vector" double precision[], /* Array < f64 > */
	"other" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cosine_similarity_float8_wrapper';

-- pgml::api::vectors::real::cosine_similarity
CREATE FUNCTION pgml."cosine_similarity"(
	"vector" real[], /* Array < f32 > */
	"other" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cosine_similarity_real_wrapper';

-- pgml::api::vectors::float8::distance
CREATE FUNCTION pgml."distance"(
	"vector" double precision[], /* Array < f64 > */
	"other" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_float8_wrapper';

-- pgml::api::vectors::real::distance
CREATE FUNCTION pgml."distance"(
	"vector" real[], /* Array < f32 > */
	"other" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_real_wrapper';

-- pgml::api::vectors::float8::distance_l1
CREATE FUNCTION pgml."distance_l1"(
	"vector" double precision[], /* Array < f64 > */
	"other" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_l1_float8_wrapper';

-- pgml::api::vectors::real::distance_l1
CREATE FUNCTION pgml."distance_l1"(
	"vector" real[], /* Array < f32 > */
	"other" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_l1_real_wrapper';

-- pgml::api::vectors::float8::distance_l2
CREATE FUNCTION pgml."distance_l2"(
	"vector" double precision[], /* Array < f64 > */
	"other" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_l2_float8_wrapper';

-- pgml::api::vectors::real::distance_l2
CREATE FUNCTION pgml."distance_l2"(
	"vector" real[], /* Array < f32 > */
	"other" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'distance_l2_real_wrapper';

-- pgml::api::vectors::float8::divide
CREATE FUNCTION pgml."divide"(
	"vector" double precision[], /* Array < f64 > */
	"dividend" double precision /* f64 */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'divide_scalar_float8_wrapper';

-- pgml::api::vectors::real::divide
CREATE FUNCTION pgml."divide"(
	"vector" real[], /* Array < f32 > */
	"dividend" real /* f32 */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'divide_scalar_real_wrapper';

-- pgml::api::vectors::float8::divide
CREATE FUNCTION pgml."divide"(
	"vector" double precision[], /* Array < f64 > */
	"dividend" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'divide_vector_float8_wrapper';

-- pgml::api::vectors::real::divide
CREATE FUNCTION pgml."divide"(
	"vector" real[], /* Array < f32 > */
	"dividend" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'divide_vector_real_wrapper';

-- pgml::api::vectors::float8::dot_product
CREATE FUNCTION pgml."dot_product"(
	"vector" double precision[], /* Array < f64 > */
	"other" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dot_product_float8_wrapper';

-- pgml::api::vectors::real::dot_product
CREATE FUNCTION pgml."dot_product"(
	"vector" real[], /* Array < f32 > */
	"other" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dot_product_real_wrapper';

-- pgml::api::embed::embed
CREATE FUNCTION pgml."embed"(
	"transformer" TEXT, /* & str */
	"text" TEXT, /* & str */
	"kwargs" jsonb DEFAULT '{}' /* JsonB */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'embed_wrapper';

-- pgml::api::embed::embed
CREATE FUNCTION pgml."embed"(
	"transformer" TEXT, /* & str */
	"inputs" TEXT[], /* Array < & str > */
	"kwargs" jsonb DEFAULT '{}' /* JsonB */
) RETURNS SETOF real[] /* :: std :: option :: Option < Vec < f32 > > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'embed_batch_wrapper';

-- pgml::api::embed::embedding_models
CREATE FUNCTION pgml."embedding_models"() RETURNS TABLE (
	"name" TEXT,  /* String */
	"dimension" INT,  /* i32 */
	"pooling" TEXT,  /* String */
	"max_tokens" INT,  /* i32 */
	"normalized" bool,  /* bool */
	"path" TEXT  /* String */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'embedding_models_wrapper';

-- pgml::api::vectors::float8::multiply
CREATE FUNCTION pgml."multiply"(
	"vector" double precision[], /* Array < f64 > */
	"multiplicand" double precision /* f64 */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'multiply_scalar_float8_wrapper';

-- pgml::api::vectors::real::multiply
CREATE FUNCTION pgml."multiply"(
	"vector" real[], /* Array < f32 > */
	"multiplicand" real /* f32 */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'multiply_scalar_real_wrapper';

-- pgml::api::vectors::float8::multiply
CREATE FUNCTION pgml."multiply"(
	"vector" double precision[], /* Array < f64 > */
	"multiplicand" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'multiply_vector_float8_wrapper';

-- pgml::api::vectors::real::multiply
CREATE FUNCTION pgml."multiply"(
	"vector" real[], /* Array < f32 > */
	"multiplicand" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'multiply_vector_real_wrapper';

-- pgml::api::vectors::float8::norm_l0
CREATE FUNCTION pgml."norm_l0"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l0_float8_wrapper';

-- pgml::api::vectors::real::norm_l0
CREATE FUNCTION pgml."norm_l0"(
	"vector" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l0_real_wrapper';

-- pgml::api::vectors::float8::norm_l1
CREATE FUNCTION pgml."norm_l1"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l1_float8_wrapper';

-- pgml::api::vectors::real::norm_l1
CREATE FUNCTION pgml."norm_l1"(
	"vector" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l1_real_wrapper';

-- pgml::api::vectors::float8::norm_l2
CREATE FUNCTION pgml."norm_l2"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l2_float8_wrapper';

-- pgml::api::vectors::real::norm_l2
CREATE FUNCTION pgml."norm_l2"(
	"vector" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_l2_real_wrapper';

-- pgml::api::vectors::float8::norm_max
CREATE FUNCTION pgml."norm_max"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_max_float8_wrapper';

-- pgml::api::vectors::real::norm_max
CREATE FUNCTION pgml."norm_max"(
	"vector" real[] /* Array < f32 > */
) RETURNS real /* f32 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'norm_max_real_wrapper';

-- pgml::api::vectors::float8::normalize_l1
CREATE FUNCTION pgml."normalize_l1"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_l1_float8_wrapper';

-- pgml::api::vectors::real::normalize_l1
CREATE FUNCTION pgml."normalize_l1"(
	"vector" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_l1_real_wrapper';

-- pgml::api::vectors::float8::normalize_l2
CREATE FUNCTION pgml."normalize_l2"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_l2_float8_wrapper';

-- pgml::api::vectors::real::normalize_l2
CREATE FUNCTION pgml."normalize_l2"(
	"vector" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_l2_real_wrapper';

-- pgml::api::vectors::float8::normalize_max
CREATE FUNCTION pgml."normalize_max"(
	"vector" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_max_float8_wrapper';

-- pgml::api::vectors::real::normalize_max
CREATE FUNCTION pgml."normalize_max"(
	"vector" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'normalize_max_real_wrapper';

-- pgml::api::vectors::float8::subtract
CREATE FUNCTION pgml."subtract"(
	"vector" double precision[], /* Array < f64 > */
	"subtrahend" double precision /* f64 */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'subtract_scalar_float8_wrapper';

-- pgml::api::vectors::real::subtract
CREATE FUNCTION pgml."subtract"(
	"vector" real[], /* Array < f32 > */
	"subtrahend" real /* f32 */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'subtract_scalar_real_wrapper';

-- pgml::api::vectors::float8::subtract
CREATE FUNCTION pgml."subtract"(
	"vector" double precision[], /* Array < f64 > */
	"subtrahend" double precision[] /* Array < f64 > */
) RETURNS double precision[] /* Vec < f64 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'subtract_vector_float8_wrapper';

-- pgml::api::vectors::real::subtract
CREATE FUNCTION pgml."subtract"(
	"vector" real[], /* Array < f32 > */
	"subtrahend" real[] /* Array < f32 > */
) RETURNS real[] /* Vec < f32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'subtract_vector_real_wrapper';

CREATE AGGREGATE pgml.sum(real[]) (SFUNC = pgml._pgml_sum_step, STYPE = real[], COMBINEFUNC = pgml._pgml_sum_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min(real[]) (SFUNC = pgml._pgml_min_step, STYPE = real[], COMBINEFUNC = pgml._pgml_min_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max(real[]) (SFUNC = pgml._pgml_max_step, STYPE = real[], COMBINEFUNC = pgml._pgml_max_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min_abs(real[]) (SFUNC = pgml._pgml_min_abs_step, STYPE = real[], COMBINEFUNC = pgml._pgml_min_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max_abs(real[]) (SFUNC = pgml._pgml_max_abs_step, STYPE = real[], COMBINEFUNC = pgml._pgml_max_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.sum(float8[]) (SFUNC = pgml._pgml_sum_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_sum_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min(float8[]) (SFUNC = pgml._pgml_min_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_min_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max(float8[]) (SFUNC = pgml._pgml_max_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_max_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min_abs(float8[]) (SFUNC = pgml._pgml_min_abs_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_min_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max_abs(float8[]) (SFUNC = pgml._pgml_max_abs_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_max_abs_step, PARALLEL = SAFE);

CREATE VIEW pgml.embedding_models AS SELECT * FROM pgml.embedding_models();
COMMENT ON VIEW pgml.embedding_models IS 'The embedding models installed under pgml.models_dir';

CREATE FUNCTION pgml.add(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.add($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.subtract(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.subtract($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.multiply(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.multiply($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.divide(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.divide($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance_l1(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance_l1($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance_l2(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance_l2($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.dot_product(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.dot_product($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.cosine_similarity(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.cosine_similarity($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.norm_l0(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l0($1::float8[])';
CREATE FUNCTION pgml.norm_l1(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l1($1::float8[])';
CREATE FUNCTION pgml.norm_l2(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l2($1::float8[])';
CREATE FUNCTION pgml.norm_max(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_max($1::float8[])';
CREATE FUNCTION pgml.normalize_l1(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_l1($1::float8[])';
CREATE FUNCTION pgml.normalize_l2(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_l2($1::float8[])';
CREATE FUNCTION pgml.normalize_max(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_max($1::float8[])';

-- pgml-rs: the roles of the lifecycle and what each may do. Roles are cluster-wide, so they
-- are created only when missing (another database may have installed the extension first).
--
--   pgml_predictor  predicts; reads the registry (every other pgml role has its privileges)
--   pgml_trainer    trains (reading the relations it may read), loads datasets, measures
--                   drift, schedules retraining
--   pgml_deployer   deploys, rolls back, promotes, archives and deletes models
--   pgml_approver   approves or rejects promotion requests
--   pgml_admin      all of the above, sets stages and promotion policies, forces promotions
--
-- Functions run with the caller's privileges; the registry is written by the functions
-- alone (as the extension's owner, see extension/src/privilege.rs), so these roles only
-- SELECT it, and the database refuses everything else with SQLSTATE 42501.
DO $$
DECLARE
    r TEXT;
BEGIN
    FOREACH r IN ARRAY ARRAY['pgml_predictor', 'pgml_trainer', 'pgml_deployer', 'pgml_approver', 'pgml_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    FOR r IN SELECT unnest(ARRAY['pgml_trainer', 'pgml_deployer', 'pgml_approver']) LOOP
        IF NOT pg_has_role(r, 'pgml_predictor', 'MEMBER') THEN
            EXECUTE format('GRANT pgml_predictor TO %I', r);
        END IF;
        IF NOT pg_has_role('pgml_admin', r, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO pgml_admin', r);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA pgml TO pgml_predictor;
GRANT SELECT ON ALL TABLES IN SCHEMA pgml TO pgml_predictor;
-- schedules are pg_cron jobs of the role that creates them; their runs record themselves
GRANT INSERT, UPDATE, DELETE ON pgml.schedules, pgml.scheduled_runs TO pgml_trainer;
GRANT USAGE ON SEQUENCE pgml.schedules_id_seq, pgml.scheduled_runs_id_seq TO pgml_trainer;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgml FROM PUBLIC;
DO $$
DECLARE
    f REGPROCEDURE;
    r TEXT;
BEGIN
    FOR f, r IN
        SELECT p.oid::regprocedure, g.role
        FROM pg_proc p
        JOIN (VALUES
            ('predict', 'pgml_predictor'), ('predict_proba', 'pgml_predictor'),
            ('predict_batch', 'pgml_predictor'), ('_pgml_noop_predict', 'pgml_predictor'),
            ('_pgml_serve_predict', 'pgml_predictor'), ('decompose', 'pgml_predictor'),
            ('predict_joint', 'pgml_predictor'), ('train_joint', 'pgml_trainer'),
            ('served_at', 'pgml_predictor'),
            ('train', 'pgml_trainer'), ('load_dataset', 'pgml_trainer'), ('drift', 'pgml_trainer'),
            ('set_drift_thresholds', 'pgml_trainer'), ('schedule_training', 'pgml_trainer'),
            ('unschedule_training', 'pgml_trainer'), ('schedule_drift_check', 'pgml_trainer'),
            ('unschedule_drift_check', 'pgml_trainer'), ('_pgml_run_schedule', 'pgml_trainer'),
            ('deploy', 'pgml_deployer'), ('promote', 'pgml_deployer'),
            ('archive_model', 'pgml_deployer'), ('delete_model', 'pgml_deployer'),
            ('approve', 'pgml_approver'), ('reject', 'pgml_approver'),
            ('add_stage', 'pgml_admin'), ('set_promotion_policy', 'pgml_admin'),
            -- the text workflow: embeddings, chunking and vector arithmetic
            ('embed', 'pgml_predictor'), ('embedding_models', 'pgml_predictor'),
            ('chunk', 'pgml_predictor'), ('add', 'pgml_predictor'), ('subtract', 'pgml_predictor'),
            ('multiply', 'pgml_predictor'), ('divide', 'pgml_predictor'),
            ('norm_l0', 'pgml_predictor'), ('norm_l1', 'pgml_predictor'), ('norm_l2', 'pgml_predictor'),
            ('norm_max', 'pgml_predictor'), ('normalize_l1', 'pgml_predictor'),
            ('normalize_l2', 'pgml_predictor'), ('normalize_max', 'pgml_predictor'),
            ('distance', 'pgml_predictor'), ('distance_l1', 'pgml_predictor'),
            ('distance_l2', 'pgml_predictor'), ('dot_product', 'pgml_predictor'),
            ('cosine_similarity', 'pgml_predictor'), ('sum', 'pgml_predictor'),
            ('min', 'pgml_predictor'), ('max', 'pgml_predictor'), ('min_abs', 'pgml_predictor'),
            ('max_abs', 'pgml_predictor')
        ) AS g (fn, role) ON g.fn = p.proname
        WHERE p.pronamespace = 'pgml'::regnamespace
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, r);
    END LOOP;
END $$;

-- privileges.sql's grants for the new functions (EXECUTE is revoked from PUBLIC).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgml FROM PUBLIC;
DO $$
DECLARE
    f REGPROCEDURE;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'pgml'::regnamespace
          AND p.proname IN ('embed', 'embedding_models', 'chunk', 'add', 'subtract', 'multiply',
              'divide', 'norm_l0', 'norm_l1', 'norm_l2', 'norm_max', 'normalize_l1', 'normalize_l2',
              'normalize_max', 'distance', 'distance_l1', 'distance_l2', 'dot_product',
              'cosine_similarity', 'sum', 'min', 'max', 'min_abs', 'max_abs')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pgml_predictor', f);
    END LOOP;
END $$;
GRANT SELECT ON pgml.embedding_models TO pgml_predictor;
