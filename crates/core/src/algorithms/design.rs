//! A centred design matrix in f64: what the linear family's iterative fits (Bayesian
//! ridge, ARD, LARS, OMP) work on. The intercept is recovered from the means afterwards.

use super::linear::Ols;
use crate::data::Matrix;

pub(super) struct Centred {
    /// Row-major `n × p`, each column minus its mean (when fitting an intercept).
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub n: usize,
    pub p: usize,
    mx: Vec<f64>,
    my: f64,
}

impl Centred {
    pub fn new(x: &Matrix, y: &[f32], fit_intercept: bool) -> Centred {
        let (n, p) = (x.rows, x.cols);
        let mut mx = vec![0.0; p];
        let mut my = 0.0;
        if fit_intercept && n > 0 {
            for i in 0..n {
                for (m, v) in mx.iter_mut().zip(x.row(i)) {
                    *m += *v as f64 / n as f64;
                }
            }
            my = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        }
        let xc = (0..n).flat_map(|i| x.row(i).iter().zip(&mx).map(|(v, m)| *v as f64 - m)).collect();
        let yc = y.iter().map(|&v| v as f64 - my).collect();
        Centred { x: xc, y: yc, n, p, mx, my }
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.p..(i + 1) * self.p]
    }

    /// XᵀX, `p × p` row-major.
    pub fn gram(&self) -> Vec<f64> {
        let p = self.p;
        let mut a = vec![0.0; p * p];
        for i in 0..self.n {
            let r = self.row(i);
            for j in 0..p {
                for k in 0..=j {
                    a[j * p + k] += r[j] * r[k];
                }
            }
        }
        for j in 0..p {
            for k in 0..j {
                a[k * p + j] = a[j * p + k];
            }
        }
        a
    }

    /// Xᵀv.
    pub fn xt(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.p];
        for (i, vi) in v.iter().enumerate() {
            for (o, x) in out.iter_mut().zip(self.row(i)) {
                *o += x * vi;
            }
        }
        out
    }

    /// y − X·coef.
    pub fn residual(&self, coef: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| self.y[i] - self.row(i).iter().zip(coef).map(|(a, b)| a * b).sum::<f64>())
            .collect()
    }

    /// The fitted linear function on the original (uncentred) features.
    pub fn finish(&self, coef: Vec<f64>) -> Ols {
        let intercept = self.my - coef.iter().zip(&self.mx).map(|(c, m)| c * m).sum::<f64>();
        Ols::new(coef, intercept)
    }
}
