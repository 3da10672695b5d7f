//! The in-memory side of bench/train.sh: the same training pgml.train runs (split, fit,
//! score, drift references), on a CSV already in memory, so the difference to pgml.train is
//! the cost of reading the table and storing the model.
//!
//! Usage: train_bench <csv with a header, label last> <task> <algorithm> <hyperparams JSON> [runs]
//! Prints: the median seconds of `runs` trainings (default 1; fit included, CSV parsing
//! excluded) and the test key metric.

use pgml_core::algorithms::Algorithm;
use pgml_core::data::schema::{FeatureColumn, FeatureKind};
use pgml_core::data::split::Sampling;
use pgml_core::data::{table_buffer, Matrix};
use pgml_core::training::{train, TrainRequest};
use pgml_core::Task;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, task, algorithm, hyperparams, runs) = match args.as_slice() {
        [_, path, task, algorithm, hyperparams] => (path, task, algorithm, hyperparams, 1),
        [_, path, task, algorithm, hyperparams, runs] => {
            (path, task, algorithm, hyperparams, runs.parse().expect("a count of runs"))
        }
        _ => {
            eprintln!("usage: train_bench <csv> <task> <algorithm> <hyperparams json> [runs]");
            std::process::exit(2);
        }
    };
    let text = std::fs::read_to_string(path).expect("the CSV");
    let (mut x, mut y, mut cols) = (Vec::new(), Vec::new(), 0);
    let header: Vec<&str> = text.lines().next().expect("a header").split(',').collect();
    for line in text.lines().skip(1) {
        let fields: Vec<f32> = line.split(',').map(|f| f.parse().expect("a number")).collect();
        cols = fields.len() - 1;
        x.extend_from_slice(&fields[..cols]);
        y.push(fields[cols]);
    }
    let task = Task::parse(task).expect("a task");
    let hyperparams: serde_json::Value = serde_json::from_str(hyperparams).expect("hyperparams JSON");
    let x = Matrix::new(x, cols).expect("a matrix");
    let mut seconds = Vec::new();
    let mut metric = 0.0;
    for _ in 0..runs {
        // the values in a buffer of their own, as pgml.train reads a table into one
        let mut values = table_buffer(x.data.len());
        values.extend_from_slice(&x.data);
        let (x, y) = (Matrix::new(values, cols).expect("a matrix"), y.clone());
        let started = Instant::now();
        let req = TrainRequest {
            task,
            algorithm: Algorithm::parse(algorithm).expect("an algorithm"),
            hyperparams: &hyperparams,
            x,
            y,
            // the table's columns, as pgml.train has them: their drift references are part of the run
            features: header[..cols]
                .iter()
                .map(|name| FeatureColumn {
                    name: name.to_string(),
                    pg_type: "real".into(),
                    kind: FeatureKind::Numeric,
                    size: 1,
                    levels: vec![],
                })
                .collect(),
            test_size: 0.25,
            sampling: Sampling::Stratified,
            seed: 42,
            search: None,
            preprocess: Default::default(),
            targets: 1,
        };
        let out = train(req, &|| {}, &mut |_| {}).expect("training");
        seconds.push(started.elapsed().as_secs_f64());
        metric = out.metrics[task.key_metric()];
    }
    seconds.sort_by(f64::total_cmp);
    println!("{:.3} {metric:.4}", seconds[seconds.len() / 2]);
}
