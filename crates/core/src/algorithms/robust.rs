//! Outlier-robust linear regressions: `huber` (scikit-learn's `HuberRegressor`: the Huber
//! loss with a jointly estimated scale, by L-BFGS), `ransac` (`RANSACRegressor` around
//! least squares: random minimal fits, the largest consensus set refitted) and `theil_sen`
//! (`TheilSenRegressor`: the spatial median of exact fits on random minimal subsets).

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TheilSenParams {
    /// scikit-learn's default is the float 1e4.
    #[serde(default = "ten_thousand", deserialize_with = "super::whole")]
    max_subpopulation: usize,
    /// Rows per exact fit; default features + 1.
    #[serde(default)]
    n_subsamples: Option<usize>,
    #[serde(default = "three_hundred")]
    max_iter: usize,
    #[serde(default = "thousandth")]
    tol: f64,
    #[serde(default)]
    random_state: Option<u64>,
}

fn ten_thousand() -> usize {
    10_000
}
fn three_hundred() -> usize {
    300
}
fn thousandth() -> f64 {
    1e-3
}

impl TheilSenParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("max_subpopulation", self.max_subpopulation, 1, 10_000_000)?;
        check_range("max_iter", self.max_iter, 1, 100_000)?;
        check_at_least("tol", self.tol, 0.0)
    }
}

/// TheilSenRegressor: least squares through `n_subsamples` random rows (an exact fit for
/// features + 1 rows), `max_subpopulation` times; the model is the spatial median of those
/// fits (intercept and weights together), by the modified Weiszfeld iteration.
pub(super) fn train_theil_sen(
    p: TheilSenParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let (n, cols) = (x.rows, x.cols);
    let k = p.n_subsamples.unwrap_or(cols + 1);
    if k < cols + 1 || k > n {
        return Err(Error::invalid(format!(
            "hyperparameter n_subsamples must be between features + 1 ({}) and the training rows ({n}), got {k}",
            cols + 1
        )));
    }
    let combinations = (0..k).fold(1.0f64, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
    let draws = (p.max_subpopulation as f64).min(combinations).max(1.0) as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(p.random_state.unwrap_or(ctx.seed));
    let mut fits: Vec<Vec<f64>> = Vec::with_capacity(draws);
    for d in 0..draws {
        if d.is_multiple_of(1000) {
            (ctx.on_step)();
        }
        let rows = sample(&mut rng, n, k).into_vec();
        let target: Vec<f64> = select(y, &rows).iter().map(|&v| v as f64).collect();
        if let Ok(mut fit) = least_squares(true, &x.select(&rows), &[target], 0.0) {
            let fit = fit.remove(0);
            fits.push(std::iter::once(fit.intercept()).chain(fit.coef().iter().copied()).collect());
        }
    }
    if fits.is_empty() {
        return Err(Error::data("theil_sen: every subset was degenerate"));
    }
    let median = spatial_median(&fits, p.max_iter, p.tol);
    Ok(Box::new(Penalized::Regression(super::linear::Ols::new(median[1..].to_vec(), median[0]))))
}

/// The point minimising the sum of Euclidean distances to `points` (scikit-learn's
/// modified Weiszfeld steps, which cope with the estimate landing on a point).
fn spatial_median(points: &[Vec<f64>], max_iter: usize, tol: f64) -> Vec<f64> {
    let dim = points[0].len();
    let mut current: Vec<f64> =
        (0..dim).map(|j| points.iter().map(|q| q[j]).sum::<f64>() / points.len() as f64).collect();
    for _ in 0..max_iter {
        let mut weighted = vec![0.0; dim];
        let mut direction = vec![0.0; dim];
        let mut inverse_sum = 0.0;
        let mut on_point = 0.0;
        for q in points {
            let norm = q.iter().zip(&current).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            if norm < f64::EPSILON {
                on_point = 1.0;
                continue;
            }
            for j in 0..dim {
                weighted[j] += q[j] / norm;
                direction[j] += (q[j] - current[j]) / norm;
            }
            inverse_sum += 1.0 / norm;
        }
        let quotient = direction.iter().map(|v| v * v).sum::<f64>().sqrt();
        let (target, quotient): (Vec<f64>, f64) = if quotient > f64::EPSILON && inverse_sum > 0.0 {
            (weighted.iter().map(|w| w / inverse_sum).collect(), quotient)
        } else {
            (vec![1.0; dim], 1.0)
        };
        let keep = (on_point / quotient).min(1.0);
        let next: Vec<f64> =
            (0..dim).map(|j| (1.0 - keep).max(0.0) * target[j] + keep * current[j]).collect();
        let moved: f64 = next.iter().zip(&current).map(|(a, b)| (a - b).powi(2)).sum();
        current = next;
        if moved < tol * tol {
            break;
        }
    }
    current
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
