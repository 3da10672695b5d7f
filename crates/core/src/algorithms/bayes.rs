//! `bayesian_ridge` and `automatic_relevance_determination`: scikit-learn's `BayesianRidge`
//! and `ARDRegression`, the same evidence-maximisation updates and defaults. Both store a
//! plain linear function (the posterior mean).

use super::design::Centred;
use super::linear::solve_spd;
use super::pca::jacobi;
use super::penalized::Penalized;
use super::{check_at_least, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use serde::Deserialize;

/// The Gamma priors both estimators put on the noise (`alpha`) and weight (`lambda`)
/// precisions, and their stopping rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "three_hundred", alias = "n_iter")]
    max_iter: usize,
    #[serde(default = "thousandth")]
    tol: f64,
    #[serde(default = "micro")]
    alpha_1: f64,
    #[serde(default = "micro")]
    alpha_2: f64,
    #[serde(default = "micro")]
    lambda_1: f64,
    #[serde(default = "micro")]
    lambda_2: f64,
    /// ARD only: weights whose precision exceeds this are pruned to 0.
    #[serde(default)]
    threshold_lambda: Option<f64>,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

fn three_hundred() -> usize {
    300
}
fn thousandth() -> f64 {
    1e-3
}
fn micro() -> f64 {
    1e-6
}
fn yes() -> bool {
    true
}

impl Params {
    pub(super) fn validate(&self, ard: bool) -> Result<()> {
        check_range("max_iter", self.max_iter, 1, 100_000)?;
        check_at_least("tol", self.tol, 0.0)?;
        for (name, v) in [
            ("alpha_1", self.alpha_1),
            ("alpha_2", self.alpha_2),
            ("lambda_1", self.lambda_1),
            ("lambda_2", self.lambda_2),
        ] {
            check_at_least(name, v, 0.0)?;
        }
        match (ard, self.threshold_lambda) {
            (false, Some(_)) => Err(Error::invalid(
                "hyperparameter threshold_lambda belongs to automatic_relevance_determination, not bayesian_ridge",
            )),
            (true, Some(t)) => check_at_least("threshold_lambda", t, 0.0),
            _ => Ok(()),
        }
    }
}

fn initial_alpha(d: &Centred) -> f64 {
    let var = d.y.iter().map(|v| v * v).sum::<f64>() / d.n.max(1) as f64;
    1.0 / (var + f64::EPSILON)
}

/// BayesianRidge: one shared weight precision, updated from the eigenvalues of XᵀX.
pub(super) fn train_ridge(
    p: Params,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let d = Centred::new(x, y, p.fit_intercept);
    let (values, vectors) = jacobi(d.gram(), d.p);
    let xty = d.xt(&d.y);
    // Vᵀ Xᵀy: the right-hand side in the eigenbasis.
    let projected: Vec<f64> =
        (0..d.p).map(|c| (0..d.p).map(|r| vectors[r * d.p + c] * xty[r]).sum()).collect();
    let coef_for = |alpha: f64, lambda: f64| -> Vec<f64> {
        (0..d.p)
            .map(|r| {
                (0..d.p).map(|c| vectors[r * d.p + c] * projected[c] / (values[c] + lambda / alpha)).sum()
            })
            .collect()
    };
    let (mut alpha, mut lambda) = (initial_alpha(&d), 1.0);
    let mut previous: Option<Vec<f64>> = None;
    for _ in 0..p.max_iter {
        (ctx.on_step)();
        let coef = coef_for(alpha, lambda);
        let rss: f64 = d.residual(&coef).iter().map(|r| r * r).sum();
        let gamma: f64 = values.iter().map(|e| alpha * e.max(0.0) / (lambda + alpha * e.max(0.0))).sum();
        lambda = (gamma + 2.0 * p.lambda_1) / (coef.iter().map(|c| c * c).sum::<f64>() + 2.0 * p.lambda_2);
        alpha = (d.n as f64 - gamma + 2.0 * p.alpha_1) / (rss + 2.0 * p.alpha_2);
        let converged = previous
            .as_ref()
            .is_some_and(|old| old.iter().zip(&coef).map(|(a, b)| (a - b).abs()).sum::<f64>() < p.tol);
        previous = Some(coef);
        if converged {
            break;
        }
    }
    Ok(Box::new(Penalized::Regression(d.finish(coef_for(alpha, lambda)))))
}

/// ARDRegression: one precision per weight; weights whose precision passes
/// `threshold_lambda` (default 10,000) are pruned.
pub(super) fn train_ard(p: Params, x: &Matrix, y: &[f32], ctx: &mut TrainContext) -> Result<Box<dyn Model>> {
    let d = Centred::new(x, y, p.fit_intercept);
    let threshold = p.threshold_lambda.unwrap_or(1e4);
    let gram = d.gram();
    let xty = d.xt(&d.y);
    let mut alpha = initial_alpha(&d);
    let mut lambda = vec![1.0; d.p];
    let mut keep = vec![true; d.p];
    let mut coef = vec![0.0; d.p];
    let mut previous: Option<Vec<f64>> = None;
    for _ in 0..p.max_iter {
        (ctx.on_step)();
        let (kept, sigma) = posterior(&gram, &lambda, &keep, alpha, d.p);
        update_coef(&mut coef, &kept, &sigma, &xty, alpha);
        let rss: f64 = d.residual(&coef).iter().map(|r| r * r).sum();
        let m = kept.len();
        let mut gamma_sum = 0.0;
        for (a, &j) in kept.iter().enumerate() {
            let gamma = 1.0 - lambda[j] * sigma[a * m + a];
            gamma_sum += gamma;
            lambda[j] = (gamma + 2.0 * p.lambda_1) / (coef[j] * coef[j] + 2.0 * p.lambda_2);
        }
        alpha = (d.n as f64 - gamma_sum + 2.0 * p.alpha_1) / (rss + 2.0 * p.alpha_2);
        for j in 0..d.p {
            keep[j] = lambda[j] < threshold;
            if !keep[j] {
                coef[j] = 0.0;
            }
        }
        let converged = previous
            .as_ref()
            .is_some_and(|old| old.iter().zip(&coef).map(|(a, b)| (a - b).abs()).sum::<f64>() < p.tol);
        previous = Some(coef.clone());
        if converged || !keep.iter().any(|k| *k) {
            break;
        }
    }
    if keep.iter().any(|k| *k) {
        let (kept, sigma) = posterior(&gram, &lambda, &keep, alpha, d.p);
        update_coef(&mut coef, &kept, &sigma, &xty, alpha);
    }
    Ok(Box::new(Penalized::Regression(d.finish(coef))))
}

/// The kept features and the posterior covariance over them: (diag(λ) + α XᵀX)⁻¹.
fn posterior(gram: &[f64], lambda: &[f64], keep: &[bool], alpha: f64, p: usize) -> (Vec<usize>, Vec<f64>) {
    let kept: Vec<usize> = (0..p).filter(|&j| keep[j]).collect();
    let m = kept.len();
    let mut a = vec![0.0; m * m];
    for (r, &i) in kept.iter().enumerate() {
        for (c, &j) in kept.iter().enumerate() {
            a[r * m + c] = alpha * gram[i * p + j] + if i == j { lambda[i] } else { 0.0 };
        }
    }
    let mut sigma = vec![0.0; m * m];
    for c in 0..m {
        let unit: Vec<f64> = (0..m).map(|r| f64::from(u8::from(r == c))).collect();
        let column = solve_spd(&a, &unit, m, 0.0).or_else(|| solve_spd(&a, &unit, m, 1e-10)).unwrap_or(unit);
        for r in 0..m {
            sigma[r * m + c] = column[r];
        }
    }
    (kept, sigma)
}

/// Posterior mean over the kept features: α Σ Xᵀy.
fn update_coef(coef: &mut [f64], kept: &[usize], sigma: &[f64], xty: &[f64], alpha: f64) {
    let m = kept.len();
    coef.iter_mut().for_each(|c| *c = 0.0);
    for (r, &i) in kept.iter().enumerate() {
        coef[i] = alpha * kept.iter().enumerate().map(|(c, &j)| sigma[r * m + c] * xty[j]).sum::<f64>();
    }
}
