//! Greedy linear paths, as scikit-learn computes them on the centred Gram matrix:
//! `least_angle` (`Lars`), `lasso_least_angle` (`LassoLars`: LARS with the lasso
//! modification, stopped at `alpha`) and `orthogonal_matching_pursuit`.

use super::design::Centred;
use super::linear::solve_spd;
use super::penalized::Penalized;
use super::{check_at_least, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::Result;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LarsParams {
    #[serde(default = "five_hundred")]
    n_nonzero_coefs: usize,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LassoLarsParams {
    #[serde(default = "one")]
    alpha: f64,
    #[serde(default = "five_hundred")]
    max_iter: usize,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OmpParams {
    /// Default: a tenth of the features (at least one), unless `tol` is given.
    #[serde(default)]
    n_nonzero_coefs: Option<usize>,
    /// Stop once the squared norm of the residual is at most this.
    #[serde(default)]
    tol: Option<f64>,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

fn five_hundred() -> usize {
    500
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl LarsParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_range("n_nonzero_coefs", self.n_nonzero_coefs, 1, 1_000_000)
    }
}

impl LassoLarsParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_at_least("alpha", self.alpha, 0.0)?;
        check_range("max_iter", self.max_iter, 1, 1_000_000)
    }
}

impl OmpParams {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(n) = self.n_nonzero_coefs {
            check_range("n_nonzero_coefs", n, 1, 1_000_000)?;
        }
        if let Some(t) = self.tol {
            check_at_least("tol", t, 0.0)?;
        }
        Ok(())
    }
}

pub(super) fn train_lars(
    p: LarsParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let d = Centred::new(x, y, p.fit_intercept);
    let coef = path(&d, Stop { max_active: p.n_nonzero_coefs, max_iter: usize::MAX, lasso_alpha: None }, ctx);
    Ok(Box::new(Penalized::Regression(d.finish(coef))))
}

pub(super) fn train_lasso_lars(
    p: LassoLarsParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let d = Centred::new(x, y, p.fit_intercept);
    let coef =
        path(&d, Stop { max_active: usize::MAX, max_iter: p.max_iter, lasso_alpha: Some(p.alpha) }, ctx);
    Ok(Box::new(Penalized::Regression(d.finish(coef))))
}

struct Stop {
    max_active: usize,
    max_iter: usize,
    /// Some: the lasso modification, stopping where the maximal correlation / n reaches it.
    lasso_alpha: Option<f64>,
}

/// Solves G[A,A] w = b for the active set.
fn solve_active(gram: &[f64], p: usize, active: &[usize], b: &[f64]) -> Vec<f64> {
    let m = active.len();
    let sub: Vec<f64> = active.iter().flat_map(|&i| active.iter().map(move |&j| gram[i * p + j])).collect();
    solve_spd(&sub, b, m, 0.0)
        .or_else(|| solve_spd(&sub, b, m, 1e-10 * (1.0 + sub[0].abs())))
        .unwrap_or(vec![0.0; m])
}

/// The LARS path on the Gram matrix, to the stop.
fn path(d: &Centred, stop: Stop, ctx: &mut TrainContext) -> Vec<f64> {
    let p = d.p;
    let n = d.n.max(1) as f64;
    let gram = d.gram();
    let mut corr = d.xt(&d.y);
    let mut coef = vec![0.0; p];
    let mut active: Vec<usize> = Vec::new();
    let mut signs: Vec<f64> = Vec::new();
    let mut dropped = false;
    let tiny = f64::EPSILON * 100.0;
    for _ in 0..stop.max_iter {
        (ctx.on_step)();
        let inactive = |j: &usize| !active.contains(j);
        let Some(best) = (0..p).filter(inactive).max_by(|&a, &b| corr[a].abs().total_cmp(&corr[b].abs()))
        else {
            break;
        };
        let c_max = if dropped {
            active.iter().map(|&j| corr[j].abs()).fold(0.0, f64::max)
        } else {
            corr[best].abs()
        };
        if let Some(alpha) = stop.lasso_alpha {
            if c_max / n <= alpha {
                break;
            }
        }
        if c_max <= tiny || active.len() >= stop.max_active.min(p) {
            break;
        }
        if !dropped {
            active.push(best);
            signs.push(corr[best].signum());
        }
        dropped = false;
        // Equiangular direction over the active set.
        let w = solve_active(&gram, p, &active, &signs);
        let norm = 1.0 / w.iter().zip(&signs).map(|(a, s)| a * s).sum::<f64>().max(tiny).sqrt();
        let w: Vec<f64> = w.iter().map(|v| v * norm).collect();
        let a: Vec<f64> =
            (0..p).map(|j| active.iter().zip(&w).map(|(&k, wk)| gram[j * p + k] * wk).sum()).collect();
        let mut gamma = c_max / norm;
        for j in (0..p).filter(|j| !active.contains(j)) {
            for step in [(c_max - corr[j]) / (norm - a[j]), (c_max + corr[j]) / (norm + a[j])] {
                if step > tiny && step < gamma {
                    gamma = step;
                }
            }
        }
        let mut drop_at = None;
        if stop.lasso_alpha.is_some() {
            for (idx, (&k, wk)) in active.iter().zip(&w).enumerate() {
                let z = -coef[k] / wk;
                if z > tiny && z < gamma {
                    gamma = z;
                    drop_at = Some(idx);
                }
            }
        }
        let previous = coef.clone();
        let c_before = c_max;
        for (&k, wk) in active.iter().zip(&w) {
            coef[k] += gamma * wk;
        }
        for j in 0..p {
            corr[j] -= gamma * a[j];
        }
        if let Some(alpha) = stop.lasso_alpha {
            let c_after = c_before - gamma * norm;
            if c_after / n < alpha {
                // Interpolate back to where the correlation / n equals alpha.
                let fraction = (c_before / n - alpha) / ((c_before - c_after) / n);
                for j in 0..p {
                    coef[j] = previous[j] + fraction * (coef[j] - previous[j]);
                }
                break;
            }
        }
        if let Some(idx) = drop_at {
            let k = active.remove(idx);
            signs.remove(idx);
            coef[k] = 0.0;
            dropped = true;
        }
    }
    coef
}

pub(super) fn train_omp(
    p: OmpParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let d = Centred::new(x, y, p.fit_intercept);
    let cols = d.p;
    let limit = match (p.n_nonzero_coefs, p.tol) {
        (Some(k), _) => k.min(cols),
        (None, Some(_)) => cols,
        (None, None) => (cols / 10).max(1),
    };
    let gram = d.gram();
    let xty = d.xt(&d.y);
    let yty: f64 = d.y.iter().map(|v| v * v).sum();
    let mut active: Vec<usize> = Vec::new();
    let mut gamma: Vec<f64> = Vec::new();
    let mut corr = xty.clone();
    while active.len() < limit {
        (ctx.on_step)();
        let Some(best) = (0..cols).max_by(|&a, &b| corr[a].abs().total_cmp(&corr[b].abs())) else {
            break;
        };
        if active.contains(&best) || corr[best].powi(2) < f64::MIN_POSITIVE {
            break;
        }
        active.push(best);
        let b: Vec<f64> = active.iter().map(|&k| xty[k]).collect();
        gamma = solve_active(&gram, cols, &active, &b);
        for j in 0..cols {
            corr[j] = xty[j] - active.iter().zip(&gamma).map(|(&k, g)| gram[j * cols + k] * g).sum::<f64>();
        }
        if let Some(tol) = p.tol {
            let explained: f64 = active.iter().zip(&gamma).map(|(&k, g)| g * xty[k]).sum();
            if yty - explained <= tol {
                break;
            }
        }
    }
    let mut coef = vec![0.0; cols];
    for (&k, g) in active.iter().zip(&gamma) {
        coef[k] = *g;
    }
    Ok(Box::new(Penalized::Regression(d.finish(coef))))
}

#[cfg(test)]
mod tests {
    use crate::algorithms::testdata::load;
    use crate::algorithms::{Algorithm, TrainContext};
    use crate::task::Task;
    use serde_json::json;

    fn predictions(algorithm: Algorithm, hyperparams: serde_json::Value) -> Vec<f32> {
        let (x, y) = load("diabetes");
        let mut ctx = TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} };
        let model = algorithm.train(Task::Regression, &hyperparams, &x, &y, 0, &mut ctx).unwrap();
        model.predict(&x).unwrap()
    }

    fn worst_gap(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn lasso_lars_reaches_the_lasso_optimum_and_full_lars_least_squares() {
        // The same convex problem solved two ways: the LARS path with the lasso modification,
        // and coordinate descent to tol 1e-8 (labels are 25..346).
        for alpha in [0.01, 0.1, 1.0] {
            let lars = predictions(Algorithm::LassoLeastAngle, json!({"alpha": alpha}));
            let cd = predictions(Algorithm::Lasso, json!({"alpha": alpha, "tol": 1e-8, "max_iter": 100000}));
            assert!(worst_gap(&lars, &cd) < 0.05, "alpha {alpha}: {}", worst_gap(&lars, &cd));
        }
        let lars = predictions(Algorithm::LeastAngle, json!({}));
        let ols = predictions(Algorithm::Linear, json!({}));
        assert!(worst_gap(&lars, &ols) < 0.01, "{}", worst_gap(&lars, &ols));
        // Two steps of the path use two features: fewer than least squares explains.
        let short = predictions(Algorithm::LeastAngle, json!({"n_nonzero_coefs": 2}));
        assert!(worst_gap(&short, &ols) > 1.0);
    }
}
