//! `pca` (decomposition): scikit-learn's `PCA` — components from the eigenvectors of the
//! training rows' covariance (Jacobi rotations, exact for the small feature counts tables
//! have), signs fixed as scikit-learn ≥ 1.5 fixes them (the largest loading positive).

use super::{check_range, to_json, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    /// Components kept (default: all).
    n_components: Option<usize>,
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(n) = self.n_components {
            check_range("n_components", n, 1, 10_000)?;
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct Pca {
    mean: Vec<f64>,
    /// `components × features`, row-major.
    components: Vec<f64>,
    explained_variance_ratio: Vec<f64>,
}

pub(super) fn train(p: Params, x: &Matrix, ctx: &mut TrainContext) -> Result<Box<dyn Model>> {
    let (n, cols) = (x.rows, x.cols);
    if n < 2 {
        return Err(Error::data("pca needs at least 2 training rows"));
    }
    let k = p.n_components.unwrap_or(cols.min(n));
    if k > cols.min(n) {
        return Err(Error::invalid(format!(
            "n_components must be at most min(rows, features) = {}, got {k}",
            cols.min(n)
        )));
    }
    let mean: Vec<f64> =
        (0..cols).map(|j| (0..n).map(|i| x.row(i)[j] as f64).sum::<f64>() / n as f64).collect();
    let mut cov = vec![0.0; cols * cols];
    for i in 0..n {
        let row: Vec<f64> = x.row(i).iter().zip(&mean).map(|(v, m)| *v as f64 - m).collect();
        for a in 0..cols {
            for b in 0..=a {
                cov[a * cols + b] += row[a] * row[b] / (n - 1) as f64;
            }
        }
    }
    for a in 0..cols {
        for b in 0..a {
            cov[b * cols + a] = cov[a * cols + b];
        }
    }
    (ctx.on_step)();
    let (values, vectors) = jacobi(cov, cols);
    let total: f64 = values.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut order: Vec<usize> = (0..cols).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut components = Vec::with_capacity(k * cols);
    let mut ratios = Vec::with_capacity(k);
    for &c in order.iter().take(k) {
        let mut v: Vec<f64> = (0..cols).map(|j| vectors[j * cols + c]).collect();
        let largest = v.iter().copied().fold(0.0f64, |m, e| if e.abs() > m.abs() { e } else { m });
        if largest < 0.0 {
            v.iter_mut().for_each(|e| *e = -*e);
        }
        components.extend(v);
        ratios.push(values[c].max(0.0) / total);
    }
    Ok(Box::new(Pca { mean, components, explained_variance_ratio: ratios }))
}

/// Eigenvalues and eigenvectors (column `c` of the row-major result) of a symmetric matrix.
pub(super) fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

impl Pca {
    fn project(&self, row: &[f32], out: &mut Vec<f32>) {
        let cols = self.mean.len();
        for c in self.components.chunks(cols) {
            out.push(
                row.iter().zip(&self.mean).zip(c).map(|((v, m), w)| (*v as f64 - m) * w).sum::<f64>() as f32
            );
        }
    }

    pub(super) fn cumulative_explained_variance(&self) -> f64 {
        self.explained_variance_ratio.iter().sum()
    }
}

impl Model for Pca {
    /// The first principal component of each row (`pgml.decompose` gives them all).
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        Ok((0..x.rows).map(|i| self.decompose_row(x.row(i))[0]).collect())
    }

    fn decompose(&self, x: &Matrix) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(x.rows * self.explained_variance_ratio.len());
        for i in 0..x.rows {
            self.project(x.row(i), &mut out);
        }
        Ok(out)
    }

    fn fit_metrics(&self) -> crate::metrics::Metrics {
        crate::metrics::Metrics::from([(
            "cumulative_explained_variance".to_string(),
            self.cumulative_explained_variance(),
        )])
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        to_json(self)
    }
}

impl Pca {
    fn decompose_row(&self, row: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.explained_variance_ratio.len());
        self.project(row, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load;

    #[test]
    fn iris_components_equal_scikit_learns() {
        let (x, _) = load("iris");
        let mut ctx = TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} };
        let model = train(Params { n_components: Some(2) }, &x, &mut ctx).unwrap();
        let pca: Pca = serde_json::from_slice(&model.to_bytes().unwrap()).unwrap();
        // scikit-learn 1.9.1, PCA(n_components=2) on the whole of datasets/iris.csv
        let ratios = [0.9246187256798138, 0.05306648035336054];
        let components = [
            0.3613865892889313,
            -0.0845225189709986,
            0.8566706080204409,
            0.358289193561289,
            0.6565887526908599,
            0.7301614553721297,
            -0.1733726516812951,
            -0.07548100805971777,
        ];
        for (g, w) in pca.explained_variance_ratio.iter().zip(ratios) {
            assert!((g - w).abs() < 1e-6, "{:?}", pca.explained_variance_ratio);
        }
        for (g, w) in pca.components.iter().zip(components) {
            assert!((g - w).abs() < 1e-5, "{:?}", pca.components);
        }
        let first = model.decompose(&x.select(&[0])).unwrap();
        assert!(
            (first[0] - -2.684_125_7).abs() < 1e-4 && (first[1] - 0.319_397_17).abs() < 1e-4,
            "{first:?}"
        );
        assert!((pca.cumulative_explained_variance() - 0.9776852).abs() < 1e-6);
    }
}
