//! The cost of an explanation, one thread (bench/explain.sh prints it against XGBoost's own
//! pred_contribs on the same model).
//!
//! 20 features, 20,000 generated rows (seeded): XGBoost of 100 trees of depth 6, LightGBM of
//! 100 trees of 63 leaves and a linear regression are trained; 1,000 rows are explained one at
//! a time, exactly (TreeSHAP) and approximately (one walk per tree). Then the global explanation
//! a training stores (2,000 test rows) against the training's own time.
//!
//! Usage: explain_cost <dir>: writes <dir>/xgboost.ubj (the model) and <dir>/rows.csv (the
//! explained rows) for the peer, and prints `name microseconds_per_row` lines.

use pgml_core::algorithms::Algorithm;
use pgml_core::data::preprocess::Spec;
use pgml_core::data::split::Sampling;
use pgml_core::data::Matrix;
use pgml_core::explain::Method;
use pgml_core::portable::{self, Format};
use pgml_core::training::{train, TrainRequest};
use pgml_core::Task;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const FEATURES: usize = 20;
const ROWS: usize = 20_000;
const EXPLAINED: usize = 1_000;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: explain_cost <dir>");
    std::env::set_var("OMP_NUM_THREADS", "1");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut x = Vec::with_capacity(ROWS * FEATURES);
    let mut y = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let row: Vec<f32> = (0..FEATURES).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let target = row.iter().enumerate().map(|(j, v)| (j as f32 + 1.0) * v * v.signum()).sum::<f32>()
            + row[0] * row[1] * 5.0
            + rng.gen_range(-0.5..0.5);
        x.extend_from_slice(&row);
        y.push(target);
    }
    let x = Matrix { data: x, rows: ROWS, cols: FEATURES };
    let rows = Matrix { data: x.data[..EXPLAINED * FEATURES].to_vec(), rows: EXPLAINED, cols: FEATURES };
    std::fs::write(
        format!("{dir}/rows.csv"),
        (0..EXPLAINED)
            .map(|r| rows.row(r).iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("rows.csv");
    for (algorithm, hyperparams) in [
        ("xgboost", serde_json::json!({"n_estimators": 100, "max_depth": 6, "n_jobs": 1})),
        ("lightgbm", serde_json::json!({"n_estimators": 100, "num_leaves": 63, "max_depth": 6, "n_jobs": 1})),
        ("linear", serde_json::json!({})),
    ] {
        let req = TrainRequest {
            task: Task::Regression,
            algorithm: Algorithm::parse(algorithm).unwrap(),
            hyperparams: &hyperparams,
            x: x.clone(),
            y: y.clone(),
            features: vec![],
            test_size: 0.25,
            sampling: Sampling::Random,
            seed: 1,
            search: None,
            preprocess: Spec::default(),
            targets: 1,
        };
        let outcome = train(req, &|| {}, &mut |_| {}).expect("training");
        let model = outcome.model.expect("the model");
        let methods: &[(Method, &str)] = match algorithm {
            "linear" => &[(Method::TreeShap, "exact")],
            _ => &[(Method::TreeShap, "exact"), (Method::Approximate, "approximate")],
        };
        for &(method, name) in methods {
            model.explain(rows.row(0), method).expect("explains");
            let started = Instant::now();
            let mut worst: f64 = 0.0;
            for r in 0..EXPLAINED {
                let e = model.explain(rows.row(r), method).unwrap();
                worst = worst.max(e.approximation_error(0));
            }
            let us = started.elapsed().as_secs_f64() * 1e6 / EXPLAINED as f64;
            println!("{algorithm}_{name} {us:.2} additivity_error {worst:.1e}");
        }
        // the global explanation: 2,000 test rows, unbounded here, against the fit
        let fit = outcome.metrics["fit_time"];
        let test = Matrix { data: x.data[..2000 * FEATURES].to_vec(), rows: 2000, cols: FEATURES };
        let started = Instant::now();
        let global =
            model.global_explanation(&test, Duration::from_secs(3600)).expect("a global explanation");
        let seconds = started.elapsed().as_secs_f64();
        let stored = outcome.explanation.map_or(0, |g| g.rows);
        println!(
            "{algorithm}_global_2000_rows_seconds {seconds:.3} fit_seconds {fit:.3} stored_rows {stored} ({} rows here)",
            global.rows
        );
        if algorithm == "xgboost" {
            let file =
                portable::export(&model.to_bytes().unwrap(), Format::XgboostUbj, |_| unreachable!()).unwrap();
            std::fs::write(format!("{dir}/xgboost.ubj"), file).expect("xgboost.ubj");
        }
    }
}
