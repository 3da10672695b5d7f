//! The real LightGBM library (4.x, through the `lightgbm3-sys` binding) behind two
//! PostgresML names: `lightgbm` (LightGBM's scikit-learn names and defaults) and
//! `hist_gradient_boosting` (scikit-learn's HistGradientBoosting names and defaults; that
//! estimator is LightGBM's algorithm). Boosting rounds run one at a time on the calling
//! thread so the caller can cancel between rounds; LightGBM's OpenMP threads never call back.

use super::{check_at_least, check_fraction, check_range, made_up_rows, Model, Objectives, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use lightgbm3_sys as sys;
use serde::Deserialize;
use std::borrow::Cow;
use std::ffi::{c_char, c_int, CStr, CString};

/// `lightgbm`: LGBMClassifier / LGBMRegressor names, LightGBM's own names as aliases; every
/// other parameter of the library (`boosting_type`, `max_delta_step`, `monotone_constraints`,
/// `extra_trees`, …) goes to it as given, and the library decides whether it is valid
/// (`check_library`).
#[derive(Deserialize)]
pub(super) struct Params {
    #[serde(default = "hundred", alias = "num_iterations", alias = "num_boost_round")]
    pub(super) n_estimators: u32,
    #[serde(default = "tenth", alias = "eta")]
    learning_rate: f64,
    #[serde(default = "thirty_one")]
    num_leaves: u32,
    #[serde(default = "unlimited")]
    max_depth: i32,
    #[serde(default = "twenty", alias = "min_data_in_leaf")]
    min_child_samples: u32,
    #[serde(default = "thousandth", alias = "min_sum_hessian_in_leaf")]
    min_child_weight: f64,
    #[serde(default = "one", alias = "bagging_fraction")]
    subsample: f64,
    #[serde(default, alias = "bagging_freq")]
    subsample_freq: u32,
    #[serde(default = "one", alias = "feature_fraction")]
    colsample_bytree: f64,
    #[serde(default, alias = "lambda_l1")]
    reg_alpha: f64,
    #[serde(default, alias = "lambda_l2")]
    reg_lambda: f64,
    #[serde(default, alias = "min_gain_to_split")]
    min_split_gain: f64,
    #[serde(default = "bins")]
    max_bin: u32,
    #[serde(default, alias = "seed")]
    random_state: Option<u64>,
    #[serde(default, alias = "num_threads")]
    n_jobs: Option<u32>,
    #[serde(default)]
    objective: Option<String>,
    /// The library's other parameters, as given.
    #[serde(flatten)]
    library: serde_json::Map<String, serde_json::Value>,
}

/// `hist_gradient_boosting`: scikit-learn's HistGradientBoosting names and defaults.
/// Early stopping, which scikit-learn turns on above 10,000 rows, is not done: every one
/// of `max_iter` rounds is kept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistParams {
    #[serde(default = "hundred")]
    pub(super) max_iter: u32,
    #[serde(default = "tenth")]
    learning_rate: f64,
    #[serde(default = "some_thirty_one")]
    max_leaf_nodes: Option<u32>,
    #[serde(default)]
    max_depth: Option<u32>,
    #[serde(default = "twenty")]
    min_samples_leaf: u32,
    #[serde(default)]
    l2_regularization: f64,
    #[serde(default = "one")]
    max_features: f64,
    #[serde(default = "bins")]
    max_bins: u32,
    #[serde(default)]
    random_state: Option<u64>,
}

fn hundred() -> u32 {
    100
}
fn tenth() -> f64 {
    0.1
}
fn thirty_one() -> u32 {
    31
}
fn some_thirty_one() -> Option<u32> {
    Some(31)
}
fn unlimited() -> i32 {
    -1
}
fn twenty() -> u32 {
    20
}
fn thousandth() -> f64 {
    1e-3
}
fn one() -> f64 {
    1.0
}
fn bins() -> u32 {
    255
}

impl Params {
    pub(super) fn validate(&self, task: Task) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 100_000)?;
        check_fraction("learning_rate", self.learning_rate)?;
        check_range("num_leaves", self.num_leaves, 2, 131_072)?;
        check_range("max_depth", self.max_depth, -1, 64)?;
        check_at_least("min_child_weight", self.min_child_weight, 0.0)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("colsample_bytree", self.colsample_bytree)?;
        check_at_least("reg_alpha", self.reg_alpha, 0.0)?;
        check_at_least("reg_lambda", self.reg_lambda, 0.0)?;
        check_at_least("min_split_gain", self.min_split_gain, 0.0)?;
        check_range("max_bin", self.max_bin, 2, 65_535)?;
        check_library(task, &self.plan(0), self.objective.as_deref(), &self.library)
    }

    fn plan(&self, seed: u64) -> Plan {
        let mut settings = vec![
            ("learning_rate", self.learning_rate.to_string()),
            ("num_leaves", self.num_leaves.to_string()),
            ("max_depth", self.max_depth.to_string()),
            ("min_data_in_leaf", self.min_child_samples.to_string()),
            ("min_sum_hessian_in_leaf", self.min_child_weight.to_string()),
            ("bagging_fraction", self.subsample.to_string()),
            ("bagging_freq", self.subsample_freq.to_string()),
            ("feature_fraction", self.colsample_bytree.to_string()),
            ("lambda_l1", self.reg_alpha.to_string()),
            ("lambda_l2", self.reg_lambda.to_string()),
            ("min_gain_to_split", self.min_split_gain.to_string()),
            ("max_bin", self.max_bin.to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
        ];
        if let Some(n) = self.n_jobs {
            settings.push(("num_threads", n.to_string()));
        }
        Plan {
            settings,
            rounds: self.n_estimators,
            objective: self.objective.clone(),
            library: self.library.iter().filter_map(|(k, v)| Some((k.clone(), library_text(v)?))).collect(),
        }
    }
}

impl HistParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("max_iter", self.max_iter, 1, 100_000)?;
        check_fraction("learning_rate", self.learning_rate)?;
        if let Some(n) = self.max_leaf_nodes {
            check_range("max_leaf_nodes", n, 2, 131_072)?;
        }
        if let Some(d) = self.max_depth {
            check_range("max_depth", d, 1, 64)?;
        }
        check_range("min_samples_leaf", self.min_samples_leaf, 1, 1_000_000)?;
        check_at_least("l2_regularization", self.l2_regularization, 0.0)?;
        check_fraction("max_features", self.max_features)?;
        check_range("max_bins", self.max_bins, 2, 255)
    }

    fn plan(&self, seed: u64) -> Plan {
        let settings = vec![
            ("learning_rate", self.learning_rate.to_string()),
            // LightGBM's "no limit" on leaves is its largest allowed count.
            ("num_leaves", self.max_leaf_nodes.unwrap_or(131_072).to_string()),
            ("max_depth", self.max_depth.map_or(-1, |d| d as i64).to_string()),
            ("min_data_in_leaf", self.min_samples_leaf.to_string()),
            ("lambda_l2", self.l2_regularization.to_string()),
            ("feature_fraction_bynode", self.max_features.to_string()),
            ("max_bin", self.max_bins.to_string()),
            ("seed", self.random_state.unwrap_or(seed).to_string()),
        ];
        Plan { settings, rounds: self.max_iter, objective: None, library: Vec::new() }
    }
}

/// What LightGBM is told: settings under its own names, and how many boosting rounds.
struct Plan {
    settings: Vec<(&'static str, String)>,
    rounds: u32,
    /// A regression's objective, if the user chose one.
    objective: Option<String>,
    /// The user's other parameters of the library, in its text form.
    library: Vec<(String, String)>,
}

impl Plan {
    /// LightGBM's parameter string for a training of `classes` classes (0: a regression).
    fn text(&self, task: Task, classes: usize) -> Result<String> {
        let mut settings: Vec<(String, String)> =
            self.settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        settings
            .push(("objective".into(), OBJECTIVES.pick(task, classes, self.objective.as_deref())?.into()));
        if classes > 2 {
            settings.push(("num_class".into(), classes.to_string()));
        }
        settings.extend(self.library.iter().cloned());
        settings.push(("verbosity".into(), "-1".into()));
        settings.push(("deterministic".into(), "true".into()));
        Ok(settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
    }
}

/// The library's text form of a parameter's JSON value: lists comma-separated
/// (`monotone_constraints`). None for null: the library's default.
fn library_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

/// A regression may choose any of LightGBM's regression objectives (and their aliases): one
/// value per row, on the labels' scale. A classification's is ours (`binary` for two classes,
/// `multiclass` for more); `softmax` names the same loss.
const OBJECTIVES: Objectives = Objectives {
    library: "LightGBM",
    regression: &[
        "regression",
        "regression_l2",
        "l2",
        "mean_squared_error",
        "mse",
        "l2_root",
        "root_mean_squared_error",
        "rmse",
        "regression_l1",
        "l1",
        "mean_absolute_error",
        "mae",
        "huber",
        "fair",
        "poisson",
        "quantile",
        "mape",
        "mean_absolute_percentage_error",
        "gamma",
        "tweedie",
    ],
    classification: &["binary", "multiclass", "softmax"],
    ours: ["regression", "binary", "multiclass"],
};

/// Every parameter name LightGBM knows, its aliases included (`LGBM_DumpParamAliases`).
fn known_names() -> Result<std::collections::BTreeSet<String>> {
    let mut len = 0i64;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        // SAFETY: `buffer` has `buffer.len()` writable bytes; LightGBM reports the length it
        // needs in `len` and writes only when it fits.
        check(unsafe {
            sys::LGBM_DumpParamAliases(buffer.len() as i64, &mut len, buffer.as_mut_ptr().cast())
        })?;
        if (len as usize) <= buffer.len() {
            break;
        }
        buffer.resize(len as usize, 0);
    }
    let text = CStr::from_bytes_until_nul(&buffer)
        .map_err(|_| Error::Internal("LightGBM's parameter names are not a string".into()))?;
    let aliases: serde_json::Value = serde_json::from_slice(text.to_bytes())
        .map_err(|e| Error::Internal(format!("LightGBM's parameter names: {e}")))?;
    let mut names = std::collections::BTreeSet::new();
    for (name, alias) in aliases.as_object().into_iter().flatten() {
        names.insert(name.clone());
        names.extend(alias.as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)));
    }
    Ok(names)
}

/// Asks LightGBM itself about the user's parameters before any data is read: a name it does
/// not know is 22023, and so is its refusal of a value when a dataset of a few made-up rows
/// and a booster are built with them, in its own words.
fn check_library(
    task: Task,
    plan: &Plan,
    objective: Option<&str>,
    library: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    OBJECTIVES.pick(task, 2, objective)?;
    if library.is_empty() {
        return Ok(());
    }
    let names = known_names()?;
    for key in library.keys() {
        if !names.contains(key) {
            return Err(Error::invalid(format!("LightGBM does not know the hyperparameter {key}"))
                .with_hint("check its spelling against LightGBM's parameters and their aliases"));
        }
    }
    for (key, text) in &plan.library {
        if text.is_empty() || text.contains(char::is_whitespace) || text.contains('=') {
            return Err(Error::invalid(format!(
                "hyperparameter {key} = \"{text}\" cannot be given to LightGBM"
            )));
        }
    }
    let cols = library.values().filter_map(|v| v.as_array().map(Vec::len)).max().unwrap_or(0).max(2);
    let (x, y) = made_up_rows(16, cols);
    let classes = if task == Task::Classification { 2 } else { 0 };
    let refused = |e: Error| {
        Error::invalid(format!(
            "LightGBM refused the hyperparameters: {}",
            e.to_string().trim_start_matches("LightGBM: ")
        ))
    };
    let params = c_string(&plan.text(task, classes)?)?;
    let dataset = Dataset::build(Cow::Owned(x), &y, &params).map_err(refused)?;
    let mut booster = std::ptr::null_mut();
    // SAFETY: the dataset is live until the booster is freed below.
    check(unsafe { sys::LGBM_BoosterCreate(dataset.0, params.as_ptr(), &mut booster) }).map_err(refused)?;
    drop(Booster { handle: booster, fast: std::ptr::null_mut() });
    Ok(())
}

/// The two PostgresML names LightGBM serves, each with its own hyperparameters.
pub(super) enum Flavour {
    Native(Params),
    Hist(HistParams),
}

/// LightGBM 4.7's Arrow entry points call nanoarrow's `ArrowSchemaViewInit`; lightgbm3-sys
/// 1.0.11 compiles nanoarrow but does not link it, so a shared library (the extension)
/// fails to load on that one undefined symbol. pgml never hands Arrow data to LightGBM: this
/// definition satisfies the loader and answers EINVAL should it ever be reached.
#[no_mangle]
pub extern "C" fn ArrowSchemaViewInit(
    _view: *mut std::ffi::c_void,
    _schema: *const std::ffi::c_void,
    _error: *mut std::ffi::c_void,
) -> c_int {
    22
}

fn check(code: c_int) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: LightGBM returns a pointer to its thread-local, NUL-terminated last error.
    let message = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) }.to_string_lossy().into_owned();
    Err(Error::Internal(format!("LightGBM: {message}")))
}

fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Internal("LightGBM parameters contain a NUL byte".into()))
}

/// A training dataset, freed on drop.
struct Dataset(sys::DatasetHandle);

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromSampledColumn and is freed once.
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

/// LightGBM's `kZeroThreshold`: smaller magnitudes are zeros, left out of a column's sample.
const ZERO_THRESHOLD: f64 = 1e-35f32 as f64;

impl Dataset {
    /// The binned dataset `LGBM_DatasetCreateFromMat` builds, from the same sample of rows
    /// (`LGBM_SampleIndices`) and the same rows pushed after, with a third less transient
    /// memory: that call holds each sampled value as a double with its own 4-byte index in
    /// growing vectors; here every column without zeros shares one index array, and each
    /// column's values are allocated at their exact count. Rows handed over are freed as soon
    /// as they are pushed.
    fn build(x: Cow<Matrix>, y: &[f32], params: &CStr) -> Result<Dataset> {
        let too_many = || Error::invalid("LightGBM takes at most 2^31 - 1 rows");
        let rows = i32::try_from(x.rows).map_err(|_| too_many())?;
        let cols = x.cols;
        let mut count = 0;
        // SAFETY: `params` is NUL-terminated; LightGBM writes the sample size to `count`.
        check(unsafe { sys::LGBM_GetSampleCount(rows, params.as_ptr(), &mut count) })?;
        let mut sample = vec![0i32; count.max(0) as usize];
        let mut len = 0;
        // SAFETY: `sample` has room for the `count` indices LightGBM writes.
        check(unsafe {
            sys::LGBM_SampleIndices(rows, params.as_ptr(), sample.as_mut_ptr().cast(), &mut len)
        })?;
        sample.truncate(len.max(0) as usize);
        let kept = |v: f32| (v as f64).abs() > ZERO_THRESHOLD || v.is_nan();
        let mut per_col = vec![0i32; cols];
        for &i in &sample {
            for (n, &v) in per_col.iter_mut().zip(x.row(i as usize)) {
                *n += i32::from(kept(v));
            }
        }
        let full = sample.len() as i32;
        let mut values: Vec<Vec<f64>> = per_col.iter().map(|&n| Vec::with_capacity(n as usize)).collect();
        let mut own: Vec<Vec<i32>> =
            per_col.iter().map(|&n| Vec::with_capacity(if n < full { n as usize } else { 0 })).collect();
        for (s, &i) in sample.iter().enumerate() {
            for (j, &v) in x.row(i as usize).iter().enumerate() {
                if kept(v) {
                    values[j].push(v as f64);
                    if per_col[j] < full {
                        own[j].push(s as i32);
                    }
                }
            }
        }
        drop(sample);
        let shared: Vec<i32> = (0..full).collect();
        let mut value_ptrs: Vec<*mut f64> = values.iter_mut().map(|v| v.as_mut_ptr()).collect();
        // LightGBM only reads the indices (it may swap a column's pointer for its own array)
        let mut index_ptrs: Vec<*mut i32> = own
            .iter_mut()
            .zip(&per_col)
            .map(|(o, &n)| if n < full { o.as_mut_ptr() } else { shared.as_ptr().cast_mut() })
            .collect();
        let mut dataset = Dataset(std::ptr::null_mut());
        // SAFETY: column j's pointers address `per_col[j]` values and indices, which outlive
        // the call; the rows are `rows × cols` f32 values in row-major order, copied by LightGBM.
        unsafe {
            check(sys::LGBM_DatasetCreateFromSampledColumn(
                value_ptrs.as_mut_ptr(),
                index_ptrs.as_mut_ptr(),
                cols as i32,
                per_col.as_ptr(),
                full,
                rows,
                i64::from(rows),
                params.as_ptr(),
                &mut dataset.0,
            ))?;
            drop((values, own, shared));
            check(sys::LGBM_DatasetPushRows(
                dataset.0,
                x.data.as_ptr().cast(),
                sys::C_API_DTYPE_FLOAT32 as c_int,
                rows,
                cols as i32,
                0,
            ))?;
        }
        drop(x);
        dataset.set_labels(y)?;
        Ok(dataset)
    }

    /// One label per row of the dataset.
    fn set_labels(&self, y: &[f32]) -> Result<()> {
        let rows =
            i32::try_from(y.len()).map_err(|_| Error::invalid("LightGBM takes at most 2^31 - 1 rows"))?;
        let label = c_string("label")?;
        // SAFETY: the dataset is live and has `y.len()` rows; LightGBM copies the labels.
        check(unsafe {
            sys::LGBM_DatasetSetField(
                self.0,
                label.as_ptr(),
                y.as_ptr().cast(),
                rows,
                sys::C_API_DTYPE_FLOAT32 as c_int,
            )
        })
    }
}

/// A booster, and the single-row predictor prepared for it; both freed on drop.
struct Booster {
    handle: sys::BoosterHandle,
    fast: sys::FastConfigHandle,
}

// SAFETY: the handles are owned; LightGBM's boosters may move between threads. `Model` is
// `Send` only, so no two threads use one booster at the same time.
unsafe impl Send for Booster {}

impl Drop for Booster {
    fn drop(&mut self) {
        // SAFETY: both handles were created for this booster and are freed once.
        unsafe {
            if !self.fast.is_null() {
                sys::LGBM_FastConfigFree(self.fast);
            }
            sys::LGBM_BoosterFree(self.handle);
        }
    }
}

pub(super) fn train(
    task: Task,
    flavour: Flavour,
    x: Cow<Matrix>,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let plan = match &flavour {
        Flavour::Native(p) => p.plan(ctx.seed),
        Flavour::Hist(p) => p.plan(ctx.seed),
    };
    let classes = if task == Task::Classification { classes.max(2) } else { 0 };
    let params = c_string(&plan.text(task, classes)?)?;
    let dataset = Dataset::build(x, y, &params)?;
    let mut booster = std::ptr::null_mut();
    // SAFETY: the dataset is live and outlives the booster's training below.
    check(unsafe { sys::LGBM_BoosterCreate(dataset.0, params.as_ptr(), &mut booster) })?;
    let booster = Booster { handle: booster, fast: std::ptr::null_mut() };
    for _ in 0..plan.rounds {
        (ctx.on_step)();
        let mut finished = 0;
        // SAFETY: the booster is live; `finished` is written by LightGBM.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(booster.handle, &mut finished) })?;
        if finished != 0 {
            break;
        }
    }
    let text = save(&booster)?;
    drop(booster);
    Ok(Box::new(LgbModel::from_text(&text, classes)?))
}

/// LightGBM's text model.
fn save(booster: &Booster) -> Result<String> {
    let mut len = 0i64;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        // SAFETY: `buffer` has `buffer.len()` writable bytes; LightGBM reports the length it
        // needs in `len` and writes only when it fits.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                booster.handle,
                0,
                -1,
                0,
                buffer.len() as i64,
                &mut len,
                buffer.as_mut_ptr().cast::<c_char>(),
            )
        })?;
        if (len as usize) <= buffer.len() {
            break;
        }
        buffer.resize(len as usize, 0);
    }
    buffer.truncate((len as usize).saturating_sub(1));
    String::from_utf8(buffer).map_err(|_| Error::Internal("LightGBM model text is not UTF-8".into()))
}

/// Bytes: the class count (0 = regression) as 4 little-endian bytes, then LightGBM's text
/// model.
pub(super) fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let (classes, text) = split_stored(bytes)?;
    Ok(Box::new(LgbModel::from_text(text, classes)?))
}

/// A stored model's class count and LightGBM's text model.
pub(crate) fn split_stored(bytes: &[u8]) -> Result<(usize, &str)> {
    if bytes.len() < 4 {
        return Err(Error::Internal("truncated LightGBM model".into()));
    }
    let (count, text) = bytes.split_at(4);
    let classes = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
    let text =
        std::str::from_utf8(text).map_err(|_| Error::Internal("LightGBM model is not UTF-8".into()))?;
    Ok((classes, text))
}

/// LightGBM's own contributions of a stored model (the tests' reference for TreeSHAP): per row
/// and output, one per feature and the bias last.
#[cfg(test)]
pub(crate) fn library_contributions(stored: &[u8], x: &Matrix) -> Result<Vec<f64>> {
    let (classes, text) = split_stored(stored)?;
    let model = LgbModel::from_text(text, classes)?;
    let width = (x.cols + 1) * model.outputs();
    let mut out = vec![0f64; x.rows * width];
    let mut len = 0i64;
    let params = c_string("")?;
    // SAFETY: `x.data` holds rows × cols f32 values; `out` has room for every contribution.
    check(unsafe {
        sys::LGBM_BoosterPredictForMat(
            model.booster.handle,
            x.data.as_ptr().cast(),
            sys::C_API_DTYPE_FLOAT32 as c_int,
            x.rows as i32,
            x.cols as i32,
            1,
            sys::C_API_PREDICT_CONTRIB as c_int,
            0,
            -1,
            params.as_ptr(),
            &mut len,
            out.as_mut_ptr(),
        )
    })?;
    Ok(out)
}

/// The stored bytes of a model of LightGBM text that `portable::lightgbm::check` has made.
pub(crate) fn stored_from_text(text: &str, classes: usize) -> Result<Vec<u8>> {
    let model = LgbModel::from_text(text, classes)?;
    model.to_bytes()
}

pub(super) struct LgbModel {
    booster: Booster,
    text: String,
    /// The trees with their counts, for explanations: built on the first one.
    explainer: std::sync::OnceLock<std::result::Result<crate::explain::trees::Ensemble, String>>,
    features: usize,
    /// 0 for regression, otherwise the number of classes.
    classes: usize,
}

impl LgbModel {
    fn from_text(text: &str, classes: usize) -> Result<LgbModel> {
        let c_text = c_string(text)?;
        let mut handle = std::ptr::null_mut();
        let mut iterations = 0;
        let mut features = 0;
        // SAFETY: `c_text` is a NUL-terminated model; the handle is owned by `Booster` below.
        unsafe {
            check(sys::LGBM_BoosterLoadModelFromString(c_text.as_ptr(), &mut iterations, &mut handle))?;
        }
        let mut booster = Booster { handle, fast: std::ptr::null_mut() };
        let no_params = c_string("num_threads=1")?;
        // SAFETY: the booster is live; the fast config is owned by `Booster`.
        unsafe {
            check(sys::LGBM_BoosterGetNumFeature(booster.handle, &mut features))?;
            check(sys::LGBM_BoosterPredictForMatSingleRowFastInit(
                booster.handle,
                sys::C_API_PREDICT_NORMAL as c_int,
                0,
                -1,
                sys::C_API_DTYPE_FLOAT32 as c_int,
                features,
                no_params.as_ptr(),
                &mut booster.fast,
            ))?;
        }
        Ok(LgbModel {
            booster,
            text: text.to_string(),
            explainer: std::sync::OnceLock::new(),
            features: features as usize,
            classes,
        })
    }

    /// The trees with their counts, read from the text on the first explanation.
    fn explainer(&self) -> Result<&crate::explain::trees::Ensemble> {
        let built = self.explainer.get_or_init(|| {
            crate::explain::trees::Ensemble::from_lightgbm(&self.text).map_err(|e| e.to_string())
        });
        built.as_ref().map_err(|e| Error::Internal(e.clone()))
    }

    fn outputs(&self) -> usize {
        if self.classes > 2 {
            self.classes
        } else {
            1
        }
    }

    fn check_width(&self, cols: usize) -> Result<()> {
        if cols != self.features {
            return Err(Error::invalid(format!("the model takes {} features, got {cols}", self.features)));
        }
        Ok(())
    }

    /// What LightGBM's predict returns: values, P(class 1), or `rows × k` probabilities.
    fn raw(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.check_width(x.cols)?;
        if x.rows == 0 {
            return Ok(vec![]);
        }
        let mut out = vec![0f64; x.rows * self.outputs()];
        let mut len = 0i64;
        let threads = match crate::threads::prediction_threads() {
            0 => String::new(),
            n => format!("num_threads={n}"),
        };
        let empty = c_string(&threads)?;
        // SAFETY: `x.data` holds rows × cols f32 values; `out` has room for every output.
        check(unsafe {
            sys::LGBM_BoosterPredictForMat(
                self.booster.handle,
                x.data.as_ptr().cast(),
                sys::C_API_DTYPE_FLOAT32 as c_int,
                x.rows as i32,
                x.cols as i32,
                1,
                sys::C_API_PREDICT_NORMAL as c_int,
                0,
                -1,
                empty.as_ptr(),
                &mut len,
                out.as_mut_ptr(),
            )
        })?;
        Ok(out.into_iter().map(|v| v as f32).collect())
    }
}

impl Model for LgbModel {
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        self.check_width(row.len())?;
        let mut out = [0f64; 256];
        let outputs = self.outputs();
        if outputs > out.len() {
            let x = Matrix { data: row.to_vec(), rows: 1, cols: row.len() };
            return Ok(self.predict(&x)?[0]);
        }
        let mut len = 0i64;
        // SAFETY: the fast config was made for this booster with `features` f32 columns, and
        // `out` has room for every class.
        check(unsafe {
            sys::LGBM_BoosterPredictForMatSingleRowFast(
                self.booster.fast,
                row.as_ptr().cast(),
                &mut len,
                out.as_mut_ptr(),
            )
        })?;
        let raw: Vec<f32> = out[..outputs].iter().map(|v| *v as f32).collect();
        Ok(super::booster_labels(&raw, self.classes)[0])
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

    fn ensemble(&self) -> Result<crate::explain::trees::Ensemble> {
        self.explainer().cloned()
    }

    fn explain(&self, row: &[f32], method: crate::explain::Method) -> Result<crate::explain::Explanation> {
        self.check_width(row.len())?;
        self.explainer()?.explain(row, method)
    }

    fn importance(&self) -> Result<crate::explain::Importance> {
        Ok(self.explainer()?.importance())
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = (self.classes as u32).to_le_bytes().to_vec();
        out.extend(self.text.as_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::labelled;

    fn fit(task: Task, hyperparams: serde_json::Value) -> Result<Vec<f32>> {
        let (x, y, classes) = labelled(if task == Task::Regression { "diabetes" } else { "iris" }, task);
        let params: Params = serde_json::from_value(hyperparams).unwrap();
        params.validate(task)?;
        let mut ctx = TrainContext { seed: 1, on_step: &mut || {}, interrupt: &|| {} };
        let model = train(task, Flavour::Native(params), Cow::Borrowed(&x), &y, classes, &mut ctx)?;
        model.predict(&x)
    }

    /// LightGBM's own parameters reach it; a name it does not know, or its refusal of a value,
    /// is 22023 before any data is read.
    #[test]
    fn the_library_judges_its_own_parameters() {
        let plain = fit(Task::Regression, serde_json::json!({"n_estimators": 10})).unwrap();
        let stepped =
            fit(Task::Regression, serde_json::json!({"n_estimators": 10, "extra_trees": true})).unwrap();
        assert_ne!(plain, stepped);
        let monotone =
            serde_json::json!({"n_estimators": 10, "monotone_constraints": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]});
        assert_ne!(plain, fit(Task::Regression, monotone).unwrap());
        let goss = serde_json::json!({"n_estimators": 10, "boosting_type": "goss", "objective": "huber"});
        assert_eq!(fit(Task::Regression, goss).unwrap().len(), plain.len());
        assert_eq!(
            fit(Task::Classification, serde_json::json!({"objective": "multiclass", "n_estimators": 5}))
                .unwrap()
                .len(),
            150
        );
        for (hp, says) in [
            (serde_json::json!({"num_leafs": 3}), "does not know the hyperparameter num_leafs"),
            (serde_json::json!({"boosting_type": "sideways"}), "LightGBM refused the hyperparameters"),
            (serde_json::json!({"max_delta_step": "x y"}), "cannot be given to LightGBM"),
        ] {
            let params: Params = serde_json::from_value(hp.clone()).unwrap();
            let err = params.validate(Task::Regression).expect_err(&hp.to_string());
            assert!(matches!(err, Error::InvalidArgument { .. }), "{hp}: {err:?}");
            assert!(err.to_string().contains(says), "{hp}: {err}");
        }
        let params: Params = serde_json::from_value(serde_json::json!({"objective": "lambdarank"})).unwrap();
        assert!(matches!(params.validate(Task::Classification).unwrap_err(), Error::Unsupported { .. }));
    }

    /// The dataset built from our own sample is LightGBM's from-matrix dataset: the same
    /// settings train the same model text on both, with zeros (digits' blank pixels), a
    /// column of zeros, NaNs and a sample smaller than the rows.
    #[test]
    fn the_sampled_dataset_trains_what_lightgbm_builds_from_the_matrix() {
        let (mut x, labels, _) = labelled("digits", Task::Classification);
        for i in 0..x.rows {
            let cols = x.cols;
            x.data[i * cols] = 0.0;
            if i % 7 == 3 {
                x.data[i * cols + 20] = f32::NAN;
            }
        }
        let fit = |dataset: &Dataset, params: &CStr| -> String {
            let mut handle = std::ptr::null_mut();
            check(unsafe { sys::LGBM_BoosterCreate(dataset.0, params.as_ptr(), &mut handle) }).unwrap();
            let booster = Booster { handle, fast: std::ptr::null_mut() };
            for _ in 0..5 {
                let mut finished = 0;
                check(unsafe { sys::LGBM_BoosterUpdateOneIter(booster.handle, &mut finished) }).unwrap();
            }
            save(&booster).unwrap()
        };
        for sample in ["", " bin_construct_sample_cnt=300"] {
            let text = format!("objective=multiclass num_class=10 verbosity=-1 deterministic=true{sample}");
            let params = c_string(&text).unwrap();
            let ours = Dataset::build(Cow::Owned(x.clone()), &labels, &params).unwrap();
            let mut theirs = Dataset(std::ptr::null_mut());
            unsafe {
                check(sys::LGBM_DatasetCreateFromMat(
                    x.data.as_ptr().cast(),
                    sys::C_API_DTYPE_FLOAT32 as c_int,
                    x.rows as i32,
                    x.cols as i32,
                    1,
                    params.as_ptr(),
                    std::ptr::null_mut(),
                    &mut theirs.0,
                ))
                .unwrap();
            }
            theirs.set_labels(&labels).unwrap();
            let (a, b) = (fit(&ours, &params), fit(&theirs, &params));
            assert!(a.contains("Tree=49"), "five rounds of ten classes");
            assert_eq!(a, b, "{text}");
        }
    }

    #[test]
    fn a_row_predicts_what_the_batch_predicts_after_a_round_trip() {
        for (name, task) in [
            ("iris", Task::Classification),
            ("breast_cancer", Task::Classification),
            ("diabetes", Task::Regression),
        ] {
            let (x, y, classes) = labelled(name, task);
            let params: Params = serde_json::from_value(serde_json::json!({"n_estimators": 20})).unwrap();
            let mut rounds = 0;
            let mut ctx = TrainContext { seed: 3, on_step: &mut || rounds += 1, interrupt: &|| {} };
            let model =
                train(task, Flavour::Native(params), Cow::Borrowed(&x), &y, classes, &mut ctx).unwrap();
            assert_eq!(rounds, 20, "{name}: one step per round");
            let back = load(&model.to_bytes().unwrap()).unwrap();
            let batch = back.predict(&x).unwrap();
            assert_eq!(batch, model.predict(&x).unwrap(), "{name}");
            for (i, expected) in batch.iter().enumerate() {
                assert_eq!(back.predict_row(x.row(i)).unwrap(), *expected, "{name} row {i}");
            }
            if classes > 0 {
                let proba = back.predict_proba(&x).unwrap();
                assert_eq!(proba.len(), x.rows * classes);
                assert!(proba.chunks(classes).all(|p| (p.iter().sum::<f32>() - 1.0).abs() < 1e-5));
            }
        }
    }
}
