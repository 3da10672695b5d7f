//! The shipped datasets (datasets/*.csv, exported from scikit-learn's bundled copies) for
//! quality tests, and reference figures from bench/reference/reference.py: the mean test
//! metric of scikit-learn / XGBoost / LightGBM over 10 stratified 75/25 splits with default
//! settings.

use crate::data::Matrix;
use crate::task::Task;

/// (dataset, algorithm, reference) — macro F1 for classification, r2 for diabetes.
pub const REFERENCE: &[(&str, &str, f64)] = &[
    ("iris", "linear", 0.9605),
    ("iris", "random_forest", 0.9391),
    ("iris", "xgboost", 0.9415),
    ("iris", "extra_trees", 0.9498),
    ("iris", "bagging", 0.9416),
    ("iris", "ridge", 0.8244),
    ("breast_cancer", "linear", 0.9367),
    ("breast_cancer", "random_forest", 0.9440),
    ("breast_cancer", "xgboost", 0.9448),
    ("breast_cancer", "extra_trees", 0.9446),
    ("breast_cancer", "bagging", 0.9409),
    ("breast_cancer", "ridge", 0.9372),
    ("digits", "linear", 0.9618),
    ("digits", "random_forest", 0.9761),
    ("digits", "xgboost", 0.9666),
    ("digits", "extra_trees", 0.9830),
    ("digits", "bagging", 0.9286),
    ("digits", "ridge", 0.9404),
    ("wine", "linear", 0.9487),
    ("wine", "random_forest", 0.9893),
    ("wine", "xgboost", 0.9710),
    ("wine", "extra_trees", 0.9914),
    ("wine", "bagging", 0.9551),
    ("wine", "ridge", 0.9825),
    ("diabetes", "linear", 0.4660),
    ("diabetes", "random_forest", 0.3778),
    ("diabetes", "xgboost", 0.2368),
    ("diabetes", "extra_trees", 0.3989),
    ("diabetes", "bagging", 0.3213),
    ("diabetes", "ridge", 0.4102),
    ("diabetes", "lasso", 0.3435),
    ("diabetes", "elastic_net", 0.0029),
    ("iris", "xgboost_random_forest", 0.9389),
    ("iris", "gradient_boosting_trees", 0.9577),
    ("iris", "lightgbm", 0.9389),
    ("iris", "hist_gradient_boosting", 0.9443),
    ("iris", "stochastic_gradient_descent", 0.5758),
    ("iris", "perceptron", 0.7096),
    ("iris", "passive_aggressive", 0.8059),
    ("iris", "linear_svm", 0.9574),
    ("breast_cancer", "xgboost_random_forest", 0.9357),
    ("breast_cancer", "gradient_boosting_trees", 0.9461),
    ("breast_cancer", "lightgbm", 0.9514),
    ("breast_cancer", "hist_gradient_boosting", 0.9560),
    ("breast_cancer", "stochastic_gradient_descent", 0.8522),
    ("breast_cancer", "perceptron", 0.8601),
    ("breast_cancer", "passive_aggressive", 0.8529),
    ("breast_cancer", "linear_svm", 0.9461),
    ("digits", "xgboost_random_forest", 0.9423),
    ("digits", "gradient_boosting_trees", 0.9630),
    ("digits", "lightgbm", 0.9743),
    ("digits", "hist_gradient_boosting", 0.9764),
    ("digits", "stochastic_gradient_descent", 0.9310),
    ("digits", "perceptron", 0.9448),
    ("digits", "passive_aggressive", 0.9586),
    ("digits", "linear_svm", 0.9470),
    ("wine", "xgboost_random_forest", 0.9829),
    ("wine", "gradient_boosting_trees", 0.9672),
    ("wine", "lightgbm", 0.9800),
    ("wine", "hist_gradient_boosting", 0.9827),
    ("wine", "stochastic_gradient_descent", 0.4707),
    ("wine", "perceptron", 0.4910),
    ("wine", "passive_aggressive", 0.4100),
    ("wine", "linear_svm", 0.9595),
    ("diabetes", "xgboost_random_forest", 0.3648),
    ("diabetes", "gradient_boosting_trees", 0.3515),
    ("diabetes", "lightgbm", 0.3272),
    ("diabetes", "hist_gradient_boosting", 0.3285),
    ("diabetes", "least_angle", 0.0717),
    ("diabetes", "lasso_least_angle", 0.3435),
    ("diabetes", "orthogonal_matching_pursuit", 0.2753),
    ("diabetes", "bayesian_ridge", 0.4693),
    ("diabetes", "automatic_relevance_determination", 0.4667),
    ("diabetes", "huber", 0.4612),
    ("diabetes", "ransac", -0.0319),
    ("diabetes", "stochastic_gradient_descent", 0.3990),
    ("diabetes", "passive_aggressive", 0.4483),
    ("diabetes", "linear_svm", -0.4427),
    ("iris", "svm", 0.9525),
    ("iris", "ada_boost", 0.9444),
    ("breast_cancer", "svm", 0.9087),
    ("breast_cancer", "ada_boost", 0.9575),
    ("digits", "svm", 0.9882),
    ("digits", "ada_boost", 0.7391),
    ("wine", "svm", 0.6169),
    ("wine", "ada_boost", 0.9521),
    ("diabetes", "svm", 0.1429),
    ("diabetes", "theil_sen", 0.4596),
    ("diabetes", "quantile", -0.0333),
    ("diabetes", "kernel_ridge", -3.7788),
    ("iris", "nu_svm", 0.9524),
    ("breast_cancer", "nu_svm", 0.8554),
    ("digits", "nu_svm", 0.9649),
    ("wine", "nu_svm", 0.8258),
    ("diabetes", "nu_svm", 0.1485),
    ("iris", "gaussian_process", 0.9524),
    ("breast_cancer", "gaussian_process", 0.6437),
    ("wine", "gaussian_process", 0.5125),
    // No diabetes row for gaussian_process: with the default kernel (length scale 1 on
    // features of about ±0.1) its kernel matrix has a condition number near 1e12, so both
    // results are rounding noise (scikit-learn −4.16 from f64 rows, ours −11.9 from f32).
    ("diabetes", "ada_boost", 0.3861),
];

/// A shipped dataset as `task` trains on it: the features, the labels (class indices for a
/// classification), and the number of classes (0 otherwise).
pub fn labelled(name: &str, task: Task) -> (Matrix, Vec<f32>, usize) {
    let (x, y) = load(name);
    if task != Task::Classification {
        return (x, y, 0);
    }
    let labels = crate::data::class_labels(&y);
    let y = crate::data::encode_classes(&y, &labels);
    (x, y, labels.len())
}

/// Features and label of a shipped dataset; the label is the last column.
pub fn load(name: &str) -> (Matrix, Vec<f32>) {
    let text = match name {
        "iris" => include_str!("../../../../datasets/iris.csv"),
        "breast_cancer" => include_str!("../../../../datasets/breast_cancer.csv"),
        "digits" => include_str!("../../../../datasets/digits.csv"),
        "wine" => include_str!("../../../../datasets/wine.csv"),
        "diabetes" => include_str!("../../../../datasets/diabetes.csv"),
        _ => panic!("no dataset {name}"),
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut cols = 0;
    for line in text.lines().skip(1) {
        let fields: Vec<f32> = line
            .replace(['{', '}', '"'], "")
            .split(',')
            .map(|f| match f {
                "t" => 1.0,
                "f" => 0.0,
                v => v.parse().unwrap(),
            })
            .collect();
        cols = fields.len() - 1;
        x.extend_from_slice(&fields[..cols]);
        y.push(fields[cols]);
    }
    (Matrix::new(x, cols).unwrap(), y)
}

/// The training and test rows of scikit-learn's split `seed` of a dataset, in the order the
/// reference used them (`bench/reference/splits.txt`): some algorithms (Birch, the online
/// learners) depend on the order of their rows.
pub fn reference_split(name: &str, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let text = include_str!("../../../../bench/reference/splits.txt");
    let line = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split(' ').take(2).eq([name, seed.to_string().as_str()]))
        .unwrap_or_else(|| panic!("no reference split {seed} of {name}"));
    let (train, test) = line.split_once(" | ").expect("a split line has training and test rows");
    let rows = |part: &str, skip| -> Vec<usize> {
        part.split_whitespace().skip(skip).map(|i| i.parse().unwrap()).collect()
    };
    (rows(train, 2), rows(test, 0))
}
