//! `svm` and `nu_svm`: scikit-learn's `SVC` / `NuSVC` (one-vs-one) and `SVR` / `NuSVR` with
//! libsvm's algorithm: SMO with second-order working-set selection on a cached kernel (for
//! the nu forms, pairs within one sign), the bias from the free support vectors. Defaults:
//! rbf kernel, gamma "scale", C 1, epsilon 0.1, nu 0.5, tol 1e-3.

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
    /// nu_svm: bounds the fraction of margin errors and support vectors (default 0.5).
    #[serde(default)]
    nu: Option<f64>,
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
    pub(super) fn validate(&self, nu_svm: bool) -> Result<()> {
        match (nu_svm, self.nu) {
            (false, Some(_)) => {
                return Err(Error::invalid("hyperparameter nu belongs to nu_svm")
                    .with_hint("svm takes C and epsilon"))
            }
            (true, Some(nu)) if !(nu > 0.0 && nu <= 1.0) => {
                return Err(Error::invalid(format!("hyperparameter nu must be in (0, 1], got {nu}")))
            }
            _ => {}
        }
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
    nu_svm: bool,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let name = if nu_svm { "nu_svm" } else { "svm" };
    check_rows(name, x.rows)?;
    let gamma = resolve_gamma(&p.gamma, "scale", x)?;
    let kernel = Kernel::parse(&p.kernel, gamma, p.degree, p.coef0)?;
    let max_iter = if p.max_iter < 0 { usize::MAX } else { p.max_iter as usize };
    let nu = p.nu.unwrap_or(0.5);
    if task == Task::Regression {
        // 2n variables, αᵢ⁺ with y = +1 and αᵢ⁻ with y = −1 (libsvm's epsilon- and nu-SVR).
        let n = x.rows;
        let signs: Vec<f64> = (0..2 * n).map(|i| if i < n { 1.0 } else { -1.0 }).collect();
        let target = |i: usize| if i < n { -(y[i] as f64) } else { y[i - n] as f64 };
        let problem = if nu_svm {
            let mut budget = p.c * nu * n as f64 / 2.0;
            let mut start = vec![0.0; 2 * n];
            for i in 0..n {
                let a = budget.min(p.c);
                start[i] = a;
                start[i + n] = a;
                budget -= a;
            }
            Problem {
                y: signs,
                linear: (0..2 * n).map(target).collect(),
                c: p.c,
                start,
                nu: true,
                rescale: false,
            }
        } else {
            let linear = (0..2 * n).map(|i| p.epsilon + target(i)).collect();
            Problem { y: signs, linear, c: p.c, start: vec![0.0; 2 * n], nu: false, rescale: false }
        };
        let rows: Vec<usize> = (0..n).chain(0..n).collect();
        let (alpha, rho) = solve(x, &rows, &problem, kernel, p.tol, max_iter, ctx);
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
            let l = rows.len();
            let problem = if nu_svm {
                let positives = signs.iter().filter(|s| **s > 0.0).count();
                if nu * l as f64 / 2.0 > positives.min(l - positives) as f64 {
                    return Err(Error::invalid(format!(
                        "hyperparameter nu {nu} is infeasible for classes {a} and {b}"
                    ))
                    .with_hint("nu must be at most 2 · min(rows of either class) / rows of both"));
                }
                let (mut pos, mut neg) = (nu * l as f64 / 2.0, nu * l as f64 / 2.0);
                let start = signs
                    .iter()
                    .map(|s| {
                        let budget = if *s > 0.0 { &mut pos } else { &mut neg };
                        let a = budget.min(1.0);
                        *budget -= a;
                        a
                    })
                    .collect();
                Problem { y: signs.clone(), linear: vec![0.0; l], c: 1.0, start, nu: true, rescale: true }
            } else {
                Problem {
                    y: signs.clone(),
                    linear: vec![-1.0; l],
                    c: p.c,
                    start: vec![0.0; l],
                    nu: false,
                    rescale: false,
                }
            };
            let (alpha, rho) = solve(x, &rows, &problem, kernel, p.tol, max_iter, ctx);
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

/// One quadratic problem for libsvm's solver: minimise ½ αᵀQα + pᵀα subject to
/// 0 ≤ α ≤ C and Σ yᵢαᵢ fixed (by the start), with Qᵢⱼ = yᵢ yⱼ k(xᵢ, xⱼ).
struct Problem {
    y: Vec<f64>,
    linear: Vec<f64>,
    c: f64,
    start: Vec<f64>,
    /// nu-SVM: Σ αᵢ is fixed per sign too, so pairs are chosen within one sign.
    nu: bool,
    /// nu classification: the solution is rescaled by the margin r (α / r, ρ / r), as
    /// libsvm's nu-SVC does, into the C-SVC form.
    rescale: bool,
}

/// libsvm's SMO with second-order working-set selection. Variable `t` stands for row
/// `rows[t]`. Returns α and ρ (already divided by r for nu classification).
fn solve(
    x: &Matrix,
    rows: &[usize],
    problem: &Problem,
    kernel: Kernel,
    eps: f64,
    max_iter: usize,
    ctx: &mut TrainContext,
) -> (Vec<f64>, f64) {
    let (y, c, l) = (&problem.y, problem.c, rows.len());
    let mut cache = KernelCache::new(x, rows, kernel);
    let diag: Vec<f64> = (0..l).map(|t| kernel.eval(x.row(rows[t]), x.row(rows[t]))).collect();
    let mut alpha = problem.start.clone();
    let mut grad = problem.linear.clone();
    for j in 0..l {
        if alpha[j] != 0.0 {
            let kj = cache.row(j).to_vec();
            for t in 0..l {
                grad[t] += y[t] * y[j] * kj[t] * alpha[j];
            }
        }
    }
    let mut iter = 0usize;
    while iter < max_iter {
        if iter.is_multiple_of(1000) {
            (ctx.on_step)();
        }
        iter += 1;
        let Some((i, j)) = (if problem.nu {
            select_nu(&alpha, &grad, y, c, &diag, &mut cache, eps)
        } else {
            select(&alpha, &grad, y, c, &diag, &mut cache, eps)
        }) else {
            break;
        };
        let ki = cache.row(i).to_vec();
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
    if !problem.nu {
        let rho = rho(&alpha, &grad, y, c, |_| true, true);
        return (alpha, rho);
    }
    // nu: a ρ per sign; their mean is the margin r, half their difference is ρ.
    let r1 = rho(&alpha, &grad, y, c, |t| y[t] > 0.0, false);
    let r2 = rho(&alpha, &grad, y, c, |t| y[t] < 0.0, false);
    let (r, rho) = ((r1 + r2) / 2.0, (r1 - r2) / 2.0);
    if problem.rescale && r > 0.0 {
        return (alpha.iter().map(|a| a / r).collect(), rho / r);
    }
    (alpha, rho)
}

/// libsvm's second-order choice for C-SVC and epsilon-SVR.
fn select(
    alpha: &[f64],
    grad: &[f64],
    y: &[f64],
    c: f64,
    diag: &[f64],
    cache: &mut KernelCache,
    eps: f64,
) -> Option<(usize, usize)> {
    let l = alpha.len();
    let up = |t: usize| if y[t] > 0.0 { alpha[t] < c } else { alpha[t] > 0.0 };
    let low = |t: usize| if y[t] > 0.0 { alpha[t] > 0.0 } else { alpha[t] < c };
    let (mut gmax, mut i) = (f64::NEG_INFINITY, None);
    for t in (0..l).filter(|&t| up(t)) {
        if -y[t] * grad[t] >= gmax {
            gmax = -y[t] * grad[t];
            i = Some(t);
        }
    }
    let i = i?;
    let ki = cache.row(i);
    let (mut gmin, mut best, mut j) = (f64::INFINITY, f64::INFINITY, None);
    for t in (0..l).filter(|&t| low(t)) {
        let g = -y[t] * grad[t];
        gmin = gmin.min(g);
        let b = gmax - g;
        if b > 0.0 {
            let value = -b * b / (diag[i] + diag[t] - 2.0 * ki[t]).max(1e-12);
            if value <= best {
                best = value;
                j = Some(t);
            }
        }
    }
    if gmax - gmin < eps {
        return None;
    }
    j.map(|j| (i, j))
}

/// libsvm's choice for the nu solvers: the pair comes from one sign, the better of the two.
fn select_nu(
    alpha: &[f64],
    grad: &[f64],
    y: &[f64],
    c: f64,
    diag: &[f64],
    cache: &mut KernelCache,
    eps: f64,
) -> Option<(usize, usize)> {
    let l = alpha.len();
    let (mut gmaxp, mut ip) = (f64::NEG_INFINITY, None);
    let (mut gmaxn, mut in_) = (f64::NEG_INFINITY, None);
    for t in 0..l {
        if y[t] > 0.0 && alpha[t] < c && -grad[t] >= gmaxp {
            gmaxp = -grad[t];
            ip = Some(t);
        } else if y[t] < 0.0 && alpha[t] > 0.0 && grad[t] >= gmaxn {
            gmaxn = grad[t];
            in_ = Some(t);
        }
    }
    let kp = ip.map(|i| cache.row(i).to_vec());
    let kn = in_.map(|i| cache.row(i).to_vec());
    let (mut gmaxp2, mut gmaxn2) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut best, mut j) = (f64::INFINITY, None);
    for t in 0..l {
        let (diff, first, row) = if y[t] > 0.0 {
            if alpha[t] <= 0.0 {
                continue;
            }
            gmaxp2 = gmaxp2.max(grad[t]);
            (gmaxp + grad[t], ip, &kp)
        } else {
            if alpha[t] >= c {
                continue;
            }
            gmaxn2 = gmaxn2.max(-grad[t]);
            (gmaxn - grad[t], in_, &kn)
        };
        if let (true, Some(f), Some(k)) = (diff > 0.0, first, row) {
            let value = -diff * diff / (diag[f] + diag[t] - 2.0 * k[t]).max(1e-12);
            if value <= best {
                best = value;
                j = Some(t);
            }
        }
    }
    if (gmaxp + gmaxp2).max(gmaxn + gmaxn2) < eps {
        return None;
    }
    let j = j?;
    Some((if y[j] > 0.0 { ip? } else { in_? }, j))
}

/// ρ over the variables `member` picks: the mean of the free ones' gradients (times y for
/// the C solvers), else the middle of the interval the bounded ones leave.
fn rho(alpha: &[f64], grad: &[f64], y: &[f64], c: f64, member: impl Fn(usize) -> bool, signed: bool) -> f64 {
    let (mut ub, mut lb, mut sum, mut free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for t in (0..alpha.len()).filter(|&t| member(t)) {
        let g = if signed { y[t] * grad[t] } else { grad[t] };
        let (at_upper, at_lower) = (alpha[t] >= c, alpha[t] <= 0.0);
        // C solvers: bounds flip with the sign; nu solvers work within one sign.
        let positive = !signed || y[t] > 0.0;
        if at_upper {
            if positive {
                lb = lb.max(g)
            } else {
                ub = ub.min(g)
            }
        } else if at_lower {
            if positive {
                ub = ub.min(g)
            } else {
                lb = lb.max(g)
            }
        } else {
            free += 1;
            sum += g;
        }
    }
    if free > 0 {
        sum / free as f64
    } else {
        (ub + lb) / 2.0
    }
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
