//! Algorithms behind one trait. Each family lives in its own file with its typed,
//! validated hyperparameters; this module parses names and dispatches.

mod adaboost;
mod bayes;
mod birch;
mod centres;
mod dbscan;
mod design;
pub(crate) mod forest;
mod gaussian;
pub(crate) mod joint;
mod kernel;
mod kmeans;
mod lars;
mod lbfgs;
pub(crate) mod lightgbm;
mod linear;
mod linear_svm;
mod pca;
mod penalized;
mod python_params;
mod quantile;
mod robust;
mod sgd;
mod svm;
pub(crate) mod xgboost;
mod xgboost_lib;
mod xgboost_native;

pub use forest::Scores;

use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::borrow::Cow;

/// A trained model. Classification models see and return class indices `0..k`; the
/// artifact maps them to the user's labels.
pub trait Model: Send {
    /// One value per row: a class index, a regression value or a cluster index.
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>>;
    /// The prediction for one row: the per-call path of `pgml.predict`, so implementations
    /// avoid allocating where they can.
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        let x = Matrix { data: row.to_vec(), rows: 1, cols: row.len() };
        Ok(self.predict(&x)?[0])
    }
    /// Row-major class probabilities (`rows × k`), for classifiers.
    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        let _ = x;
        Err(Error::unsupported("this model does not produce probabilities"))
    }
    /// Labels and, if the model has them, probabilities of the same rows: what scoring a
    /// test split needs. Boosters get both from one pass over their trees.
    fn predict_with_proba(&self, x: &Matrix) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        Ok((self.predict(x)?, self.predict_proba(x).ok()))
    }
    /// Row-major predictions of every target (`rows × targets`); one target unless joint.
    fn predict_joint(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.predict(x)
    }
    /// Row-major components (`rows × k`), for decompositions.
    fn decompose(&self, x: &Matrix) -> Result<Vec<f32>> {
        let _ = x;
        Err(Error::unsupported("this model is not a decomposition").with_hint("use pgml.predict"))
    }
    /// Metrics the fit itself yields (a decomposition's explained variance), beside the
    /// test-set metrics.
    fn fit_metrics(&self) -> crate::metrics::Metrics {
        crate::metrics::Metrics::new()
    }
    /// Attributions of one row's prediction to its features (model inputs).
    fn explain(&self, row: &[f32], method: crate::explain::Method) -> Result<crate::explain::Explanation> {
        let _ = (row, method);
        Err(Error::unsupported("this model's predictions cannot be explained yet")
            .with_hint("explanations cover tree ensembles (XGBoost, LightGBM, forests) and linear models"))
    }
    /// The trees' importances of each feature (XGBoost's measures).
    fn importance(&self) -> Result<crate::explain::Importance> {
        match self.linear_terms() {
            Some(terms) => Ok(terms.importance()),
            None => Err(Error::unsupported("this model has no feature importance yet")
                .with_hint("importances cover XGBoost, LightGBM and linear models")),
        }
    }
    /// A linear model's weights, for its exact explanations.
    fn linear_terms(&self) -> Option<crate::explain::LinearTerms> {
        None
    }
    /// A tree model's trees with their margins' intercepts (what ONNX export writes).
    fn ensemble(&self) -> Result<crate::explain::trees::Ensemble> {
        Err(Error::unsupported("this model is not a tree ensemble"))
    }
    /// The bytes stored in the registry; `Algorithm::load` reads them back.
    fn to_bytes(&self) -> Result<Vec<u8>>;
    /// `to_bytes` for a model that is stored and dropped: one held in its stored form hands
    /// its bytes over instead of copying them.
    fn into_bytes(self: Box<Self>) -> Result<Vec<u8>> {
        self.to_bytes()
    }
}

/// Where a model's stored bytes go as they are made (`training::train_into`): the caller's
/// storage, in order.
pub type Sink<'a> = dyn FnMut(&[u8]) -> Result<()> + 'a;

/// What a training run needs besides the data.
pub struct TrainContext<'a> {
    /// Seeds every random choice, so a training is repeatable.
    pub seed: u64,
    /// Called once per step (a tree, a boosting round, an iteration): progress is counted by
    /// it, and the caller may cancel there.
    pub on_step: &'a mut dyn FnMut(),
    /// Called inside long steps, on the calling thread, so that a cancel stops them within a
    /// fraction of a second: between the columns of an n × n factorisation, the rows of an
    /// all-pairs pass, while waiting for a library call. It counts nothing; it returns only if
    /// the training may go on (the extension's raises PostgreSQL's cancel or timeout error).
    pub interrupt: &'a dyn Fn(),
}

/// The algorithms this build provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Linear,
    Ridge,
    Lasso,
    ElasticNet,
    LeastAngle,
    LassoLeastAngle,
    OrthogonalMatchingPursuit,
    BayesianRidge,
    AutomaticRelevanceDetermination,
    Huber,
    Ransac,
    TheilSen,
    Quantile,
    StochasticGradientDescent,
    Perceptron,
    PassiveAggressive,
    LinearSvm,
    Svm,
    NuSvm,
    KernelRidge,
    GaussianProcess,
    AdaBoost,
    Xgboost,
    XgboostRandomForest,
    GradientBoostingTrees,
    Lightgbm,
    HistGradientBoosting,
    RandomForest,
    ExtraTrees,
    Bagging,
    Kmeans,
    MiniBatchKmeans,
    Dbscan,
    MeanShift,
    AffinityPropagation,
    Birch,
    Pca,
}

/// PostgresML algorithms this build does not provide yet, with the closest ones it does.
const NOT_YET: &[(&str, &str)] = &[("catboost", "lightgbm, xgboost")];

impl Algorithm {
    const ALL: [Algorithm; 37] = [
        Algorithm::Linear,
        Algorithm::Ridge,
        Algorithm::Lasso,
        Algorithm::ElasticNet,
        Algorithm::LeastAngle,
        Algorithm::LassoLeastAngle,
        Algorithm::OrthogonalMatchingPursuit,
        Algorithm::BayesianRidge,
        Algorithm::AutomaticRelevanceDetermination,
        Algorithm::Huber,
        Algorithm::Ransac,
        Algorithm::TheilSen,
        Algorithm::Quantile,
        Algorithm::StochasticGradientDescent,
        Algorithm::Perceptron,
        Algorithm::PassiveAggressive,
        Algorithm::LinearSvm,
        Algorithm::Svm,
        Algorithm::NuSvm,
        Algorithm::KernelRidge,
        Algorithm::GaussianProcess,
        Algorithm::AdaBoost,
        Algorithm::Xgboost,
        Algorithm::XgboostRandomForest,
        Algorithm::GradientBoostingTrees,
        Algorithm::Lightgbm,
        Algorithm::HistGradientBoosting,
        Algorithm::RandomForest,
        Algorithm::ExtraTrees,
        Algorithm::Bagging,
        Algorithm::Kmeans,
        Algorithm::MiniBatchKmeans,
        Algorithm::Dbscan,
        Algorithm::MeanShift,
        Algorithm::AffinityPropagation,
        Algorithm::Birch,
        Algorithm::Pca,
    ];

    /// Parses a PostgresML algorithm name: one of PostgresML's this build lacks is 0A000
    /// naming the closest supported ones; any other name is a mistake (22023).
    pub fn parse(name: &str) -> Result<Algorithm> {
        if let Some(a) = Algorithm::ALL.into_iter().find(|a| a.name() == name) {
            return Ok(a);
        }
        let supported = Algorithm::ALL.map(Algorithm::name).join(", ");
        Err(match NOT_YET.iter().find(|(n, _)| *n == name) {
            Some((_, closest)) => {
                Error::unsupported(format!("algorithm \"{name}\" is not available in pgml-rs yet"))
                    .with_hint(format!("closest supported: {closest}"))
            }
            None => Error::invalid(format!("unknown algorithm \"{name}\""))
                .with_hint(format!("supported algorithms: {supported}")),
        })
    }

    /// The algorithm a training of `task` runs when asked for this one: `pgml.train`'s
    /// `algorithm` defaults to `linear`, which PostgresML reads as `kmeans` for a clustering
    /// and `pca` for a decomposition (it cannot tell the default from an explicit `linear`,
    /// and neither can SQL).
    pub fn for_task(self, task: Task) -> Algorithm {
        match (self, task) {
            (Algorithm::Linear, Task::Clustering) => Algorithm::Kmeans,
            (Algorithm::Linear, Task::Decomposition) => Algorithm::Pca,
            (a, _) => a,
        }
    }

    /// The name stored in the registry.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Linear => "linear",
            Algorithm::Ridge => "ridge",
            Algorithm::Lasso => "lasso",
            Algorithm::ElasticNet => "elastic_net",
            Algorithm::LeastAngle => "least_angle",
            Algorithm::LassoLeastAngle => "lasso_least_angle",
            Algorithm::OrthogonalMatchingPursuit => "orthogonal_matching_pursuit",
            Algorithm::BayesianRidge => "bayesian_ridge",
            Algorithm::AutomaticRelevanceDetermination => "automatic_relevance_determination",
            Algorithm::Huber => "huber",
            Algorithm::Ransac => "ransac",
            Algorithm::TheilSen => "theil_sen",
            Algorithm::Quantile => "quantile",
            Algorithm::StochasticGradientDescent => "stochastic_gradient_descent",
            Algorithm::Perceptron => "perceptron",
            Algorithm::PassiveAggressive => "passive_aggressive",
            Algorithm::LinearSvm => "linear_svm",
            Algorithm::Svm => "svm",
            Algorithm::NuSvm => "nu_svm",
            Algorithm::KernelRidge => "kernel_ridge",
            Algorithm::GaussianProcess => "gaussian_process",
            Algorithm::AdaBoost => "ada_boost",
            Algorithm::Xgboost => "xgboost",
            Algorithm::XgboostRandomForest => "xgboost_random_forest",
            Algorithm::GradientBoostingTrees => "gradient_boosting_trees",
            Algorithm::Lightgbm => "lightgbm",
            Algorithm::HistGradientBoosting => "hist_gradient_boosting",
            Algorithm::RandomForest => "random_forest",
            Algorithm::ExtraTrees => "extra_trees",
            Algorithm::Bagging => "bagging",
            Algorithm::Kmeans => "kmeans",
            Algorithm::MiniBatchKmeans => "mini_batch_kmeans",
            Algorithm::Dbscan => "dbscan",
            Algorithm::MeanShift => "mean_shift",
            Algorithm::AffinityPropagation => "affinity_propagation",
            Algorithm::Birch => "birch",
            Algorithm::Pca => "pca",
        }
    }

    /// The online learner behind an SGD-family name.
    fn learner(self) -> sgd::Learner {
        match self {
            Algorithm::Perceptron => sgd::Learner::Perceptron,
            Algorithm::PassiveAggressive => sgd::Learner::PassiveAggressive,
            _ => sgd::Learner::Sgd,
        }
    }

    /// Refuses an algorithm that cannot learn the task.
    pub fn check_task(self, task: Task) -> Result<()> {
        if self.supports(task) {
            return Ok(());
        }
        let fitting: Vec<&str> =
            Algorithm::ALL.into_iter().filter(|a| a.supports(task)).map(Algorithm::name).collect();
        Err(Error::unsupported(format!(
            "algorithm \"{}\" does not support the task \"{}\"",
            self.name(),
            task.name()
        ))
        .with_hint(if fitting.is_empty() {
            format!("no algorithm supports {} in this build", task.name())
        } else {
            format!("for {} use: {}", task.name(), fitting.join(", "))
        }))
    }

    /// Whether the algorithm can learn the task.
    pub fn supports(self, task: Task) -> bool {
        match self {
            Algorithm::Kmeans
            | Algorithm::MiniBatchKmeans
            | Algorithm::Dbscan
            | Algorithm::MeanShift
            | Algorithm::AffinityPropagation
            | Algorithm::Birch => task == Task::Clustering,
            Algorithm::Pca => task == Task::Decomposition,
            Algorithm::Lasso
            | Algorithm::ElasticNet
            | Algorithm::LeastAngle
            | Algorithm::LassoLeastAngle
            | Algorithm::OrthogonalMatchingPursuit
            | Algorithm::BayesianRidge
            | Algorithm::AutomaticRelevanceDetermination
            | Algorithm::Huber
            | Algorithm::Ransac
            | Algorithm::TheilSen
            | Algorithm::Quantile
            | Algorithm::KernelRidge => task == Task::Regression,
            Algorithm::Perceptron => task == Task::Classification,
            _ => task.is_supervised(),
        }
    }

    /// Validates hyperparameters without training, so bad input fails before any data is read.
    pub fn validate(self, task: Task, hyperparams: &serde_json::Value) -> Result<()> {
        self.checked(task, hyperparams).map(drop)
    }

    /// `validate`, returning the hyperparameters the algorithm's typed parameters take (the
    /// Python estimator's inert ones and honoured defaults taken out: `python_params::own`).
    fn checked(self, task: Task, hyperparams: &serde_json::Value) -> Result<Cow<'_, serde_json::Value>> {
        self.check_task(task)?;
        let own = python_params::own(self, task, hyperparams)?;
        let hyperparams = &*own;
        match self {
            Algorithm::Linear => linear::validate(task, hyperparams),
            Algorithm::Ridge => parse::<penalized::RidgeParams>(self, hyperparams)?.validate(),
            Algorithm::Lasso | Algorithm::ElasticNet => {
                parse::<penalized::SparseParams>(self, hyperparams)?.validate(self)
            }
            Algorithm::LeastAngle => parse::<lars::LarsParams>(self, hyperparams)?.validate(),
            Algorithm::LassoLeastAngle => parse::<lars::LassoLarsParams>(self, hyperparams)?.validate(),
            Algorithm::OrthogonalMatchingPursuit => parse::<lars::OmpParams>(self, hyperparams)?.validate(),
            Algorithm::BayesianRidge => parse::<bayes::Params>(self, hyperparams)?.validate(false),
            Algorithm::AutomaticRelevanceDetermination => {
                parse::<bayes::Params>(self, hyperparams)?.validate(true)
            }
            Algorithm::Huber => parse::<robust::HuberParams>(self, hyperparams)?.validate(),
            Algorithm::Ransac => parse::<robust::RansacParams>(self, hyperparams)?.validate(),
            Algorithm::TheilSen => parse::<robust::TheilSenParams>(self, hyperparams)?.validate(),
            Algorithm::Quantile => parse::<quantile::Params>(self, hyperparams)?.validate(),
            Algorithm::StochasticGradientDescent | Algorithm::Perceptron | Algorithm::PassiveAggressive => {
                parse::<sgd::Params>(self, hyperparams)?.validate(self.learner(), task)
            }
            Algorithm::LinearSvm => parse::<linear_svm::Params>(self, hyperparams)?.validate(),
            Algorithm::Svm | Algorithm::NuSvm => {
                parse::<svm::Params>(self, hyperparams)?.validate(self == Algorithm::NuSvm)
            }
            Algorithm::KernelRidge => parse::<kernel::RidgeParams>(self, hyperparams)?.validate(),
            Algorithm::GaussianProcess => parse::<gaussian::Params>(self, hyperparams)?.validate(),
            Algorithm::AdaBoost => parse::<adaboost::Params>(self, hyperparams)?.validate(task),
            Algorithm::Xgboost => parse::<xgboost::Params>(self, hyperparams)?.validate(task),
            Algorithm::XgboostRandomForest => {
                parse::<xgboost::ForestParams>(self, hyperparams)?.validate(task)
            }
            Algorithm::GradientBoostingTrees => {
                parse::<xgboost::GradientParams>(self, hyperparams)?.validate()
            }
            Algorithm::Lightgbm => parse::<lightgbm::Params>(self, hyperparams)?.validate(task),
            Algorithm::HistGradientBoosting => parse::<lightgbm::HistParams>(self, hyperparams)?.validate(),
            Algorithm::RandomForest | Algorithm::ExtraTrees | Algorithm::Bagging => {
                parse::<forest::Params>(self, hyperparams)?.validate()
            }
            Algorithm::Kmeans => parse::<kmeans::Params>(self, hyperparams)?.validate(),
            Algorithm::MiniBatchKmeans => parse::<kmeans::MiniBatchParams>(self, hyperparams)?.validate(),
            Algorithm::Dbscan => parse::<dbscan::Params>(self, hyperparams)?.validate(),
            Algorithm::MeanShift => parse::<centres::MeanShiftParams>(self, hyperparams)?.validate(),
            Algorithm::AffinityPropagation => parse::<centres::AffinityParams>(self, hyperparams)?.validate(),
            Algorithm::Birch => parse::<birch::Params>(self, hyperparams)?.validate(),
            Algorithm::Pca => parse::<pca::Params>(self, hyperparams)?.validate(),
        }?;
        Ok(own)
    }

    /// How many steps (`on_step` calls) a training takes and what a step is, for the
    /// ensembles, whose hyperparameters fix it; progress reports say "37 of 100 trees".
    pub fn planned_steps(self, task: Task, hyperparams: &serde_json::Value) -> Option<(usize, &'static str)> {
        let hyperparams = &*python_params::own(self, task, hyperparams).ok()?;
        let trees = |kind| Some((parse::<forest::Params>(self, hyperparams).ok()?.trees(kind), "trees"));
        let rounds = |n: u32| Some((n as usize, "boosting rounds"));
        match self {
            Algorithm::RandomForest | Algorithm::ExtraTrees | Algorithm::Bagging => {
                trees(self.forest_kind()?)
            }
            Algorithm::AdaBoost => {
                Some((parse::<adaboost::Params>(self, hyperparams).ok()?.n_estimators, "trees"))
            }
            Algorithm::Xgboost => rounds(parse::<xgboost::Params>(self, hyperparams).ok()?.n_estimators),
            Algorithm::GradientBoostingTrees => {
                rounds(parse::<xgboost::GradientParams>(self, hyperparams).ok()?.n_estimators)
            }
            Algorithm::Lightgbm => rounds(parse::<lightgbm::Params>(self, hyperparams).ok()?.n_estimators),
            Algorithm::HistGradientBoosting => {
                rounds(parse::<lightgbm::HistParams>(self, hyperparams).ok()?.max_iter)
            }
            _ => None,
        }
    }

    /// Trains on `x` and `y` (class indices for classification, empty for clustering).
    /// `classes` is the number of classes for classification, 0 otherwise.
    pub fn train(
        self,
        task: Task,
        hyperparams: &serde_json::Value,
        x: &Matrix,
        y: &[f32],
        classes: usize,
        ctx: &mut TrainContext,
    ) -> Result<Box<dyn Model>> {
        self.train_from(task, hyperparams, Cow::Borrowed(x), y, classes, ctx)
    }

    /// `train`, handing the rows over: an algorithm that builds its own copy of them (the
    /// boosters' binned datasets) frees ours as soon as that copy is built.
    pub fn train_owned(
        self,
        task: Task,
        hyperparams: &serde_json::Value,
        x: Matrix,
        y: &[f32],
        classes: usize,
        ctx: &mut TrainContext,
    ) -> Result<Box<dyn Model>> {
        self.train_from(task, hyperparams, Cow::Owned(x), y, classes, ctx)
    }

    /// Whether `train_into` can write this algorithm's model as it trains: the forests, which
    /// are many times their training data.
    pub fn writes_as_it_trains(self) -> bool {
        self.forest_kind().is_some()
    }

    /// The ensemble of `forest.rs` this algorithm is, if it is one.
    fn forest_kind(self) -> Option<forest::Kind> {
        match self {
            Algorithm::RandomForest => Some(forest::Kind::RandomForest),
            Algorithm::ExtraTrees => Some(forest::Kind::ExtraTrees),
            Algorithm::Bagging => Some(forest::Kind::Bagging),
            _ => None,
        }
    }

    /// `train` for an algorithm that `writes_as_it_trains`: the model's bytes go to `sink` as
    /// they are made and the model is never held; it is scored on `eval` as it grows.
    #[allow(clippy::too_many_arguments)]
    pub fn train_into(
        self,
        task: Task,
        hyperparams: &serde_json::Value,
        x: &Matrix,
        y: &[f32],
        classes: usize,
        ctx: &mut TrainContext,
        eval: &Matrix,
        sink: &mut Sink,
    ) -> Result<Scores> {
        let hyperparams = &*self.checked(task, hyperparams)?;
        let kind = self
            .forest_kind()
            .ok_or_else(|| Error::Internal(format!("{} is not written as it trains", self.name())))?;
        forest::train_into(kind, task, parse(self, hyperparams)?, x, y, classes, ctx, eval, sink)
    }

    fn train_from(
        self,
        task: Task,
        hyperparams: &serde_json::Value,
        rows: Cow<Matrix>,
        y: &[f32],
        classes: usize,
        ctx: &mut TrainContext,
    ) -> Result<Box<dyn Model>> {
        let hyperparams = &*self.checked(task, hyperparams)?;
        let x = rows.as_ref();
        match self {
            Algorithm::Linear => linear::train(task, hyperparams, x, y, classes, ctx),
            Algorithm::Ridge => penalized::train_ridge(task, parse(self, hyperparams)?, x, y, classes),
            Algorithm::Lasso | Algorithm::ElasticNet => {
                penalized::train_sparse(self, parse(self, hyperparams)?, x, y, ctx)
            }
            Algorithm::LeastAngle => lars::train_lars(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::LassoLeastAngle => lars::train_lasso_lars(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::OrthogonalMatchingPursuit => lars::train_omp(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::BayesianRidge => bayes::train_ridge(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::AutomaticRelevanceDetermination => {
                bayes::train_ard(parse(self, hyperparams)?, x, y, ctx)
            }
            Algorithm::Huber => robust::train_huber(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::Ransac => robust::train_ransac(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::TheilSen => robust::train_theil_sen(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::Quantile => quantile::train(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::StochasticGradientDescent | Algorithm::Perceptron | Algorithm::PassiveAggressive => {
                sgd::train(self.learner(), task, parse(self, hyperparams)?, x, y, classes, ctx)
            }
            Algorithm::LinearSvm => linear_svm::train(task, parse(self, hyperparams)?, x, y, classes, ctx),
            Algorithm::Svm | Algorithm::NuSvm => {
                svm::train(task, parse(self, hyperparams)?, self == Algorithm::NuSvm, x, y, classes, ctx)
            }
            Algorithm::KernelRidge => kernel::train_ridge(parse(self, hyperparams)?, x, y, ctx),
            Algorithm::GaussianProcess => {
                gaussian::train(task, parse(self, hyperparams)?, x, y, classes, ctx)
            }
            Algorithm::AdaBoost => adaboost::train(task, parse(self, hyperparams)?, x, y, classes, ctx),
            Algorithm::Xgboost => {
                let flavour = xgboost::Flavour::Boosted(parse(self, hyperparams)?);
                xgboost::train(task, flavour, rows, y, classes, ctx)
            }
            Algorithm::XgboostRandomForest => {
                let flavour = xgboost::Flavour::Forest(parse(self, hyperparams)?);
                xgboost::train(task, flavour, rows, y, classes, ctx)
            }
            Algorithm::GradientBoostingTrees => {
                let flavour = xgboost::Flavour::Gradient(parse(self, hyperparams)?);
                xgboost::train(task, flavour, rows, y, classes, ctx)
            }
            Algorithm::Lightgbm => {
                let flavour = lightgbm::Flavour::Native(parse(self, hyperparams)?);
                lightgbm::train(task, flavour, rows, y, classes, ctx)
            }
            Algorithm::HistGradientBoosting => {
                let flavour = lightgbm::Flavour::Hist(parse(self, hyperparams)?);
                lightgbm::train(task, flavour, rows, y, classes, ctx)
            }
            Algorithm::RandomForest | Algorithm::ExtraTrees | Algorithm::Bagging => {
                let kind = self.forest_kind().expect("a forest");
                forest::train(kind, task, parse(self, hyperparams)?, x, y, classes, ctx)
            }
            Algorithm::Kmeans => kmeans::train(parse(self, hyperparams)?, x, ctx),
            Algorithm::MiniBatchKmeans => kmeans::train_mini_batch(parse(self, hyperparams)?, x, ctx),
            Algorithm::Dbscan => dbscan::train(parse(self, hyperparams)?, x, ctx),
            Algorithm::MeanShift => centres::train_mean_shift(parse(self, hyperparams)?, x, ctx),
            Algorithm::AffinityPropagation => centres::train_affinity(parse(self, hyperparams)?, x, ctx),
            Algorithm::Birch => birch::train(parse(self, hyperparams)?, x, ctx),
            Algorithm::Pca => pca::train(parse(self, hyperparams)?, x, ctx),
        }
    }

    /// `load`, handing the bytes over: a forest keeps them as its own.
    pub fn load_owned(self, bytes: Vec<u8>) -> Result<Box<dyn Model>> {
        match self.forest_kind() {
            Some(_) => forest::load_owned(bytes),
            None => self.load(&bytes),
        }
    }

    /// Reads a model back from the bytes `Model::to_bytes` wrote.
    pub fn load(self, bytes: &[u8]) -> Result<Box<dyn Model>> {
        match self {
            Algorithm::Linear => linear::load(bytes),
            Algorithm::Ridge
            | Algorithm::Lasso
            | Algorithm::ElasticNet
            | Algorithm::LeastAngle
            | Algorithm::LassoLeastAngle
            | Algorithm::OrthogonalMatchingPursuit
            | Algorithm::BayesianRidge
            | Algorithm::AutomaticRelevanceDetermination
            | Algorithm::Huber
            | Algorithm::Ransac
            | Algorithm::TheilSen
            | Algorithm::Quantile
            | Algorithm::StochasticGradientDescent
            | Algorithm::Perceptron
            | Algorithm::PassiveAggressive
            | Algorithm::LinearSvm => from_json::<penalized::Penalized>(bytes),
            Algorithm::Svm | Algorithm::NuSvm => from_json::<svm::Svm>(bytes),
            Algorithm::KernelRidge => from_json::<kernel::KernelRidge>(bytes),
            Algorithm::GaussianProcess => from_json::<gaussian::GaussianProcess>(bytes),
            Algorithm::AdaBoost => from_json::<adaboost::AdaBoost>(bytes),
            Algorithm::Xgboost | Algorithm::XgboostRandomForest | Algorithm::GradientBoostingTrees => {
                xgboost::load(bytes)
            }
            Algorithm::Lightgbm | Algorithm::HistGradientBoosting => lightgbm::load(bytes),
            Algorithm::RandomForest | Algorithm::ExtraTrees | Algorithm::Bagging => forest::load(bytes),
            Algorithm::Kmeans
            | Algorithm::MiniBatchKmeans
            | Algorithm::MeanShift
            | Algorithm::AffinityPropagation => from_json::<kmeans::KMeans>(bytes),
            Algorithm::Birch => from_json::<birch::Birch>(bytes),
            Algorithm::Dbscan => from_json::<dbscan::Dbscan>(bytes),
            Algorithm::Pca => from_json::<pca::Pca>(bytes),
        }
    }
}

/// Parses a hyperparameter object into a typed struct; unknown keys and wrong types are
/// errors naming the algorithm.
fn parse<T: DeserializeOwned>(algorithm: Algorithm, hyperparams: &serde_json::Value) -> Result<T> {
    let value = if hyperparams.is_null() { serde_json::json!({}) } else { hyperparams.clone() };
    serde_json::from_value(value)
        .map_err(|e| Error::invalid(format!("invalid hyperparams for {}: {e}", algorithm.name())))
}

/// A count given as a JSON number, a whole float (`1e4`, scikit-learn's own default for some)
/// included.
pub(crate) fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    let v = f64::deserialize(d)?;
    if v.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&v) {
        return Err(serde::de::Error::custom(format!("expected a whole number, got {v}")));
    }
    Ok(v as usize)
}

/// Checks a numeric hyperparameter's range.
pub(crate) fn check_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(format!(
            "hyperparameter {name} must be between {min} and {max}, got {value}"
        )));
    }
    Ok(())
}

/// Checks a hyperparameter that has only a lower bound.
pub(crate) fn check_at_least<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T) -> Result<()> {
    if value < min {
        return Err(Error::invalid(format!("hyperparameter {name} must be at least {min}, got {value}")));
    }
    Ok(())
}

/// Checks a hyperparameter in (0, 1] (learning rates, sampling fractions).
pub(crate) fn check_fraction(name: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(Error::invalid(format!(
            "hyperparameter {name} must be greater than 0 and at most 1, got {value}"
        )));
    }
    Ok(())
}

/// Checks a strictly positive hyperparameter.
pub(crate) fn check_positive(name: &str, value: f64) -> Result<()> {
    if value.is_nan() || value <= 0.0 {
        return Err(Error::invalid(format!("hyperparameter {name} must be greater than 0, got {value}")));
    }
    Ok(())
}

fn from_json<M: DeserializeOwned + Model + 'static>(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let model: M =
        serde_json::from_slice(bytes).map_err(|e| Error::Internal(format!("corrupt model bytes: {e}")))?;
    Ok(Box::new(model))
}

pub(crate) fn to_json<M: serde::Serialize>(model: &M) -> Result<Vec<u8>> {
    serde_json::to_vec(model).map_err(|e| Error::Internal(format!("cannot serialize model: {e}")))
}

/// One-vs-rest targets for binary linear learners: one column (class 1 against class 0) for
/// two classes, else one per class; `yes` marks the column's class and `no` the rest (±1 for
/// margins, 1 / 0 for likelihoods).
pub(crate) fn one_vs_rest(y: &[f32], classes: usize, yes: f64, no: f64) -> Vec<Vec<f64>> {
    let columns = if classes <= 2 { 1 } else { classes };
    (0..columns)
        .map(|c| {
            let class = if columns == 1 { 1 } else { c };
            y.iter().map(|&v| if v as usize == class { yes } else { no }).collect()
        })
        .collect()
}

/// The objectives a booster library (XGBoost, LightGBM) is trained with. A regression may
/// choose one of `regression` (one value per row, on the labels' scale); a classification's
/// objective is always ours for its class count, and `classification` lists the names
/// that mean the same loss.
pub(crate) struct Objectives {
    pub(crate) library: &'static str,
    pub(crate) regression: &'static [&'static str],
    pub(crate) classification: &'static [&'static str],
    /// Ours: for a regression, two classes, more classes.
    pub(crate) ours: [&'static str; 3],
}

impl Objectives {
    /// The objective to train with; `classes` is 0 for a regression. A name the task cannot
    /// take is 0A000 listing the ones it can.
    pub(crate) fn pick(&self, task: Task, classes: usize, given: Option<&str>) -> Result<&'static str> {
        let allowed = if task == Task::Regression { self.regression } else { self.classification };
        match given.map(|o| (o, allowed.iter().copied().find(|a| *a == o))) {
            Some((o, None)) => Err(Error::unsupported(format!(
                "{} objective \"{o}\" is not supported by pgml-rs for {}",
                self.library,
                task.name()
            ))
            .with_hint(format!("for {} use: {}", task.name(), allowed.join(", ")))),
            Some((_, Some(chosen))) if task == Task::Regression => Ok(chosen),
            _ => Ok(match (task, classes) {
                (Task::Regression, _) => self.ours[0],
                (_, 0..=2) => self.ours[1],
                _ => self.ours[2],
            }),
        }
    }
}

/// A few made-up rows (values 0 to 12, labels alternating 0 and 1) on which a booster library
/// judges parameters before any data is read.
pub(crate) fn made_up_rows(rows: usize, cols: usize) -> (Matrix, Vec<f32>) {
    let x = Matrix { data: (0..rows * cols).map(|i| ((i * 7919) % 13) as f32).collect(), rows, cols };
    (x, (0..rows).map(|i| (i % 2) as f32).collect())
}

/// A booster's raw output as labels: regression values pass through, P(class 1) is cut at
/// 0.5, and `rows × k` probabilities give their argmax. `classes` is 0 for regression.
pub(crate) fn booster_labels(raw: &[f32], classes: usize) -> Vec<f32> {
    match classes {
        0 => raw.to_vec(),
        2 => raw.iter().map(|p| if *p > 0.5 { 1.0 } else { 0.0 }).collect(),
        k => argmax_rows(raw, k),
    }
}

/// A booster's raw output as labels and, for a classifier, probabilities.
pub(crate) fn booster_labels_and_proba(raw: Vec<f32>, classes: usize) -> (Vec<f32>, Option<Vec<f32>>) {
    (booster_labels(&raw, classes), booster_proba(raw, classes).ok())
}

/// A booster's raw output as `rows × k` probabilities.
pub(crate) fn booster_proba(raw: Vec<f32>, classes: usize) -> Result<Vec<f32>> {
    Ok(match classes {
        0 => return Err(Error::unsupported("a regression has no probabilities")),
        2 => raw.iter().flat_map(|p| [1.0 - p, *p]).collect(),
        _ => raw,
    })
}

/// Index of the largest value of each row of a row-major `rows × k` matrix.
pub(crate) fn argmax_rows(proba: &[f32], k: usize) -> Vec<f32> {
    proba
        .chunks(k)
        .map(|row| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = i;
                }
            }
            best as f32
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testdata;
