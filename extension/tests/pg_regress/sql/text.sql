-- The text workflow: pgml.embed with the shipped all-MiniLM-L6-v2, its errors, its volatility
-- (generated columns, READ ONLY, parallel workers), pgml.chunk, and PostgresML's vector
-- functions and aggregates (examples/vectors.sql's calls among them).
\ir include/try.sql
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.r(v real[]) RETURNS numeric[] LANGUAGE sql AS
  $$ SELECT array_agg(round(x::numeric, 4)) FROM unnest(v) x $$;

-- 1. What is installed, and both of its names.
SELECT name, dimension, pooling, max_tokens, normalized FROM pgml.embedding_models;
SELECT array_length(pgml.embed('all-MiniLM-L6-v2', 'hello world'), 1) AS dimension,
       pgml.embed('all-MiniLM-L6-v2', 'hello world') = pgml.embed('sentence-transformers/all-MiniLM-L6-v2', 'hello world') AS same_model,
       pg_temp.r((pgml.embed(transformer => 'all-MiniLM-L6-v2', text => 'hello world'))[1:4]) AS first_four;
-- sentence-transformers' published similarities for this model: 0.6660, 0.1046, 0.1411
WITH v AS (SELECT pgml.embed('all-MiniLM-L6-v2', 'The weather is lovely today.') a,
                  pgml.embed('all-MiniLM-L6-v2', 'It''s so sunny outside!') b,
                  pgml.embed('all-MiniLM-L6-v2', 'He drove to the stadium.') c)
SELECT round(pgml.cosine_similarity(a, b)::numeric, 3) ab, round(pgml.cosine_similarity(a, c)::numeric, 3) ac,
       round(pgml.cosine_similarity(b, c)::numeric, 3) bc, round(pgml.norm_l2(a)::numeric, 5) unit FROM v;

-- 2. The array form: one row per input, in order; NULL in, NULL out; equal to the single form.
SELECT ordinality, e IS NULL AS is_null, e = pgml.embed('all-MiniLM-L6-v2', t) AS equals_single
FROM unnest(ARRAY['first', NULL, 'third']) WITH ORDINALITY AS u(t, ordinality)
JOIN LATERAL (SELECT row_number() OVER () n, e FROM pgml.embed('all-MiniLM-L6-v2', ARRAY['first', NULL, 'third']) e) x ON x.n = ordinality
ORDER BY ordinality;
SELECT pgml.embed('all-MiniLM-L6-v2', NULL::text) IS NULL AS null_text;
SELECT count(*) FROM pgml.embed('all-MiniLM-L6-v2', ARRAY[]::text[]);

-- 3. kwargs: sentence-transformers' encode parameters.
SELECT array_length(pgml.embed('all-MiniLM-L6-v2', 'hello world', '{"truncate_dim": 32}'), 1) AS truncated,
       round(pgml.norm_l2(pgml.embed('all-MiniLM-L6-v2', 'hello world', '{"truncate_dim": 32, "normalize_embeddings": true}'))::numeric, 5) AS renormalised,
       pgml.embed('all-MiniLM-L6-v2', 'hello world', '{"prompt": "query: "}') = pgml.embed('all-MiniLM-L6-v2', 'query: hello world') AS prompt,
       pgml.embed('all-MiniLM-L6-v2', 'hello world', '{"batch_size": 1, "device": "cpu", "show_progress_bar": false}') = pgml.embed('all-MiniLM-L6-v2', 'hello world') AS accepted;

-- 4. Mistakes: each with its SQLSTATE.
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L12-v2', 'x')$$) LIKE '42704: embedding model "all-MiniLM-L12-v2" is not installed%installed models: sentence-transformers/all-MiniLM-L6-v2%' AS not_installed;
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'x', '{"temperature": 1}')$$);
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'x', '{"truncate_dim": 500}')$$);
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'x', '{"device": "cuda"}')$$);
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'x', '[1]')$$);
SELECT regress.try($$SELECT pgml.embed('../../etc', 'x')$$);
SELECT regress.try($$SET pgml.embed_threads = 0$$);

-- 5. IMMUTABLE: a generated column and an index expression.
CREATE TABLE headlines (title text, embedding real[] GENERATED ALWAYS AS (pgml.embed('all-MiniLM-L6-v2', title)) STORED);
INSERT INTO headlines (title) VALUES ('Central Bank Raises Interest Rates'), ('You Won''t Believe What This Cat Did'), (NULL);
CREATE INDEX ON headlines ((pgml.norm_l2(pgml.embed('all-MiniLM-L6-v2', title))));
SELECT title, array_length(embedding, 1), embedding = pgml.embed('all-MiniLM-L6-v2', title) AS equal FROM headlines ORDER BY title;

-- 6. The same vectors in a READ ONLY transaction, in a parallel worker, and on two threads.
\c
\ir include/try.sql
SET client_min_messages = warning;
BEGIN TRANSACTION READ ONLY;
SELECT bool_and(pgml.embed('all-MiniLM-L6-v2', title) = embedding) AS read_only FROM headlines WHERE title IS NOT NULL;
COMMIT;
SET force_parallel_mode = on;
SELECT bool_and(pgml.embed('all-MiniLM-L6-v2', title) = embedding) AS parallel_worker FROM headlines WHERE title IS NOT NULL;
RESET force_parallel_mode;
SET pgml.embed_threads = 2;
SELECT bool_and(pgml.cosine_similarity(pgml.embed('all-MiniLM-L6-v2', title), embedding) > 0.99999) AS two_threads FROM headlines WHERE title IS NOT NULL;
RESET pgml.embed_threads;

-- 7. A cancel stops a long batch (57014), and the backend embeds again afterwards.
SET statement_timeout = '200ms';
SELECT regress.try($$SELECT count(*) FROM pgml.embed('all-MiniLM-L6-v2', (SELECT array_agg(repeat('a long sentence of many words ', 40)) FROM generate_series(1, 5000)))$$);
RESET statement_timeout;
SELECT array_length(pgml.embed('all-MiniLM-L6-v2', 'still here'), 1) AS after_cancel;

-- 8. Roles: a predictor embeds; only a superuser moves the models directory.
CREATE ROLE text_reader IN ROLE pgml_predictor;
SET ROLE text_reader;
SELECT array_length(pgml.embed('all-MiniLM-L6-v2', 'as a predictor'), 1) AS predictor, count(*) AS models FROM pgml.embedding_models;
SELECT regress.try($$SET pgml.models_dir = '/tmp'$$);
RESET ROLE;
SET pgml.models_dir = '/nonexistent';
SELECT count(*) AS none_installed FROM pgml.embedding_models;
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'x')$$) LIKE '42704:%installed models: none%' AS not_found_there;
RESET pgml.models_dir;
DROP ROLE text_reader;

-- 9. Vector functions: examples/vectors.sql's calls, unchanged.
SELECT pgml.add(ARRAY[1.0, 2.0, 3.0], 3);
SELECT pgml.subtract(ARRAY[1.0, 2.0, 3.0], 3);
SELECT pgml.multiply(ARRAY[1.0, 2.0, 3.0], 3);
SELECT pgml.divide(ARRAY[1.0, 2.0, 3.0], 100);
SELECT pgml.add(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.subtract(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.multiply(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.divide(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.norm_l0(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.norm_l1(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.norm_l2(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.normalize_max(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.normalize_l1(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.normalize_l2(ARRAY[1.0, 2.0, 3.0]);
SELECT pgml.distance(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.dot_product(ARRAY[1.0, 2.0, 3.0], ARRAY[4.0, 5.0, 6.0]);
SELECT pgml.cosine_similarity(ARRAY[1.0, 2.0, 3.0], ARRAY[1.0, 2.0, 3.0]);
-- both element types, keeping their type
SELECT pg_typeof(pgml.add(ARRAY[1, 2]::real[], 1::real)), pg_typeof(pgml.add(ARRAY[1, 2]::float8[], ARRAY[3, 4]::float8[])),
       pgml.norm_max(ARRAY[-7, 2]::real[]), pgml.norm_l0(ARRAY[0, 2, 0]::float8[]), pgml.distance_l1(ARRAY[1, 2]::real[], ARRAY[4, -2]::real[]),
       pgml.distance_l2(ARRAY[0, 0]::float8[], ARRAY[3, 4]::float8[]), pgml.normalize_l2(ARRAY[0, 0]::real[]) AS zero_stays_zero;
SELECT regress.try($$SELECT pgml.add(ARRAY[1, 2]::real[], ARRAY[1, 2, 3]::real[])$$);
SELECT regress.try($$SELECT pgml.cosine_similarity(ARRAY[1, 2]::float8[], ARRAY[1]::float8[])$$);
SELECT regress.try($$SELECT pgml.norm_l2(ARRAY[1, NULL]::real[])$$);
-- the aggregates, serially and in parallel workers, skipping NULL rows
CREATE TABLE vecs AS SELECT ARRAY[i, -2 * i, i % 3]::real[] AS r, ARRAY[i, -2 * i, i % 3]::float8[] AS d FROM generate_series(-3, 4) i;
INSERT INTO vecs VALUES (NULL, NULL);
SELECT pgml.sum(r), pgml.min(r), pgml.max(r), pgml.min_abs(r), pgml.max_abs(r) FROM vecs;
SELECT pgml.sum(d), pgml.min(d), pgml.max(d), pgml.min_abs(d), pgml.max_abs(d) FROM vecs;
SET force_parallel_mode = on;
SELECT pgml.sum(d), pgml.max_abs(r) FROM vecs;
RESET force_parallel_mode;
SELECT regress.try($$SELECT pgml.sum(v) FROM (VALUES (ARRAY[1, 2]::real[]), (ARRAY[1]::real[])) t(v)$$);

-- 10. pgml.chunk: examples/chunking.sql's call, and LangChain's rules.
SELECT * FROM pgml.chunk('recursive_character', 'It was the best of times, it was the worst of times', '{"chunk_size": 2, "chunk_overlap": 2}') LIMIT 5;
SELECT * FROM pgml.chunk('recursive_character', E'First paragraph here.\n\nSecond paragraph, which is longer than the limit.', '{"chunk_size": 30, "chunk_overlap": 5}');
SELECT * FROM pgml.chunk('character', E'one\n\ntwo\n\nthree', '{"chunk_size": 8, "chunk_overlap": 0}');
SELECT count(*) FROM pgml.chunk('character', 'short text');
SELECT regress.try($$SELECT * FROM pgml.chunk('character', 'x', '{"chunk_size": 10, "chunk_overlap": 20}')$$);
SELECT regress.try($$SELECT * FROM pgml.chunk('sentence', 'x')$$);
SELECT regress.try($$SELECT * FROM pgml.chunk('markdown', 'x')$$);
SELECT regress.try($$SELECT * FROM pgml.chunk('character', 'x', '{"size": 10}')$$);
