//! Kernels (scikit-learn's `pairwise_kernels` definitions) and `kernel_ridge`
//! (`KernelRidge`: (K + αI)⁻¹ y, no intercept, the training rows kept for prediction).

use super::linear;
use super::{check_at_least, check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Training rows beyond which a method keeping n × n matrices (kernels, affinities) is
/// refused: each takes 8 n² bytes (5,000 rows: 200 MB), too much for a backend to hold.
pub(super) const MAX_KERNEL_ROWS: usize = 5_000;

#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Debug)]
pub(super) enum Kernel {
    Linear,
    Rbf { gamma: f64 },
    Poly { gamma: f64, degree: i32, coef0: f64 },
    Sigmoid { gamma: f64, coef0: f64 },
}

/// `gamma` as scikit-learn takes it: a number, "scale" (1 / (features · variance of X)) or
/// "auto" (1 / features); `default` is what an absent gamma means.
pub(super) fn resolve_gamma(gamma: &Option<serde_json::Value>, default: &str, x: &Matrix) -> Result<f64> {
    let features = x.cols.max(1) as f64;
    let scale = || {
        let n = x.data.len().max(1) as f64;
        let mean = x.data.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.data.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        if var > 0.0 {
            1.0 / (features * var)
        } else {
            1.0
        }
    };
    let value = match gamma {
        None => serde_json::Value::String(default.into()),
        Some(v) => v.clone(),
    };
    match value {
        serde_json::Value::String(s) if s == "scale" => Ok(scale()),
        serde_json::Value::String(s) if s == "auto" => Ok(1.0 / features),
        serde_json::Value::Number(n) => {
            let g = n.as_f64().unwrap_or(f64::NAN);
            check_positive("gamma", g)?;
            Ok(g)
        }
        other => Err(Error::invalid(format!(
            "hyperparameter gamma must be a number, \"scale\" or \"auto\", got {other}"
        ))),
    }
}

/// Checks the gamma's form without data (`resolve_gamma` needs the rows for "scale").
pub(super) fn check_gamma(gamma: &Option<serde_json::Value>) -> Result<()> {
    resolve_gamma(gamma, "auto", &Matrix { data: vec![1.0], rows: 1, cols: 1 }).map(|_| ())
}

impl Kernel {
    pub(super) fn parse(name: &str, gamma: f64, degree: i32, coef0: f64) -> Result<Kernel> {
        Ok(match name {
            "linear" => Kernel::Linear,
            "rbf" => Kernel::Rbf { gamma },
            "poly" | "polynomial" => Kernel::Poly { gamma, degree, coef0 },
            "sigmoid" => Kernel::Sigmoid { gamma, coef0 },
            other => {
                return Err(Error::invalid(format!("unsupported kernel \"{other}\""))
                    .with_hint("use linear, rbf, poly or sigmoid"))
            }
        })
    }

    pub(super) fn eval(&self, a: &[f32], b: &[f32]) -> f64 {
        let dot = || a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
        match *self {
            Kernel::Linear => dot(),
            Kernel::Rbf { gamma } => {
                let d: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
                (-gamma * d).exp()
            }
            Kernel::Poly { gamma, degree, coef0 } => (gamma * dot() + coef0).powi(degree),
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot() + coef0).tanh(),
        }
    }
}

/// The kernel matrix of the rows (n × n, row-major, symmetric); the interrupt between rows.
pub(super) fn gram(kernel: Kernel, x: &Matrix, interrupt: &dyn Fn()) -> Vec<f64> {
    let n = x.rows;
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        interrupt();
        for j in 0..=i {
            let v = kernel.eval(x.row(i), x.row(j));
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
    }
    k
}

pub(super) fn check_rows(algorithm: &str, rows: usize) -> Result<()> {
    if rows > MAX_KERNEL_ROWS {
        return Err(Error::unsupported(format!(
            "{algorithm} keeps n × n matrices and takes at most {MAX_KERNEL_ROWS} training rows, got {rows}"
        ))
        .with_hint("train on a sample of the relation (a view with TABLESAMPLE or LIMIT), or use linear_svm, ridge or a boosted model"));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RidgeParams {
    #[serde(default = "one")]
    alpha: f64,
    #[serde(default = "linear")]
    kernel: String,
    #[serde(default)]
    gamma: Option<serde_json::Value>,
    #[serde(default = "three")]
    degree: i32,
    #[serde(default = "one")]
    coef0: f64,
}

fn one() -> f64 {
    1.0
}
fn linear() -> String {
    "linear".into()
}
fn three() -> i32 {
    3
}

impl RidgeParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_at_least("alpha", self.alpha, 0.0)?;
        check_range("degree", self.degree, 1, 20)?;
        check_gamma(&self.gamma)?;
        Kernel::parse(&self.kernel, 1.0, self.degree, self.coef0).map(|_| ())
    }
}

/// A kernel expansion over stored rows: Σ coefᵢ k(x, rowᵢ) (+ bias).
#[derive(Serialize, Deserialize)]
pub(super) struct Expansion {
    pub kernel: Kernel,
    pub cols: usize,
    /// Row-major stored rows.
    pub rows: Vec<f32>,
    pub coef: Vec<f64>,
    pub bias: f64,
}

impl Expansion {
    pub(super) fn eval(&self, x: &[f32]) -> f64 {
        self.rows
            .chunks(self.cols.max(1))
            .zip(&self.coef)
            .map(|(r, c)| c * self.kernel.eval(x, r))
            .sum::<f64>()
            + self.bias
    }
}

/// KernelRidge's model: a regression expansion over every training row.
#[derive(Serialize, Deserialize)]
pub(super) struct KernelRidge(Expansion);

pub(super) fn train_ridge(
    p: RidgeParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    check_rows("kernel_ridge", x.rows)?;
    let gamma = resolve_gamma(&p.gamma, "auto", x)?;
    let kernel = Kernel::parse(&p.kernel, gamma, p.degree, p.coef0)?;
    let n = x.rows;
    let k = gram(kernel, x, ctx.interrupt);
    let target: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    let factor = |ridge| linear::cholesky(&k, n, ridge, linear::not_definite, ctx.interrupt);
    let l = factor(p.alpha)
        .or_else(|| factor(p.alpha + 1e-10))
        .ok_or_else(|| Error::data("the kernel matrix is singular").with_hint("raise alpha"))?;
    let dual = linear::cholesky_solve(&l, &target, n);
    Ok(Box::new(KernelRidge(Expansion { kernel, cols: x.cols, rows: x.data.clone(), coef: dual, bias: 0.0 })))
}

impl Model for KernelRidge {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(self.0.eval(row) as f32)
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        super::to_json(self)
    }
}
