//! The shipped datasets (datasets/*.csv, exported from scikit-learn's bundled copies) for
//! quality tests, and reference figures from bench/reference/reference.py: the mean test
//! metric of scikit-learn / XGBoost over 10 stratified 75/25 splits with default settings.

use crate::data::Matrix;

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
];

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
