//! `svm`: scikit-learn's `SVC` (C-SVC, one-vs-one) and `SVR` (epsilon-SVR) with libsvm's
//! algorithm: SMO with second-order working-set selection on a cached kernel, the bias from
//! the free support vectors. Defaults: rbf kernel, gamma "scale", C 1, epsilon 0.1, tol 1e-3.

use super::kernel::{check_gamma, check_rows, resolve_gamma, Expansion, Kernel};
use super::{check_at_least, check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(rename = "C", default = "one")]
    c: f64,
    #[serde(default = "rbf")]
    kernel: String,
    #[serde(default)]
    gamma: Option<serde_json::Value>,
    #[serde(default = "three")]
    degree: i32,
    #[serde(default)]
    coef0: f64,
    #[serde(default = "tenth")]
    epsilon: f64,
    #[serde(default = "thousandth")]
    tol: f64,
    /// -1: no limit, as scikit-learn.
    #[serde(default = "no_limit")]
    max_iter: i64,
}

fn one() -> f64 {
    1.0
}
fn rbf() -> String {
    "rbf".into()
}
fn three() -> i32 {
    3
}
fn tenth() -> f64 {
    0.1
}
fn thousandth() -> f64 {
    1e-3
}
fn no_limit() -> i64 {
    -1
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_positive("C", self.c)?;
        check_at_least("epsilon", self.epsilon, 0.0)?;
        check_positive("tol", self.tol)?;
        check_range("degree", self.degree, 1, 20)?;
        if self.max_iter == 0 || self.max_iter < -1 {
            return Err(Error::invalid(format!(
                "hyperparameter max_iter must be -1 (no limit) or positive, got {}",
                self.max_iter
            )));
        }
        check_gamma(&self.gamma)?;
        Kernel::parse(&self.kernel, 1.0, self.degree, self.coef0).map(|_| ())
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum Svm {
    /// One machine per pair of classes (a < b), +1 meaning a.
    Classifier {
        classes: usize,
        pairs: Vec<Expansion>,
    },
    Regressor(Expansion),
}

pub(super) fn train(
    task: Task,
    p: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    check_rows("svm", x.rows)?;
    let gamma = resolve_gamma(&p.gamma, "scale", x)?;
    let kernel = Kernel::parse(&p.kernel, gamma, p.degree, p.coef0)?;
    let max_iter = if p.max_iter < 0 { usize::MAX } else { p.max_iter as usize };
    if task == Task::Regression {
        // libsvm's epsilon-SVR: 2n variables, αᵢ⁺ with y = +1 and αᵢ⁻ with y = −1.
        let n = x.rows;
        let signs: Vec<f64> = (0..2 * n).map(|i| if i < n { 1.0 } else { -1.0 }).collect();
        let linear: Vec<f64> = (0..2 * n)
            .map(|i| if i < n { p.epsilon - y[i] as f64 } else { p.epsilon + y[i - n] as f64 })
            .collect();
        let rows: Vec<usize> = (0..n).chain(0..n).collect();
        let (alpha, rho) = smo(x, &rows, &signs, &linear, p.c, kernel, p.tol, max_iter, ctx);
        let coef: Vec<f64> = (0..n).map(|i| alpha[i] - alpha[i + n]).collect();
        return Ok(Box::new(Svm::Regressor(expansion(x, &(0..n).collect::<Vec<_>>(), &coef, rho, kernel))));
    }
    let classes = classes.max(2);
    let mut pairs = Vec::new();
    for a in 0..classes {
        for b in a + 1..classes {
            let rows: Vec<usize> =
                (0..x.rows).filter(|&i| y[i] as usize == a || y[i] as usize == b).collect();
            let signs: Vec<f64> = rows.iter().map(|&i| if y[i] as usize == a { 1.0 } else { -1.0 }).collect();
            let linear = vec![-1.0; rows.len()];
            let (alpha, rho) = smo(x, &rows, &signs, &linear, p.c, kernel, p.tol, max_iter, ctx);
            let coef: Vec<f64> = alpha.iter().zip(&signs).map(|(a, s)| a * s).collect();
            pairs.push(expansion(x, &rows, &coef, rho, kernel));
        }
    }
    Ok(Box::new(Svm::Classifier { classes, pairs }))
}

/// Keeps the support vectors (non-zero coefficients) of a solution.
fn expansion(x: &Matrix, rows: &[usize], coef: &[f64], rho: f64, kernel: Kernel) -> Expansion {
    let mut kept_rows = Vec::new();
    let mut kept_coef = Vec::new();
    for (&r, &c) in rows.iter().zip(coef) {
        if c != 0.0 {
            kept_rows.extend_from_slice(x.row(r));
            kept_coef.push(c);
        }
    }
    Expansion { kernel, cols: x.cols, rows: kept_rows, coef: kept_coef, bias: -rho }
}

/// libsvm's solver: minimises ½ αᵀQα + pᵀα subject to 0 ≤ α ≤ C and Σ yᵢαᵢ = 0, with
/// Qᵢⱼ = yᵢ yⱼ k(xᵢ, xⱼ). Variable `t` stands for row `rows[t]`. Returns α and ρ.
#[allow(clippy::too_many_arguments)]
fn smo(
    x: &Matrix,
    rows: &[usize],
    y: &[f64],
    p: &[f64],
    c: f64,
    kernel: Kernel,
    eps: f64,
    max_iter: usize,
    ctx: &mut TrainContext,
) -> (Vec<f64>, f64) {
    let l = rows.len();
    let mut cache = KernelCache::new(x, rows, kernel);
    let diag: Vec<f64> = (0..l).map(|t| kernel.eval(x.row(rows[t]), x.row(rows[t]))).collect();
    let mut alpha = vec![0.0; l];
    let mut grad = p.to_vec();
    let up = |t: usize, a: &[f64]| if y[t] > 0.0 { a[t] < c } else { a[t] > 0.0 };
    let low = |t: usize, a: &[f64]| if y[t] > 0.0 { a[t] > 0.0 } else { a[t] < c };
    let mut iter = 0usize;
    while iter < max_iter {
        if iter.is_multiple_of(1000) {
            (ctx.on_step)();
        }
        iter += 1;
        // i: the most violating index from above.
        let mut gmax = f64::NEG_INFINITY;
        let mut i = usize::MAX;
        for t in 0..l {
            if up(t, &alpha) && -y[t] * grad[t] >= gmax {
                gmax = -y[t] * grad[t];
                i = t;
            }
        }
        if i == usize::MAX {
            break;
        }
        let ki = cache.row(i).to_vec();
        // j: the second-order choice from below.
        let mut gmin = f64::INFINITY;
        let mut best = f64::INFINITY;
        let mut j = usize::MAX;
        for t in 0..l {
            if !low(t, &alpha) {
                continue;
            }
            let g = -y[t] * grad[t];
            gmin = gmin.min(g);
            let b = gmax - g;
            if b > 0.0 {
                let a = (diag[i] + diag[t] - 2.0 * ki[t]).max(1e-12);
                let value = -b * b / a;
                if value <= best {
                    best = value;
                    j = t;
                }
            }
        }
        if gmax - gmin < eps || j == usize::MAX {
            break;
        }
        let kj = cache.row(j).to_vec();
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let quad = (diag[i] + diag[j] - 2.0 * ki[j]).max(1e-12);
        if y[i] != y[j] {
            let delta = (-grad[i] - grad[j]) / quad;
            let diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if diff > 0.0 && alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = diff;
            } else if diff <= 0.0 && alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = -diff;
            }
            if diff > 0.0 && alpha[i] > c {
                alpha[i] = c;
                alpha[j] = c - diff;
            } else if diff <= 0.0 && alpha[j] > c {
                alpha[j] = c;
                alpha[i] = c + diff;
            }
        } else {
            let delta = (grad[i] - grad[j]) / quad;
            let sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if sum > c && alpha[i] > c {
                alpha[i] = c;
                alpha[j] = sum - c;
            } else if sum <= c && alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = sum;
            }
            if sum > c && alpha[j] > c {
                alpha[j] = c;
                alpha[i] = sum - c;
            } else if sum <= c && alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = sum;
            }
        }
        let (di, dj) = (alpha[i] - old_i, alpha[j] - old_j);
        for t in 0..l {
            grad[t] += y[t] * (y[i] * ki[t] * di + y[j] * kj[t] * dj);
        }
    }
    // ρ: the mean of yᵢ∇ᵢ over free variables, else the middle of the feasible interval.
    let (mut ub, mut lb, mut sum, mut free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for t in 0..l {
        let yg = y[t] * grad[t];
        if alpha[t] >= c {
            if y[t] < 0.0 {
                ub = ub.min(yg)
            } else {
                lb = lb.max(yg)
            }
        } else if alpha[t] <= 0.0 {
            if y[t] > 0.0 {
                ub = ub.min(yg)
            } else {
                lb = lb.max(yg)
            }
        } else {
            free += 1;
            sum += yg;
        }
    }
    let rho = if free > 0 { sum / free as f64 } else { (ub + lb) / 2.0 };
    (alpha, rho)
}

/// Kernel rows by variable, computed on demand and kept while they fit in about 256 MB.
struct KernelCache<'a> {
    x: &'a Matrix,
    rows: &'a [usize],
    kernel: Kernel,
    cached: Vec<Option<Vec<f64>>>,
    held: usize,
}

impl<'a> KernelCache<'a> {
    fn new(x: &'a Matrix, rows: &'a [usize], kernel: Kernel) -> KernelCache<'a> {
        KernelCache { x, rows, kernel, cached: vec![None; rows.len()], held: 0 }
    }

    fn row(&mut self, t: usize) -> &[f64] {
        if self.cached[t].is_none() {
            let limit = (256 << 20) / (8 * self.rows.len().max(1));
            if self.held >= limit.max(2) {
                self.cached.iter_mut().for_each(|c| *c = None);
                self.held = 0;
            }
            let a = self.x.row(self.rows[t]);
            let values = self.rows.iter().map(|&r| self.kernel.eval(a, self.x.row(r))).collect();
            self.cached[t] = Some(values);
            self.held += 1;
        }
        self.cached[t].as_deref().unwrap_or(&[])
    }
}

impl Model for Svm {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(match self {
            Svm::Regressor(m) => m.eval(row) as f32,
            Svm::Classifier { classes, pairs } => {
                let mut votes = vec![0u32; *classes];
                let mut next = pairs.iter();
                for a in 0..*classes {
                    for b in a + 1..*classes {
                        let Some(m) = next.next() else { continue };
                        votes[if m.eval(row) > 0.0 { a } else { b }] += 1;
                    }
                }
                let mut best = 0;
                for (k, v) in votes.iter().enumerate() {
                    if *v > votes[best] {
                        best = k;
                    }
                }
                best as f32
            }
        })
    }

    fn predict_proba(&self, _: &Matrix) -> Result<Vec<f32>> {
        Err(Error::unsupported("an SVM has a decision function, not probabilities")
            .with_hint("use pgml.predict, or a classifier with probabilities such as linear or xgboost"))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        super::to_json(self)
    }
}
