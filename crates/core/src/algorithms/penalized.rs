//! Penalised linear models with scikit-learn's objectives, names and defaults:
//! `ridge` (`Ridge` / `RidgeClassifier`: L2, closed form), `lasso` (`Lasso`: L1) and
//! `elastic_net` (`ElasticNet`: L1 + L2), the last two by cyclic coordinate descent on
//! (1 / 2n)·‖y − Xw‖² + α·ρ·‖w‖₁ + α·(1 − ρ)/2·‖w‖², the intercept unpenalised.

use super::linear::{least_squares, Ols};
use super::{check_at_least, check_range, to_json, Algorithm, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RidgeParams {
    #[serde(default = "one")]
    alpha: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SparseParams {
    #[serde(default = "one")]
    alpha: f64,
    /// ρ: the L1 share of the penalty (`elastic_net` only, default 0.5; `lasso` is 1).
    l1_ratio: Option<f64>,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default = "thousand")]
    max_iter: usize,
    #[serde(default = "tol")]
    tol: f64,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn thousand() -> usize {
    1000
}
fn tol() -> f64 {
    1e-4
}

impl RidgeParams {
    pub(super) fn validate(&self) -> Result<()> {
        check_at_least("alpha", self.alpha, 0.0)
    }
}

impl SparseParams {
    pub(super) fn validate(&self, algorithm: Algorithm) -> Result<()> {
        check_at_least("alpha", self.alpha, 0.0)?;
        match (algorithm, self.l1_ratio) {
            (Algorithm::Lasso, Some(_)) => {
                return Err(Error::invalid("lasso has no l1_ratio (it is 1); use elastic_net"))
            }
            (_, Some(rho)) => check_range("l1_ratio", rho, 0.0, 1.0)?,
            (_, None) => {}
        }
        check_range("max_iter", self.max_iter, 1, 1_000_000)?;
        check_range("tol", self.tol, 0.0, 1.0)
    }
}

/// A fitted penalised model: one linear function for regression, one per class (or one
/// for two classes) for `RidgeClassifier`.
#[derive(Serialize, Deserialize)]
pub(super) enum Penalized {
    Regression(Ols),
    Classifier(Vec<Ols>),
}

pub(super) fn train_ridge(
    task: Task,
    p: RidgeParams,
    x: &Matrix,
    y: &[f32],
    classes: usize,
) -> Result<Box<dyn Model>> {
    if task == Task::Classification {
        // scikit-learn's RidgeClassifier: targets +1 / −1 per class (one column for two classes)
        let targets = super::one_vs_rest(y, classes, 1.0, -1.0);
        return Ok(Box::new(Penalized::Classifier(least_squares(p.fit_intercept, x, &targets, p.alpha)?)));
    }
    let target: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    Ok(Box::new(Penalized::Regression(least_squares(p.fit_intercept, x, &[target], p.alpha)?.remove(0))))
}

pub(super) fn train_sparse(
    algorithm: Algorithm,
    p: SparseParams,
    x: &Matrix,
    y: &[f32],
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let rho = if algorithm == Algorithm::Lasso { 1.0 } else { p.l1_ratio.unwrap_or(0.5) };
    let (n, cols) = (x.rows, x.cols);
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        if p.fit_intercept {
            values.sum::<f64>() / n as f64
        } else {
            0.0
        }
    };
    let mx: Vec<f64> = (0..cols).map(|j| mean(&mut (0..n).map(|i| x.row(i)[j] as f64))).collect();
    let my = mean(&mut y.iter().map(|&v| v as f64));
    // column-major, centred: coordinate descent walks columns
    let xc: Vec<f64> = (0..cols)
        .flat_map(|j| (0..n).map(move |i| (j, i)))
        .map(|(j, i)| x.row(i)[j] as f64 - mx[j])
        .collect();
    let mut residual: Vec<f64> = y.iter().map(|&v| v as f64 - my).collect();
    let norms: Vec<f64> = xc.chunks(n).map(|c| c.iter().map(|v| v * v).sum::<f64>() / n as f64).collect();
    let (l1, l2) = (p.alpha * rho, p.alpha * (1.0 - rho));
    let mut w = vec![0.0; cols];
    for _ in 0..p.max_iter {
        (ctx.on_step)();
        let (mut max_change, mut max_w) = (0.0f64, 0.0f64);
        for j in 0..cols {
            let column = &xc[j * n..(j + 1) * n];
            if norms[j] == 0.0 {
                continue;
            }
            let old = w[j];
            let rho_j =
                column.iter().zip(&residual).map(|(a, r)| a * r).sum::<f64>() / n as f64 + norms[j] * old;
            let new = rho_j.signum() * (rho_j.abs() - l1).max(0.0) / (norms[j] + l2);
            if new != old {
                for (r, a) in residual.iter_mut().zip(column) {
                    *r -= a * (new - old);
                }
                w[j] = new;
            }
            max_change = max_change.max((new - old).abs());
            max_w = max_w.max(new.abs());
        }
        if max_w == 0.0 || max_change <= p.tol * max_w {
            break;
        }
    }
    let intercept = my - w.iter().zip(&mx).map(|(c, m)| c * m).sum::<f64>();
    Ok(Box::new(Penalized::Regression(Ols::new(w, intercept))))
}

impl Model for Penalized {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(match self {
            Penalized::Regression(m) => m.predict_row(row),
            Penalized::Classifier(columns) if columns.len() == 1 => {
                f32::from(columns[0].predict_row(row) > 0.0)
            }
            Penalized::Classifier(columns) => {
                let scores: Vec<f32> = columns.iter().map(|m| m.predict_row(row)).collect();
                super::argmax_rows(&scores, scores.len())[0]
            }
        })
    }

    fn linear_terms(&self) -> Option<crate::explain::LinearTerms> {
        let columns = match self {
            Penalized::Regression(m) => return Some(m.terms()),
            Penalized::Classifier(columns) => columns,
        };
        let weights = columns.iter().flat_map(|m| m.terms().weights).collect();
        Some(crate::explain::LinearTerms { weights, outputs: columns.len(), means: None })
    }

    fn predict_proba(&self, _: &Matrix) -> Result<Vec<f32>> {
        Err(Error::unsupported("a ridge classifier has a decision function, not probabilities").with_hint(
            "use pgml.predict, or train algorithm => 'linear' (logistic regression) for probabilities",
        ))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load;

    fn ctx_train(algorithm: Algorithm, task: Task, params: serde_json::Value, data: &str) -> Penalized {
        let (x, mut y) = load(data);
        let classes = if task == Task::Classification {
            let mut labels = y.clone();
            labels.sort_by(f32::total_cmp);
            labels.dedup();
            y = y.iter().map(|v| labels.iter().position(|l| l == v).unwrap() as f32).collect();
            labels.len()
        } else {
            0
        };
        let model = algorithm
            .train(
                task,
                &params,
                &x,
                &y,
                classes,
                &mut TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} },
            )
            .unwrap();
        serde_json::from_slice(&model.to_bytes().unwrap()).unwrap()
    }

    fn close(got: &[f64], want: &[f64], tolerance: f64) {
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tolerance * scale, "got {got:?}\nwant {want:?}");
        }
    }

    // scikit-learn 1.9.1 on the whole of datasets/*.csv (the features as float32, like ours)
    const DIABETES_INTERCEPT: f64 = 152.133484;

    #[test]
    fn ridge_equals_scikit_learn() {
        let Penalized::Regression(m) =
            ctx_train(Algorithm::Ridge, Task::Regression, serde_json::json!({}), "diabetes")
        else {
            panic!()
        };
        let want = [
            29.466113,
            -83.154276,
            306.35268,
            201.627735,
            5.909614,
            -29.515495,
            -152.040281,
            117.311731,
            262.94429,
            111.878955,
        ];
        close(m.coef(), &want, 1e-5);
        assert!((m.intercept() - DIABETES_INTERCEPT).abs() < 1e-3);
    }

    #[test]
    fn lasso_and_elastic_net_equal_scikit_learn() {
        let params = serde_json::json!({"alpha": 0.1});
        let Penalized::Regression(m) = ctx_train(Algorithm::Lasso, Task::Regression, params, "diabetes")
        else {
            panic!()
        };
        let want = [
            0.0,
            -155.359972,
            517.186797,
            275.077236,
            -52.539366,
            0.0,
            -210.157992,
            0.0,
            483.912646,
            33.673961,
        ];
        // both stop at tol 1e-4 (scikit-learn on the duality gap, we on the largest step)
        close(m.coef(), &want, 2e-3);
        // the L1 penalty zeroes the same coefficients
        let zeros: Vec<usize> =
            m.coef().iter().enumerate().filter(|(_, c)| **c == 0.0).map(|(i, _)| i).collect();
        assert_eq!(zeros, [0, 5, 7]);
        let params = serde_json::json!({"alpha": 0.01, "l1_ratio": 0.5});
        let Penalized::Regression(m) = ctx_train(Algorithm::ElasticNet, Task::Regression, params, "diabetes")
        else {
            panic!()
        };
        let want = [
            33.147367,
            -35.245354,
            211.024366,
            144.559236,
            21.931722,
            0.0,
            -115.619973,
            100.658916,
            185.325912,
            96.257334,
        ];
        close(m.coef(), &want, 2e-3);
        assert!((m.intercept() - DIABETES_INTERCEPT).abs() < 1e-3);
    }

    #[test]
    fn ridge_classifier_equals_scikit_learn() {
        let Penalized::Classifier(columns) =
            ctx_train(Algorithm::Ridge, Task::Classification, serde_json::json!({}), "iris")
        else {
            panic!()
        };
        let want = [
            [0.12726869, 0.47083645, -0.44536619, -0.12120318],
            [-0.02760758, -0.87798781, 0.37199638, -0.83287563],
            [-0.09966111, 0.40715136, 0.07336981, 0.95407881],
        ];
        let intercepts = [-0.697462, 2.113221, -2.41576];
        for ((m, w), b) in columns.iter().zip(want).zip(intercepts) {
            close(m.coef(), &w, 1e-5);
            assert!((m.intercept() - b).abs() < 1e-5);
        }
        let Penalized::Classifier(columns) =
            ctx_train(Algorithm::Ridge, Task::Classification, serde_json::json!({}), "breast_cancer")
        else {
            panic!()
        };
        assert_eq!(columns.len(), 1, "two classes: one decision function");
        close(&columns[0].coef()[..5], &[-0.352684, 0.005057, 0.005959, 0.002293, 0.323018], 1e-4);
        assert!((columns[0].intercept() - -4.079242).abs() < 1e-4);
    }

    #[test]
    fn hyperparameters_are_checked() {
        let (x, y) = load("diabetes");
        let mut ctx = TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} };
        for (algorithm, params, message) in [
            (Algorithm::Ridge, serde_json::json!({"alpha": -1}), "alpha must be at least 0"),
            (Algorithm::Lasso, serde_json::json!({"l1_ratio": 0.2}), "lasso has no l1_ratio"),
            (Algorithm::ElasticNet, serde_json::json!({"l1_ratio": 2}), "l1_ratio must be between 0 and 1"),
            (Algorithm::ElasticNet, serde_json::json!({"solver": "saga"}), "unknown field `solver`"),
        ] {
            let err =
                algorithm.train(Task::Regression, &params, &x, &y, 0, &mut ctx).err().unwrap().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
