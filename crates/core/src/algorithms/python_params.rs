//! The constructor parameters of the Python estimator each scikit-learn name mirrors that
//! pgml-rs has no field for (scikit-learn 1.9's, and older names PostgresML's users still
//! pass). PostgresML handed hyperparameters to the estimator, so every one of them is valid
//! SQL for its users; here each is either inert (logging, threads, copies, caches, a
//! single fit's warm start, randomness an algorithm does not use, speed-only choices between
//! solvers of the same problem): accepted, and recorded with the model's hyperparameters as
//! given; or it changes the model, and only the values pgml-rs computes are accepted, others
//! refused with 0A000 naming the value. The typed parameters of each algorithm's own file
//! then see the rest; XGBoost's and LightGBM's names go to those libraries instead.

use super::Algorithm;
use crate::error::{Error, Result};
use crate::task::Task;
use serde_json::Value;
use std::borrow::Cow;

/// What pgml-rs does with a parameter.
#[derive(Clone, Copy)]
enum Rule {
    /// Changes nothing here.
    Inert,
    /// Changes the model: only these values (JSON texts) are what pgml-rs computes.
    Only(&'static [&'static str]),
}

use Rule::{Inert, Only};

const NONE: Rule = Only(&["null"]);
const FALSE: Rule = Only(&["false"]);
const TRUE: Rule = Only(&["true"]);
const ZERO: Rule = Only(&["0"]);

/// Classifiers' own parameters: pgml-rs weighs every row alike.
const CLASS_WEIGHT: &[(&str, Rule)] = &[("class_weight", NONE)];
const THREADS: &[(&str, Rule)] = &[("n_jobs", Inert)];

/// Parameters of every tree ensemble of scikit-learn that pgml-rs's trees do not vary.
const TREES: &[(&str, Rule)] = &[
    ("min_weight_fraction_leaf", ZERO),
    ("max_leaf_nodes", NONE),
    ("min_impurity_decrease", ZERO),
    ("ccp_alpha", ZERO),
    ("monotonic_cst", NONE),
    ("max_samples", Only(&["null", "1.0"])),
    ("oob_score", Inert),
    ("verbose", Inert),
    ("warm_start", Inert),
];

const LOGISTIC_REGRESSION: &[(&str, Rule)] = &[
    ("penalty", Only(&["\"l2\"", "\"deprecated\""])),
    ("l1_ratio", Only(&["0", "null"])),
    ("dual", FALSE),
    ("intercept_scaling", Inert),
    ("class_weight", NONE),
    ("random_state", Inert),
    ("solver", Only(&["\"lbfgs\""])),
    ("multi_class", Only(&["\"auto\"", "\"multinomial\"", "\"deprecated\""])),
    ("verbose", Inert),
    ("warm_start", Inert),
    ("n_jobs", Inert),
];

const LINEAR_REGRESSION: &[(&str, Rule)] =
    &[("copy_X", Inert), ("tol", Inert), ("n_jobs", Inert), ("positive", FALSE)];

/// Every solver of `Ridge` but `lbfgs` (which needs `positive`) reaches the same minimum.
const RIDGE: &[(&str, Rule)] = &[
    ("copy_X", Inert),
    ("max_iter", Inert),
    ("tol", Inert),
    (
        "solver",
        Only(&["\"auto\"", "\"svd\"", "\"cholesky\"", "\"lsqr\"", "\"sparse_cg\"", "\"sag\"", "\"saga\""]),
    ),
    ("positive", FALSE),
    ("random_state", Inert),
];

const LASSO_LARS: &[(&str, Rule)] = &[("positive", FALSE)];

const COORDINATE_DESCENT: &[(&str, Rule)] = &[
    ("precompute", Inert),
    ("copy_X", Inert),
    ("warm_start", Inert),
    ("positive", FALSE),
    ("random_state", Inert),
    ("selection", Only(&["\"cyclic\""])),
];

const LARS: &[(&str, Rule)] = &[
    ("verbose", Inert),
    ("precompute", Inert),
    ("eps", Inert),
    ("copy_X", Inert),
    ("fit_path", Inert),
    ("jitter", NONE),
    ("random_state", Inert),
];

const BAYESIAN_RIDGE: &[(&str, Rule)] = &[
    ("alpha_init", NONE),
    ("lambda_init", NONE),
    ("compute_score", Inert),
    ("copy_X", Inert),
    ("verbose", Inert),
];

const ARD: &[(&str, Rule)] = &[("compute_score", Inert), ("copy_X", Inert), ("verbose", Inert)];

const RANSAC: &[(&str, Rule)] = &[
    ("estimator", NONE),
    ("base_estimator", NONE),
    ("is_data_valid", NONE),
    ("is_model_valid", NONE),
    ("max_skips", NONE),
    ("stop_n_inliers", NONE),
    ("stop_score", NONE),
    ("loss", Only(&["\"absolute_error\""])),
];

/// What scikit-learn's online learners share.
const ONLINE: &[(&str, Rule)] =
    &[("early_stopping", FALSE), ("validation_fraction", Inert), ("verbose", Inert), ("warm_start", Inert)];

/// Used only by the elasticnet penalty, which is refused.
const ELASTICNET_RATIO: &[(&str, Rule)] = &[("l1_ratio", Inert)];

const AVERAGE: &[(&str, Rule)] = &[("average", FALSE)];

const THEIL_SEN: &[(&str, Rule)] =
    &[("fit_intercept", TRUE), ("copy_X", Inert), ("n_jobs", Inert), ("verbose", Inert)];

/// liblinear's dual and primal problems have the same solution.
const LINEAR_SVC: &[(&str, Rule)] = &[
    ("penalty", Only(&["\"l2\""])),
    ("loss", Only(&["\"squared_hinge\""])),
    ("dual", Inert),
    ("multi_class", Only(&["\"ovr\""])),
    ("class_weight", NONE),
    ("verbose", Inert),
];

const LINEAR_SVR: &[(&str, Rule)] =
    &[("loss", Only(&["\"epsilon_insensitive\""])), ("dual", Inert), ("verbose", Inert)];

/// `decision_function_shape` changes only `decision_function`'s shape, not the predictions;
/// `random_state` only Platt scaling's folds, and `probability` is refused.
const SVC: &[(&str, Rule)] = &[
    ("shrinking", Inert),
    ("probability", Only(&["false", "\"deprecated\""])),
    ("cache_size", Inert),
    ("class_weight", NONE),
    ("verbose", Inert),
    ("decision_function_shape", Inert),
    ("break_ties", FALSE),
    ("random_state", Inert),
];

const SVR: &[(&str, Rule)] = &[("shrinking", Inert), ("cache_size", Inert), ("verbose", Inert)];

const KERNEL_RIDGE: &[(&str, Rule)] = &[("kernel_params", NONE)];

const GAUSSIAN_PROCESS_CLASSIFIER: &[(&str, Rule)] = &[
    ("kernel", NONE),
    ("optimizer", Only(&["\"fmin_l_bfgs_b\""])),
    ("n_restarts_optimizer", ZERO),
    ("warm_start", Inert),
    ("copy_X_train", Inert),
    ("random_state", Inert),
    ("multi_class", Only(&["\"one_vs_rest\""])),
    ("n_jobs", Inert),
];

const GAUSSIAN_PROCESS_REGRESSOR: &[(&str, Rule)] = &[
    ("kernel", NONE),
    ("optimizer", Only(&["\"fmin_l_bfgs_b\""])),
    ("n_restarts_optimizer", ZERO),
    ("normalize_y", FALSE),
    ("copy_X_train", Inert),
    ("n_targets", NONE),
    ("random_state", Inert),
];

const ADA_BOOST: &[(&str, Rule)] = &[("estimator", NONE), ("base_estimator", NONE)];

const BAGGING: &[(&str, Rule)] = &[
    ("estimator", NONE),
    ("base_estimator", NONE),
    ("max_samples", Only(&["null", "1.0"])),
    ("bootstrap_features", FALSE),
    ("oob_score", Inert),
    ("warm_start", Inert),
    ("verbose", Inert),
];

/// Friedman's improvement and the squared error's pick the same splits of a node (both are
/// `n_l n_r / n · (ȳ_l − ȳ_r)²` up to the node's constant). `tol` and `validation_fraction`
/// matter only with `n_iter_no_change`.
const GRADIENT_BOOSTING: &[(&str, Rule)] = &[
    ("criterion", Only(&["\"friedman_mse\"", "\"squared_error\"", "\"deprecated\""])),
    ("min_samples_split", Only(&["2"])),
    ("min_weight_fraction_leaf", ZERO),
    ("min_impurity_decrease", ZERO),
    ("init", NONE),
    ("verbose", Inert),
    ("warm_start", Inert),
    ("validation_fraction", Inert),
    ("n_iter_no_change", NONE),
    ("tol", Inert),
    ("ccp_alpha", ZERO),
];

const GRADIENT_BOOSTING_CLASSIFIER: &[(&str, Rule)] = &[("loss", Only(&["\"log_loss\"", "\"deviance\""]))];

/// `alpha` matters only with the huber and quantile losses.
const GRADIENT_BOOSTING_REGRESSOR: &[(&str, Rule)] =
    &[("loss", Only(&["\"squared_error\"", "\"ls\""])), ("alpha", Inert)];

/// pgml-rs never stops a histogram booster early: `early_stopping` `"auto"` (scikit-learn's
/// default, which stops early above 10,000 rows) is taken to mean no early stopping, and the
/// parameters of early stopping are then inert.
const HIST_GRADIENT_BOOSTING: &[(&str, Rule)] = &[
    ("categorical_features", Only(&["\"from_dtype\"", "null"])),
    ("monotonic_cst", NONE),
    ("interaction_cst", NONE),
    ("warm_start", Inert),
    ("early_stopping", Only(&["\"auto\"", "false"])),
    ("scoring", Inert),
    ("validation_fraction", Inert),
    ("n_iter_no_change", Inert),
    ("tol", Inert),
    ("verbose", Inert),
];

const HIST_GRADIENT_BOOSTING_CLASSIFIER: &[(&str, Rule)] = &[("loss", Only(&["\"log_loss\"", "\"auto\""]))];
const HIST_GRADIENT_BOOSTING_REGRESSOR: &[(&str, Rule)] =
    &[("loss", Only(&["\"squared_error\""])), ("quantile", NONE)];

const FOREST_CLASSIFIER: &[(&str, Rule)] = &[("criterion", Only(&["\"gini\""])), ("class_weight", NONE)];
const FOREST_REGRESSOR: &[(&str, Rule)] = &[("criterion", Only(&["\"squared_error\"", "\"mse\""]))];

/// Elkan's algorithm is an exact acceleration of Lloyd's: the same clusters.
const KMEANS: &[(&str, Rule)] = &[
    ("init", Only(&["\"k-means++\""])),
    ("verbose", Inert),
    ("copy_x", Inert),
    ("algorithm", Only(&["\"lloyd\"", "\"elkan\"", "\"auto\"", "\"full\""])),
];

const MINI_BATCH_KMEANS: &[(&str, Rule)] = &[
    ("init", Only(&["\"k-means++\""])),
    ("verbose", Inert),
    ("compute_labels", Inert),
    ("tol", ZERO),
    ("max_no_improvement", Only(&["10"])),
    ("init_size", NONE),
    ("reassignment_ratio", Only(&["0.01"])),
];

/// The neighbour search (`algorithm`, `leaf_size`) finds the same neighbours either way.
const DBSCAN: &[(&str, Rule)] = &[
    ("metric", Only(&["\"euclidean\""])),
    ("metric_params", NONE),
    ("algorithm", Inert),
    ("leaf_size", Inert),
    ("p", Only(&["null", "2"])),
    ("n_jobs", Inert),
];

const MEAN_SHIFT: &[(&str, Rule)] = &[
    ("seeds", NONE),
    ("bin_seeding", FALSE),
    ("min_bin_freq", Only(&["1"])),
    ("cluster_all", TRUE),
    ("n_jobs", Inert),
];

const AFFINITY_PROPAGATION: &[(&str, Rule)] =
    &[("copy", Inert), ("affinity", Only(&["\"euclidean\""])), ("verbose", Inert)];

const BIRCH: &[(&str, Rule)] = &[("compute_labels", Inert), ("copy", Inert)];

/// The exact solvers give the same components; the randomized one's parameters are inert
/// with them.
const PCA: &[(&str, Rule)] = &[
    ("copy", Inert),
    ("whiten", FALSE),
    ("svd_solver", Only(&["\"auto\"", "\"full\"", "\"covariance_eigh\""])),
    ("tol", Inert),
    ("iterated_power", Inert),
    ("n_oversamples", Inert),
    ("power_iteration_normalizer", Inert),
    ("random_state", Inert),
];

/// The scikit-learn wrappers' own parameters of XGBoost (the library's go to it).
const XGBOOST_WRAPPER: &[(&str, Rule)] = &[
    ("early_stopping_rounds", NONE),
    ("callbacks", NONE),
    ("missing", Only(&["null", "\"nan\"", "\"NaN\""])),
    ("enable_categorical", FALSE),
    ("feature_types", NONE),
    ("feature_weights", NONE),
    ("importance_type", Inert),
    ("use_label_encoder", Inert),
    ("verbosity", Inert),
    ("silent", Inert),
    ("num_class", Inert),
];

/// The scikit-learn wrappers' own parameters of LightGBM (the library's go to it).
const LIGHTGBM_WRAPPER: &[(&str, Rule)] = &[
    ("class_weight", NONE),
    ("importance_type", Inert),
    ("silent", Inert),
    ("verbose", Inert),
    ("verbosity", Inert),
    ("num_class", Inert),
];

/// The Python estimator `algorithm` mirrors for `task`, and its parameters without a field
/// here. For XGBoost and LightGBM, the wrappers' own: the libraries judge their own names.
fn estimator(algorithm: Algorithm, task: Task) -> (&'static str, Vec<&'static [(&'static str, Rule)]>) {
    let classify = task == Task::Classification;
    let pick = |c: &'static str, r: &'static str| if classify { c } else { r };
    match algorithm {
        Algorithm::Linear if classify => ("LogisticRegression", vec![LOGISTIC_REGRESSION]),
        Algorithm::Linear => ("LinearRegression", vec![LINEAR_REGRESSION]),
        Algorithm::Ridge if classify => ("RidgeClassifier", vec![RIDGE, CLASS_WEIGHT]),
        Algorithm::Ridge => ("Ridge", vec![RIDGE]),
        Algorithm::Lasso => ("Lasso", vec![COORDINATE_DESCENT]),
        Algorithm::ElasticNet => ("ElasticNet", vec![COORDINATE_DESCENT]),
        Algorithm::LeastAngle => ("Lars", vec![LARS]),
        Algorithm::LassoLeastAngle => ("LassoLars", vec![LARS, LASSO_LARS]),
        Algorithm::OrthogonalMatchingPursuit => ("OrthogonalMatchingPursuit", vec![&[("precompute", Inert)]]),
        Algorithm::BayesianRidge => ("BayesianRidge", vec![BAYESIAN_RIDGE]),
        Algorithm::AutomaticRelevanceDetermination => ("ARDRegression", vec![ARD]),
        Algorithm::Huber => ("HuberRegressor", vec![&[("warm_start", Inert)]]),
        Algorithm::Ransac => ("RANSACRegressor", vec![RANSAC]),
        Algorithm::TheilSen => ("TheilSenRegressor", vec![THEIL_SEN]),
        Algorithm::Quantile => ("QuantileRegressor", vec![]),
        Algorithm::StochasticGradientDescent if classify => {
            ("SGDClassifier", vec![ONLINE, ELASTICNET_RATIO, AVERAGE, THREADS, CLASS_WEIGHT])
        }
        Algorithm::StochasticGradientDescent => ("SGDRegressor", vec![ONLINE, ELASTICNET_RATIO, AVERAGE]),
        Algorithm::Perceptron => ("Perceptron", vec![ONLINE, ELASTICNET_RATIO, THREADS, CLASS_WEIGHT]),
        Algorithm::PassiveAggressive if classify => {
            ("PassiveAggressiveClassifier", vec![ONLINE, AVERAGE, THREADS, CLASS_WEIGHT])
        }
        Algorithm::PassiveAggressive => ("PassiveAggressiveRegressor", vec![ONLINE, AVERAGE]),
        Algorithm::LinearSvm if classify => ("LinearSVC", vec![LINEAR_SVC]),
        Algorithm::LinearSvm => ("LinearSVR", vec![LINEAR_SVR]),
        Algorithm::Svm if classify => ("SVC", vec![SVC]),
        Algorithm::Svm => ("SVR", vec![SVR]),
        Algorithm::NuSvm if classify => ("NuSVC", vec![SVC]),
        Algorithm::NuSvm => ("NuSVR", vec![SVR]),
        Algorithm::KernelRidge => ("KernelRidge", vec![KERNEL_RIDGE]),
        Algorithm::GaussianProcess if classify => {
            ("GaussianProcessClassifier", vec![GAUSSIAN_PROCESS_CLASSIFIER])
        }
        Algorithm::GaussianProcess => ("GaussianProcessRegressor", vec![GAUSSIAN_PROCESS_REGRESSOR]),
        Algorithm::AdaBoost => (pick("AdaBoostClassifier", "AdaBoostRegressor"), vec![ADA_BOOST]),
        Algorithm::GradientBoostingTrees if classify => {
            ("GradientBoostingClassifier", vec![GRADIENT_BOOSTING, GRADIENT_BOOSTING_CLASSIFIER])
        }
        Algorithm::GradientBoostingTrees => {
            ("GradientBoostingRegressor", vec![GRADIENT_BOOSTING, GRADIENT_BOOSTING_REGRESSOR])
        }
        Algorithm::HistGradientBoosting if classify => (
            "HistGradientBoostingClassifier",
            vec![HIST_GRADIENT_BOOSTING, HIST_GRADIENT_BOOSTING_CLASSIFIER, CLASS_WEIGHT],
        ),
        Algorithm::HistGradientBoosting => {
            ("HistGradientBoostingRegressor", vec![HIST_GRADIENT_BOOSTING, HIST_GRADIENT_BOOSTING_REGRESSOR])
        }
        Algorithm::RandomForest if classify => ("RandomForestClassifier", vec![FOREST_CLASSIFIER, TREES]),
        Algorithm::RandomForest => ("RandomForestRegressor", vec![FOREST_REGRESSOR, TREES]),
        Algorithm::ExtraTrees if classify => ("ExtraTreesClassifier", vec![FOREST_CLASSIFIER, TREES]),
        Algorithm::ExtraTrees => ("ExtraTreesRegressor", vec![FOREST_REGRESSOR, TREES]),
        Algorithm::Bagging => (pick("BaggingClassifier", "BaggingRegressor"), vec![BAGGING]),
        Algorithm::Kmeans => ("KMeans", vec![KMEANS]),
        Algorithm::MiniBatchKmeans => ("MiniBatchKMeans", vec![MINI_BATCH_KMEANS]),
        Algorithm::Dbscan => ("DBSCAN", vec![DBSCAN]),
        Algorithm::MeanShift => ("MeanShift", vec![MEAN_SHIFT]),
        Algorithm::AffinityPropagation => ("AffinityPropagation", vec![AFFINITY_PROPAGATION]),
        Algorithm::Birch => ("Birch", vec![BIRCH]),
        Algorithm::Pca => ("PCA", vec![PCA]),
        Algorithm::Xgboost => (pick("XGBClassifier", "XGBRegressor"), vec![XGBOOST_WRAPPER]),
        Algorithm::XgboostRandomForest => (pick("XGBRFClassifier", "XGBRFRegressor"), vec![XGBOOST_WRAPPER]),
        Algorithm::Lightgbm => (pick("LGBMClassifier", "LGBMRegressor"), vec![LIGHTGBM_WRAPPER]),
    }
}

/// The hyperparameters left for the algorithm's typed parameters: the estimator's inert
/// parameters and those carrying a value pgml-rs computes are taken out, and so is a booster's
/// parameter given as null (the wrappers' "library default"); any other value of a parameter
/// that changes the model is 0A000 naming it.
pub(super) fn own(algorithm: Algorithm, task: Task, hyperparams: &Value) -> Result<Cow<'_, Value>> {
    let Some(given) = hyperparams.as_object() else { return Ok(Cow::Borrowed(hyperparams)) };
    let (python, tables) = estimator(algorithm, task);
    let mut own = None;
    for (key, value) in given {
        let Some(rule) = tables.iter().flat_map(|t| t.iter()).find(|(k, _)| k == key).map(|(_, r)| *r) else {
            continue;
        };
        if let Only(honoured) = rule {
            if !honoured.iter().any(|h| same(value, &serde_json::from_str(h).expect("a JSON text"))) {
                return Err(Error::unsupported(format!(
                    "hyperparameter {key} = {value} of {python} is not supported by pgml-rs's {}",
                    algorithm.name()
                ))
                .with_hint(format!(
                    "pgml-rs computes {key} = {} only; leave it out",
                    honoured.join(" or ")
                )));
            }
        }
        own.get_or_insert_with(|| given.clone()).remove(key);
    }
    // XGBoost's and LightGBM's wrappers take None for "the library's default"
    if matches!(algorithm, Algorithm::Xgboost | Algorithm::XgboostRandomForest | Algorithm::Lightgbm) {
        for (key, _) in given.iter().filter(|(_, v)| v.is_null()) {
            own.get_or_insert_with(|| given.clone()).remove(key);
        }
    }
    Ok(match own {
        Some(map) => Cow::Owned(Value::Object(map)),
        None => Cow::Borrowed(hyperparams),
    })
}

/// JSON equality with numbers compared as numbers (`1` is `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inert_parameters_are_taken_out_and_honoured_values_accepted() {
        let hp = json!({"C": 2.0, "verbose": 3, "n_jobs": 4, "penalty": "l2", "solver": "lbfgs"});
        let own = own(Algorithm::Linear, Task::Classification, &hp).unwrap();
        assert_eq!(*own, json!({"C": 2.0}));
        let hp = json!({"criterion": "squared_error", "min_samples_split": 2.0});
        assert_eq!(*super::own(Algorithm::GradientBoostingTrees, Task::Regression, &hp).unwrap(), json!({}));
        // nothing to take out: the same object
        let hp = json!({"alpha": 1.0});
        assert!(matches!(super::own(Algorithm::Ridge, Task::Regression, &hp).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_value_that_would_change_the_model_is_refused_naming_it() {
        let hp = json!({"class_weight": "balanced"});
        let err = own(Algorithm::RandomForest, Task::Classification, &hp).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }));
        let message = err.to_string();
        assert!(
            message.contains("class_weight = \"balanced\"") && message.contains("RandomForestClassifier")
        );
        assert!(err.hint().unwrap().contains("class_weight = null"));
        // classification and regression mirror different estimators
        let hp = json!({"loss": "squared_error"});
        assert!(own(Algorithm::GradientBoostingTrees, Task::Classification, &hp).is_err());
        assert!(own(Algorithm::GradientBoostingTrees, Task::Regression, &hp).is_ok());
    }

    /// Every constructor parameter of every estimator an algorithm mirrors, each at its
    /// default in scikit-learn 1.9 and the XGBoost and LightGBM wrappers
    /// (`bench/reference/sklearn_params.json`, written by `reference.py params`), is accepted:
    /// PostgresML's users pass them.
    #[test]
    fn every_constructor_parameter_is_accepted_at_its_default() {
        let table: serde_json::Map<String, Value> =
            serde_json::from_str(include_str!("../../../../bench/reference/sklearn_params.json")).unwrap();
        let mut refused = Vec::new();
        for (key, params) in &table {
            let (task, algorithm) = key.split_once(' ').unwrap();
            let (task, algorithm) = (Task::parse(task).unwrap(), Algorithm::parse(algorithm).unwrap());
            for (name, default) in params.as_object().unwrap() {
                let hp = json!({ name: default });
                if let Err(e) = algorithm.validate(task, &hp) {
                    refused.push(format!("{key}: {hp}: {e}"));
                }
            }
        }
        assert!(refused.is_empty(), "{refused:#?}");
    }
}
