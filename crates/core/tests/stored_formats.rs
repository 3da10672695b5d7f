//! Model bytes written by every released version keep loading and predicting the same.
//!
//! `tests/fixtures/<version>/` holds, for each stored format (each way `Algorithm::load`
//! reads a model, plus preprocessing and joint models), the artifact a release wrote
//! (`<case>.model`) and its answers for rows spread over the dataset (`<case>.json`). This
//! test loads every fixture of every version with today's code and asserts the same answers.
//!
//! A release whose stored formats changed adds its own directory:
//! `PGML_WRITE_FIXTURES=<version> cargo test -p pgml-core --test stored_formats` trains the
//! cases with the code of that release and writes them (it never overwrites a file).

use pgml_core::algorithms::Algorithm;
use pgml_core::artifact::LoadedModel;
use pgml_core::data::preprocess::Spec;
use pgml_core::data::schema::{FeatureColumn, FeatureKind};
use pgml_core::data::split::Sampling;
use pgml_core::data::Matrix;
use pgml_core::training::{train, TrainRequest};
use pgml_core::Task;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// How many rows' predictions each fixture records, spread over the dataset (iris's first rows
/// are all one class).
const ROWS: usize = 12;

/// (case, dataset, task, algorithm, hyperparams, preprocess): one per stored format.
fn cases() -> Vec<(&'static str, &'static str, Task, &'static str, Value, Value)> {
    let none = json!({});
    vec![
        ("linear_regression", "diabetes", Task::Regression, "linear", none.clone(), none.clone()),
        ("logistic_regression", "iris", Task::Classification, "linear", none.clone(), none.clone()),
        ("ridge", "diabetes", Task::Regression, "ridge", none.clone(), none.clone()),
        ("svm", "iris", Task::Classification, "svm", none.clone(), none.clone()),
        ("kernel_ridge", "diabetes", Task::Regression, "kernel_ridge", none.clone(), none.clone()),
        ("gaussian_process", "iris", Task::Classification, "gaussian_process", none.clone(), none.clone()),
        ("ada_boost", "iris", Task::Classification, "ada_boost", json!({"n_estimators": 5}), none.clone()),
        ("xgboost", "iris", Task::Classification, "xgboost", json!({"n_estimators": 5}), none.clone()),
        ("lightgbm", "diabetes", Task::Regression, "lightgbm", json!({"n_estimators": 5}), none.clone()),
        (
            "random_forest",
            "iris",
            Task::Classification,
            "random_forest",
            json!({"n_estimators": 5}),
            none.clone(),
        ),
        ("kmeans", "iris", Task::Clustering, "kmeans", json!({"n_clusters": 3}), none.clone()),
        ("birch", "iris", Task::Clustering, "birch", none.clone(), none.clone()),
        ("dbscan", "iris", Task::Clustering, "dbscan", none.clone(), none.clone()),
        ("pca", "iris", Task::Decomposition, "pca", json!({"n_components": 2}), none.clone()),
        ("joint_linear", "linnerud", Task::Regression, "linear", none.clone(), none.clone()),
        (
            "preprocessed_linear",
            "iris",
            Task::Classification,
            "linear",
            none.clone(),
            json!({"sepal_length": {"scale": "standard"}, "petal_width": {"impute": "mean", "scale": "min_max"}}),
        ),
    ]
}

/// The dataset's feature columns, rows and labels (linnerud: its three physiological targets).
fn dataset(name: &str) -> (Vec<FeatureColumn>, Matrix, Vec<f32>, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../datasets/{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let targets = if name == "linnerud" { 3 } else { 1 };
    let width = header.len() - targets;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines {
        let values: Vec<f32> = line.split(',').map(|v| v.parse().unwrap()).collect();
        x.extend_from_slice(&values[..width]);
        y.extend_from_slice(&values[width..]);
    }
    let columns = header[..width]
        .iter()
        .map(|n| FeatureColumn {
            name: n.to_string(),
            pg_type: "real".into(),
            kind: FeatureKind::Numeric,
            size: 1,
            levels: vec![],
        })
        .collect();
    (columns, Matrix::new(x, width).unwrap(), y, targets)
}

/// What a model answers for the first rows: predictions, and probabilities, components or
/// every target where the model has them.
fn answers(model: &LoadedModel, x: &Matrix) -> Value {
    let rows = x.select(&(0..ROWS).map(|i| i * x.rows / ROWS).collect::<Vec<_>>());
    let mut out = json!({ "predict": model.predict(&rows).unwrap() });
    let one: Vec<f32> = (0..ROWS).map(|i| model.predict_one(rows.row(i)).unwrap()).collect();
    out["predict_one"] = json!(one);
    if let Ok(p) = model.predict_proba(&rows) {
        out["predict_proba"] = json!(p);
    }
    if let Ok(d) = model.decompose(&rows) {
        out["decompose"] = json!(d);
    }
    if let Ok(j) = model.predict_joint(&rows) {
        out["predict_joint"] = json!(j);
    }
    out
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Trains every case with today's code and writes the fixtures of `version`.
fn write_fixtures(version: &str) {
    let dir = fixtures().join(version);
    std::fs::create_dir_all(&dir).unwrap();
    for (case, data, task, algorithm, hyperparams, preprocess) in cases() {
        let (model_path, answers_path) =
            (dir.join(format!("{case}.model")), dir.join(format!("{case}.json")));
        assert!(
            !model_path.exists(),
            "{} exists: fixtures of a release are never rewritten",
            model_path.display()
        );
        let (features, x, y, targets) = dataset(data);
        let y = if task.is_supervised() { y } else { Vec::new() };
        let req = TrainRequest {
            task,
            algorithm: Algorithm::parse(algorithm).unwrap(),
            hyperparams: &hyperparams,
            x: x.clone(),
            y,
            features,
            test_size: 0.25,
            sampling: if task == Task::Classification { Sampling::Stratified } else { Sampling::Random },
            seed: 42,
            search: None,
            preprocess: Spec::parse(&preprocess).unwrap(),
            targets,
        };
        let model = train(req, &|| {}, &mut |_| {}).unwrap().model.unwrap();
        std::fs::write(&model_path, model.to_bytes().unwrap()).unwrap();
        let recorded = json!({ "dataset": data, "answers": answers(&model, &x) });
        std::fs::write(&answers_path, serde_json::to_string_pretty(&recorded).unwrap() + "\n").unwrap();
    }
}

#[test]
fn models_written_by_every_release_load_and_answer_the_same() {
    if let Ok(version) = std::env::var("PGML_WRITE_FIXTURES") {
        write_fixtures(&version);
    }
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    versions.sort();
    assert!(!versions.is_empty(), "no fixtures under {}", fixtures().display());
    let mut checked = 0;
    for dir in versions {
        for (case, ..) in cases() {
            let model_path = dir.join(format!("{case}.model"));
            if !model_path.exists() {
                continue; // a format that release did not have
            }
            let recorded: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{case}.json"))).unwrap())
                    .unwrap();
            let (_, x, ..) = dataset(recorded["dataset"].as_str().unwrap());
            let model = LoadedModel::from_vec(std::fs::read(&model_path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", model_path.display()));
            // the recorded answers are JSON numbers of f32 values: compare them as f32
            let (got, want) = (answers(&model, &x), &recorded["answers"]);
            let as_f32 = |v: &Value| -> Vec<f32> {
                v.as_array().unwrap().iter().map(|n| n.as_f64().map_or(f32::NAN, |f| f as f32)).collect()
            };
            for (key, expected) in want.as_object().unwrap() {
                let (a, b) = (as_f32(&got[key]), as_f32(expected));
                let same = a.len() == b.len()
                    && a.iter()
                        .zip(&b)
                        .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()));
                assert!(same, "{}: {key} changed\n  now {a:?}\n  was {b:?}", model_path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= cases().len(), "only {checked} fixtures were checked");
}
