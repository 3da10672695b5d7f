-- The registry that include/read_paths.sql reads: every kind of model a read path serves
-- (linear, XGBoost, a forest, preprocessing, a joint model, PCA, k-means), stages, a pending
-- promotion, drift thresholds. Written on the primary; scripts/test-replica.sh runs it there
-- and reads it back on a hot standby.
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.load_dataset('linnerud');
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target');
SELECT * FROM pgml.train('Iris', algorithm => 'xgboost', hyperparams => '{"n_estimators": 5}', automatic_deploy => false);
SELECT * FROM pgml.train('Iris', algorithm => 'random_forest', hyperparams => '{"n_estimators": 15}', automatic_deploy => false);
CREATE VIEW flowers AS SELECT sepal_length, sepal_width, petal_length, petal_width FROM pgml.iris;
CREATE VIEW gappy_flowers AS
SELECT CASE WHEN sepal_length > 7 THEN NULL ELSE sepal_length END AS sepal_length, sepal_width, petal_length, petal_width
FROM pgml.iris;
SELECT * FROM pgml.train('Petals', 'regression', 'gappy_flowers', 'petal_width',
                         preprocess => '{"sepal_length": {"impute": "mean", "scale": "standard"}}');
SELECT * FROM pgml.train('Components', 'decomposition', 'flowers', algorithm => 'pca', hyperparams => '{"n_components": 2}');
SELECT * FROM pgml.train('Clusters', 'clustering', 'flowers', algorithm => 'kmeans', hyperparams => '{"n_clusters": 3}');
CREATE VIEW exercise AS SELECT chins, situps, jumps, weight, waist, pulse FROM pgml.linnerud;
SELECT * FROM pgml.train_joint('Exercise', 'regression', 'exercise', ARRAY['weight', 'waist', 'pulse']);
SELECT * FROM pgml.deploy(2, stage => 'staging');
SELECT pgml.set_promotion_policy('Iris', approvals => 1) IS NOT NULL AS policy_set;
SELECT status FROM pgml.promote('Iris', 3);
SELECT pgml.set_drift_thresholds('Iris', '{"psi": 0.3}') IS NOT NULL AS thresholds_set;
