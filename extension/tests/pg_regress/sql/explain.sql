-- Explanations: pgml.explain (each feature's attribution to one prediction, with the baseline
-- and the margin they add up to), pgml.global_explain (stored by the training), and
-- pgml.feature_importance. (Agreement with XGBoost's and LightGBM's own contributions: the
-- core's explain tests and scripts/test-portable.sh.)
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.load_dataset('breast_cancer');
-- 1 xgboost multiclass, 2 lightgbm regression with imputation, 3 linear regression with
-- scaling, 4 logistic binary, 5 random forest, 6 an imported XGBoost file, 7 an SVM (not
-- explained)
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target', algorithm => 'lightgbm', hyperparams => '{"n_estimators": 20}', preprocess => '{"bmi": {"impute": "mean"}}');
SELECT * FROM pgml.train('Linear', 'regression', 'pgml.diabetes', 'target', algorithm => 'linear', preprocess => '{"bmi": {"scale": "standard"}}');
SELECT * FROM pgml.train('Cancer', 'classification', 'pgml.breast_cancer', 'malignant', algorithm => 'linear', hyperparams => '{"max_iter": 1000}');
SELECT * FROM pgml.train('Forest', 'regression', 'pgml.diabetes', 'target', algorithm => 'random_forest', hyperparams => '{"n_estimators": 5}');
SELECT pgml.import('Imported', NULL, pgml.export(1, 'xgboost'), relation_name => 'pgml.iris', y_column_name => 'target') AS imported;
SELECT * FROM pgml.train('Svm', 'classification', 'pgml.iris', 'target', algorithm => 'svm');

-- 1. One row: attributions largest first; baseline + Σ attributions = the margin explained
-- (approximation_error), and for a regression the margin is the prediction.
SELECT output, feature, value, round(attribution::numeric, 4) AS attribution, round(baseline::numeric, 4) AS baseline,
       round(prediction::numeric, 4) AS margin, output_space, explanation_method, approximation_error < 1e-9 AS additive
FROM pgml.explain('Iris', ARRAY[6.3, 3.3, 6.0, 2.5]);
SELECT bool_and(abs(baseline + total - prediction) < 1e-6) AS sums_to_margin, count(*) AS rows
FROM (SELECT r.id, min(e.baseline) AS baseline, sum(e.attribution) AS total, min(e.prediction) AS prediction
      FROM (SELECT row_number() OVER (ORDER BY sepal_length, sepal_width, petal_length, petal_width, target) AS id, * FROM pgml.iris) r,
           pgml.explain('Iris', ARRAY[r.sepal_length, r.sepal_width, r.petal_length, r.petal_width]) e
      GROUP BY r.id) s;
-- the approximate method (one walk per tree) is named as such, and adds up too
SELECT explanation_method, approximation_error < 1e-9 AS additive, count(*) FROM pgml.explain('Iris', ARRAY[6.3, 3.3, 6.0, 2.5], method => 'approximate') GROUP BY 1, 2;
-- a regression with an imputed NULL; top_k; the margin is the prediction
SELECT feature, round(attribution::numeric, 3) AS attribution FROM pgml.explain('Diabetes', ARRAY[0.03, 0.05, NULL, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01], top_k => 3);
SELECT round(prediction::numeric, 3) = round(pgml.predict('Diabetes', ARRAY[0.03, 0.05, NULL, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01]::real[])::numeric, 3) AS margin_is_prediction
FROM pgml.explain('Diabetes', ARRAY[0.03, 0.05, NULL, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01], top_k => 1);
-- linear: weight × input centred on the training means, exact, the scaling undone in the inputs
SELECT feature, round(attribution::numeric, 2) AS attribution, round(baseline::numeric, 2) AS baseline, round(prediction::numeric, 2) AS margin, explanation_method
FROM pgml.explain('Linear', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01], top_k => 3);
SELECT round(pgml.predict('Linear', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01])::numeric, 2) AS predicted;
-- a logistic regression explains the log-odds of its second class
SELECT output, count(*) AS features, bool_and(approximation_error < 1e-9) AS additive, output_space
FROM pgml.explain('Cancer', (SELECT array_agg(v ORDER BY o)::real[] FROM pgml.breast_cancer b, LATERAL unnest(ARRAY[
  "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness", "mean concavity",
  "mean concave points", "mean symmetry", "mean fractal dimension", "radius error", "texture error", "perimeter error",
  "area error", "smoothness error", "compactness error", "concavity error", "concave points error", "symmetry error",
  "fractal dimension error", "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness",
  "worst compactness", "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"]) WITH ORDINALITY u(v, o)
  WHERE b.ctid = (SELECT min(ctid) FROM pgml.breast_cancer))) GROUP BY output, output_space;
-- a forest: TreeSHAP over its trees' covers (stored from 0.8.0 on), adding up to its prediction
SELECT count(*) AS features, bool_and(approximation_error < 1e-9) AS additive, explanation_method,
       round(min(prediction)::numeric, 3) = round(pgml.predict('Forest', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01])::numeric, 3) AS margin_is_prediction
FROM pgml.explain('Forest', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.01, 0.0, 0.02, 0.01]) GROUP BY explanation_method;
-- an imported model explains like the one it was exported from
SELECT count(*) FILTER (WHERE round(a.attribution::numeric, 6) <> round(b.attribution::numeric, 6)) AS differ, count(*) AS features
FROM pgml.explain('Imported', ARRAY[6.3, 3.3, 6.0, 2.5]) a JOIN pgml.explain(1, ARRAY[6.3, 3.3, 6.0, 2.5]) b USING (feature);

-- 2. The global explanation stored by each training: mean |attribution| over test rows.
SELECT explained_model_id, feature, round(mean_abs_attribution::numeric, 3) AS mean_abs, rank, rows, method FROM pgml.global_explain('Iris');
SELECT feature, rank, method FROM pgml.global_explain(3) WHERE rank <= 3;
SELECT id, algorithm, explanation IS NOT NULL AS explained FROM pgml.models ORDER BY id;

-- 3. Importances: XGBoost's five measures of the trees, a linear model's coefficients.
SELECT importance_type, count(*) AS features, round(sum(importance)::numeric, 3) AS total FROM pgml.feature_importance(1) GROUP BY 1 ORDER BY 1;
SELECT feature, importance FROM pgml.feature_importance(1) WHERE importance_type = 'weight' ORDER BY importance DESC, feature LIMIT 2;
SELECT feature, importance_type, round(importance::numeric, 2) AS importance, output FROM pgml.feature_importance(3) ORDER BY abs(importance) DESC LIMIT 3;

-- 4. Mistakes: SQLSTATE and the value named; a NULL argument explains nothing.
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.explain('Iris', ARRAY[1, 2]::real[])$$);
SELECT regress.try($$SELECT * FROM pgml.explain('Iris', ARRAY[1, 2, 3, 4]::real[], top_k => 0)$$);
SELECT regress.try($$SELECT * FROM pgml.explain('Iris', ARRAY[1, 2, 3, 4]::real[], method => 'kernel')$$);
SELECT regress.try($$SELECT * FROM pgml.explain('Iris', ARRAY[1, NULL, 3, 4]::real[])$$);
SELECT regress.try($$SELECT * FROM pgml.explain('Nope', ARRAY[1, 2, 3, 4]::real[])$$);
SELECT regress.try($$SELECT * FROM pgml.explain('Svm', ARRAY[1, 2, 3, 4]::real[])$$);
SELECT regress.try($$SELECT * FROM pgml.global_explain('Forest')$$);
SELECT regress.try($$SELECT * FROM pgml.feature_importance(5)$$);
SELECT regress.try($$SELECT * FROM pgml.feature_importance(999)$$);
\pset format aligned
\pset tuples_only off
SELECT count(*) AS rows FROM pgml.explain(NULL::text, ARRAY[1]::real[]);

-- 5. A read: READ ONLY transactions and a predictor's role.
DO $$ BEGIN
    CREATE ROLE regress_explain_predictor IN ROLE pgml_predictor;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET ROLE regress_explain_predictor;
BEGIN TRANSACTION READ ONLY;
SELECT count(*) AS attributions FROM pgml.explain('Iris', ARRAY[6.3, 3.3, 6.0, 2.5]);
SELECT count(*) AS global FROM pgml.global_explain('Iris');
SELECT count(*) AS importances FROM pgml.feature_importance(1);
COMMIT;
RESET ROLE;

-- What a team judges a model by (0.9.0): each training stores its test split's evaluation. A
-- classifier's confusion matrix counts every test row, with ROC and precision-recall curves
-- from (0, 0) to (1, 1) per class (binary: the positive class) whose AUC is the metric's; a
-- regression keeps its test rows' actual and predicted values; an SVM without probabilities
-- has a matrix and no curves.
SELECT p.name, m.evaluation->>'rows' AS rows,
       (SELECT sum(c::int) FROM jsonb_array_elements(m.evaluation->'confusion') r, jsonb_array_elements_text(r) c) AS counted,
       jsonb_array_length(COALESCE(m.evaluation->'curves', '[]')) AS curves,
       m.evaluation #>> '{curves,0,roc,0}' AS roc_starts,
       (SELECT e FROM jsonb_array_elements_text(m.evaluation #> '{curves,0,roc}') WITH ORDINALITY x(e, i) ORDER BY i DESC LIMIT 1) AS roc_ends,
       jsonb_array_length(COALESCE(m.evaluation->'points', '[]')) AS points
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id ORDER BY m.id;
SELECT abs((evaluation #>> '{curves,0,roc_auc}')::float8 - (metrics->>'roc_auc')::float8) < 1e-9 AS binary_auc_is_the_metric
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Cancer';

-- A row of a table, read by the training columns' names (as pgml.predict(project, row)), gives
-- the attributions its array does; a relation's sample is explained row by row, the same rows
-- on every call (ordered by a hash of their values).
SELECT count(*) AS attributions, count(*) FILTER (WHERE abs(a.attribution - b.attribution) > 1e-12) AS differ
FROM pgml.iris i,
     LATERAL pgml.explain_row('Iris', i) a
     JOIN LATERAL pgml.explain('Iris', ARRAY[i.sepal_length, i.sepal_width, i.petal_length, i.petal_width]) b USING (feature)
WHERE i.sepal_length < 4.6;
SELECT count(DISTINCT row_number) AS rows, min(row_number) AS first, max(row_number) AS last, count(*) AS attributions,
       max(approximation_error) < 1e-9 AS additive
FROM pgml.explain_relation('Iris', 'pgml.iris', sample_size => 10);
SELECT (SELECT array_agg(value ORDER BY row_number, feature) FROM pgml.explain_relation('Iris', 'pgml.iris', 5))
     = (SELECT array_agg(value ORDER BY row_number, feature) FROM pgml.explain_relation('Iris', 'pgml.iris', 5)) AS repeatable;
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT * FROM pgml.explain_relation('Iris', 'pgml.iris', 0)$$);
SELECT regress.try($$SELECT * FROM pgml.explain_relation('Iris', 'no_such_table')$$);
\pset format aligned
\pset tuples_only off
