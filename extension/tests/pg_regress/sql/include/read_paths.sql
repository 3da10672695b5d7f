-- Every read path, each answering a fixed question. readonly.sql runs this in a READ ONLY
-- transaction and in parallel workers; scripts/test-replica.sh runs it on a hot standby and
-- expects the primary's answers. Reads only: nothing here may write or take a transaction id.
SELECT path, answer FROM (VALUES
    ('predict real[]', pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[])::text),
    ('predict float8[]', pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::float8[])::text),
    ('predict numeric[]', pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8])::text),
    ('predict int2[]', pgml.predict('Iris', ARRAY[6, 3, 5, 2]::int2[])::text),
    ('predict int4[]', pgml.predict('Iris', ARRAY[6, 3, 5, 2]::int4[])::text),
    ('predict int8[]', pgml.predict('Iris', ARRAY[6, 3, 5, 2]::int8[])::text),
    ('predict bool[]', pgml.predict('Iris', ARRAY[true, true, true, false])::text),
    ('predict staging', pgml.predict('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[], stage => 'staging')::text),
    ('predict by id, xgboost', pgml.predict(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[])::text),
    ('predict by id, forest', pgml.predict(3, ARRAY[5.9, 3.0, 5.1, 1.8]::float8[])::text),
    ('predict by id, numeric[]', pgml.predict(1, ARRAY[5.9, 3.0, 5.1, 1.8])::text),
    ('predict preprocessed, NULL imputed', round(pgml.predict('Petals', ARRAY[NULL, 3.0, 5.1]::real[])::numeric, 4)::text),
    ('predict_proba', (SELECT string_agg(round(p::numeric, 4)::text, ' ')
                       FROM unnest(pgml.predict_proba('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[])) p)),
    ('predict_proba by id', (SELECT string_agg(round(p::numeric, 4)::text, ' ')
                             FROM unnest(pgml.predict_proba(2, ARRAY[5.9, 3.0, 5.1, 1.8]::real[])) p)),
    ('predict_batch', (SELECT string_agg(p::text, ' ')
                       FROM pgml.predict_batch('Iris', ARRAY[5.1, 3.5, 1.4, 0.2, 5.9, 3.0, 5.1, 1.8]::real[]) p)),
    ('predict_joint', (SELECT string_agg(round(p::numeric, 2)::text, ' ')
                       FROM unnest(pgml.predict_joint('Exercise', ARRAY[5, 162, 60]::real[])) p)),
    ('decompose', (SELECT string_agg(round(p::numeric, 4)::text, ' ')
                   FROM unnest(pgml.decompose('Components', ARRAY[5.9, 3.0, 5.1, 1.8]::real[])) p)),
    ('predict clustering', pgml.predict('Clusters', ARRAY[5.9, 3.0, 5.1, 1.8]::real[])::text),
    ('predict row', pgml.predict('Iris', ROW(5.9, 3.0, 5.1, 1.8, 2)::pgml.iris)::text),
    ('pgml-serve predict', (SELECT model_id || ': ' || array_to_string(predictions, ' ')
                            FROM pgml._pgml_serve_predict('Iris', 'production', ARRAY[5.9, 3.0, 5.1, 1.8]::real[], NULL, false)))
) v (path, answer);

-- over a whole relation: every row, every model kind
SELECT count(*) AS rows, sum(pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS linear,
       sum(pgml.predict(2, ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS xgboost,
       sum(pgml.predict(3, ARRAY[sepal_length, sepal_width, petal_length, petal_width])) AS forest,
       round(sum(pgml.predict('Petals', ARRAY[sepal_length, sepal_width, petal_length]))::numeric, 2) AS preprocessed,
       sum(pgml.predict('Iris', i)) AS from_rows
FROM pgml.iris i;

-- the registry's views
SELECT (SELECT count(*) FROM pgml.trained_models) AS trained_models,
       (SELECT count(*) FROM pgml.deployed_models) AS deployed_models,
       (SELECT count(*) FROM pgml.overview) AS overview,
       (SELECT count(*) FROM pgml.deployment_history) AS deployment_history,
       (SELECT count(*) FROM pgml.stages_overview WHERE model_id IS NOT NULL) AS stages_serving,
       (SELECT count(*) FROM pgml.promotion_requests WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM pgml.audit_log) AS audit_events,
       (SELECT count(*) FROM pgml.training_schedules) AS schedules,
       (SELECT count(*) FROM pgml.current_deployments) AS current_deployments;
SELECT model_id, event FROM pgml.served_at('Iris', clock_timestamp());

-- drift reads the relation and the stored references
SELECT feature, kind, current_rows, round(psi::numeric, 4) AS psi, drifted, dataset_drifted
FROM pgml.drift('Iris', 'pgml.iris');

-- text: embeddings, chunks and vector functions
SELECT name, dimension, pooling FROM pgml.embedding_models;
SELECT round(pgml.cosine_similarity(pgml.embed('all-MiniLM-L6-v2', 'The weather is lovely today.'),
                                    pgml.embed('all-MiniLM-L6-v2', 'It''s so sunny outside!'))::numeric, 3) AS similarity,
       (SELECT count(*) FROM pgml.embed('all-MiniLM-L6-v2', ARRAY['one', 'two'])) AS batch_rows,
       (SELECT count(*) FROM pgml.chunk('character', 'a b c', '{"separator": " ", "chunk_size": 1, "chunk_overlap": 0}')) AS chunks,
       pgml.sum(v) AS summed
FROM (VALUES (ARRAY[1, 2]::real[]), (ARRAY[3, 4]::real[])) t(v);

-- explanations and exports are reads too (0.8.0)
SELECT output, feature, round(attribution::numeric, 4) AS attribution, explanation_method
FROM pgml.explain('Iris', ARRAY[5.9, 3.0, 5.1, 1.8]) ORDER BY feature;
SELECT feature, round(attribution::numeric, 4) AS attribution, explanation_method FROM pgml.explain(2, ARRAY[5.9, 3.0, 5.1, 1.8], top_k => 2);
SELECT feature, rank, method FROM pgml.global_explain(2) ORDER BY rank;
SELECT importance_type, count(*) AS features FROM pgml.feature_importance(2) GROUP BY 1 ORDER BY 1;
SELECT md5(pgml.export(2, 'xgboost_json')) = md5(pgml.export(2, 'xgboost_json')) AS export_repeats,
       substr(pgml.export(1), 1, 8) = 'PGMLBNDL'::bytea AS bundle;
-- a relation's sample explained, and an ONNX export (0.9.0)
SELECT count(DISTINCT row_number) AS rows, count(*) AS attributions, max(approximation_error) < 1e-9 AS additive
FROM pgml.explain_relation('Iris', 'pgml.iris', 3);
SELECT get_byte(pgml.export(2, 'onnx'), 0) = 8 AS onnx_model_proto;
