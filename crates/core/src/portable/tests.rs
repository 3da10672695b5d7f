use super::*;
use crate::algorithms::testdata::load;
use crate::data::preprocess::Spec;
use crate::data::split::Sampling;
use crate::training::{train, TrainRequest};
use rand::{Rng, SeedableRng};

/// A model of `algorithm` trained on a shipped dataset, as stored, and the dataset's rows.
fn trained(dataset: &str, algorithm: &str, hyperparams: Value, preprocess: Value) -> (Vec<u8>, Matrix) {
    let (x, y) = load(dataset);
    let task = if dataset == "diabetes" { Task::Regression } else { Task::Classification };
    let req = TrainRequest {
        task,
        algorithm: Algorithm::parse(algorithm).unwrap(),
        hyperparams: &hyperparams,
        features: (1..=x.cols).map(|i| numeric(&format!("f{i}"))).collect(),
        x: x.clone(),
        y,
        test_size: 0.25,
        sampling: Sampling::Stratified,
        seed: 7,
        search: None,
        preprocess: Spec::parse(&preprocess).unwrap(),
        targets: 1,
    };
    let model = train(req, &|| {}, &mut |_| {}).unwrap().model.unwrap();
    (model.to_bytes().unwrap(), x)
}

fn manifest(h: &Header) -> Manifest {
    Manifest {
        pgml_rs: "test".into(),
        project: "p".into(),
        task: h.task,
        algorithm: h.algorithm.clone(),
        model_id: 1,
        features: h.features.clone(),
        classes: h.classes.clone(),
        preprocess: None,
        hyperparams: Value::Null,
        metrics: Value::Null,
        created_at: None,
    }
}

fn predictions(stored: &[u8], x: &Matrix) -> Vec<f32> {
    let model = LoadedModel::from_bytes(stored).unwrap();
    let mut out = model.predict(x).unwrap();
    if model.header.task == Task::Classification {
        out.extend(model.predict_proba(x).unwrap_or_default());
    }
    out
}

/// Rows of the dataset with NaN in every feature in turn, and each split's boundary row.
fn with_missing(x: &Matrix) -> Matrix {
    let mut data = x.data.clone();
    for j in 0..x.cols {
        let mut row = x.row(j % x.rows).to_vec();
        row[j] = f32::NAN;
        data.extend(row);
    }
    Matrix { rows: data.len() / x.cols, cols: x.cols, data }
}

#[test]
fn exported_library_files_import_back_with_identical_predictions() {
    for (dataset, algorithm, format) in [
        ("breast_cancer", "xgboost", Format::XgboostUbj),
        ("iris", "xgboost", Format::XgboostJson),
        ("diabetes", "xgboost", Format::XgboostUbj),
        ("wine", "lightgbm", Format::Lightgbm),
        ("breast_cancer", "lightgbm", Format::Lightgbm),
        ("diabetes", "lightgbm", Format::Lightgbm),
    ] {
        let (stored, x) = trained(dataset, algorithm, serde_json::json!({"n_estimators": 20}), Value::Null);
        let x = with_missing(&x);
        let file = export(&stored, format, manifest).unwrap();
        assert_eq!(Format::sniff(&file).unwrap(), format, "{dataset} {algorithm}");
        let imported = import(&file, None, None).unwrap();
        assert_eq!(predictions(&imported.stored, &x), predictions(&stored, &x), "{dataset} {algorithm}");
    }
}

#[test]
fn an_xgboost_export_names_its_features_and_keeps_the_labels() {
    let (stored, x) = trained("iris", "xgboost", serde_json::json!({"n_estimators": 5}), Value::Null);
    let file = export(&stored, Format::XgboostJson, manifest).unwrap();
    let json: Value = serde_json::from_slice(&file).unwrap();
    assert_eq!(json["learner"]["feature_names"], serde_json::json!(["f1", "f2", "f3", "f4"]));
    assert_eq!(json["learner"]["feature_types"], serde_json::json!(["float", "float", "float", "float"]));
    let imported = import(&file, Some(Format::XgboostJson), None).unwrap();
    assert_eq!(imported.header.classes, [0.0, 1.0, 2.0]);
    assert_eq!(imported.header.feature_list(), "f1, f2, f3, f4");
    assert_eq!(predictions(&imported.stored, &x), predictions(&stored, &x));
}

#[test]
fn bundles_carry_every_algorithm_and_its_preprocessing() {
    let scaled = serde_json::json!({"f1": {"scale": "standard"}, "f2": {"impute": "mean"}});
    for (dataset, algorithm, preprocess) in [
        ("iris", "random_forest", Value::Null),
        ("diabetes", "linear", scaled.clone()),
        ("breast_cancer", "svm", Value::Null),
        ("wine", "xgboost", Value::Null),
        ("diabetes", "lightgbm", Value::Null),
        ("iris", "gaussian_process", Value::Null),
    ] {
        let (stored, x) = trained(dataset, algorithm, Value::Null, preprocess);
        let file = export(&stored, Format::Bundle, manifest).unwrap();
        let imported = import(&file, None, None).unwrap();
        assert_eq!(imported.manifest.as_ref().unwrap().algorithm, algorithm);
        assert_eq!(predictions(&imported.stored, &x), predictions(&stored, &x), "{algorithm}");
    }
}

#[test]
fn formats_that_cannot_hold_a_model_say_so() {
    let (stored, _) = trained("iris", "random_forest", Value::Null, Value::Null);
    let e = export(&stored, Format::XgboostUbj, manifest).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("random_forest"), "{e}");
    let scaled = serde_json::json!({"f1": {"scale": "standard"}});
    let (stored, _) = trained("diabetes", "xgboost", serde_json::json!({"n_estimators": 3}), scaled);
    let e = export(&stored, Format::XgboostJson, manifest).unwrap_err();
    assert!(e.to_string().contains("preprocessing"), "{e}");
}

/// Random damage to real files: every import ends in a result or an error, never a panic or a
/// crash inside a library.
#[test]
fn damaged_files_never_crash_an_import() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
    let mut files = Vec::new();
    for (dataset, algorithm, format) in [
        ("iris", "xgboost", Format::XgboostUbj),
        ("iris", "xgboost", Format::XgboostJson),
        ("iris", "lightgbm", Format::Lightgbm),
        ("iris", "random_forest", Format::Bundle),
        ("diabetes", "linear", Format::Bundle),
    ] {
        let params = if algorithm == "linear" { Value::Null } else { serde_json::json!({"n_estimators": 3}) };
        let (stored, _) = trained(dataset, algorithm, params, Value::Null);
        files.push(export(&stored, format, manifest).unwrap());
    }
    let (mut ok, mut refused) = (0, 0);
    // PGML_FUZZ_ROUNDS=100000 for a longer run
    let rounds = std::env::var("PGML_FUZZ_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000);
    for round in 0..rounds {
        let mut file = files[round % files.len()].clone();
        match rng.gen_range(0..4) {
            0 => file.truncate(rng.gen_range(0..file.len())),
            1 => {
                for _ in 0..rng.gen_range(1..8) {
                    let i = rng.gen_range(0..file.len());
                    file[i] = rng.gen();
                }
            }
            2 => {
                // a digit changed in text formats: indices and counts out of range
                let digits: Vec<usize> = (0..file.len()).filter(|&i| file[i].is_ascii_digit()).collect();
                if let Some(&i) = digits.get(rng.gen_range(0..digits.len().max(1))) {
                    file[i] = b"0123456789"[rng.gen_range(0..10)];
                }
            }
            _ => {
                let i = rng.gen_range(0..file.len());
                let n = rng.gen_range(1..64).min(file.len() - i);
                file.drain(i..i + n);
            }
        }
        if std::env::var("PGML_FUZZ_TRACE").is_ok() {
            eprintln!("round {round}");
            std::fs::write("/tmp/fuzz-last", &file).unwrap();
        }
        match import(&file, None, None) {
            Ok(m) => {
                // whatever imports predicts without a panic
                let x =
                    Matrix { data: vec![0.5; m.header.num_features], rows: 1, cols: m.header.num_features };
                let _ = LoadedModel::from_bytes(&m.stored).and_then(|l| l.predict(&x));
                ok += 1;
            }
            Err(e) => {
                assert!(
                    !matches!(e, Error::Internal(_))
                        || e.to_string().contains("XGBoost")
                        || e.to_string().contains("LightGBM"),
                    "{e}"
                );
                refused += 1;
            }
        }
    }
    eprintln!("{ok} damaged files imported, {refused} refused");
    assert!(refused > rounds / 3 && ok > 0, "{ok} imported, {refused} refused");
}

#[test]
fn a_postgresml_lightgbm_file_is_read_from_its_text() {
    let (stored, x) = trained("iris", "lightgbm", serde_json::json!({"n_estimators": 5}), Value::Null);
    let text = export(&stored, Format::Lightgbm, manifest).unwrap();
    // PostgresML's pgml.files.data: features and classes as big-endian u64, then the text
    let mut file = 4u64.to_be_bytes().to_vec();
    file.extend(3u64.to_be_bytes());
    file.extend(&text);
    let imported = import(&file, None, None).unwrap();
    assert_eq!(imported.format, Format::Lightgbm);
    assert_eq!(predictions(&imported.stored, &x), predictions(&stored, &x));
}

#[test]
fn models_trained_here_export_as_onnx_that_predicts_the_same() {
    let few = serde_json::json!({"n_estimators": 10});
    let none = serde_json::json!({});
    let scaled =
        serde_json::json!({"f1": {"scale": "standard"}, "f2": {"impute": "mean", "scale": "min_max"}});
    let cases = [
        ("iris", "xgboost", &few, &none),
        ("breast_cancer", "xgboost", &few, &scaled),
        ("diabetes", "xgboost", &few, &none),
        ("wine", "lightgbm", &few, &none),
        ("breast_cancer", "lightgbm", &few, &none),
        ("diabetes", "lightgbm", &few, &scaled),
        ("iris", "random_forest", &few, &none),
        ("breast_cancer", "random_forest", &few, &scaled),
        ("diabetes", "extra_trees", &few, &none),
        ("breast_cancer", "gradient_boosting_trees", &few, &none),
        ("iris", "linear", &none, &scaled),
        ("breast_cancer", "linear", &none, &none),
        ("diabetes", "linear", &none, &scaled),
        ("diabetes", "ridge", &none, &none),
        ("diabetes", "lasso", &none, &none),
    ];
    for (dataset, algorithm, hyperparams, preprocess) in cases {
        let (stored, x) = trained(dataset, algorithm, hyperparams.clone(), preprocess.clone());
        let x = with_missing(&x);
        let file = export(&stored, Format::Onnx, manifest)
            .unwrap_or_else(|e| panic!("{dataset} {algorithm}: {e:?}"));
        assert_eq!(Format::sniff(&file).unwrap(), Format::Onnx);
        let model = LoadedModel::from_bytes(&stored).unwrap();
        let c = onnx::compile(&file).unwrap();
        let linear = model.model().linear_terms().is_some();
        let tolerance = if linear { 1e-5 } else { 1e-6 };
        let (labels, proba) = algorithms::Model::predict_with_proba(&c.pipeline, &x).unwrap();
        let (want, got) = match model.header.task {
            Task::Classification => (model.predict_proba(&x).unwrap(), proba.unwrap()),
            _ => (model.predict(&x).unwrap(), labels.clone()),
        };
        let worst = want.iter().zip(&got).fold(0.0f64, |m, (a, b)| {
            if a.is_nan() && b.is_nan() {
                m
            } else {
                m.max((*a as f64 - *b as f64).abs() / (*a as f64).abs().max(1.0))
            }
        });
        assert!(worst <= tolerance, "{dataset} {algorithm}: the ONNX form differs by {worst:e}");
        if model.header.task == Task::Classification {
            // the same class wherever the two likeliest classes are not tied (a forest of 10
            // trees ties at 0.5 often, and f32 sums decide a tie either way)
            let (mine, k) = (model.predict(&x).unwrap(), model.header.classes.len());
            for (r, (a, l)) in mine.iter().zip(&labels).enumerate() {
                let mut p = want[r * k..(r + 1) * k].to_vec();
                p.sort_by(|a, b| b.total_cmp(a));
                if p[0] - p[1] > 1e-5 {
                    assert_eq!(*a, c.classes[*l as usize], "{dataset} {algorithm} row {r}: the class");
                }
            }
        }
        // the file names the features, which an import takes back
        let imported = import(&file, None, None).unwrap();
        assert_eq!(imported.header.features, model.header.features, "{dataset} {algorithm}");
    }
    for (dataset, algorithm) in [("iris", "svm"), ("iris", "kmeans")] {
        let task_ok = algorithm != "kmeans";
        if !task_ok {
            continue;
        }
        let (stored, _) = trained(dataset, algorithm, serde_json::json!({}), Value::Null);
        let err = export(&stored, Format::Onnx, manifest).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!("{algorithm} models cannot be exported as ONNX")),
            "{err}"
        );
    }
}
