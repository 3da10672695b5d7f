//! The real XGBoost library (3.4, linked by `xgboost_lib-sys`; called through its C API in
//! `xgboost_lib.rs`) behind three PostgresML names:
//! `xgboost` (XGBoost's own defaults), `xgboost_random_forest` (XGBRF's: one round of
//! parallel trees) and `gradient_boosting_trees` (scikit-learn's GradientBoosting defaults
//! on XGBoost's exact greedy splits). Boosting rounds run one at a time on the calling
//! thread so the caller can cancel between rounds; a forest's one round runs on a thread of
//! its own while the caller checks for a cancel. XGBoost's own OpenMP threads never call back
//! into the caller.

use super::forest::MaxFeatures;
use super::xgboost_lib::{Learner, TrainMatrix};
use super::xgboost_native::NativeTrees;
use super::{check_at_least, check_fraction, check_range, made_up_rows, Model, Objectives, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::explain::trees::Ensemble;
use crate::explain::{Explanation, Method};
use crate::task::Task;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// `xgboost`: XGBoost's scikit-learn names and XGBoost's own; every other parameter of the
/// library (`eval_metric`, `max_delta_step`, `booster`, `monotone_constraints`, …) goes to it
/// as given, and the library decides whether it is valid (`check_library`).
#[derive(Deserialize)]
pub(super) struct Params {
    #[serde(default = "hundred", alias = "num_boost_round", alias = "boost_rounds")]
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
    #[serde(default, alias = "seed")]
    random_state: Option<u64>,
    #[serde(default, alias = "nthread")]
    n_jobs: Option<u32>,
    #[serde(default)]
    tree_method: Option<String>,
    #[serde(default)]
    objective: Option<String>,
    /// The library's other parameters, as given.
    #[serde(flatten)]
    library: serde_json::Map<String, serde_json::Value>,
}

/// `xgboost_random_forest`: XGBoost's XGBRF defaults (one round of `n_estimators` parallel
/// trees, rows and columns sampled at 0.8 per tree and node, learning rate 1).
#[derive(Deserialize)]
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
    #[serde(default, alias = "seed")]
    random_state: Option<u64>,
    #[serde(default, alias = "nthread")]
    n_jobs: Option<u32>,
    #[serde(default)]
    objective: Option<String>,
    /// The library's other parameters, as given.
    #[serde(flatten)]
    library: serde_json::Map<String, serde_json::Value>,
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
    /// The features considered at each split: all by default, or scikit-learn's "sqrt",
    /// "log2", a count or a fraction.
    #[serde(default)]
    max_features: Option<MaxFeatures>,
    #[serde(default = "one_row")]
    min_samples_leaf: u32,
    /// Grow each tree best first up to this many leaves (XGBoost's loss-guided growth, which
    /// bins the features: its exact method grows depth-first only).
    #[serde(default)]
    max_leaf_nodes: Option<u32>,
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
    pub(super) fn validate(&self, task: Task) -> Result<()> {
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
            None | Some("hist" | "approx" | "exact" | "auto") => {}
            Some(m) => {
                return Err(Error::invalid(format!(
                    "hyperparameter tree_method must be hist, approx, exact or auto, got \"{m}\""
                )))
            }
        }
        check_library(task, &self.plan(0), self.objective.as_deref(), &self.library)
    }
}

impl ForestParams {
    pub(super) fn validate(&self, task: Task) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 10_000)?;
        check_range("max_depth", self.max_depth, 0, 64)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("colsample_bynode", self.colsample_bynode)?;
        check_fraction("colsample_bytree", self.colsample_bytree)?;
        check_at_least("min_child_weight", self.min_child_weight, 0.0)?;
        check_at_least("gamma", self.gamma, 0.0)?;
        check_at_least("reg_lambda", self.reg_lambda, 0.0)?;
        check_at_least("reg_alpha", self.reg_alpha, 0.0)?;
        check_library(task, &self.plan(0), self.objective.as_deref(), &self.library)
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
        Plan {
            settings,
            rounds: 1,
            objective: self.objective.clone(),
            library: library_settings(&self.library),
        }
    }
}

impl GradientParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 100_000)?;
        check_range("max_depth", self.max_depth, 1, 64)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_fraction("subsample", self.subsample)?;
        if let Some(m) = &self.max_features {
            m.validate()?;
        }
        if let Some(n) = self.max_leaf_nodes {
            check_range("max_leaf_nodes", n, 2, 1_000_000)?;
        }
        check_range("min_samples_leaf", self.min_samples_leaf, 1, 1_000_000)
    }

    fn plan(&self, seed: u64, cols: usize) -> Plan {
        let max_features = self.max_features.as_ref().map_or(1.0, |m| m.of(cols) as f64 / cols.max(1) as f64);
        // The hessian floor is min_samples_leaf: exactly a row count for squared error. For
        // log loss (hessians below 1 per row) a floor of 0, scikit-learn's one-row leaves,
        // overfits these unregularised Newton leaves (wine F1 0.906 against scikit-learn's
        // 0.967); a floor of 1 matches scikit-learn (0.969).
        let min_child_weight = self.min_samples_leaf as f64;
        let mut settings = vec![
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.learning_rate.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bynode", max_features.to_string()),
            ("min_child_weight", min_child_weight.to_string()),
            ("lambda", "0".to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
        ];
        match self.max_leaf_nodes {
            Some(n) => settings.extend([
                ("tree_method", "hist".to_string()),
                ("grow_policy", "lossguide".to_string()),
                ("max_leaves", n.to_string()),
            ]),
            None => settings.push(("tree_method", "exact".to_string())),
        }
        Plan { settings, rounds: self.n_estimators, objective: None, library: Vec::new() }
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
        Plan {
            settings,
            rounds: self.n_estimators,
            objective: self.objective.clone(),
            library: library_settings(&self.library),
        }
    }
}

/// What XGBoost is told: settings under its own names, and how many boosting rounds.
pub(super) struct Plan {
    settings: Vec<(&'static str, String)>,
    rounds: u32,
    /// A regression's objective, if the user chose one.
    objective: Option<String>,
    /// The user's other parameters of the library, in its text form.
    library: Vec<(String, String)>,
}

/// The library's text form of a parameter's JSON value: strings as they are, lists of
/// numbers as XGBoost's tuples (`monotone_constraints`), other lists and objects as JSON
/// (`interaction_constraints`). None for null: the library's default.
fn library_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            Some(format!("({})", items.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")))
        }
        other => Some(other.to_string()),
    }
}

fn library_settings(library: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    library.iter().filter_map(|(k, v)| Some((k.clone(), library_text(v)?))).collect()
}

/// A regression may choose any objective with one value per row on the labels' scale. A
/// classification's is ours (`binary:logistic` for two classes, `multi:softprob` for more):
/// `multi:softmax` is the same loss and differs only in returning the class rather than the
/// probabilities, which pgml.predict does anyway.
const OBJECTIVES: Objectives = Objectives {
    library: "XGBoost",
    regression: &[
        "reg:squarederror",
        "reg:squaredlogerror",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "reg:gamma",
        "reg:tweedie",
        "count:poisson",
    ],
    classification: &["binary:logistic", "multi:softprob", "multi:softmax"],
    ours: ["reg:squarederror", "binary:logistic", "multi:softprob"],
};

/// Asks XGBoost itself about the user's parameters before any data is read: a booster on a
/// few made-up rows is configured with them and trains one round. The library's refusal of
/// a value is 22023 with its own words; a name absent from its configuration afterwards (a
/// misspelling) is 22023 too. The made-up rows have as many columns as the
/// longest list given (`monotone_constraints`) or the largest feature index named.
fn check_library(
    task: Task,
    plan: &Plan,
    objective: Option<&str>,
    library: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let objective = OBJECTIVES.pick(task, 2, objective)?;
    if library.is_empty() {
        return Ok(());
    }
    let cols = library.values().map(widest).max().unwrap_or(0).max(2);
    let (x, y) = made_up_rows(8, cols);
    let refused = |e: Error| {
        Error::invalid(format!(
            "XGBoost refused the hyperparameters: {}",
            e.to_string().trim_start_matches("XGBoost: ")
        ))
    };
    let dtrain = TrainMatrix::dense(&x, &y)?;
    let mut booster = Learner::new(&dtrain)?;
    booster.set("objective", objective)?;
    booster.set("verbosity", "0")?;
    for (k, v) in &plan.settings {
        booster.set(k, v)?;
    }
    for (k, v) in &plan.library {
        booster.set(k, v).map_err(refused)?;
    }
    booster.update(0, &dtrain).map_err(refused)?;
    let config = booster.config()?;
    let mut used = std::collections::BTreeSet::new();
    names(&config, &mut used);
    for key in library.keys() {
        let known = match key.as_str() {
            "eval_metric" => used.contains("metrics"),
            k => used.contains(k),
        };
        if !known {
            return Err(Error::invalid(format!("XGBoost does not use the hyperparameter {key}"))
                .with_hint("check its spelling against XGBoost's parameters; gblinear's own (updater, feature_selector) need booster gblinear"));
        }
    }
    Ok(())
}

/// How many columns a parameter's value implies: a list's length, or one more than the
/// largest index inside nested lists.
fn widest(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => {
            let nested = items.iter().filter(|v| v.is_array()).map(|v| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.as_u64())
                    .max()
                    .map_or(0, |m| m as usize + 1)
            });
            nested.max().unwrap_or(0).max(if items.iter().all(|v| v.is_number()) { items.len() } else { 0 })
        }
        _ => 0,
    }
}

/// Every object key in XGBoost's configuration, at any depth.
fn names(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                names(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| names(v, out)),
        _ => {}
    }
}

/// The three PostgresML names XGBoost serves, each with its own hyperparameters.
pub(super) enum Flavour {
    Boosted(Params),
    Forest(ForestParams),
    Gradient(GradientParams),
}

impl Flavour {
    fn plan(&self, seed: u64, cols: usize) -> Plan {
        match self {
            Flavour::Boosted(p) => p.plan(seed),
            Flavour::Forest(p) => p.plan(seed),
            Flavour::Gradient(p) => p.plan(seed, cols),
        }
    }
}

/// A booster behind a mutex (XGBoost's predict mutates the learner, so it is `Send` only),
/// and its trees compiled for fast prediction.
pub(super) struct XgbModel {
    booster: Mutex<Learner>,
    native: OnceLock<Option<NativeTrees>>,
    /// The trees with their covers, for explanations: built on the first one.
    explainer: OnceLock<std::result::Result<Ensemble, String>>,
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
    let plan = flavour.plan(ctx.seed, x.cols);
    let method = plan.settings.iter().find(|(k, _)| *k == "tree_method").map_or("hist", |(_, v)| v.as_str());
    let max_bin = plan.library.iter().find(|(k, _)| k == "max_bin").and_then(|(_, v)| v.parse().ok());
    let dtrain = match method {
        "hist" | "auto" => TrainMatrix::quantile(&x, y, max_bin.unwrap_or(MAX_BIN))?,
        _ => TrainMatrix::dense(&x, y)?,
    };
    // XGBoost holds its own copy now (binned, for hist): rows handed over are freed
    drop(x);
    let mut booster = Learner::new(&dtrain)?;
    let classes = if task == Task::Classification { classes.max(2) } else { 0 };
    booster.set("objective", OBJECTIVES.pick(task, classes, plan.objective.as_deref())?)?;
    booster.set("verbosity", "0")?;
    if classes > 2 {
        booster.set("num_class", &classes.to_string())?;
    }
    for (k, v) in &plan.settings {
        booster.set(k, v)?;
    }
    for (k, v) in &plan.library {
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
    Ok(Box::new(XgbModel {
        booster: Mutex::new(booster),
        native: OnceLock::new(),
        explainer: OnceLock::new(),
        classes,
    }))
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

/// The stored bytes of a model made from XGBoost's JSON model, which `portable::xgboost::check`
/// has checked: the library reads it once and writes its UBJ.
pub(crate) fn stored_from_json(json: &[u8], classes: usize) -> Result<Vec<u8>> {
    let mut out = (classes as u32).to_le_bytes().to_vec();
    out.extend(Learner::load(json)?.save("ubj")?);
    Ok(out)
}

/// A stored model's class count and XGBoost's own model (UBJ), as stored.
pub(crate) fn split_stored(bytes: &[u8]) -> Result<(usize, &[u8])> {
    if bytes.len() < 4 {
        return Err(Error::Internal("truncated XGBoost model".into()));
    }
    let (count, model) = bytes.split_at(4);
    Ok((u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize, model))
}

/// XGBoost's own contributions of a stored model (the tests' reference for TreeSHAP).
#[cfg(test)]
pub(crate) fn library_contributions(stored: &[u8], x: &Matrix, approximate: bool) -> Result<Vec<f32>> {
    XgbModel::from_bytes(stored)?.learner()?.contributions(x, approximate)
}

/// XGBoost's JSON model in `format` ("json" or "ubj"), written by the library.
pub(crate) fn library_file(json: &[u8], format: &str) -> Result<Vec<u8>> {
    Learner::load(json)?.save(format)
}

impl XgbModel {
    fn from_bytes(bytes: &[u8]) -> Result<XgbModel> {
        let (classes, model) = split_stored(bytes)?;
        Ok(XgbModel {
            booster: Mutex::new(Learner::load(model)?),
            native: OnceLock::new(),
            explainer: OnceLock::new(),
            classes,
        })
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

    /// The ensemble TreeSHAP walks, its intercept set from the library's margin.
    fn explainer(&self) -> Result<&Ensemble> {
        let built = self.explainer.get_or_init(|| {
            let build = || -> Result<Ensemble> {
                let booster = self.learner()?;
                let outputs = if self.classes > 2 { self.classes } else { 1 };
                let model: serde_json::Value = serde_json::from_slice(&booster.save("json")?)
                    .map_err(|e| Error::Internal(format!("XGBoost model JSON: {e}")))?;
                if model["learner"]["gradient_booster"]["name"].as_str() != Some("gbtree") {
                    return Err(Error::unsupported("only XGBoost's gbtree models can be explained"));
                }
                let mut ensemble = Ensemble::from_xgboost(&model, outputs)?;
                let zeros = Matrix {
                    data: vec![0.0f32; ensemble.num_features.max(1)],
                    rows: 1,
                    cols: ensemble.num_features.max(1),
                };
                ensemble.calibrate(&zeros.data, &booster.predict(&zeros, true)?);
                Ok(ensemble)
            };
            build().map_err(|e| e.to_string())
        });
        built.as_ref().map_err(|e| Error::unsupported(e.clone()))
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

    fn ensemble(&self) -> Result<Ensemble> {
        self.explainer().cloned()
    }

    fn explain(&self, row: &[f32], method: Method) -> Result<Explanation> {
        self.explainer()?.explain(row, method)
    }

    fn importance(&self) -> Result<crate::explain::Importance> {
        Ok(self.explainer()?.importance())
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
    use crate::algorithms::testdata::labelled;

    fn check(name: &str, task: Task, hyperparams: serde_json::Value) {
        let (x, y, classes) = labelled(name, task);
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

    fn fit(task: Task, hyperparams: serde_json::Value) -> Result<Vec<f32>> {
        let (x, y, classes) = labelled(if task == Task::Regression { "diabetes" } else { "iris" }, task);
        let params: Params = serde_json::from_value(hyperparams).unwrap();
        params.validate(task)?;
        let mut ctx = TrainContext { seed: 1, on_step: &mut || {}, interrupt: &|| {} };
        let model = train(task, Flavour::Boosted(params), Cow::Borrowed(&x), &y, classes, &mut ctx)?;
        model.predict(&x)
    }

    /// XGBoost's own parameters reach it; what it does not use or refuses is 22023 before any
    /// data is read, in its words.
    #[test]
    fn the_library_judges_its_own_parameters() {
        let plain = fit(Task::Regression, serde_json::json!({"n_estimators": 10})).unwrap();
        // evaluation only: the same model
        let evaluated =
            fit(Task::Regression, serde_json::json!({"n_estimators": 10, "eval_metric": "rmse"})).unwrap();
        assert_eq!(plain, evaluated);
        // a parameter we have no field for changes the model
        let stepped =
            fit(Task::Regression, serde_json::json!({"n_estimators": 10, "max_delta_step": 0.5})).unwrap();
        assert_ne!(plain, stepped);
        let monotone =
            serde_json::json!({"n_estimators": 10, "monotone_constraints": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]});
        assert_ne!(plain, fit(Task::Regression, monotone).unwrap());
        let dart = serde_json::json!({"n_estimators": 5, "booster": "dart", "rate_drop": 0.2});
        assert_eq!(fit(Task::Regression, dart).unwrap().len(), plain.len());
        let huber = serde_json::json!({"n_estimators": 5, "objective": "reg:pseudohubererror"});
        assert_eq!(fit(Task::Regression, huber).unwrap().len(), plain.len());
        for (hp, says) in [
            (serde_json::json!({"max_dept": 3}), "does not use the hyperparameter max_dept"),
            (serde_json::json!({"grow_policy": "sideways"}), "XGBoost refused the hyperparameters"),
            (serde_json::json!({"max_delta_step": -1}), "XGBoost refused the hyperparameters"),
        ] {
            let params: Params = serde_json::from_value(hp.clone()).unwrap();
            let err = params.validate(Task::Regression).expect_err(&hp.to_string());
            assert!(matches!(err, Error::InvalidArgument { .. }), "{hp}: {err:?}");
            assert!(err.to_string().contains(says), "{hp}: {err}");
        }
        let params: Params =
            serde_json::from_value(serde_json::json!({"objective": "rank:pairwise"})).unwrap();
        assert!(matches!(params.validate(Task::Classification).unwrap_err(), Error::Unsupported { .. }));
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
        let best_first =
            serde_json::json!({"flavour": "gradient", "params": {"n_estimators": 10, "max_leaf_nodes": 4}});
        check("iris", Task::Classification, best_first);
        check("diabetes", Task::Regression, gradient);
    }
}
