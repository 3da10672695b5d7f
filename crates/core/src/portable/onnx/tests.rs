use super::*;
use crate::algorithms::Model;
use crate::data::Matrix;
use crate::explain::Method;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx");

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(format!("{DIR}/expected.json")).unwrap()).unwrap()
}

fn numbers(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().map_or(f32::NAN, |x| x as f32)).collect()
}

fn rows(e: &Value, dataset: &str) -> Matrix {
    let rows: Vec<Vec<f32>> = e["datasets"][dataset].as_array().unwrap().iter().map(numbers).collect();
    let cols = rows[0].len();
    Matrix { rows: rows.len(), cols, data: rows.concat() }
}

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}.onnx")).unwrap()
}

/// The largest difference relative to the value (absolute below 1).
fn difference(a: f32, b: f32) -> f64 {
    if a.is_nan() && b.is_nan() {
        return 0.0;
    }
    (a as f64 - b as f64).abs() / (b as f64).abs().max(1.0)
}

#[test]
fn onnx_models_predict_what_onnx_runtime_predicts() {
    let e = expected();
    let mut worst = (0.0f64, String::new());
    for (name, m) in e["models"].as_object().unwrap() {
        let mut c = compile(&file(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
        // as stored and loaded again (NaN and infinities kept)
        c.pipeline = serde_json::from_slice(&c.pipeline.to_bytes().unwrap()).unwrap();
        let x = rows(&e, m["dataset"].as_str().unwrap());
        let linear = matches!(c.pipeline.estimator, Estimator::Linear(_));
        let tolerance = if linear { 1e-5 } else { 1e-6 };
        assert_eq!(c.task == Task::Classification, m["task"] == "classification", "{name}");
        // the per-call path (pgml.predict of one row) answers what the batch path does
        let batch = c.pipeline.predict(&x).unwrap();
        for (r, want) in batch.iter().enumerate() {
            let one = c.pipeline.predict_row(x.row(r)).unwrap();
            assert!(
                one == *want || (one.is_nan() && want.is_nan()),
                "{name} row {r}: {one} one at a time, {want} in a batch"
            );
        }
        if c.task == Task::Classification {
            let (labels, proba) = c.pipeline.predict_with_proba(&x).unwrap();
            let proba = proba.unwrap();
            let k = c.classes.len();
            for (r, want) in m["probabilities"].as_array().unwrap().iter().enumerate() {
                let want = numbers(want);
                for (j, w) in want.iter().enumerate() {
                    let d = difference(proba[r * k + j], *w);
                    assert!(
                        d <= tolerance,
                        "{name} row {r} class {j}: {} against ONNX Runtime's {w}",
                        proba[r * k + j]
                    );
                    if d > worst.0 {
                        worst = (d, name.clone());
                    }
                }
                let label = c.classes[labels[r] as usize];
                assert_eq!(label as i64, m["labels"][r].as_i64().unwrap(), "{name} row {r}: the label");
            }
        } else {
            let values = c.pipeline.predict(&x).unwrap();
            for (r, w) in numbers(&m["values"]).iter().enumerate() {
                let d = difference(values[r], *w);
                assert!(d <= tolerance, "{name} row {r}: {} against ONNX Runtime's {w}", values[r]);
                if d > worst.0 {
                    worst = (d, name.clone());
                }
            }
        }
    }
    eprintln!("largest difference from ONNX Runtime: {:.2e} ({})", worst.0, worst.1);
}

#[test]
fn imported_pipelines_explain_additively_once_they_have_seen_rows() {
    let e = expected();
    for (name, m) in e["models"].as_object().unwrap() {
        let mut c = compile(&file(name)).unwrap();
        let x = rows(&e, m["dataset"].as_str().unwrap());
        let first = x.row(0).to_vec();
        if name.starts_with("normalized") {
            let err = c.pipeline.explain(&first, Method::TreeShap).unwrap_err();
            assert!(err.to_string().contains("normalizes each row"), "{name}: {err}");
            continue;
        }
        // no holdout seen: a clean refusal that says what to do
        let err = c.pipeline.explain(&first, Method::TreeShap).unwrap_err();
        assert!(format!("{err:?}").contains("relation_name"), "{name}: {err:?}");
        c.pipeline.observe(&x);
        for r in (0..x.rows).step_by(7) {
            let ex = c.pipeline.explain(x.row(r), Method::TreeShap).unwrap();
            for o in (0..ex.outputs).filter(|&o| ex.margin[o].is_finite()) {
                assert!(
                    ex.approximation_error(o) < 1e-9,
                    "{name} row {r} output {o}: {}",
                    ex.approximation_error(o)
                );
            }
        }
    }
}

#[test]
fn the_first_operator_not_compiled_is_named() {
    let mut bytes = file("lr_binary");
    while let Some(at) = bytes.windows(6).position(|w| w == b"Scaler") {
        bytes[at..at + 6].copy_from_slice(b"Scalez");
    }
    let err = compile(&bytes).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("ai.onnx.ml.Scalez (node 1)"), "{err}");
}

#[test]
fn damaged_onnx_files_are_refused_cleanly() {
    // every prefix, and every byte flipped, of two files: an error or a model, never a panic
    for name in ["lr_iris", "xgb_binary"] {
        let bytes = file(name);
        let x = Matrix { rows: 1, cols: 4, data: vec![5.0, 3.0, f32::NAN, 1.0] };
        for cut in 0..bytes.len() {
            let _ = compile(&bytes[..cut]).map(|c| c.pipeline.predict_with_proba(&x));
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                if let Ok(c) = compile(&damaged) {
                    let wide =
                        Matrix { rows: 1, cols: c.pipeline.features, data: vec![0.5; c.pipeline.features] };
                    let _ = c.pipeline.predict_with_proba(&wide);
                }
            }
        }
    }
}
