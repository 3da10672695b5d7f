use super::*;
use crate::algorithms::testdata::labelled;
use crate::algorithms::{self, Algorithm, TrainContext};
use crate::data::Matrix;
use crate::task::Task;

/// A model of `algorithm` on a shipped dataset, its stored bytes, and rows to explain: the
/// first 40 rows, then each with one feature missing.
fn fitted(
    dataset: &str,
    algorithm: &str,
    task: Task,
    params: serde_json::Value,
) -> (Box<dyn algorithms::Model>, Vec<u8>, Matrix) {
    let (x, y, classes) = labelled(dataset, task);
    let mut ctx = TrainContext { seed: 3, on_step: &mut || {}, interrupt: &|| {} };
    let algorithm = Algorithm::parse(algorithm).unwrap();
    let model = algorithm.train(task, &params, &x, &y, classes, &mut ctx).unwrap();
    let stored = model.to_bytes().unwrap();
    let mut rows = Vec::new();
    for r in 0..40 {
        rows.extend_from_slice(x.row(r));
    }
    for j in 0..x.cols {
        let mut row = x.row(j).to_vec();
        row[j] = f32::NAN;
        rows.extend(row);
    }
    let n = rows.len() / x.cols;
    (model, stored, Matrix { data: rows, rows: n, cols: x.cols })
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1.0)
}

/// Ours against the library's, value by value: features, then the bias (our baseline).
fn check_against(what: &str, model: &dyn algorithms::Model, rows: &Matrix, method: Method, library: &[f64]) {
    let mut worst: f64 = 0.0;
    let mut worst_additivity: f64 = 0.0;
    for r in 0..rows.rows {
        let e = model.explain(rows.row(r), method).unwrap();
        let width = (e.features + 1) * e.outputs;
        let theirs = &library[r * width..(r + 1) * width];
        for o in 0..e.outputs {
            let lib = &theirs[o * (e.features + 1)..(o + 1) * (e.features + 1)];
            for (j, (&a, &b)) in e.attributions_of(o).iter().zip(lib).enumerate() {
                assert!(close(a, b), "{what} row {r} output {o} feature {j}: ours {a}, the library's {b}");
                worst = worst.max((a - b).abs());
            }
            assert!(
                close(e.baseline[o], lib[e.features]),
                "{what} bias: ours {}, the library's {}",
                e.baseline[o],
                lib[e.features]
            );
            worst_additivity = worst_additivity.max(e.approximation_error(o));
        }
    }
    eprintln!(
        "{what}: largest difference from the library {worst:.1e}, additivity error {worst_additivity:.1e}"
    );
    if method == Method::TreeShap {
        assert!(worst_additivity < 1e-5, "{what}: additivity {worst_additivity}");
    }
}

#[test]
fn xgboost_attributions_are_xgboosts_own() {
    for (dataset, task) in [
        ("breast_cancer", Task::Classification),
        ("iris", Task::Classification),
        ("diabetes", Task::Regression),
    ] {
        let (model, stored, rows) =
            fitted(dataset, "xgboost", task, serde_json::json!({"n_estimators": 30, "max_depth": 5}));
        for (method, approximate) in [(Method::TreeShap, false), (Method::Approximate, true)] {
            let library: Vec<f64> = algorithms::xgboost::library_contributions(&stored, &rows, approximate)
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect();
            check_against(
                &format!("xgboost {dataset} {}", method.name()),
                model.as_ref(),
                &rows,
                method,
                &library,
            );
        }
    }
}

#[test]
fn lightgbm_attributions_are_lightgbms_own() {
    for (dataset, task) in [
        ("breast_cancer", Task::Classification),
        ("wine", Task::Classification),
        ("diabetes", Task::Regression),
    ] {
        let (model, stored, rows) =
            fitted(dataset, "lightgbm", task, serde_json::json!({"n_estimators": 30}));
        let library = algorithms::lightgbm::library_contributions(&stored, &rows).unwrap();
        check_against(&format!("lightgbm {dataset}"), model.as_ref(), &rows, Method::TreeShap, &library);
    }
}

#[test]
fn models_of_other_families_say_they_cannot_be_explained() {
    let (model, _, rows) = fitted("iris", "svm", Task::Classification, serde_json::json!({}));
    let e = model.explain(rows.row(0), Method::TreeShap).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
}

#[test]
fn linear_attributions_are_weights_times_centred_inputs() {
    use crate::data::preprocess::Spec;
    use crate::data::split::Sampling;
    use crate::training::{train, TrainRequest};
    for (dataset, algorithm, task, preprocess) in [
        ("diabetes", "linear", Task::Regression, serde_json::json!({"bmi": {"scale": "standard"}})),
        ("diabetes", "ridge", Task::Regression, serde_json::json!({})),
        ("iris", "linear", Task::Classification, serde_json::json!({})),
        ("breast_cancer", "linear", Task::Classification, serde_json::json!({})),
    ] {
        let (x, y) = crate::algorithms::testdata::load(dataset);
        let columns = (1..=x.cols)
            .map(|i| crate::data::schema::FeatureColumn {
                name: if dataset == "diabetes" && i == 3 { "bmi".into() } else { format!("f{i}") },
                pg_type: "real".into(),
                kind: crate::data::schema::FeatureKind::Numeric,
                size: 1,
                levels: vec![],
            })
            .collect();
        let hyperparams = serde_json::json!({});
        let req = TrainRequest {
            task,
            algorithm: Algorithm::parse(algorithm).unwrap(),
            hyperparams: &hyperparams,
            x: x.clone(),
            y,
            features: columns,
            test_size: 0.25,
            sampling: Sampling::Stratified,
            seed: 5,
            search: None,
            preprocess: Spec::parse(&preprocess).unwrap(),
            targets: 1,
        };
        let model = train(req, &|| {}, &mut |_| {}).unwrap().model.unwrap();
        let mut worst: f64 = 0.0;
        for r in 0..x.rows {
            let e = model.explain(x.row(r), Method::TreeShap).unwrap();
            assert_eq!(e.method, Method::Linear);
            for o in 0..e.outputs {
                worst = worst.max(e.approximation_error(o));
            }
            if task == Task::Regression {
                let predicted =
                    model.predict(&Matrix { data: x.row(r).to_vec(), rows: 1, cols: x.cols }).unwrap()[0];
                assert!(
                    close(e.margin[0], predicted as f64),
                    "{dataset} {algorithm}: margin {} vs prediction {predicted}",
                    e.margin[0]
                );
            }
        }
        assert!(worst < 1e-9, "{dataset} {algorithm}: additivity {worst}");
    }
}

#[test]
fn training_stores_a_global_explanation_of_the_test_rows() {
    use crate::data::preprocess::Spec;
    use crate::data::split::Sampling;
    use crate::training::{train, TrainRequest};
    // svm cannot be explained; a forest trained in memory is explained too, while the
    // extension's, written tree by tree as it grows, is not held whole to explain
    for (algorithm, explained) in [("xgboost", true), ("lightgbm", true), ("linear", true), ("svm", false)] {
        let (x, y) = crate::algorithms::testdata::load("breast_cancer");
        let hyperparams = serde_json::json!({});
        let req = TrainRequest {
            task: Task::Classification,
            algorithm: Algorithm::parse(algorithm).unwrap(),
            hyperparams: &hyperparams,
            x,
            y,
            features: vec![],
            test_size: 0.25,
            sampling: Sampling::Stratified,
            seed: 5,
            search: None,
            preprocess: Spec::default(),
            targets: 1,
        };
        let outcome = train(req, &|| {}, &mut |_| {}).unwrap();
        match (outcome.explanation, explained) {
            (Some(g), true) => {
                assert_eq!(g.mean_abs_attribution.len(), 30, "{algorithm}");
                assert!(g.rows >= 50 && g.rows <= 143, "{algorithm}: {} rows", g.rows);
                assert!(g.mean_abs_attribution.iter().all(|v| v.is_finite() && *v >= 0.0), "{algorithm}");
                assert!(g.mean_abs_attribution.iter().any(|v| *v > 0.0), "{algorithm}");
            }
            (None, false) => {}
            (g, _) => panic!("{algorithm}: {g:?}"),
        }
    }
}

/// The path-dependent expectation of a tree's output when only the features in `known` are
/// known (the paper's EXPVALUE): a known feature follows the row, an unknown one averages its
/// children by cover.
fn expectation(tree: &trees::Tree, row: &[f32], known: u32, node: usize) -> f64 {
    let n = &tree.nodes[node];
    if n.left < 0 {
        return n.value;
    }
    if known & (1 << n.feature) != 0 {
        return expectation(tree, row, known, tree.next(node, row));
    }
    let (l, r) = (n.left as usize, n.right as usize);
    (tree.nodes[l].cover * expectation(tree, row, known, l)
        + tree.nodes[r].cover * expectation(tree, row, known, r))
        / n.cover
}

/// Shapley values by their definition, every subset of the features enumerated.
fn brute_force(ensemble: &trees::Ensemble, row: &[f32], output: usize) -> Vec<f64> {
    let m = ensemble.num_features;
    let value = |known: u32| -> f64 {
        ensemble.trees.iter().filter(|t| t.group == output).map(|t| expectation(t, row, known, 0)).sum()
    };
    let factorial = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    (0..m)
        .map(|i| {
            (0u32..1 << m)
                .filter(|s| s & (1 << i) == 0)
                .map(|s| {
                    let size = s.count_ones() as usize;
                    factorial(size) * factorial(m - size - 1) / factorial(m)
                        * (value(s | (1 << i)) - value(s))
                })
                .sum()
        })
        .collect()
}

#[test]
fn tree_shap_equals_shapley_values_by_their_definition() {
    for (algorithm, params) in [
        ("xgboost", serde_json::json!({"n_estimators": 8, "max_depth": 4})),
        ("lightgbm", serde_json::json!({"n_estimators": 8, "num_leaves": 12})),
        ("random_forest", serde_json::json!({"n_estimators": 4, "max_depth": 6})),
        ("extra_trees", serde_json::json!({"n_estimators": 4, "max_depth": 6})),
    ] {
        let (_, stored, rows) = fitted("iris", algorithm, Task::Classification, params);
        let ensemble = match algorithm {
            "xgboost" => {
                let (_, ubj) = algorithms::xgboost::split_stored(&stored).unwrap();
                let json = crate::portable::ubjson::parse(ubj).unwrap();
                trees::Ensemble::from_xgboost(&json, 3).unwrap()
            }
            "lightgbm" => {
                trees::Ensemble::from_lightgbm(algorithms::lightgbm::split_stored(&stored).unwrap().1)
                    .unwrap()
            }
            _ => algorithms::forest::stored_ensemble(&stored).unwrap(),
        };
        let mut worst: f64 = 0.0;
        for r in (0..rows.rows).step_by(3) {
            let row = rows.row(r);
            let e = ensemble.explain(row, Method::TreeShap).unwrap();
            for o in 0..e.outputs {
                for (j, (ours, truth)) in
                    e.attributions_of(o).iter().zip(brute_force(&ensemble, row, o)).enumerate()
                {
                    assert!(
                        (ours - truth).abs() < 1e-9,
                        "{algorithm} row {r} output {o} feature {j}: {ours} against {truth}"
                    );
                    worst = worst.max((ours - truth).abs());
                }
                assert!(e.approximation_error(o) < 1e-9, "{algorithm}: additivity");
            }
        }
        eprintln!("{algorithm}: TreeSHAP against the Shapley definition, largest difference {worst:.1e}");
    }
}
