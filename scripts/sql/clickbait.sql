-- The clickbait flow (Tembo's ML stack, run on pgml-rs): headlines become embeddings, two
-- classifiers train on them and the better one deploys, and predict_clickbait() answers for
-- a new headline. Shared by `make demo` and scripts/test-text.sh (project "Clickbait").
SET client_min_messages = warning;
SET pgml.embed_threads = 2;
SELECT * FROM pgml.load_dataset('clickbait');

-- 1. Headlines to features.
DROP TABLE IF EXISTS clickbait_embeddings CASCADE;
CREATE TABLE clickbait_embeddings AS
SELECT pgml.embed('all-MiniLM-L6-v2', title) AS embedding, is_clickbait FROM pgml.clickbait;

-- 2. Two classifiers on them; the better deploys itself.
SELECT * FROM pgml.train('Clickbait', 'classification', 'clickbait_embeddings', 'is_clickbait', algorithm => 'xgboost');
SELECT * FROM pgml.train('Clickbait', algorithm => 'linear');
SELECT m.algorithm, round((m.metrics->>'f1')::numeric, 3) AS test_f1, round((m.metrics->>'accuracy')::numeric, 3) AS test_accuracy,
       m.id IS NOT DISTINCT FROM d.id AS deployed
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
LEFT JOIN pgml.deployed_models d ON d.name = p.name
WHERE p.name = 'Clickbait' ORDER BY m.id;

-- 3. A function applications call, in SQL or over HTTP (pgml-serve's /rpc).
CREATE OR REPLACE FUNCTION predict_clickbait(input_string text)
RETURNS TABLE(is_clickbait REAL) LANGUAGE sql AS $$
  SELECT pgml.predict(project_name => 'Clickbait', features => (SELECT pgml.embed('all-MiniLM-L6-v2', input_string)));
$$;

-- 4. Two headlines it has not seen.
SELECT 'You Will Never Guess What This Dog Did At The Beach' AS headline, * FROM predict_clickbait('You Will Never Guess What This Dog Did At The Beach')
UNION ALL
SELECT 'Senate Passes Annual Defence Spending Bill', * FROM predict_clickbait('Senate Passes Annual Defence Spending Bill');
