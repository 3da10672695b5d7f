//! Outlier-robust linear regressions: `huber` (scikit-learn's `HuberRegressor`: the Huber
//! loss with a jointly estimated scale, by L-BFGS) and `ransac` (`RANSACRegressor` around
//! least squares: random minimal fits, the largest consensus set refitted).

use super::lbfgs;
use super::linear::least_squares;
use super::penalized::Penalized;
use super::{check_at_least, check_range, Model, TrainContext};
use crate::data::{select, Matrix};
use crate::error::{Error, Result};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HuberParams {
    #[serde(default = "huber_epsilon")]
    epsilon: f64,
    #[serde(default = "ten_thousandth")]
    alpha: f64,
    #[serde(default = "hundred")]
    max_iter: usize,
    #[serde(default = "hundred_thousandth")]
    tol: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RansacParams {
    /// Rows per minimal fit: a count, or a fraction of the rows; default features + 1.
    #[serde(default)]
    min_samples: Option<f64>,
    /// Default: the median absolute deviation of the label.
    #[serde(default)]
    residual_threshold: Option<f64>,
    #[serde(default = "hundred")]
    max_trials: usize,
    #[serde(default = "stop_probability")]
    stop_probability: f64,
    #[serde(default)]
    random_state: Option<u64>,
}

fn huber_epsilon() -> f64 {
    1.35
}
fn ten_thousandth() -> f64 {
    1e-4
}
fn hundred() -> usize {
    100
}
fn hundred_thousandth() -> f64 {
    1e-5
}
fn yes() -> bool {
    true
}
fn stop_probability() -> f64 {
    0.99
}

impl HuberParams {
    pub(super) fn validate(&self) -> Result<()> {
        if self.epsilon.is_nan() || self.epsilon < 1.0 {
            return Err(Error::invalid(format!(
                "hyperparameter epsilon must be at least 1, got {}",
                self.epsilon
            )));
        }
        check_at_least("alpha", self.alpha, 0.0)?;
        check_range("max_iter", self.max_iter, 1, 100_000)?;
        check_at_least("tol", self.tol, 0.0)
    }
}

impl RansacParams {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(m) = self.min_samples {
            check_at_least("min_samples", m, 0.0)?;
        }
        if let Some(t) = self.residual_threshold {
            check_at_least("residual_threshold", t, 0.0)?;
        }
        check_range("max_trials", self.max_trials, 1, 1_000_000)?;
        check_range("stop_probability", self.stop_probability, 0.0, 1.0)
    }
}

/// HuberRegressor: minimises n·σ + Σ H_ε(r/σ)·σ + α‖w‖² over the weights, intercept and
/// scale σ (optimised as log σ, so it stays positive).
pub(super) fn train_huber(
    p: HuberParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let (n, cols) = (x.rows, x.cols);
    let eps = p.epsilon;
    let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let (w, rest) = theta.split_at(cols);
        let c = if p.fit_intercept { rest[0] } else { 0.0 };
        let sigma = rest[1].exp();
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = n as f64 * sigma;
        let mut d_sigma = n as f64;
        for (i, yi) in y.iter().enumerate() {
            let row = x.row(i);
            let r = *yi as f64 - c - row.iter().zip(w).map(|(a, b)| *a as f64 * b).sum::<f64>();
            // d loss / d prediction
            let d_pred = if r.abs() <= eps * sigma {
                loss += r * r / sigma;
                d_sigma -= r * r / (sigma * sigma);
                -2.0 * r / sigma
            } else {
                loss += 2.0 * eps * r.abs() - sigma * eps * eps;
                d_sigma -= eps * eps;
                -2.0 * eps * r.signum()
            };
            for (g, a) in grad[..cols].iter_mut().zip(row) {
                *g += d_pred * *a as f64;
            }
            if p.fit_intercept {
                grad[cols] += d_pred;
            }
        }
        for (g, wj) in grad[..cols].iter_mut().zip(w) {
            loss += p.alpha * wj * wj;
            *g += 2.0 * p.alpha * wj;
        }
        grad[cols + 1] = d_sigma * sigma;
        loss
    };
    let theta = lbfgs::minimize(objective, vec![0.0; cols + 2], p.max_iter, p.tol, ctx.on_step);
    let intercept = if p.fit_intercept { theta[cols] } else { 0.0 };
    Ok(Box::new(Penalized::Regression(super::linear::Ols::new(theta[..cols].to_vec(), intercept))))
}

/// RANSACRegressor: least squares on random minimal subsets; the fit with the most inliers
/// (ties: the better R² on its inliers) is refitted on them. The number of trials shrinks
/// as the inlier ratio grows, as scikit-learn's `stop_probability` rule does.
pub(super) fn train_ransac(
    p: RansacParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let n = x.rows;
    let min_samples = match p.min_samples {
        None => x.cols + 1,
        Some(m) if m < 1.0 => (m * n as f64).ceil() as usize,
        Some(m) => m as usize,
    };
    if min_samples > n || min_samples == 0 {
        return Err(Error::invalid(format!(
            "hyperparameter min_samples ({min_samples}) must be between 1 and the number of training rows ({n})"
        )));
    }
    let threshold = p.residual_threshold.unwrap_or_else(|| {
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let m = v.len() / 2;
            if v.len() % 2 == 1 {
                v[m]
            } else {
                (v[m - 1] + v[m]) / 2.0
            }
        };
        let mut values: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let center = median(&mut values);
        let mut deviations: Vec<f64> = y.iter().map(|&v| (v as f64 - center).abs()).collect();
        median(&mut deviations)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(p.random_state.unwrap_or(ctx.seed));
    let fit = |rows: &[usize]| -> Result<super::linear::Ols> {
        let target: Vec<f64> = select(y, rows).iter().map(|&v| v as f64).collect();
        Ok(least_squares(true, &x.select(rows), &[target], 0.0)?.remove(0))
    };
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut trials_needed = p.max_trials;
    let mut trial = 0;
    while trial < trials_needed.min(p.max_trials) {
        trial += 1;
        (ctx.on_step)();
        let subset = sample(&mut rng, n, min_samples).into_vec();
        let Ok(model) = fit(&subset) else { continue };
        let inliers: Vec<usize> = (0..n)
            .filter(|&i| (y[i] as f64 - model.predict_row(x.row(i)) as f64).abs() <= threshold)
            .collect();
        let best_count = best.as_ref().map_or(0, |(b, _)| b.len());
        if inliers.len() < best_count || inliers.is_empty() {
            continue;
        }
        let score = r2(&inliers, y, |i| model.predict_row(x.row(i)) as f64);
        if inliers.len() == best_count && best.as_ref().is_some_and(|(_, s)| score < *s) {
            continue;
        }
        trials_needed = dynamic_trials(inliers.len(), n, min_samples, p.stop_probability);
        best = Some((inliers, score));
    }
    let Some((inliers, _)) = best else {
        return Err(Error::data(format!(
            "RANSAC found no consensus set in {trial} trials with residual_threshold {threshold}"
        ))
        .with_hint("raise residual_threshold or max_trials"));
    };
    Ok(Box::new(Penalized::Regression(fit(&inliers)?)))
}

fn r2(rows: &[usize], y: &[f32], predict: impl Fn(usize) -> f64) -> f64 {
    let mean = rows.iter().map(|&i| y[i] as f64).sum::<f64>() / rows.len() as f64;
    let total: f64 = rows.iter().map(|&i| (y[i] as f64 - mean).powi(2)).sum();
    let residual: f64 = rows.iter().map(|&i| (y[i] as f64 - predict(i)).powi(2)).sum();
    if total == 0.0 {
        return if residual == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - residual / total
}

/// Trials after which a subset of inliers only has been drawn with `probability`.
fn dynamic_trials(inliers: usize, n: usize, min_samples: usize, probability: f64) -> usize {
    let ratio = inliers as f64 / n as f64;
    let nom = (1.0 - probability).max(f64::EPSILON);
    let denom = (1.0 - ratio.powi(min_samples as i32)).max(f64::EPSILON);
    if nom == 1.0 {
        return 0;
    }
    if denom == 1.0 {
        return usize::MAX;
    }
    (nom.ln() / denom.ln()).ceil().max(0.0) as usize
}
