-- PostgresML's own example files (pgml-extension/examples of postgresml/postgresml) call
-- these functions in these forms. This file makes each of their calls against pgml-rs: every
-- function, argument form (positional, named, the model-id forms, arrays of columns, a
-- smallint[][] image, a view), algorithm and hyperparameter they use, and checks what comes
-- back: the columns, and values a user can judge (an R² above chance, probabilities summing to
-- one, ten clusters). Only catboost, and PostgresML's Hugging Face functions and datasets, are
-- refused: 0A000 with a hint. vectors.sql's and chunking.sql's calls are in text.sql.
\ir include/try.sql
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.models(project text) RETURNS TABLE (id bigint, algorithm text, hyperparams jsonb, deployed boolean)
LANGUAGE sql AS $$
  SELECT t.id, t.algorithm, m.hyperparams, t.deployed FROM pgml.trained_models t JOIN pgml.models m ON m.id = t.id
  WHERE t.name = project ORDER BY t.id
$$;

-- 1. regression.sql: diabetes, every regression algorithm, a grid search, the strategies.
SELECT pgml.load_dataset('diabetes');
SELECT * FROM pgml.train('Diabetes Progression', 'regression', 'pgml.diabetes', 'target');
SELECT count(*) AS rows, round(corr(target, pgml.predict('Diabetes Progression', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]))::numeric, 2) AS correlation
FROM pgml.diabetes;
-- by model id, in a lateral join over pgml.models and pgml.projects: the same answers
SELECT count(*) FILTER (WHERE pgml.predict(model_id, ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])
                              = pgml.predict('Diabetes Progression', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])) AS equal
FROM pgml.diabetes
CROSS JOIN LATERAL (
    SELECT pgml.models.id AS model_id FROM pgml.models
    INNER JOIN pgml.projects ON pgml.models.project_id = pgml.projects.id
    WHERE pgml.projects.name = 'Diabetes Progression' LIMIT 1
) models;
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'ridge');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'lasso');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'elastic_net');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'least_angle');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'lasso_least_angle');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'orthogonal_matching_pursuit');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'bayesian_ridge');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'automatic_relevance_determination');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'stochastic_gradient_descent');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'passive_aggressive');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'ransac');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'theil_sen', hyperparams => '{"max_iter": 10, "max_subpopulation": 100}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'huber');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'svm', hyperparams => '{"max_iter": 100}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'nu_svm', hyperparams => '{"max_iter": 10}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'linear_svm', hyperparams => '{"max_iter": 100}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'ada_boost', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'bagging', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'gradient_boosting_trees', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'random_forest', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT regress.try($$SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'catboost', hyperparams => '{"n_estimators": 10}')$$);
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'linear', runtime => 'python');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'linear', runtime => 'rust');
SELECT * FROM pgml.train('Diabetes Progression', algorithm => 'xgboost', runtime => 'rust', hyperparams => '{"n_estimators": 10}');
SELECT count(*) AS trained, count(*) FILTER (WHERE (models.metrics->>'r2')::float > 0.3) AS r2_above_03
FROM pgml.trained_models JOIN pgml.models ON models.id = trained_models.id WHERE trained_models.name = 'Diabetes Progression';
SELECT * FROM pgml.deploy('Diabetes Progression', 'most_recent', 'random_forest');
SELECT name, task, algorithm, runtime FROM pgml.deployed_models ORDER BY deployed_at DESC LIMIT 5;
-- xgboost's eval_metric reaches the library (crates/core checks that the model is the same)
SELECT pgml.train('Diabetes Progression', algorithm => 'xgboost', hyperparams => '{"eval_metric": "rmse"}'::JSONB,
                  search => 'grid', search_params => '{"max_depth": [1, 2], "n_estimators": [20, 40]}');
SELECT hyperparams, jsonb_array_length(metrics->'search_results'->'params') AS candidates
FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);
SELECT * FROM pgml.deploy('Diabetes Progression', 'best_score');
SELECT * FROM pgml.deploy('Diabetes Progression', 'most_recent');
SELECT * FROM pgml.deploy('Diabetes Progression', 'rollback');
SELECT * FROM pgml.deploy('Diabetes Progression', 'best_score', 'svm');
SELECT algorithm FROM pgml.deployed_models WHERE name = 'Diabetes Progression';

-- 2. binary_classification.sql: breast_cancer's thirty quoted columns, predict_proba.
SELECT pgml.load_dataset('breast_cancer');
SELECT * FROM pgml.train('Breast Cancer Detection', 'classification', 'pgml.breast_cancer', 'malignant');
WITH p AS (
  SELECT malignant, pgml.predict('Breast Cancer Detection', ARRAY["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness", "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error", "smoothness error", "compactness error", "concavity error", "concave points error", "symmetry error", "fractal dimension error", "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"]) AS prediction,
         pgml.predict_proba('Breast Cancer Detection', ARRAY["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness", "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error", "smoothness error", "compactness error", "concavity error", "concave points error", "symmetry error", "fractal dimension error", "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension"]) AS proba
  FROM pgml.breast_cancer
)
SELECT pg_typeof(prediction) AS predict_type, pg_typeof(proba) AS proba_type,
       round(avg((prediction = malignant::int)::int)::numeric, 1) >= 0.9 AS accuracy_above_09,
       bool_and(array_length(proba, 1) = 2 AND abs(proba[1] + proba[2] - 1) < 1e-5) AS two_probabilities,
       bool_and((proba[2] > 0.5) = (prediction = 1)) AS proba_agrees
FROM p GROUP BY 1, 2;
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'ridge');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'stochastic_gradient_descent');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'perceptron');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'passive_aggressive');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'svm');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'nu_svm');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'linear_svm');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'ada_boost');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'bagging');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'gradient_boosting_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Breast Cancer Detection', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.deploy('Breast Cancer Detection', 'most_recent', 'random_forest');
SELECT pgml.train('Breast Cancer Detection', algorithm => 'xgboost', search => 'grid', search_params => '{"n_estimators": [2, 4], "max_depth": [1, 2, 3]}');
SELECT * FROM pgml.deploy('Breast Cancer Detection', 'best_score');
SELECT * FROM pgml.deploy('Breast Cancer Detection', 'most_recent');
SELECT * FROM pgml.deploy('Breast Cancer Detection', 'rollback');
SELECT * FROM pgml.deploy('Breast Cancer Detection', 'best_score', 'svm');
SELECT count(*) AS trained, count(*) FILTER (WHERE (models.metrics->>'f1')::float > 0.85) AS f1_above_085
FROM pgml.trained_models JOIN pgml.models ON models.id = trained_models.id WHERE trained_models.name = 'Breast Cancer Detection';

-- 3. multi_classification.sql: iris through a view; gradient_boosting_trees' grid over
-- max_leaf_nodes and criterion.
SELECT pgml.load_dataset('iris');
-- the examples take 100 rows in random order; these are 100 in an order fixed by their values
CREATE VIEW pgml.iris_view AS SELECT * FROM pgml.iris ORDER BY md5(concat_ws(',', sepal_length, sepal_width, petal_length, petal_width, target)) LIMIT 100;
SELECT * FROM pgml.train('Iris Flower Types', 'classification', 'pgml.iris_view', 'target');
SELECT count(*) AS rows, bool_and(abs((SELECT sum(p) FROM unnest(pgml.predict_proba('Iris Flower Types', ARRAY[sepal_length, sepal_width, petal_length, petal_width])) p) - 1) < 1e-5) AS sums_to_one,
       bool_and(array_length(pgml.predict_proba('Iris Flower Types', ARRAY[sepal_length, sepal_width, petal_length, petal_width]), 1) = 3) AS three_classes
FROM pgml.iris_view;
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'ridge');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'svm');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'nu_svm');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'linear_svm');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'ada_boost');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'bagging');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'gradient_boosting_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'catboost', hyperparams => '{"n_estimators": 10}')$$);
SELECT * FROM pgml.deploy('Iris Flower Types', 'most_recent', 'random_forest');
SELECT pgml.train('Iris Flower Types', algorithm => 'gradient_boosting_trees', hyperparams => '{"random_state": 0}', search => 'grid',
                  search_params => '{"n_estimators": [10, 20], "max_leaf_nodes": [2, 4], "criterion": ["friedman_mse", "squared_error"]}');
SELECT hyperparams, jsonb_array_length(metrics->'search_results'->'params') AS candidates
FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);
SELECT * FROM pgml.deploy('Iris Flower Types', 'best_score');
SELECT * FROM pgml.deploy('Iris Flower Types', 'most_recent');
SELECT * FROM pgml.deploy('Iris Flower Types', 'rollback');
SELECT * FROM pgml.deploy('Iris Flower Types', 'best_score', 'svm');
SELECT round(avg((pgml.predict('Iris Flower Types', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) = target)::int)::numeric, 1) >= 0.9 AS accuracy_above_09
FROM pgml.iris_view;

-- 4. image_classification.sql: digits' 8×8 smallint image as the features; an svm grid
-- over kernels and shrinking (which changes only the solver's speed).
SELECT pgml.load_dataset('digits');
SELECT * FROM pgml.train('Handwritten Digits', 'classification', 'pgml.digits', 'target');
SELECT pg_typeof(pgml.predict('Handwritten Digits', image)) AS predict_type,
       array_length(pgml.predict_proba('Handwritten Digits', image), 1) AS classes
FROM pgml.digits LIMIT 1;
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'ridge');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'stochastic_gradient_descent');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'perceptron');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'passive_aggressive');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'svm');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'nu_svm');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'linear_svm');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'bagging');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'gradient_boosting_trees', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'random_forest', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'linear', runtime => 'python');
SELECT * FROM pgml.train('Handwritten Digits', algorithm => 'xgboost', runtime => 'rust', hyperparams => '{"n_estimators": 10}');
SELECT * FROM pgml.deploy('Handwritten Digits', 'most_recent', 'random_forest');
SELECT pgml.train('Handwritten Digits', algorithm => 'svm', hyperparams => '{"random_state": 0}', search => 'grid',
                  search_params => '{"kernel": ["linear", "poly", "sigmoid"], "shrinking": [true, false]}');
SELECT hyperparams, jsonb_array_length(metrics->'search_results'->'params') AS candidates
FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);
SELECT * FROM pgml.deploy('Handwritten Digits', 'best_score');
SELECT * FROM pgml.deploy('Handwritten Digits', 'most_recent');
SELECT * FROM pgml.deploy('Handwritten Digits', 'rollback');
SELECT * FROM pgml.deploy('Handwritten Digits', 'best_score', 'svm');
SELECT round(avg((pgml.predict('Handwritten Digits', image) = target)::int)::numeric, 1) >= 0.9 AS accuracy_above_09 FROM pgml.digits;
-- linear classification is scikit-learn's LogisticRegression: its key metric on this split
SELECT algorithm, (metrics->>'f1')::float > 0.9 AS f1_above_09 FROM pgml.models m
WHERE m.algorithm = 'linear' AND m.project_id = (SELECT id FROM pgml.projects WHERE name = 'Handwritten Digits') ORDER BY m.id;

-- 5. clustering.sql: the default algorithm of a clustering is kmeans.
CREATE VIEW pgml.digit_vectors AS SELECT image FROM pgml.digits;
SELECT * FROM pgml.train('Handwritten Digit Clusters', 'clustering', 'pgml.digit_vectors', hyperparams => '{"n_clusters": 10}');
SELECT count(DISTINCT pgml.predict('Handwritten Digit Clusters', image)) AS clusters FROM pgml.digits;
SELECT * FROM pgml.train('Handwritten Digit Clusters', algorithm => 'affinity_propagation');
SELECT * FROM pgml.train('Handwritten Digit Clusters', algorithm => 'birch', hyperparams => '{"n_clusters": 10}');
SELECT * FROM pgml.train('Handwritten Digit Clusters', algorithm => 'kmeans', hyperparams => '{"n_clusters": 10}');
SELECT * FROM pgml.train('Handwritten Digit Clusters', algorithm => 'mini_batch_kmeans', hyperparams => '{"n_clusters": 10}');
SELECT algorithm, hyperparams FROM pg_temp.models('Handwritten Digit Clusters');

-- 6. decomposition.sql: the default algorithm of a decomposition is pca.
CREATE VIEW digit_vectors AS SELECT image FROM pgml.digits;
SELECT * FROM pgml.train('Handwritten Digits Reduction', 'decomposition', 'digit_vectors');
SELECT array_length(pgml.decompose('Handwritten Digits Reduction', image), 1) AS components FROM pgml.digits LIMIT 1;
SELECT * FROM pgml.train('Handwritten Digits Reduction', hyperparams => '{"n_components": 3}');
SELECT * FROM pgml.deploy('Handwritten Digits Reduction', 'most_recent', 'pca');
SELECT array_length(pgml.decompose('Handwritten Digits Reduction', image), 1) AS components FROM pgml.digits LIMIT 1;
SELECT * FROM pgml.deploy('Handwritten Digits Reduction', 'best_score');
SELECT * FROM pgml.deploy('Handwritten Digits Reduction', 'most_recent');
SELECT * FROM pgml.deploy('Handwritten Digits Reduction', 'rollback');
SELECT * FROM pgml.deploy('Handwritten Digits Reduction', 'best_score', 'pca');
SELECT round((metrics->>'cumulative_explained_variance')::numeric, 3) AS explained FROM pgml.models m
WHERE m.project_id = (SELECT id FROM pgml.projects WHERE name = 'Handwritten Digits Reduction') ORDER BY m.id;
-- PostgresML's predict on a decomposition project: the first component
SELECT pgml.predict('Handwritten Digits Reduction', image) = (pgml.decompose('Handwritten Digits Reduction', image))[1] AS first_component
FROM pgml.digits LIMIT 1;

-- 7. joint_regression.sql: three targets at once.
SELECT pgml.load_dataset('linnerud');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', 'regression', 'pgml.linnerud', ARRAY['weight', 'waist', 'pulse']);
SELECT pg_typeof(pgml.predict_joint('Exercise vs Physiology', ARRAY[chins, situps, jumps])) AS joint_type,
       array_length(pgml.predict_joint('Exercise vs Physiology', ARRAY[chins, situps, jumps]), 1) AS targets
FROM pgml.linnerud LIMIT 1;
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'ridge');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'lasso');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'elastic_net');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'least_angle');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'lasso_least_angle');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'orthogonal_matching_pursuit');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'bayesian_ridge');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'automatic_relevance_determination');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'stochastic_gradient_descent');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'passive_aggressive');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'ransac');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'theil_sen', hyperparams => '{"max_iter": 10, "max_subpopulation": 100}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'huber');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'svm', hyperparams => '{"max_iter": 100}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'nu_svm', hyperparams => '{"max_iter": 10}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'linear_svm', hyperparams => '{"max_iter": 100}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'ada_boost', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'bagging', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'gradient_boosting_trees', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.train_joint('Exercise vs Physiology', algorithm => 'random_forest', hyperparams => '{"n_estimators": 5}');
SELECT * FROM pgml.deploy('Exercise vs Physiology', 'most_recent', 'random_forest');
SELECT * FROM pgml.deploy('Exercise vs Physiology', 'best_score');
SELECT * FROM pgml.deploy('Exercise vs Physiology', 'most_recent');
SELECT * FROM pgml.deploy('Exercise vs Physiology', 'rollback');
SELECT * FROM pgml.deploy('Exercise vs Physiology', 'best_score', 'svm');
SELECT count(*) AS rows FROM pgml.linnerud WHERE array_length(pgml.predict_joint('Exercise vs Physiology', ARRAY[chins, situps, jumps]), 1) = 3;

-- 8. The views the examples read, with PostgresML's columns.
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid IN ('pgml.trained_models'::regclass, 'pgml.deployed_models'::regclass) AND attnum > 0
ORDER BY attrelid::regclass::text, attnum;
SELECT trained_models.name, trained_models.algorithm FROM pgml.trained_models
JOIN pgml.models ON models.id = trained_models.id
WHERE trained_models.name = 'Diabetes Progression'
ORDER BY models.metrics->>'mean_squared_error' DESC, models.id LIMIT 5;

-- 9. PostgresML's model-id forms that the examples' project forms mirror.
SELECT pgml.predict_joint(m.id, ARRAY[5, 162, 60]::real[]) = pgml.predict_joint('Exercise vs Physiology', ARRAY[5, 162, 60]::real[]) AS joint_by_id,
       pg_typeof(pgml.predict_batch(m.id, ARRAY[5, 162, 60, 2, 110, 60]::real[])) AS batch_by_id_type,
       array_length(pgml.predict_batch((SELECT id FROM pgml.deployed_models WHERE name = 'Diabetes Progression'), ARRAY[0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0]::real[]), 1) AS two_rows
FROM pgml.deployed_models m WHERE m.name = 'Exercise vs Physiology';
SELECT count(*) AS rows, bool_and(pgml.predict(d.id, i) = pgml.predict('Iris Flower Types', i)) AS row_by_id
FROM pgml.deployed_models d, pgml.iris i WHERE d.name = 'Iris Flower Types';
-- preprocessing.sql's form: an anonymous row of the training columns, read by position
SELECT pgml.predict('Diabetes Progression', (age, sex, bmi, bp, s1, s2, s3, s4, s5, s6))
     = pgml.predict('Diabetes Progression', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) AS anonymous_row
FROM pgml.diabetes LIMIT 1;
SELECT pgml.version() = (SELECT extversion FROM pg_extension WHERE extname = 'pgml') AS version;

-- 10. Hyperparameters PostgresML's users pass: scikit-learn's constructor parameters are
-- accepted (and recorded as given) or, where they would change the model in a way pgml-rs
-- does not compute, refused with 0A000 naming the value; the boosters' own go to the library.
SELECT algorithm, deployed FROM pgml.train('Iris Flower Types', algorithm => 'svm', hyperparams => '{"random_state": 0, "cache_size": 500, "verbose": true}', automatic_deploy => false);
SELECT hyperparams FROM pgml.models WHERE id = (SELECT max(id) FROM pgml.models);
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'random_forest', hyperparams => '{"class_weight": "balanced"}')$$);
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'random_forest', hyperparams => '{"n_estimator": 10}')$$);
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'xgboost', hyperparams => '{"max_dept": 3}')$$);
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'xgboost', hyperparams => '{"grow_policy": "sideways"}')$$) LIKE '22023: XGBoost refused the hyperparameters: %' AS library_refusal;
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'lightgbm', hyperparams => '{"num_leafs": 3}')$$);
SELECT algorithm, deployed FROM pgml.train('Iris Flower Types', algorithm => 'lightgbm', hyperparams => '{"boosting_type": "goss", "verbose": -1, "n_estimators": 10}', automatic_deploy => false);
SELECT algorithm, deployed FROM pgml.train('Diabetes Progression', algorithm => 'xgboost', hyperparams => '{"n_estimators": 10, "max_delta_step": 1, "booster": "dart", "rate_drop": 0.1}', automatic_deploy => false);
SELECT algorithm, deployed FROM pgml.train('Iris Flower Types', algorithm => 'linear', hyperparams => '{"C": 0.5, "solver": "lbfgs", "penalty": "l2", "n_jobs": 2}', automatic_deploy => false);
SELECT regress.try($$SELECT * FROM pgml.train('Iris Flower Types', algorithm => 'linear', hyperparams => '{"solver": "liblinear"}')$$);

-- 11. What cannot run here: PostgresML's Hugging Face datasets and pipelines, catboost.
SELECT regress.try($$SELECT pgml.load_dataset('jdxcosta/diamonds')$$);
SELECT regress.try($$SELECT pgml.load_dataset('imdb', limit => 100)$$);
SELECT regress.try($$SELECT pgml.transform('translation_en_to_fr', inputs => ARRAY['Welcome to the future!'])$$);
SELECT regress.try($$SELECT pgml.transform(task => '{"task": "text-generation", "model": "gpt2"}'::JSONB, inputs => ARRAY['Once upon a time'], args => '{"max_new_tokens": 10}'::JSONB)$$) LIKE '0A000: pgml.transform runs Hugging Face pipelines%' AS transform_json;
SELECT regress.try($$SELECT pgml.transform(task => '{"task": "conversational"}'::JSONB, inputs => ARRAY['{"role": "user", "content": "hi"}'::JSONB])$$) LIKE '0A000: %' AS conversational;
SELECT regress.try($$SELECT * FROM pgml.transform_stream('text-generation', input => 'Once upon a time')$$) LIKE '0A000: pgml.transform_stream %' AS transform_stream;
SELECT regress.try($$SELECT pgml.generate('my project', 'Once upon a time')$$) LIKE '0A000: pgml.generate %' AS generate;
SELECT regress.try($$SELECT * FROM pgml.tune('IMDB Review Sentiment', task => 'text-classification', relation_name => 'pgml.imdb', model_name => 'distilbert-base-uncased', hyperparams => '{}')$$) LIKE '0A000: pgml.tune %' AS tune;
-- embed's loading options, as PostgresML passes them
SELECT pgml.embed('sentence-transformers/all-MiniLM-L6-v2', 'hi mom', '{"trust_remote_code": true, "device": "cpu"}') = pgml.embed('sentence-transformers/all-MiniLM-L6-v2', 'hi mom') AS trust_remote_code,
       pgml.embed('all-MiniLM-L6-v2', 'hi mom', '{"instruction": "Represent: "}') = pgml.embed('all-MiniLM-L6-v2', 'Represent: hi mom') AS instruction_is_the_prompt;
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'hi mom', '{"device": "cuda", "trust_remote_code": true}')$$);
SELECT regress.try($$SELECT pgml.embed('all-MiniLM-L6-v2', 'hi mom', '{"revision": "v2"}')$$);
