//! `dbscan`: scikit-learn's `DBSCAN` (Euclidean; a core point has `min_samples` rows, itself
//! included, within `eps`; clusters grow from core points in row order, depth first, so border
//! rows get the cluster scikit-learn gives them; the rest is noise, -1). A new row gets the
//! cluster of its nearest core point within `eps`, else -1 (scikit-learn has no `predict`).
//! Neighbourhoods are found by comparing every pair: O(n²), meant for up to tens of thousands
//! of rows.

use super::kmeans::sq_dist;
use super::{check_positive, check_range, to_json, Model, TrainContext};
use crate::data::Matrix;
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "half")]
    eps: f64,
    #[serde(default = "five")]
    min_samples: usize,
}

fn half() -> f64 {
    0.5
}
fn five() -> usize {
    5
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_positive("eps", self.eps)?;
        check_range("min_samples", self.min_samples, 1, 1_000_000)
    }
}

/// The core points with their clusters.
#[derive(Serialize, Deserialize)]
pub(super) struct Dbscan {
    eps2: f64,
    cols: usize,
    /// Row-major core points.
    cores: Vec<f32>,
    labels: Vec<f32>,
}

/// The cluster of every training row (-1: noise), and the model.
pub(super) fn fit(p: &Params, x: &Matrix, ctx: &mut TrainContext) -> (Vec<i64>, Dbscan) {
    let eps2 = p.eps * p.eps;
    let n = x.rows;
    let mut neighbours: Vec<Vec<usize>> = Vec::with_capacity(n);
    for i in 0..n {
        if i % 256 == 0 {
            (ctx.on_step)();
        }
        neighbours.push((0..n).filter(|&j| sq_dist(x.row(i), x.row(j)) <= eps2).collect());
    }
    let core: Vec<bool> = neighbours.iter().map(|nb| nb.len() >= p.min_samples).collect();
    let mut labels = vec![-1i64; n];
    let mut next = 0;
    for start in 0..n {
        if labels[start] != -1 || !core[start] {
            continue;
        }
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if labels[i] != -1 {
                continue;
            }
            labels[i] = next;
            if core[i] {
                stack.extend(neighbours[i].iter().copied().filter(|&j| labels[j] == -1));
            }
        }
        next += 1;
    }
    let mut model = Dbscan { eps2, cols: x.cols, cores: Vec::new(), labels: Vec::new() };
    for i in (0..n).filter(|&i| core[i]) {
        model.cores.extend_from_slice(x.row(i));
        model.labels.push(labels[i] as f32);
    }
    (labels, model)
}

pub(super) fn train(p: Params, x: &Matrix, ctx: &mut TrainContext) -> Result<Box<dyn Model>> {
    Ok(Box::new(fit(&p, x, ctx).1))
}

impl Model for Dbscan {
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        let nearest = self
            .cores
            .chunks(self.cols)
            .zip(&self.labels)
            .map(|(c, l)| (sq_dist(row, c), *l))
            .fold((f64::INFINITY, -1.0), |best, c| if c.0 < best.0 { c } else { best });
        Ok(if nearest.0 <= self.eps2 { nearest.1 } else { -1.0 })
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load;

    #[test]
    fn iris_clusters_equal_scikit_learns() {
        let (x, _) = load("iris");
        let mut ctx = TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} };
        let (labels, model) = fit(&Params { eps: 0.5, min_samples: 5 }, &x, &mut ctx);
        // scikit-learn 1.9.1: DBSCAN().fit_predict on the whole of datasets/iris.csv
        let noise = [41, 57, 60, 68, 87, 93, 98, 105, 106, 108, 109, 117, 118, 122, 131, 134, 135];
        let want: Vec<i64> = (0..150)
            .map(|i| {
                if noise.contains(&i) {
                    -1
                } else if i < 50 {
                    0
                } else {
                    1
                }
            })
            .collect();
        assert_eq!(labels, want);
        // a training row predicts its own cluster; a far point is noise
        assert_eq!(model.predict_row(x.row(0)).unwrap(), 0.0);
        assert_eq!(model.predict_row(x.row(120)).unwrap(), 1.0);
        assert_eq!(model.predict_row(&[50.0, 50.0, 50.0, 50.0]).unwrap(), -1.0);
    }
}
