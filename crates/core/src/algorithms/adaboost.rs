//! `ada_boost`: scikit-learn's `AdaBoostClassifier` (SAMME over weighted decision stumps)
//! and `AdaBoostRegressor` (AdaBoost.R2, linear loss, depth-3 trees on weighted bootstrap
//! samples, the weighted median of their predictions). 50 estimators, learning rate 1.

use super::forest::RegressionTree;
use super::{check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use rand::distributions::{Distribution, WeightedIndex};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "fifty")]
    pub(super) n_estimators: usize,
    #[serde(default = "one")]
    learning_rate: f64,
    /// Regression only: linear, square or exponential.
    #[serde(default)]
    loss: Option<String>,
    #[serde(default)]
    random_state: Option<u64>,
}

fn fifty() -> usize {
    50
}
fn one() -> f64 {
    1.0
}

impl Params {
    pub(super) fn validate(&self, task: Task) -> Result<()> {
        check_range("n_estimators", self.n_estimators, 1, 10_000)?;
        check_positive("learning_rate", self.learning_rate)?;
        match (self.loss.as_deref(), task) {
            (None, _) | (Some("linear" | "square" | "exponential"), Task::Regression) => Ok(()),
            (Some(l), Task::Regression) => Err(Error::invalid(format!("unsupported loss \"{l}\""))
                .with_hint("use linear, square or exponential")),
            (Some(_), _) => Err(Error::invalid("hyperparameter loss belongs to ada_boost regression")),
        }
    }
}

/// A depth-1 tree: the feature, the midpoint threshold, and the class on each side.
#[derive(Serialize, Deserialize)]
pub(super) struct Stump {
    feature: usize,
    threshold: f32,
    left: usize,
    right: usize,
}

impl Stump {
    fn class(&self, row: &[f32]) -> usize {
        if row[self.feature] <= self.threshold {
            self.left
        } else {
            self.right
        }
    }

    /// The stump with the largest weighted Gini decrease.
    fn fit(x: &Matrix, y: &[f32], w: &[f64], classes: usize) -> Stump {
        let gini = |counts: &[f64], total: f64| {
            if total <= 0.0 {
                return 0.0;
            }
            total - counts.iter().map(|c| c * c).sum::<f64>() / total
        };
        let majority =
            |counts: &[f64]| (0..classes).fold(0, |b, k| if counts[k] > counts[b] { k } else { b });
        let mut all = vec![0.0; classes];
        for (i, wi) in w.iter().enumerate() {
            all[y[i] as usize] += wi;
        }
        let total: f64 = all.iter().sum();
        let fallback = majority(&all);
        let mut best =
            (f64::INFINITY, Stump { feature: 0, threshold: f32::INFINITY, left: fallback, right: fallback });
        let mut order: Vec<usize> = (0..x.rows).collect();
        for f in 0..x.cols {
            order.sort_by(|&a, &b| x.row(a)[f].total_cmp(&x.row(b)[f]));
            let mut left = vec![0.0; classes];
            let mut left_total = 0.0;
            for k in 0..order.len().saturating_sub(1) {
                let r = order[k];
                left[y[r] as usize] += w[r];
                left_total += w[r];
                let (v, next) = (x.row(r)[f], x.row(order[k + 1])[f]);
                if v == next {
                    continue;
                }
                let right: Vec<f64> = all.iter().zip(&left).map(|(a, l)| a - l).collect();
                let impurity = gini(&left, left_total) + gini(&right, total - left_total);
                if impurity < best.0 - 1e-12 {
                    let threshold = v + (next - v) / 2.0;
                    best = (
                        impurity,
                        Stump { feature: f, threshold, left: majority(&left), right: majority(&right) },
                    );
                }
            }
        }
        best.1
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum AdaBoost {
    Classifier { classes: usize, stumps: Vec<(Stump, f64)> },
    Regressor { trees: Vec<(RegressionTree, f64)> },
}

pub(super) fn train(
    task: Task,
    p: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let seed = p.random_state.unwrap_or(ctx.seed);
    if task == Task::Regression {
        return Ok(Box::new(regressor(&p, x, y, seed, ctx)?));
    }
    let k = classes.max(2);
    let n = x.rows;
    let mut w = vec![1.0 / n as f64; n];
    let mut stumps = Vec::new();
    for m in 0..p.n_estimators {
        (ctx.on_step)();
        let stump = Stump::fit(x, y, &w, k);
        let wrong: Vec<bool> = (0..n).map(|i| stump.class(x.row(i)) != y[i] as usize).collect();
        let total: f64 = w.iter().sum();
        let error = w.iter().zip(&wrong).filter(|(_, e)| **e).map(|(wi, _)| wi).sum::<f64>() / total;
        if error <= 0.0 {
            stumps.push((stump, 1.0));
            break;
        }
        if error >= 1.0 - 1.0 / k as f64 {
            if stumps.is_empty() {
                return Err(Error::data("ada_boost's first stump is no better than chance on this data"));
            }
            break;
        }
        let alpha = p.learning_rate * (((1.0 - error) / error).ln() + (k as f64 - 1.0).ln());
        stumps.push((stump, alpha));
        if m + 1 < p.n_estimators {
            for (wi, e) in w.iter_mut().zip(&wrong) {
                if *e {
                    *wi *= alpha.exp();
                }
            }
            let sum: f64 = w.iter().sum();
            w.iter_mut().for_each(|wi| *wi /= sum);
        }
    }
    Ok(Box::new(AdaBoost::Classifier { classes: k, stumps }))
}

fn regressor(p: &Params, x: &Matrix, y: &[f32], seed: u64, ctx: &mut TrainContext) -> Result<AdaBoost> {
    let n = x.rows;
    let mut w = vec![1.0 / n as f64; n];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut trees = Vec::new();
    for m in 0..p.n_estimators {
        (ctx.on_step)();
        let pick = WeightedIndex::new(&w).map_err(|e| Error::Internal(format!("ada_boost weights: {e}")))?;
        let rows: Vec<usize> = (0..n).map(|_| pick.sample(&mut rng)).collect();
        let tree = RegressionTree::fit(x, y, rows, 3, &mut rng);
        let mut error: Vec<f64> = (0..n).map(|i| (tree.value(x.row(i)) as f64 - y[i] as f64).abs()).collect();
        let max = error.iter().cloned().fold(0.0, f64::max);
        if max > 0.0 {
            error.iter_mut().for_each(|e| *e /= max);
        }
        match p.loss.as_deref() {
            Some("square") => error.iter_mut().for_each(|e| *e *= *e),
            Some("exponential") => error.iter_mut().for_each(|e| *e = 1.0 - (-*e).exp()),
            _ => {}
        }
        let estimator_error: f64 = w.iter().zip(&error).map(|(wi, e)| wi * e).sum();
        if estimator_error <= 0.0 {
            trees.push((tree, 1.0));
            break;
        }
        if estimator_error >= 0.5 {
            if trees.is_empty() {
                trees.push((tree, 1.0));
            }
            break;
        }
        let beta = estimator_error / (1.0 - estimator_error);
        trees.push((tree, p.learning_rate * (1.0 / beta).ln()));
        if m + 1 < p.n_estimators {
            for (wi, e) in w.iter_mut().zip(&error) {
                *wi *= beta.powf((1.0 - e) * p.learning_rate);
            }
            let sum: f64 = w.iter().sum();
            w.iter_mut().for_each(|wi| *wi /= sum);
        }
    }
    Ok(AdaBoost::Regressor { trees })
}

impl Model for AdaBoost {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(match self {
            AdaBoost::Classifier { classes, stumps } => {
                let mut score = vec![0.0; *classes];
                for (s, alpha) in stumps {
                    score[s.class(row)] += alpha;
                }
                (0..*classes).fold(0, |b, k| if score[k] > score[b] { k } else { b }) as f32
            }
            AdaBoost::Regressor { trees } => {
                // The weighted median of the trees' predictions.
                let mut votes: Vec<(f32, f64)> = trees.iter().map(|(t, w)| (t.value(row), *w)).collect();
                votes.sort_by(|a, b| a.0.total_cmp(&b.0));
                let half = votes.iter().map(|v| v.1).sum::<f64>() / 2.0;
                let mut acc = 0.0;
                votes
                    .iter()
                    .find(|v| {
                        acc += v.1;
                        acc >= half
                    })
                    .or(votes.last())
                    .map_or(0.0, |v| v.0)
            }
        })
    }

    fn predict_proba(&self, _: &Matrix) -> Result<Vec<f32>> {
        Err(Error::unsupported("ada_boost has weighted votes, not probabilities")
            .with_hint("use pgml.predict, or xgboost or random_forest for probabilities"))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        super::to_json(self)
    }
}
