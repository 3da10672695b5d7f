//! `linear_svm`: scikit-learn's `LinearSVC` (squared hinge, L2, one-vs-rest; liblinear's
//! primal problem, here by L-BFGS) and `LinearSVR` (epsilon-insensitive loss; liblinear's
//! dual coordinate descent). As in liblinear, the intercept is a feature of value
//! `intercept_scaling` and is penalised with the weights.

use super::lbfgs;
use super::linear::Ols;
use super::penalized::Penalized;
use super::{check_at_least, check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::Result;
use crate::task::Task;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(rename = "C", default = "one")]
    c: f64,
    /// LinearSVR's insensitive band.
    #[serde(default)]
    epsilon: f64,
    #[serde(default = "ten_thousandth")]
    tol: f64,
    #[serde(default = "thousand")]
    max_iter: usize,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default = "one")]
    intercept_scaling: f64,
    #[serde(default)]
    random_state: Option<u64>,
}

fn one() -> f64 {
    1.0
}
fn ten_thousandth() -> f64 {
    1e-4
}
fn thousand() -> usize {
    1000
}
fn yes() -> bool {
    true
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_positive("C", self.c)?;
        check_at_least("epsilon", self.epsilon, 0.0)?;
        check_positive("tol", self.tol)?;
        check_range("max_iter", self.max_iter, 1, 1_000_000)?;
        check_positive("intercept_scaling", self.intercept_scaling)
    }

    fn bias(&self) -> f64 {
        if self.fit_intercept {
            self.intercept_scaling
        } else {
            0.0
        }
    }
}

pub(super) fn train(
    task: Task,
    p: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    if task == Task::Regression {
        return Ok(Box::new(Penalized::Regression(svr(&p, x, y, ctx))));
    }
    let models =
        super::one_vs_rest(y, classes, 1.0, -1.0).iter().map(|target| svc(&p, x, target, ctx)).collect();
    Ok(Box::new(Penalized::Classifier(models)))
}

/// Minimises ½‖w‖² + C Σ max(0, 1 − yᵢ(w·xᵢ + b·s))² over (w, b), `s` the intercept scaling.
fn svc(p: &Params, x: &Matrix, y: &[f64], ctx: &mut TrainContext) -> Ols {
    let cols = x.cols;
    let bias = p.bias();
    let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let mut loss = 0.5 * theta.iter().map(|v| v * v).sum::<f64>();
        grad.copy_from_slice(theta);
        for (i, yi) in y.iter().enumerate() {
            let row = x.row(i);
            let score = row.iter().zip(theta).map(|(a, w)| *a as f64 * w).sum::<f64>() + theta[cols] * bias;
            let margin = 1.0 - yi * score;
            if margin > 0.0 {
                loss += p.c * margin * margin;
                let d = -2.0 * p.c * margin * yi;
                for (g, a) in grad[..cols].iter_mut().zip(row) {
                    *g += d * *a as f64;
                }
                grad[cols] += d * bias;
            }
        }
        loss
    };
    let theta = lbfgs::minimize(objective, vec![0.0; cols + 1], p.max_iter, p.tol, ctx.on_step);
    Ols::new(theta[..cols].to_vec(), theta[cols] * bias)
}

/// liblinear's dual coordinate descent for the L1-loss (epsilon-insensitive) SVR.
fn svr(p: &Params, x: &Matrix, y: &[f32], ctx: &mut TrainContext) -> Ols {
    let (n, cols) = (x.rows, x.cols);
    let bias = p.bias();
    let mut w = vec![0.0f64; cols + 1];
    let mut beta = vec![0.0f64; n];
    let diag: Vec<f64> =
        (0..n).map(|i| x.row(i).iter().map(|v| (*v as f64).powi(2)).sum::<f64>() + bias * bias).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(p.random_state.unwrap_or(ctx.seed));
    let mut first_violation = None;
    for _ in 0..p.max_iter {
        (ctx.on_step)();
        order.shuffle(&mut rng);
        let mut violation = 0.0;
        for &i in &order {
            let row = x.row(i);
            let h = diag[i];
            if h == 0.0 {
                continue;
            }
            let score = row.iter().zip(&w).map(|(a, b)| *a as f64 * b).sum::<f64>() + w[cols] * bias;
            let g = score - y[i] as f64;
            let (gp, gn) = (g + p.epsilon, g - p.epsilon);
            violation += match beta[i] {
                0.0 => (-gp).max(0.0).max(gn),
                b if b >= p.c => gp.max(0.0),
                b if b <= -p.c => (-gn).max(0.0),
                b if b > 0.0 => gp.abs(),
                _ => gn.abs(),
            };
            let step = if gp < h * beta[i] {
                -gp / h
            } else if gn > h * beta[i] {
                -gn / h
            } else {
                -beta[i]
            };
            let new = (beta[i] + step).clamp(-p.c, p.c);
            let d = new - beta[i];
            if d.abs() > 1e-12 {
                beta[i] = new;
                for (wj, a) in w.iter_mut().zip(row) {
                    *wj += d * *a as f64;
                }
                w[cols] += d * bias;
            }
        }
        let first = *first_violation.get_or_insert(violation);
        if violation <= p.tol * first {
            break;
        }
    }
    Ols::new(w[..cols].to_vec(), w[cols] * bias)
}
