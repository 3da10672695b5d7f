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
fn models_without_trees_say_they_cannot_be_explained() {
    let (model, _, rows) = fitted("iris", "linear", Task::Classification, serde_json::json!({}));
    let e = model.explain(rows.row(0), Method::TreeShap).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
}
