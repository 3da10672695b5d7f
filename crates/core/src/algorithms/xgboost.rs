//! The real XGBoost library (3.4, linked by `xgboost_lib-sys`; called through its C API in
//! `xgboost_lib.rs`) behind three PostgresML names:
//! `xgboost` (XGBoost's own defaults), `xgboost_random_forest` (XGBRF's: one round of
//! parallel trees) and `gradient_boosting_trees` (scikit-learn's GradientBoosting defaults
//! on XGBoost's exact greedy splits). Boosting rounds run one at a time on the calling
//! thread so the caller can cancel between rounds; a forest's one round runs on a thread of
//! its own while the caller checks for a cancel. XGBoost's own OpenMP threads never call back
//! into the caller.

use super::xgboost_lib::{Learner, TrainMatrix};
use super::xgboost_native::NativeTrees;
use super::{check_at_least, check_fraction, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "hundred")]
    pub(super) n_estimators: u32,
    #[serde(default = "six")]
    max_depth: u32,
    #[serde(default = "eta", alias = "eta")]
    learning_rate: f64,
    #[serde(default = "one")]
    subsample: f64,
    #[serde(default = "one")]
    colsample_bytree: f64,
    #[serde(default = "one")]
    min_child_weight: f64,
    #[serde(default, alias = "min_split_loss")]
    gamma: f64,
    #[serde(default = "one", alias = "lambda")]
    reg_lambda: f64,
    #[serde(default, alias = "alpha")]
    reg_alpha: f64,
    #[serde(default)]
    random_state: Option<u64>,
    #[serde(default, alias = "nthread")]
    n_jobs: Option<u32>,
    #[serde(default)]
    tree_method: Option<String>,
}

/// `xgboost_random_forest`: XGBoost's XGBRF defaults (one round of `n_estimators` parallel
/// trees, rows and columns sampled at 0.8 per tree and node, learning rate 1).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForestParams {
    #[serde(default = "hundred")]
    n_estimators: u32,
    #[serde(default = "six")]
    max_depth: u32,
    #[serde(default = "one", alias = "eta")]
    learning_rate: f64,
    #[serde(default = "point_eight")]
    subsample: f64,
    #[serde(default = "point_eight")]
    colsample_bynode: f64,
    #[serde(default = "one")]
    colsample_bytree: f64,
    #[serde(default = "one")]
    min_child_weight: f64,
    #[serde(default, alias = "min_split_loss")]
    gamma: f64,
    #[serde(default = "tiny", alias = "lambda")]
    reg_lambda: f64,
    #[serde(default, alias = "alpha")]
    reg_alpha: f64,
    #[serde(default)]
    random_state: Option<u64>,
    #[serde(default, alias = "nthread")]
    n_jobs: Option<u32>,
}

/// `gradient_boosting_trees`: scikit-learn's GradientBoosting names and defaults (100
/// rounds of depth-3 trees at learning rate 0.1, no L2 penalty), on XGBoost's exact greedy
/// split search, which scans every distinct value as scikit-learn's trees do.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GradientParams {
    #[serde(default = "hundred")]
    pub(super) n_estimators: u32,
    #[serde(default = "three")]
    max_depth: u32,
    #[serde(default = "tenth")]
    learning_rate: f64,
    #[serde(default = "one")]
    subsample: f64,
    /// A fraction of the features considered at each split (scikit-learn's float form).
    #[serde(default = "one")]
    max_features: f64,
    #[serde(default = "one_row")]
    min_samples_leaf: u32,
    #[serde(default)]
    random_state: Option<u64>,
}

fn hundred() -> u32 {
    100
}
fn six() -> u32 {
    6
}
fn eta() -> f64 {
    0.3
}
fn one() -> f64 {
    1.0
}
fn point_eight() -> f64 {
    0.8
}
fn tiny() -> f64 {
    1e-5
}
fn three() -> u32 {
    3
}
fn tenth() -> f64 {
    0.1
}
fn one_row() -> u32 {
    1
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 100_000)?;
        check_range("max_depth", self.max_depth, 0, 64)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("colsample_bytree", self.colsample_bytree)?;
        check_at_least("min_child_weight", self.min_child_weight, 0.0)?;
        check_at_least("gamma", self.gamma, 0.0)?;
        check_at_least("reg_lambda", self.reg_lambda, 0.0)?;
        check_at_least("reg_alpha", self.reg_alpha, 0.0)?;
        match self.tree_method.as_deref() {
            None | Some("hist" | "approx" | "exact" | "auto") => Ok(()),
            Some(m) => Err(Error::invalid(format!(
                "hyperparameter tree_method must be hist, approx, exact or auto, got \"{m}\""
            ))),
        }
    }
}

impl ForestParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 10_000)?;
        check_range("max_depth", self.max_depth, 0, 64)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("colsample_bynode", self.colsample_bynode)?;
        check_fraction("colsample_bytree", self.colsample_bytree)?;
        check_at_least("min_child_weight", self.min_child_weight, 0.0)?;
        check_at_least("gamma", self.gamma, 0.0)?;
        check_at_least("reg_lambda", self.reg_lambda, 0.0)?;
        check_at_least("reg_alpha", self.reg_alpha, 0.0)
    }

    fn plan(&self, seed: u64) -> Plan {
        let mut settings = vec![
            ("num_parallel_tree", self.n_estimators.to_string()),
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.learning_rate.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bynode", self.colsample_bynode.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("gamma", self.gamma.to_string()),
            ("lambda", self.reg_lambda.to_string()),
            ("alpha", self.reg_alpha.to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
            ("tree_method", "hist".to_string()),
        ];
        if let Some(n) = self.n_jobs {
            settings.push(("nthread", n.to_string()));
        }
        Plan { settings, rounds: 1 }
    }
}

impl GradientParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 100_000)?;
        check_range("max_depth", self.max_depth, 1, 64)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("max_features", self.max_features)?;
        check_range("min_samples_leaf", self.min_samples_leaf, 1, 1_000_000)
    }

    fn plan(&self, seed: u64) -> Plan {
        // The hessian floor is min_samples_leaf: exactly a row count for squared error. For
        // log loss (hessians below 1 per row) a floor of 0, scikit-learn's one-row leaves,
        // overfits these unregularised Newton leaves (wine F1 0.906 against scikit-learn's
        // 0.967); a floor of 1 matches scikit-learn (0.969).
        let min_child_weight = self.min_samples_leaf as f64;
        let settings = vec![
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.learning_rate.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bynode", self.max_features.to_string()),
            ("min_child_weight", min_child_weight.to_string()),
            ("lambda", "0".to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
            ("tree_method", "exact".to_string()),
        ];
        Plan { settings, rounds: self.n_estimators }
    }
}

impl Params {
    fn plan(&self, seed: u64) -> Plan {
        let mut settings = vec![
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.learning_rate.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("gamma", self.gamma.to_string()),
            ("lambda", self.reg_lambda.to_string()),
            ("alpha", self.reg_alpha.to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
            ("tree_method", self.tree_method.clone().unwrap_or_else(|| "hist".into())),
        ];
        if let Some(n) = self.n_jobs {
            settings.push(("nthread", n.to_string()));
        }
        Plan { settings, rounds: self.n_estimators }
    }
}

/// What XGBoost is told: settings under its own names, and how many boosting rounds.
pub(super) struct Plan {
    settings: Vec<(&'static str, String)>,
    rounds: u32,
}

/// The three PostgresML names XGBoost serves, each with its own hyperparameters.
pub(super) enum Flavour {
    Boosted(Params),
    Forest(ForestParams),
    Gradient(GradientParams),
}

impl Flavour {
    fn plan(&self, seed: u64) -> Plan {
        match self {
            Flavour::Boosted(p) => p.plan(seed),
            Flavour::Forest(p) => p.plan(seed),
            Flavour::Gradient(p) => p.plan(seed),
        }
    }
}

/// A booster behind a mutex (XGBoost's predict mutates the learner, so it is `Send` only),
/// and its trees compiled for fast prediction.
pub(super) struct XgbModel {
    booster: Mutex<Learner>,
    native: OnceLock<Option<NativeTrees>>,
    /// 0 for regression, otherwise the number of classes.
    classes: usize,
}

/// Below this many rows a prediction walks the native trees (about 4 µs a row) rather than
/// pay the library's fixed cost of a call and its thread pool.
const NATIVE_ROWS: usize = 64;

/// Bins per feature of the hist method (XGBoost's default `max_bin`).
const MAX_BIN: u32 = 256;

pub(super) fn train(
    task: Task,
    flavour: Flavour,
    x: Cow<Matrix>,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let plan = flavour.plan(ctx.seed);
    let method = plan.settings.iter().find(|(k, _)| *k == "tree_method").map_or("hist", |(_, v)| v.as_str());
    let dtrain = match method {
        "hist" | "auto" => TrainMatrix::quantile(&x, y, MAX_BIN)?,
        _ => TrainMatrix::dense(&x, y)?,
    };
    // XGBoost holds its own copy now (binned, for hist): rows handed over are freed
    drop(x);
    let mut booster = Learner::new(&dtrain)?;
    let classes = if task == Task::Classification { classes.max(2) } else { 0 };
    let objective = match classes {
        0 => "reg:squarederror",
        2 => "binary:logistic",
        _ => "multi:softprob",
    };
    booster.set("objective", objective)?;
    booster.set("verbosity", "0")?;
    if classes > 2 {
        booster.set("num_class", &classes.to_string())?;
    }
    for (k, v) in &plan.settings {
        booster.set(k, v)?;
    }
    if plan.rounds == 1 {
        booster = round_on_thread(booster, dtrain, ctx)?;
    } else {
        for round in 0..plan.rounds {
            (ctx.on_step)();
            booster.update(round as i32, &dtrain)?;
        }
    }
    Ok(Box::new(XgbModel { booster: Mutex::new(booster), native: OnceLock::new(), classes }))
}

/// A training of one round, on a thread of its own (every signal blocked), the caller's
/// interrupt checked every 20 ms meanwhile. A random forest is one round that builds every
/// tree (500 trees of depth 12 on 100,000 rows: 17 s), and XGBoost's C API cannot stop a round.
/// On an interrupt the caller goes on at once; the round finishes on its thread, which then
/// frees the booster and the matrix.
fn round_on_thread(booster: Learner, dtrain: TrainMatrix, ctx: &mut TrainContext) -> Result<Learner> {
    (ctx.on_step)();
    let (sender, done) = std::sync::mpsc::channel();
    crate::threads::spawn(move || {
        let mut booster = booster;
        let outcome = booster.update(0, &dtrain).map(|()| booster);
        drop(dtrain);
        // when the caller is gone, the booster comes back in the error and is freed here
        let _ = sender.send(outcome);
    });
    crate::threads::recv_interruptibly(&done, ctx.interrupt)
        .unwrap_or_else(|| Err(Error::Internal("the XGBoost round's thread ended without an answer".into())))
}

/// Bytes: the class count (0 = regression) as 4 little-endian bytes, then XGBoost's own
/// UBJ model.
pub(super) fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    Ok(Box::new(XgbModel::from_bytes(bytes)?))
}

impl XgbModel {
    fn from_bytes(bytes: &[u8]) -> Result<XgbModel> {
        if bytes.len() < 4 {
            return Err(Error::Internal("truncated XGBoost model".into()));
        }
        let (count, model) = bytes.split_at(4);
        let classes = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
        Ok(XgbModel { booster: Mutex::new(Learner::load(model)?), native: OnceLock::new(), classes })
    }

    fn learner(&self) -> Result<std::sync::MutexGuard<'_, Learner>> {
        self.booster.lock().map_err(|_| Error::Internal("poisoned model lock".into()))
    }

    /// The trees compiled for one-row predicts, on the first one: a model that only
    /// predicts batches never pays for it. None when the model has trees the walker does
    /// not handle (or cannot be read), and the library predicts instead.
    fn native(&self) -> Option<&NativeTrees> {
        self.native.get_or_init(|| self.compile().ok().flatten()).as_ref()
    }

    fn compile(&self) -> Result<Option<NativeTrees>> {
        let booster = self.learner()?;
        let outputs = if self.classes > 2 { self.classes } else { 1 };
        let model: serde_json::Value = serde_json::from_slice(&booster.save("json")?)
            .map_err(|e| Error::Internal(format!("XGBoost model JSON: {e}")))?;
        let mut native = NativeTrees::from_model(&model, outputs)?;
        if let Some(trees) = native.as_mut() {
            let features = model["learner"]["learner_model_param"]["num_feature"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0usize);
            let zeros = Matrix { data: vec![0.0f32; features.max(1)], rows: 1, cols: features.max(1) };
            trees.calibrate(&zeros.data, &booster.predict(&zeros, true)?);
        }
        Ok(native)
    }

    fn library_predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.learner()?.predict(x, false)
    }

    /// What XGBoost's `predict` returns: values, P(class 1), or `rows × k` probabilities.
    /// A few rows take the native walker; more take the library, which walks blocks of rows
    /// on every core (25,000 rows × 100 trees: 104 ms native, 18 ms the library).
    fn raw(&self, x: &Matrix) -> Result<Vec<f32>> {
        let trees = if x.rows < NATIVE_ROWS { self.native() } else { None };
        let Some(trees) = trees else {
            return self.library_predict(x);
        };
        let mut out = Vec::with_capacity(x.rows * self.classes.max(1));
        for i in 0..x.rows {
            let margin = trees.margin(x.row(i));
            match self.classes {
                0 => out.push(margin[0]),
                2 => out.push(1.0 / (1.0 + (-margin[0]).exp())),
                _ => {
                    let max = margin.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = margin.iter().map(|m| (m - max).exp()).sum();
                    out.extend(margin.iter().map(|m| (m - max).exp() / sum));
                }
            }
        }
        Ok(out)
    }
}

impl Model for XgbModel {
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        let Some(trees) = self.native() else {
            let x = Matrix { data: row.to_vec(), rows: 1, cols: row.len() };
            return Ok(self.predict(&x)?[0]);
        };
        let margin = trees.margin(row);
        Ok(match self.classes {
            0 => margin[0],
            2 => (margin[0] > 0.0) as u8 as f32,
            _ => super::argmax_rows(&margin, margin.len())[0],
        })
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        Ok(super::booster_labels(&self.raw(x)?, self.classes))
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        super::booster_proba(self.raw(x)?, self.classes)
    }

    fn predict_with_proba(&self, x: &Matrix) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        Ok(super::booster_labels_and_proba(self.raw(x)?, self.classes))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = (self.classes as u32).to_le_bytes().to_vec();
        out.extend(self.learner()?.save("ubj")?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load as dataset;
    use crate::data::{class_labels, encode_classes};

    fn check(name: &str, task: Task, hyperparams: serde_json::Value) {
        let (x, y) = dataset(name);
        let classes = if task == Task::Classification { class_labels(&y).len() } else { 0 };
        let y = if classes > 0 { encode_classes(&y, &class_labels(&y)) } else { y };
        let flavour = match hyperparams.get("flavour").and_then(|f| f.as_str()) {
            Some("forest") => Flavour::Forest(serde_json::from_value(hyperparams["params"].clone()).unwrap()),
            Some("gradient") => {
                Flavour::Gradient(serde_json::from_value(hyperparams["params"].clone()).unwrap())
            }
            _ => Flavour::Boosted(serde_json::from_value(hyperparams).unwrap()),
        };
        let mut ctx = TrainContext { seed: 1, on_step: &mut || {}, interrupt: &|| {} };
        let bytes =
            train(task, flavour, Cow::Borrowed(&x), &y, classes, &mut ctx).unwrap().to_bytes().unwrap();
        let model = XgbModel::from_bytes(&bytes).unwrap();
        assert!(model.native().is_some(), "{name}: trees not compiled");
        // row by row, as a one-row predict walks the native trees
        let ours: Vec<f32> = (0..x.rows).flat_map(|i| model.raw(&x.select(&[i])).unwrap()).collect();
        let library = model.library_predict(&x).unwrap();
        assert_eq!(ours.len(), library.len());
        let worst =
            ours.iter().zip(&library).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst < 1e-5, "{name}: native and library predictions differ by {worst}");
    }

    #[test]
    fn native_trees_predict_what_the_library_predicts() {
        check("iris", Task::Classification, serde_json::json!({"n_estimators": 30}));
        check("digits", Task::Classification, serde_json::json!({"n_estimators": 20, "max_depth": 4}));
        check("breast_cancer", Task::Classification, serde_json::json!({"n_estimators": 50}));
        check("diabetes", Task::Regression, serde_json::json!({"n_estimators": 100}));
        check("wine", Task::Classification, serde_json::json!({"n_estimators": 10, "subsample": 0.5}));
        let forest = serde_json::json!({"flavour": "forest", "params": {"n_estimators": 20}});
        check("iris", Task::Classification, forest.clone());
        check("breast_cancer", Task::Classification, forest.clone());
        check("diabetes", Task::Regression, forest);
        let gradient = serde_json::json!({"flavour": "gradient", "params": {"n_estimators": 30}});
        check("wine", Task::Classification, gradient.clone());
        check("diabetes", Task::Regression, gradient);
    }
}
