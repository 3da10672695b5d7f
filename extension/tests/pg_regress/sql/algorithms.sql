-- The penalised linear models (scikit-learn's Ridge / RidgeClassifier, Lasso, ElasticNet; their
-- coefficients are checked equal to scikit-learn's in crates/core), the boosting libraries and
-- the rest of the linear family, and the algorithms of
-- PostgresML this build does not provide yet: 0A000 naming the closest supported ones.
\ir include/try.sql
SET client_min_messages = warning;
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.train('Diabetes', 'regression', 'pgml.diabetes', 'target');
SELECT * FROM pgml.train('Diabetes', algorithm => 'ridge', hyperparams => '{"alpha": 0.1}');
SELECT * FROM pgml.train('Diabetes', algorithm => 'lasso', hyperparams => '{"alpha": 0.1}');
SELECT * FROM pgml.train('Diabetes', algorithm => 'elastic_net', hyperparams => '{"alpha": 0.001, "l1_ratio": 0.7}');
SELECT id, algorithm, hyperparams, round((metrics->>'r2')::numeric, 3) AS r2 FROM pgml.models ORDER BY id;
-- every model of the project answers close to the others on a training row
SELECT m.algorithm, round(pgml.predict(m.id, ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])::numeric, 0) AS predicted, target
FROM pgml.models m, (SELECT * FROM pgml.diabetes LIMIT 1) d ORDER BY m.id;
SELECT * FROM pgml.deploy('Diabetes', 'best_score');

-- RidgeClassifier: a decision function, no probabilities (so no roc_auc or log_loss either)
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'ridge');
SELECT round((metrics->>'f1')::numeric, 3) AS f1, metrics ? 'roc_auc' AS has_auc FROM pgml.models WHERE algorithm = 'ridge' AND project_id = 2;
SELECT pgml.predict('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) AS setosa, pgml.predict('Iris', ARRAY[6.3, 3.3, 6.0, 2.5]::real[]) AS virginica;

-- extra_trees (random thresholds, no bootstrap) and bagging (every feature, 10 trees)
SELECT * FROM pgml.train('Iris', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 20}', automatic_deploy => false);
SELECT * FROM pgml.train('Iris', algorithm => 'bagging', automatic_deploy => false);
SELECT algorithm, round((metrics->>'f1')::numeric, 3) > 0.85 AS f1_above_085, metrics ? 'roc_auc' AS has_auc,
       array_length(pgml.predict_proba(id, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]), 1) AS classes
FROM pgml.models WHERE algorithm IN ('extra_trees', 'bagging') ORDER BY id;
SELECT * FROM pgml.train('Diabetes', algorithm => 'extra_trees', hyperparams => '{"n_estimators": 20, "bootstrap": true}', automatic_deploy => false);
SELECT round((metrics->>'r2')::numeric, 1) > 0.3 AS r2_above_03 FROM pgml.models WHERE algorithm = 'extra_trees' AND project_id = 1;

-- mini_batch_kmeans: k-means++ then random batches with per-centre learning rates
SELECT * FROM pgml.train('Iris clusters', 'clustering', 'pgml.iris', algorithm => 'mini_batch_kmeans',
    hyperparams => '{"n_clusters": 3, "batch_size": 64}');
SELECT round((metrics->>'silhouette')::numeric, 1) >= 0.5 AS silhouette_at_least_05 FROM pgml.models WHERE algorithm = 'mini_batch_kmeans';
SELECT count(DISTINCT pgml.predict('Iris clusters', ARRAY[sepal_length, sepal_width, petal_length, petal_width, target]::real[])) AS clusters
FROM pgml.iris;

-- mean_shift (bandwidth estimated from the rows), affinity_propagation (exemplars) and
-- birch (a CF-tree's subclusters grouped by Ward): new rows join the nearest centre
SELECT t.* FROM unnest(ARRAY['mean_shift', 'affinity_propagation', 'birch']) a,
     pgml.train('Iris modes', 'clustering', 'pgml.iris', algorithm => a, automatic_deploy => false) t;
SELECT m.algorithm, round((m.metrics->>'silhouette')::numeric, 1) >= 0.3 AS silhouette_at_least_03,
       pgml.predict(m.id, ARRAY[5.1, 3.5, 1.4, 0.2, 0]::real[]) = pgml.predict(m.id, ARRAY[4.9, 3.0, 1.4, 0.2, 0]::real[]) AS setosas_together,
       pgml.predict(m.id, ARRAY[5.1, 3.5, 1.4, 0.2, 0]::real[]) <> pgml.predict(m.id, ARRAY[6.3, 3.3, 6.0, 2.5, 2]::real[]) AS virginica_apart
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Iris modes' ORDER BY m.id;

-- dbscan: scikit-learn's clusters on the training rows; new rows join the nearest core
-- point's cluster within eps, or are noise (-1)
SELECT * FROM pgml.train('Iris density', 'clustering', 'pgml.iris', algorithm => 'dbscan', hyperparams => '{"eps": 0.5, "min_samples": 5}');
SELECT pgml.predict('Iris density', ARRAY[5.1, 3.5, 1.4, 0.2, 0]::real[]) AS setosa_like,
       pgml.predict('Iris density', ARRAY[50, 50, 50, 50, 50]::real[]) AS far_away;

-- The boosting libraries under their PostgresML names: xgboost_random_forest (XGBRF),
-- gradient_boosting_trees (XGBoost's exact splits, scikit-learn's defaults), lightgbm and
-- hist_gradient_boosting (LightGBM); and the rest of the linear family. Each model is
-- stored, reloaded and asked for one row; quality per algorithm against scikit-learn is
-- tested in crates/core (training.rs) and tabled in docs/algorithms.md.
SELECT t.* FROM unnest(ARRAY['xgboost_random_forest', 'gradient_boosting_trees', 'lightgbm', 'hist_gradient_boosting',
                  'stochastic_gradient_descent', 'perceptron', 'passive_aggressive', 'linear_svm', 'svm', 'ada_boost',
                  'gaussian_process', 'nu_svm']) a,
     pgml.train('Iris', algorithm => a, automatic_deploy => false) t;
SELECT algorithm, round((metrics->>'f1')::numeric, 1) >= 0.6 AS f1_at_least_06,
       pgml.predict(id, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) AS setosa,
       pgml.predict(id, ARRAY[6.3, 3.3, 6.0, 2.5]::real[]) AS virginica
FROM pgml.models WHERE project_id = 2 AND id > (SELECT min(id) FROM pgml.models WHERE algorithm = 'bagging') ORDER BY id;
SELECT round(p[1]::numeric, 2) AS p_setosa, round(p[3]::numeric, 2) AS p_virginica
FROM pgml.models m, pgml.predict_proba(m.id, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) p WHERE m.algorithm = 'lightgbm';
SELECT t.* FROM unnest(ARRAY['xgboost_random_forest', 'gradient_boosting_trees', 'lightgbm', 'hist_gradient_boosting',
                  'least_angle', 'lasso_least_angle', 'orthogonal_matching_pursuit', 'bayesian_ridge',
                  'automatic_relevance_determination', 'huber', 'ransac', 'theil_sen', 'stochastic_gradient_descent',
                  'passive_aggressive', 'linear_svm', 'svm', 'kernel_ridge', 'ada_boost', 'nu_svm', 'quantile']) a,
     pgml.train('Diabetes', algorithm => a, automatic_deploy => false) t;
SELECT algorithm, round((metrics->>'r2')::numeric, 1) AS r2,
       round(pgml.predict(id, ARRAY[0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]::real[])::numeric, -1) AS predicted
FROM pgml.models WHERE project_id = 1 AND id > (SELECT max(id) FROM pgml.models WHERE algorithm = 'extra_trees' AND project_id = 1) ORDER BY id;
-- quantile without its L1 penalty: the 0.9 quantile of a row lies above its median and its
-- 0.1 quantile (the solver's optimum is checked against brute force in crates/core)
SELECT t.* FROM unnest(ARRAY[0.1, 0.5, 0.9]) q,
     pgml.train('Diabetes', algorithm => 'quantile', hyperparams => jsonb_build_object('quantile', q, 'alpha', 0),
                automatic_deploy => false) t;
SELECT hyperparams->>'quantile' AS quantile,
       round(pgml.predict(id, ARRAY[0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]::real[])::numeric, -1) AS predicted
FROM pgml.models WHERE algorithm = 'quantile' AND hyperparams->>'alpha' = '0' ORDER BY id;

\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.predict_proba('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[])$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'lasso')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'lasso', hyperparams => '{"l1_ratio": 0.5}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'ridge', hyperparams => '{"alpha": -1}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'catboost')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'svm', hyperparams => '{"kernel": "cosine"}')$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'nu_svm', hyperparams => '{"nu": 1.0}')$$);
SELECT regress.try($$SELECT pgml.predict_proba(id, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) FROM pgml.models WHERE algorithm = 'svm' AND project_id = 2$$);
SELECT regress.try($$SELECT pgml.train('Iris', algorithm => 'huber')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'lightgbm', hyperparams => '{"num_leaves": 1}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'stochastic_gradient_descent', hyperparams => '{"loss": "hinge"}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'quantile', hyperparams => '{"quantile": 1.5}')$$);
SELECT regress.try($$SELECT pgml.train('Diabetes', algorithm => 'lightgmb')$$);

-- Decomposition: pca, pgml.decompose, cumulative_explained_variance (components equal
-- scikit-learn's in crates/core).
\pset format aligned
\pset tuples_only off
SELECT * FROM pgml.train('Iris PCA', 'decomposition', 'pgml.iris', algorithm => 'pca', hyperparams => '{"n_components": 2}');
SELECT round((metrics->>'cumulative_explained_variance')::numeric, 3) AS cumulative_explained_variance
FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = 'Iris PCA';
SELECT array_length(pgml.decompose('Iris PCA', ARRAY[5.1, 3.5, 1.4, 0.2, 0]::real[]), 1) AS components,
       (SELECT array_agg(round(c::numeric, 2)) FROM unnest(pgml.decompose('Iris PCA', ARRAY[6.3, 3.3, 6.0, 2.5, 2]::real[])) c) AS virginica;
\pset format unaligned
\pset tuples_only on
SELECT regress.try($$SELECT pgml.decompose('Iris', ARRAY[5.1, 3.5, 1.4, 0.2]::real[])$$);
SELECT regress.try($$SELECT pgml.train('Iris PCA', algorithm => 'pca', hyperparams => '{"n_components": 9}')$$);
SELECT regress.try($$SELECT pgml.train('Iris PCA', algorithm => 'kmeans')$$);
