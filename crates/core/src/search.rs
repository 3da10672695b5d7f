//! Hyperparameter search as PostgresML spells it (`search => 'grid' | 'random'`,
//! `search_params` of value lists, `search_args` `n_iter` and `cv`), scored by k-fold
//! cross-validation on the training rows with the task's key metric. The caller refits the
//! best combination on the whole training split (PostgresML keeps one fold's model).

use crate::algorithms::{Algorithm, TrainContext};
use crate::data::{select, Matrix};
use crate::error::{Error, Result};
use crate::metrics;
use crate::task::Task;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// scikit-learn's defaults for `GridSearchCV` / `RandomizedSearchCV`.
const DEFAULT_CV: usize = 5;
const DEFAULT_N_ITER: usize = 10;
/// A bound on the work one call may ask for.
const MAX_COMBINATIONS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Grid,
    Random,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    n_iter: Option<usize>,
    cv: Option<usize>,
}

/// A validated search: the combinations to try and the number of folds.
#[derive(Debug, Clone)]
pub struct Search {
    pub kind: Kind,
    pub cv: usize,
    /// Complete hyperparameter objects (the base hyperparameters with one combination).
    pub candidates: Vec<Value>,
}

impl Search {
    /// Parses and checks a search request; every combination's hyperparameters are validated
    /// for `algorithm` before any training starts.
    pub fn parse(
        kind: &str,
        params: &Value,
        args: &Value,
        base: &Value,
        algorithm: Algorithm,
        task: Task,
        seed: u64,
    ) -> Result<Search> {
        let kind = match kind {
            "grid" => Kind::Grid,
            "random" => Kind::Random,
            other => {
                return Err(
                    Error::invalid(format!("unknown search \"{other}\"")).with_hint("use 'grid' or 'random'")
                )
            }
        };
        let args: Args = serde_json::from_value(if args.is_null() { json!({}) } else { args.clone() })
            .map_err(|e| Error::invalid(format!("invalid search_args: {e}")).with_hint("keys: n_iter, cv"))?;
        let cv = args.cv.unwrap_or(DEFAULT_CV);
        if !(2..=20).contains(&cv) {
            return Err(Error::invalid(format!("search_args cv must be between 2 and 20, got {cv}")));
        }
        let space = space(params)?;
        let grid = grid(&space);
        if grid.len() > MAX_COMBINATIONS {
            return Err(Error::invalid(format!(
                "search_params make {} combinations, more than {MAX_COMBINATIONS}",
                grid.len()
            ))
            .with_hint("use search => 'random' with search_args n_iter"));
        }
        let chosen = match kind {
            Kind::Grid => {
                if args.n_iter.is_some() {
                    return Err(Error::invalid("n_iter applies to search => 'random' only"));
                }
                grid
            }
            Kind::Random => {
                let n = args.n_iter.unwrap_or(DEFAULT_N_ITER);
                if n == 0 {
                    return Err(Error::invalid("search_args n_iter must be at least 1"));
                }
                let mut grid = grid;
                grid.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
                grid.truncate(n);
                grid
            }
        };
        let base = base.as_object().cloned().unwrap_or_default();
        let mut candidates = Vec::with_capacity(chosen.len());
        for combination in chosen {
            let mut hp = base.clone();
            hp.extend(combination);
            let hp = Value::Object(hp);
            algorithm.validate(task, &hp).map_err(|e| match e {
                Error::InvalidArgument { message, hint } => {
                    Error::InvalidArgument { message: format!("search_params: {message}"), hint }
                }
                e => e,
            })?;
            candidates.push(hp);
        }
        Ok(Search { kind, cv, candidates })
    }
}

/// `search_params`: an object of non-empty lists.
fn space(params: &Value) -> Result<Vec<(String, Vec<Value>)>> {
    let object = params.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
        Error::invalid("search_params must be a JSON object of value lists")
            .with_hint("for example '{\"max_depth\": [2, 4, 6], \"n_estimators\": [50, 100]}'")
    })?;
    object
        .iter()
        .map(|(k, v)| match v.as_array() {
            Some(values) if !values.is_empty() => Ok((k.clone(), values.clone())),
            _ => Err(Error::invalid(format!("search_params \"{k}\" must be a non-empty list of values"))),
        })
        .collect()
}

/// Every combination, the last key varying fastest (scikit-learn's `ParameterGrid` order).
fn grid(space: &[(String, Vec<Value>)]) -> Vec<Map<String, Value>> {
    let mut out = vec![Map::new()];
    for (key, values) in space {
        out = out
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |v| {
                    let mut next = partial.clone();
                    next.insert(key.clone(), v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// Each candidate's fold scores, and the best candidate.
pub struct Outcome {
    pub best: Value,
    /// `{"params", "mean_test_score", "std_test_score", "rank_test_score", "fold_scores"}` —
    /// scikit-learn's `cv_results_` keys — for `metrics.search_results`.
    pub results: Value,
}

/// Cross-validates every candidate on the training rows. `report` hears each candidate's
/// mean score as it is known (the extension turns it into a NOTICE).
#[allow(clippy::too_many_arguments)]
pub fn run(
    search: &Search,
    task: Task,
    algorithm: Algorithm,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
    report: &mut dyn FnMut(String),
) -> Result<Outcome> {
    let folds = folds(task, y, x.rows, search.cv)?;
    // Each fold's rows are the same for every candidate: copy them out once.
    let splits: Vec<Fold> = folds.iter().map(|held_out| Fold::new(task, x, y, held_out)).collect();
    let mut means = Vec::with_capacity(search.candidates.len());
    let mut stds = Vec::with_capacity(search.candidates.len());
    let mut all = Vec::with_capacity(search.candidates.len());
    for (i, hp) in search.candidates.iter().enumerate() {
        let mut scores = Vec::with_capacity(folds.len());
        for f in &splits {
            let model = algorithm.train(task, hp, &f.x_train, &f.y_train, classes, ctx)?;
            let predicted = model.predict(&f.x_test)?;
            scores.push(score(task, &f.x_test, f.y_test.as_deref(), &predicted));
        }
        let finite: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        let mean = if finite.len() == scores.len() {
            finite.iter().sum::<f64>() / finite.len() as f64
        } else {
            f64::NAN
        };
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
        report(format!(
            "search {}/{}: {} = {mean:.4} (mean of {} folds) with {hp}",
            i + 1,
            search.candidates.len(),
            task.key_metric(),
            folds.len()
        ));
        means.push(mean);
        stds.push(std);
        all.push(scores);
    }
    // rank 1 is the best; NaN ranks last; ties keep the earlier candidate ahead
    let mut order: Vec<usize> = (0..means.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| if means[i].is_nan() { f64::NEG_INFINITY } else { means[i] };
        key(b).total_cmp(&key(a)).then(a.cmp(&b))
    });
    let mut rank = vec![0usize; means.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    let best = order.first().map(|&i| search.candidates[i].clone()).unwrap_or_default();
    let nullable =
        |v: &[f64]| v.iter().map(|x| if x.is_finite() { json!(x) } else { Value::Null }).collect::<Vec<_>>();
    let results = json!({
        "params": search.candidates,
        "mean_test_score": nullable(&means),
        "std_test_score": nullable(&stds),
        "rank_test_score": rank,
        "fold_scores": all.iter().map(|s| nullable(s)).collect::<Vec<_>>(),
        "cv": folds.len(),
    });
    Ok(Outcome { best, results })
}

/// One fold's training and held-out rows.
struct Fold {
    x_train: Matrix,
    y_train: Vec<f32>,
    x_test: Matrix,
    /// None for unsupervised tasks.
    y_test: Option<Vec<f32>>,
}

impl Fold {
    fn new(task: Task, x: &Matrix, y: &[f32], held_out: &[usize]) -> Fold {
        let mut is_held_out = vec![false; x.rows];
        for &r in held_out {
            is_held_out[r] = true;
        }
        let train: Vec<usize> = (0..x.rows).filter(|&r| !is_held_out[r]).collect();
        let supervised = task.is_supervised();
        Fold {
            x_train: x.select(&train),
            y_train: if supervised { select(y, &train) } else { Vec::new() },
            x_test: x.select(held_out),
            y_test: supervised.then(|| select(y, held_out)),
        }
    }
}

fn score(task: Task, x: &Matrix, y: Option<&[f32]>, predicted: &[f32]) -> f64 {
    let metrics = match (task, y) {
        (Task::Regression, Some(y)) => metrics::regression(y, predicted),
        (Task::Classification, Some(y)) => metrics::classification(y, predicted, None),
        _ => metrics::Metrics::from([("silhouette".into(), metrics::silhouette(&x.data, x.cols, predicted))]),
    };
    metrics.get(task.key_metric()).copied().unwrap_or(f64::NAN)
}

/// Held-out row indices per fold: stratified for classification (each class dealt round
/// robin), contiguous blocks otherwise — scikit-learn's unshuffled `StratifiedKFold` / `KFold`
/// on rows the split already shuffled.
fn folds(task: Task, y: &[f32], rows: usize, k: usize) -> Result<Vec<Vec<usize>>> {
    if rows < 2 * k {
        return Err(Error::data(format!(
            "cross-validation with cv = {k} needs at least {} training rows, got {rows}",
            2 * k
        ))
        .with_hint("lower search_args cv"));
    }
    let mut folds = vec![Vec::new(); k];
    if task == Task::Classification {
        let mut next = 0;
        let mut classes: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
        classes.sort_unstable();
        classes.dedup();
        for class in classes {
            for (i, _) in y.iter().enumerate().filter(|(_, v)| v.to_bits() == class) {
                folds[next % k].push(i);
                next += 1;
            }
        }
        for f in &mut folds {
            f.sort_unstable();
        }
    } else {
        for i in 0..rows {
            folds[i * k / rows].push(i);
        }
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load;

    fn parse(kind: &str, params: Value, args: Value) -> Result<Search> {
        Search::parse(
            kind,
            &params,
            &args,
            &json!({"n_estimators": 5}),
            Algorithm::Xgboost,
            Task::Classification,
            7,
        )
    }

    #[test]
    fn the_grid_is_every_combination_and_random_draws_distinct_ones() {
        let s = parse("grid", json!({"max_depth": [1, 2, 3], "eta": [0.1, 0.3]}), json!({})).unwrap();
        assert_eq!(s.candidates.len(), 6);
        assert_eq!(s.candidates[0], json!({"n_estimators": 5, "eta": 0.1, "max_depth": 1}));
        assert_eq!(s.candidates[5], json!({"n_estimators": 5, "eta": 0.3, "max_depth": 3}));
        assert_eq!(s.cv, 5);
        let r = parse(
            "random",
            json!({"max_depth": [1, 2, 3], "eta": [0.1, 0.3]}),
            json!({"n_iter": 4, "cv": 3}),
        )
        .unwrap();
        assert_eq!((r.candidates.len(), r.cv), (4, 3));
        let mut seen = r.candidates.clone();
        seen.dedup();
        assert_eq!(seen.len(), 4);
        // the same seed draws the same combinations
        let again = parse(
            "random",
            json!({"max_depth": [1, 2, 3], "eta": [0.1, 0.3]}),
            json!({"n_iter": 4, "cv": 3}),
        )
        .unwrap();
        assert_eq!(again.candidates, r.candidates);
    }

    #[test]
    fn bad_searches_are_refused_before_training() {
        let cases = [
            ("exhaustive", json!({"max_depth": [1]}), json!({}), "unknown search \"exhaustive\""),
            ("grid", json!({}), json!({}), "search_params must be a JSON object"),
            ("grid", json!({"max_depth": 3}), json!({}), "\"max_depth\" must be a non-empty list"),
            ("grid", json!({"max_depth": [1]}), json!({"cv": 1}), "cv must be between 2 and 20"),
            ("grid", json!({"max_depth": [1]}), json!({"folds": 3}), "unknown field `folds`"),
            (
                "grid",
                json!({"max_depth": [1]}),
                json!({"n_iter": 3}),
                "n_iter applies to search => 'random' only",
            ),
            ("grid", json!({"max_depth": [1, -2]}), json!({}), "search_params: "),
            ("grid", json!({"max_dept": [1]}), json!({}), "XGBoost does not use the hyperparameter max_dept"),
        ];
        for (kind, params, args, message) in cases {
            let err = parse(kind, params, args).unwrap_err().to_string();
            assert!(err.contains(message), "{kind}: {err}");
        }
    }

    #[test]
    fn stratified_folds_keep_every_class_in_every_fold() {
        let y: Vec<f32> = (0..30).map(|i| (i % 3) as f32).collect();
        let folds = folds(Task::Classification, &y, 30, 5).unwrap();
        assert_eq!(folds.iter().map(Vec::len).collect::<Vec<_>>(), [6; 5]);
        for f in &folds {
            let mut classes: Vec<u32> = f.iter().map(|&i| y[i] as u32).collect();
            classes.dedup();
            classes.sort();
            classes.dedup();
            assert_eq!(classes, [0, 1, 2]);
        }
        let all: usize = folds.iter().map(Vec::len).sum();
        assert_eq!(all, 30);
    }

    #[test]
    fn cross_validation_picks_the_depth_that_generalises() {
        // breast_cancer: depth-1 stumps with 3 rounds are clearly worse than depth 3 with 30
        let (x, y) = load("breast_cancer");
        let search = Search::parse(
            "grid",
            &json!({"max_depth": [1, 3], "n_estimators": [3, 30]}),
            &json!({"cv": 3}),
            &json!({}),
            Algorithm::Xgboost,
            Task::Classification,
            1,
        )
        .unwrap();
        let mut notes = Vec::new();
        let mut ctx = TrainContext { seed: 1, on_step: &mut || {}, interrupt: &|| {} };
        let out = run(&search, Task::Classification, Algorithm::Xgboost, &x, &y, 2, &mut ctx, &mut |n| {
            notes.push(n)
        })
        .unwrap();
        assert_eq!(notes.len(), 4);
        assert!(notes[0].starts_with("search 1/4: f1 = "), "{}", notes[0]);
        let means: Vec<f64> =
            out.results["mean_test_score"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let best = means.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(out.results["rank_test_score"][means.iter().position(|&m| m == best).unwrap()], 1);
        assert!(means[0] < best, "3 stumps should not win: {means:?}");
        assert_eq!(out.best["n_estimators"], 30);
        assert!(best > 0.93, "{means:?}");
    }
}
