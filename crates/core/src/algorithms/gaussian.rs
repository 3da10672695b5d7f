//! `gaussian_process`: scikit-learn's `GaussianProcessRegressor` and
//! `GaussianProcessClassifier` with their default kernel, 1.0 · RBF(length scale 1.0), whose
//! hyperparameters are fixed (so nothing is optimised). Regression is the posterior mean
//! (zero prior mean, `alpha` 1e-10 on the diagonal); classification is the Laplace
//! approximation (Rasmussen & Williams, algorithm 3.1; one-vs-rest for more classes),
//! predicting from the posterior mode. The training rows are kept; at most 5,000.

use super::kernel::{check_rows, gram, Expansion, Kernel};
use super::linear::{self, cholesky_solve};
use super::{check_at_least, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    /// Regression: added to the kernel's diagonal.
    #[serde(default = "jitter")]
    alpha: f64,
    /// The RBF kernel's length scale (fixed, as scikit-learn's default kernel).
    #[serde(default = "one")]
    length_scale: f64,
    /// Classification: Newton iterations of the Laplace approximation.
    #[serde(default = "hundred")]
    max_iter_predict: usize,
}

fn jitter() -> f64 {
    1e-10
}
fn one() -> f64 {
    1.0
}
fn hundred() -> usize {
    100
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_at_least("alpha", self.alpha, 0.0)?;
        super::check_positive("length_scale", self.length_scale)?;
        check_range("max_iter_predict", self.max_iter_predict, 1, 10_000)
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum GaussianProcess {
    Regressor(Expansion),
    /// One latent function per class (one for two classes), compared by their means.
    Classifier(Vec<Expansion>),
}

/// The Cholesky factor of a kernel system: a pivot that is not positive and finite means the
/// matrix is not positive definite.
fn cholesky(a: &[f64], n: usize, interrupt: &dyn Fn()) -> Option<Vec<f64>> {
    linear::cholesky(a, n, 0.0, |pivot, _| pivot <= 0.0 || !pivot.is_finite(), interrupt)
}

pub(super) fn train(
    task: Task,
    p: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    check_rows("gaussian_process", x.rows)?;
    let n = x.rows;
    let kernel = Kernel::Rbf { gamma: 0.5 / (p.length_scale * p.length_scale) };
    let k = gram(kernel, x, ctx.interrupt);
    let expansion =
        |coef: Vec<f64>| Expansion { kernel, cols: x.cols, rows: x.data.clone(), coef, bias: 0.0 };
    if task == Task::Regression {
        let mut a = k;
        for i in 0..n {
            a[i * n + i] += p.alpha;
        }
        let l = cholesky(&a, n, ctx.interrupt).ok_or_else(|| {
            Error::data("the kernel matrix is not positive definite").with_hint("raise alpha (default 1e-10)")
        })?;
        let target: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        return Ok(Box::new(GaussianProcess::Regressor(expansion(cholesky_solve(&l, &target, n)))));
    }
    let mut latent = Vec::new();
    for target in super::one_vs_rest(y, classes, 1.0, 0.0) {
        latent.push(expansion(laplace(&k, &target, n, p.max_iter_predict, ctx)?));
    }
    Ok(Box::new(GaussianProcess::Classifier(latent)))
}

/// Newton's iterations for the posterior mode of a logistic GP; returns y − π at the mode,
/// so that a new row's latent mean is Σ k(x, xᵢ)(yᵢ − πᵢ).
fn laplace(k: &[f64], y: &[f64], n: usize, max_iter: usize, ctx: &mut TrainContext) -> Result<Vec<f64>> {
    let sigmoid = |f: f64| 1.0 / (1.0 + (-f).exp());
    let mut f = vec![0.0; n];
    let mut previous = f64::NEG_INFINITY;
    for _ in 0..max_iter {
        (ctx.on_step)();
        let pi: Vec<f64> = f.iter().map(|v| sigmoid(*v)).collect();
        let sw: Vec<f64> = pi.iter().map(|p| (p * (1.0 - p)).sqrt()).collect();
        // B = I + sW K sW
        let mut b = vec![0.0; n * n];
        for i in 0..n {
            (ctx.interrupt)();
            for j in 0..n {
                b[i * n + j] = sw[i] * k[i * n + j] * sw[j] + f64::from(u8::from(i == j));
            }
        }
        let l = cholesky(&b, n, ctx.interrupt)
            .ok_or_else(|| Error::Internal("Laplace approximation: B is not positive definite".into()))?;
        let grad: Vec<f64> = (0..n).map(|i| sw[i] * sw[i] * f[i] + (y[i] - pi[i])).collect();
        let kb: Vec<f64> = (0..n).map(|i| (0..n).map(|j| k[i * n + j] * grad[j]).sum()).collect();
        let rhs: Vec<f64> = (0..n).map(|i| sw[i] * kb[i]).collect();
        let solved = cholesky_solve(&l, &rhs, n);
        let a: Vec<f64> = (0..n).map(|i| grad[i] - sw[i] * solved[i]).collect();
        f = (0..n).map(|i| (0..n).map(|j| k[i * n + j] * a[j]).sum()).collect();
        let log_det: f64 = (0..n).map(|i| l[i * n + i].ln()).sum();
        let likelihood: f64 = -0.5 * a.iter().zip(&f).map(|(u, v)| u * v).sum::<f64>()
            - (0..n).map(|i| (1.0 + (-(2.0 * y[i] - 1.0) * f[i]).exp()).ln()).sum::<f64>()
            - log_det;
        if likelihood - previous < 1e-10 {
            break;
        }
        previous = likelihood;
    }
    Ok((0..n).map(|i| y[i] - sigmoid(f[i])).collect())
}

impl Model for GaussianProcess {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(match self {
            GaussianProcess::Regressor(m) => m.eval(row) as f32,
            GaussianProcess::Classifier(latent) if latent.len() == 1 => f32::from(latent[0].eval(row) > 0.0),
            GaussianProcess::Classifier(latent) => {
                let scores: Vec<f32> = latent.iter().map(|m| m.eval(row) as f32).collect();
                super::argmax_rows(&scores, scores.len())[0]
            }
        })
    }

    fn predict_proba(&self, _: &Matrix) -> Result<Vec<f32>> {
        Err(Error::unsupported(
            "gaussian_process predicts from the posterior mode and offers no probabilities",
        )
        .with_hint("use pgml.predict, or xgboost or linear for probabilities"))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        super::to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::algorithms::{Algorithm, TrainContext};
    use crate::data::Matrix;
    use crate::task::Task;
    use serde_json::json;

    #[test]
    fn the_regressor_interpolates_and_equals_kernel_ridge_with_its_kernel() {
        // sin on 0..20 at unit spacing: a well-conditioned RBF problem.
        let xs: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let y: Vec<f32> = xs.iter().map(|v| v.sin()).collect();
        let x = Matrix { data: xs.clone(), rows: 21, cols: 1 };
        let fit = |algorithm: Algorithm, hp: serde_json::Value| {
            let mut ctx = TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} };
            algorithm.train(Task::Regression, &hp, &x, &y, 0, &mut ctx).unwrap()
        };
        let gp = fit(Algorithm::GaussianProcess, json!({}));
        let at_rows = gp.predict(&x).unwrap();
        let worst = at_rows.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-3, "training rows off by {worst}");
        let between = gp.predict_row(&[2.5]).unwrap();
        assert!((between - 2.5f32.sin()).abs() < 0.05, "{between}");
        // the same posterior mean as kernel ridge with exp(-0.5 d²) and alpha 1e-10
        let kr = fit(Algorithm::KernelRidge, json!({"kernel": "rbf", "gamma": 0.5, "alpha": 1e-10}));
        assert!((kr.predict_row(&[2.5]).unwrap() - between).abs() < 1e-3);
    }
}
