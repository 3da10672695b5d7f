//! `linear`: ordinary least squares for regression, L2-regularised logistic regression
//! (binary or multinomial, L-BFGS) for classification — scikit-learn's `LinearRegression`
//! and `LogisticRegression` defaults.

use super::{check_positive, check_range, lbfgs, parse, to_json, Algorithm, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegressionParams {
    #[serde(default = "yes")]
    fit_intercept: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogisticParams {
    #[serde(rename = "C", default = "one")]
    c: f64,
    #[serde(default = "hundred")]
    max_iter: usize,
    #[serde(default = "tol")]
    tol: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn hundred() -> usize {
    100
}
fn tol() -> f64 {
    1e-4
}

pub(super) fn validate(task: Task, hyperparams: &serde_json::Value) -> Result<()> {
    if task == Task::Classification {
        let p: LogisticParams = parse(Algorithm::Linear, hyperparams)?;
        check_positive("C", p.c)?;
        check_range("max_iter", p.max_iter, 1, 100_000)?;
        check_range("tol", p.tol, 0.0, 1.0)?;
    } else {
        parse::<RegressionParams>(Algorithm::Linear, hyperparams)?;
    }
    Ok(())
}

pub(super) fn train(
    task: Task,
    hyperparams: &serde_json::Value,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    if task == Task::Classification {
        let p: LogisticParams = parse(Algorithm::Linear, hyperparams)?;
        Ok(Box::new(Linear::Logistic(Logistic::fit(&p, x, y, classes, ctx))))
    } else {
        let p: RegressionParams = parse(Algorithm::Linear, hyperparams)?;
        Ok(Box::new(Linear::Regression(Ols::fit(p.fit_intercept, x, y)?)))
    }
}

pub(super) fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let model: Linear =
        serde_json::from_slice(bytes).map_err(|e| Error::Internal(format!("corrupt linear model: {e}")))?;
    Ok(Box::new(model))
}

#[derive(Serialize, Deserialize)]
enum Linear {
    Regression(Ols),
    Logistic(Logistic),
}

impl Model for Linear {
    fn linear_terms(&self) -> Option<crate::explain::LinearTerms> {
        Some(match self {
            Linear::Regression(m) => m.terms(),
            Linear::Logistic(m) => crate::explain::LinearTerms {
                weights: m.folded.clone(),
                outputs: Logistic::outputs(m.classes),
                means: Some(m.mean.clone()),
            },
        })
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        match self {
            Linear::Regression(m) => Ok(m.predict(x)),
            Linear::Logistic(m) => Ok(super::argmax_rows(&m.proba(x), m.classes)),
        }
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        Ok(match self {
            Linear::Regression(m) => m.predict_row(row),
            Linear::Logistic(m) => m.predict_row(row),
        })
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        match self {
            Linear::Logistic(m) => Ok(m.proba(x)),
            Linear::Regression(_) => Err(Error::unsupported("a regression has no probabilities")),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        to_json(self)
    }
}

/// Least squares, solved by Cholesky on the centred normal equations; with `alpha > 0` the
/// L2-penalised (ridge) solution, the intercept unpenalised, as scikit-learn's `Ridge`.
#[derive(Serialize, Deserialize)]
pub(super) struct Ols {
    coef: Vec<f64>,
    intercept: f64,
}

impl Ols {
    fn fit(fit_intercept: bool, x: &Matrix, y: &[f32]) -> Result<Ols> {
        let target: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        Ok(least_squares(fit_intercept, x, &[target], 0.0)?.remove(0))
    }

    pub(super) fn new(coef: Vec<f64>, intercept: f64) -> Ols {
        Ols { coef, intercept }
    }

    /// The weights and the intercept, as explanations read them (no means kept).
    pub(super) fn terms(&self) -> crate::explain::LinearTerms {
        let mut weights = self.coef.clone();
        weights.push(self.intercept);
        crate::explain::LinearTerms { weights, outputs: 1, means: None }
    }

    pub(super) fn coef(&self) -> &[f64] {
        &self.coef
    }

    pub(super) fn intercept(&self) -> f64 {
        self.intercept
    }

    pub(super) fn predict_row(&self, row: &[f32]) -> f32 {
        let s: f64 = row.iter().zip(&self.coef).map(|(v, c)| *v as f64 * c).sum();
        (s + self.intercept) as f32
    }

    fn predict(&self, x: &Matrix) -> Vec<f32> {
        (0..x.rows)
            .map(|i| {
                let s: f64 = x.row(i).iter().zip(&self.coef).map(|(v, c)| *v as f64 * c).sum();
                (s + self.intercept) as f32
            })
            .collect()
    }
}

/// Rows per block of the Gram matrix: a block's centred values, column by column, fit in the
/// cache, and each entry of the Gram is then a dot product of two of them.
const BLOCK: usize = 256;
/// The Gram matrix is summed in this many partial sums (block `b` into lane `b % LANES`),
/// added in lane order at the end: the cores share the lanes out, and the sums are the same
/// on any number of them.
const LANES: usize = 4;

/// `XᵀX` of the rows centred on `mx` (`p × p`, row-major, symmetric).
fn centred_gram(x: &Matrix, mx: &[f64]) -> Vec<f64> {
    let p = x.cols;
    let blocks = x.rows.div_ceil(BLOCK);
    let lane = |l: usize| {
        let mut a = vec![0.0; p * p];
        let mut columns = vec![0.0; p * BLOCK];
        for b in (l..blocks).step_by(LANES) {
            let rows = b * BLOCK..((b + 1) * BLOCK).min(x.rows);
            let n = rows.len();
            for (r, i) in rows.enumerate() {
                for (j, (v, m)) in x.row(i).iter().zip(mx).enumerate() {
                    columns[j * BLOCK + r] = *v as f64 - m;
                }
            }
            for j in 0..p {
                let cj = &columns[j * BLOCK..j * BLOCK + n];
                for k in 0..=j {
                    a[j * p + k] += dot(cj, &columns[k * BLOCK..k * BLOCK + n]);
                }
            }
        }
        a
    };
    // small fits (RANSAC's subsets) stay on the calling thread
    let threads =
        if blocks < 2 * LANES { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    let lanes: Vec<Vec<f64>> = if threads <= 1 {
        (0..LANES).map(lane).collect()
    } else {
        std::thread::scope(|s| {
            let lane = &lane;
            let workers: Vec<_> = (0..threads.min(LANES))
                .map(|t| {
                    crate::threads::spawn_scoped(s, move || {
                        (t..LANES).step_by(threads).map(|l| (l, lane(l))).collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut lanes = vec![Vec::new(); LANES];
            for worker in workers {
                for (l, a) in worker.join().expect("a Gram matrix worker panicked") {
                    lanes[l] = a;
                }
            }
            lanes
        })
    };
    let mut a = vec![0.0; p * p];
    for lane in &lanes {
        for (s, v) in a.iter_mut().zip(lane) {
            *s += v;
        }
    }
    for j in 0..p {
        for k in 0..j {
            a[k * p + j] = a[j * p + k];
        }
    }
    a
}

/// A dot product over four running sums, which the compiler can keep in vector registers.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4.remainder().iter().zip(b4.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            sums[l] += x[l] * y[l];
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// Least squares of several targets on the same features: the centred Gram matrix is built
/// once. `alpha` is the ridge penalty (0: ordinary least squares, where a collinear design
/// gets a vanishing ridge instead of an error, as lstsq would).
pub(super) fn least_squares(
    fit_intercept: bool,
    x: &Matrix,
    targets: &[Vec<f64>],
    alpha: f64,
) -> Result<Vec<Ols>> {
    let p = x.cols;
    let n = x.rows as f64;
    let mut mx = vec![0.0; p];
    if fit_intercept {
        for i in 0..x.rows {
            for (m, v) in mx.iter_mut().zip(x.row(i)) {
                *m += *v as f64 / n;
            }
        }
    }
    let a = centred_gram(x, &mx);
    let trace = (0..p).map(|j| a[j * p + j]).sum::<f64>().max(1e-300);
    targets
        .iter()
        .map(|y| {
            let my = if fit_intercept { y.iter().sum::<f64>() / n } else { 0.0 };
            let mut b = vec![0.0; p];
            for (i, yi) in y.iter().enumerate() {
                for ((bj, v), m) in b.iter_mut().zip(x.row(i)).zip(&mx) {
                    *bj += (*v as f64 - m) * (yi - my);
                }
            }
            let mut ridge = alpha;
            let coef = loop {
                if let Some(c) = solve_spd(&a, &b, p, ridge) {
                    break c;
                }
                ridge = if ridge == 0.0 { trace * 1e-12 } else { ridge * 100.0 };
                if ridge > trace.max(alpha * 1e6) {
                    return Err(Error::data("the features are degenerate: least squares has no solution"));
                }
            };
            let intercept = my - coef.iter().zip(&mx).map(|(c, m)| c * m).sum::<f64>();
            Ok(Ols { coef, intercept })
        })
        .collect()
}

/// Solves (A + ridge·I) x = b for symmetric positive definite A by Cholesky; None if not SPD.
/// For systems the size of the features; a kernel's system (the size of the rows) factors
/// with `cholesky` and the training's interrupt.
pub(super) fn solve_spd(a: &[f64], b: &[f64], p: usize, ridge: f64) -> Option<Vec<f64>> {
    let l = cholesky(a, p, ridge, not_definite, &|| {})?;
    Some(cholesky_solve(&l, b, p))
}

/// `solve_spd`'s test of a pivot (before its square root) against its diagonal entry: too
/// small to be positive definite.
pub(super) fn not_definite(pivot: f64, diagonal: f64) -> bool {
    pivot <= 1e-12 * diagonal.abs().max(1e-300)
}

/// The lower Cholesky factor of A + ridge·I (n × n, row-major); None as soon as `reject`
/// refuses a pivot, given the pivot before its square root and the diagonal entry.
/// `interrupt` is called before each column (5,000 rows: about 5 ms of work a column).
pub(super) fn cholesky(
    a: &[f64],
    n: usize,
    ridge: f64,
    reject: impl Fn(f64, f64) -> bool,
    interrupt: &dyn Fn(),
) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for j in 0..n {
        interrupt();
        let diagonal = a[j * n + j] + ridge;
        let d = diagonal - (0..j).map(|k| l[j * n + k] * l[j * n + k]).sum::<f64>();
        if reject(d, diagonal) {
            return None;
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            l[i * n + j] = s / d;
        }
    }
    Some(l)
}

/// Solves L z = b (forward) then Lᵀ x = z (backward) with a factor from `cholesky`.
pub(super) fn cholesky_solve(l: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (z[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    x
}

/// The scores of `N` outputs for one row: `weights` holds each output's weights on the row's
/// features and then its intercept (`stride` values an output).
fn side_by_side<const N: usize>(row: &[f32], weights: &[f64], stride: usize) -> [f64; N] {
    let cols = stride - 1;
    let w: [&[f64]; N] = std::array::from_fn(|k| &weights[k * stride..k * stride + cols]);
    let mut sums: [f64; N] = std::array::from_fn(|k| weights[k * stride + cols]);
    for (j, v) in row[..cols].iter().enumerate() {
        let v = *v as f64;
        for k in 0..N {
            sums[k] += v * w[k][j];
        }
    }
    sums
}

/// The index of the first largest score.
fn first_max(scores: &[f64]) -> f32 {
    let mut best = (0, f64::NEG_INFINITY);
    for (k, &s) in scores.iter().enumerate() {
        if s > best.1 {
            best = (k, s);
        }
    }
    best.0 as f32
}

/// Logistic regression: scikit-learn's `LogisticRegression` objective, the mean log loss
/// plus `‖w‖² / (2 C n)` on the raw features (the intercept unpenalised), minimised by the
/// same L-BFGS path. Binary problems use one sigmoid output, more classes a softmax over
/// `classes` outputs. Models of pgml-rs 0.3.0 and before were fitted on standardised features
/// and store the scaler (`mean`, `scale`); a model fitted now stores zeros and ones.
#[derive(Serialize, Deserialize)]
#[serde(from = "StoredLogistic")]
struct Logistic {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `outputs × (features + 1)`, the intercept last.
    weights: Vec<f64>,
    classes: usize,
    /// The weights folded onto the raw features (w / scale, and the intercept less
    /// Σ mean · w / scale), for one-row predicts: a row's score is then one dot product.
    #[serde(skip)]
    folded: Vec<f64>,
}

/// What is stored of a `Logistic`.
#[derive(Deserialize)]
struct StoredLogistic {
    mean: Vec<f64>,
    scale: Vec<f64>,
    weights: Vec<f64>,
    classes: usize,
}

impl From<StoredLogistic> for Logistic {
    fn from(s: StoredLogistic) -> Logistic {
        Logistic::new(s.mean, s.scale, s.weights, s.classes)
    }
}

impl Logistic {
    fn new(mean: Vec<f64>, scale: Vec<f64>, weights: Vec<f64>, classes: usize) -> Logistic {
        let cols = mean.len();
        let mut folded = weights.clone();
        for wo in folded.chunks_mut(cols + 1) {
            let shift: f64 = (0..cols).map(|j| mean[j] * wo[j] / scale[j]).sum();
            for j in 0..cols {
                wo[j] /= scale[j];
            }
            wo[cols] -= shift;
        }
        Logistic { mean, scale, weights, classes, folded }
    }

    fn outputs(classes: usize) -> usize {
        if classes <= 2 {
            1
        } else {
            classes
        }
    }

    fn fit(p: &LogisticParams, x: &Matrix, y: &[f32], classes: usize, ctx: &mut TrainContext) -> Logistic {
        let cols = x.cols;
        let outputs = Logistic::outputs(classes);
        let stride = cols + 1;
        let n = x.rows.max(1) as f64;
        let penalty = 0.5 / p.c;
        let fit_intercept = p.fit_intercept;
        let objective = |w: &[f64], g: &mut [f64]| -> f64 {
            let mut scores = vec![0.0; outputs];
            let mut loss = 0.0;
            g.iter_mut().for_each(|v| *v = 0.0);
            for (i, &label) in y.iter().enumerate() {
                let row = x.row(i);
                for (o, s) in scores.iter_mut().enumerate() {
                    let wo = &w[o * stride..(o + 1) * stride];
                    *s = wo[cols] + row.iter().zip(wo).map(|(a, b)| *a as f64 * b).sum::<f64>();
                }
                let label = label as usize;
                if outputs == 1 {
                    let s = scores[0];
                    let t = if label == 1 { 1.0 } else { 0.0 };
                    // log(1 + e^s) - t·s, written to avoid overflow.
                    loss += s.max(0.0) + (-s.abs()).exp().ln_1p() - t * s;
                    scores[0] = sigmoid(s) - t;
                } else {
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                    loss += max + sum.ln() - scores[label];
                    for (o, s) in scores.iter_mut().enumerate() {
                        *s = (*s - max).exp() / sum - if o == label { 1.0 } else { 0.0 };
                    }
                }
                // the scores are now the residuals
                for (o, &r) in scores.iter().enumerate() {
                    let go = &mut g[o * stride..(o + 1) * stride];
                    for (acc, a) in go.iter_mut().zip(row) {
                        *acc += r * *a as f64;
                    }
                    go[cols] += r;
                }
            }
            for o in 0..outputs {
                let go = &mut g[o * stride..(o + 1) * stride];
                for j in 0..cols {
                    let wj = w[o * stride + j];
                    loss += penalty * wj * wj;
                    go[j] += 2.0 * penalty * wj;
                }
                if !fit_intercept {
                    go[cols] = 0.0;
                }
            }
            g.iter_mut().for_each(|v| *v /= n);
            loss / n
        };
        let weights = lbfgs::minimize(objective, vec![0.0; outputs * stride], p.max_iter, p.tol, ctx.on_step);
        Logistic::new(vec![0.0; cols], vec![1.0; cols], weights, classes)
    }

    /// The most probable class of one row, without allocating: the argmax of the scores is
    /// the argmax of their softmax, and a positive binary score means class 1.
    fn predict_row(&self, row: &[f32]) -> f32 {
        let stride = row.len() + 1;
        let w = &self.folded;
        // the outputs' sums side by side, feature by feature: independent additions, where one
        // output after another waited on each addition in turn
        match w.len() / stride {
            1 => (side_by_side::<1>(row, w, stride)[0] > 0.0) as u8 as f32,
            2 => first_max(&side_by_side::<2>(row, w, stride)),
            3 => first_max(&side_by_side::<3>(row, w, stride)),
            4 => first_max(&side_by_side::<4>(row, w, stride)),
            _ => {
                let scores: Vec<f64> =
                    w.chunks(stride).map(|wo| side_by_side::<1>(row, wo, stride)[0]).collect();
                first_max(&scores)
            }
        }
    }

    fn proba(&self, x: &Matrix) -> Vec<f32> {
        let cols = x.cols;
        let stride = cols + 1;
        let outputs = Logistic::outputs(self.classes);
        let mut out = Vec::with_capacity(x.rows * self.classes.max(2));
        for i in 0..x.rows {
            let row = x.row(i);
            let scores: Vec<f64> = (0..outputs)
                .map(|o| {
                    let wo = &self.folded[o * stride..(o + 1) * stride];
                    wo[cols] + row.iter().zip(wo).map(|(a, b)| *a as f64 * b).sum::<f64>()
                })
                .collect();
            if outputs == 1 {
                let p1 = sigmoid(scores[0]);
                out.extend([(1.0 - p1) as f32, p1 as f32]);
            } else {
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                out.extend(scores.iter().map(|s| ((s - max).exp() / sum) as f32));
            }
        }
        out
    }
}

fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked Gram matrix, summed in lanes on the cores, is the row-by-row sum.
    #[test]
    fn the_blocked_gram_matrix_is_the_sum_over_rows() {
        let (rows, cols) = (2 * LANES * BLOCK + 37, 5);
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| 1000.0 + ((i * 7919) % 1009) as f32 * 0.37 - (i % cols) as f32)
            .collect();
        let x = Matrix::new(data, cols).unwrap();
        let mx: Vec<f64> =
            (0..cols).map(|j| (0..rows).map(|i| x.row(i)[j] as f64).sum::<f64>() / rows as f64).collect();
        let gram = centred_gram(&x, &mx);
        for j in 0..cols {
            for k in 0..cols {
                let naive: f64 =
                    (0..rows).map(|i| (x.row(i)[j] as f64 - mx[j]) * (x.row(i)[k] as f64 - mx[k])).sum();
                let got = gram[j * cols + k];
                assert!((got - naive).abs() <= 1e-9 * naive.abs().max(1.0), "({j}, {k}): {got} vs {naive}");
            }
        }
        assert_eq!(centred_gram(&x, &mx), gram, "the same sums on every call");
    }
}
