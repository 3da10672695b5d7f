//! Online linear learners, as scikit-learn's plain SGD loop runs them:
//! `stochastic_gradient_descent` (`SGDClassifier`: hinge loss, optimal rate; `SGDRegressor`:
//! squared error, inverse scaling), `perceptron` and `passive_aggressive` (PA-I).
//! Classification is one-vs-rest; every model is a set of linear functions.

use super::linear::Ols;
use super::penalized::Penalized;
use super::{check_at_least, check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    /// SGD: hinge, log_loss, modified_huber, perceptron, squared_hinge (classification);
    /// squared_error, epsilon_insensitive (regression).
    #[serde(default)]
    loss: Option<String>,
    /// SGD: l2 or none.
    #[serde(default)]
    penalty: Option<String>,
    #[serde(default)]
    alpha: Option<f64>,
    /// Passive-aggressive step cap.
    #[serde(rename = "C", default)]
    c: Option<f64>,
    #[serde(default)]
    epsilon: Option<f64>,
    #[serde(default)]
    learning_rate: Option<String>,
    #[serde(default)]
    eta0: Option<f64>,
    #[serde(default)]
    power_t: Option<f64>,
    #[serde(default = "thousand")]
    max_iter: usize,
    #[serde(default = "thousandth")]
    tol: f64,
    #[serde(default = "five")]
    n_iter_no_change: usize,
    #[serde(default = "yes")]
    shuffle: bool,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default)]
    random_state: Option<u64>,
}

fn thousand() -> usize {
    1000
}
fn thousandth() -> f64 {
    1e-3
}
fn five() -> usize {
    5
}
fn yes() -> bool {
    true
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Learner {
    Sgd,
    Perceptron,
    PassiveAggressive,
}

#[derive(Clone, Copy, PartialEq)]
enum Loss {
    /// Hinge with a margin threshold: 1 (SVM) or 0 (perceptron).
    Hinge(f64),
    SquaredHinge,
    Log,
    ModifiedHuber,
    Squared,
    EpsilonInsensitive(f64),
}

impl Loss {
    fn value(self, p: f64, y: f64) -> f64 {
        match self {
            Loss::Hinge(t) => (t - p * y).max(0.0),
            Loss::SquaredHinge => (1.0 - p * y).max(0.0).powi(2),
            Loss::Log => {
                let z = p * y;
                if z > 18.0 {
                    (-z).exp()
                } else if z < -18.0 {
                    -z
                } else {
                    (1.0 + (-z).exp()).ln()
                }
            }
            Loss::ModifiedHuber => {
                let z = p * y;
                if z >= 1.0 {
                    0.0
                } else if z >= -1.0 {
                    (1.0 - z).powi(2)
                } else {
                    -4.0 * z
                }
            }
            Loss::Squared => 0.5 * (p - y).powi(2),
            Loss::EpsilonInsensitive(e) => ((y - p).abs() - e).max(0.0),
        }
    }

    /// d loss / d p.
    fn derivative(self, p: f64, y: f64) -> f64 {
        match self {
            Loss::Hinge(t) => {
                if p * y <= t {
                    -y
                } else {
                    0.0
                }
            }
            Loss::SquaredHinge => {
                let z = 1.0 - p * y;
                if z > 0.0 {
                    -2.0 * y * z
                } else {
                    0.0
                }
            }
            Loss::Log => {
                let z = p * y;
                if z > 18.0 {
                    -y * (-z).exp()
                } else if z < -18.0 {
                    -y
                } else {
                    -y / ((z).exp() + 1.0)
                }
            }
            Loss::ModifiedHuber => {
                let z = p * y;
                if z >= 1.0 {
                    0.0
                } else if z >= -1.0 {
                    -2.0 * (1.0 - z) * y
                } else {
                    -4.0 * y
                }
            }
            Loss::Squared => p - y,
            Loss::EpsilonInsensitive(e) => {
                if y - p > e {
                    -1.0
                } else if p - y > e {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Rate {
    Constant(f64),
    Optimal,
    InvScaling(f64, f64),
    /// Passive-aggressive I with step cap C.
    Pa(f64),
}

/// Everything one binary or regression problem needs, resolved from the hyperparameters
/// and the learner's defaults.
struct Plan {
    loss: Loss,
    rate: Rate,
    alpha: f64,
    penalised: bool,
}

impl Params {
    fn plan(&self, learner: Learner, task: Task) -> Result<Plan> {
        let classification = task == Task::Classification;
        let alpha = self.alpha.unwrap_or(1e-4);
        let epsilon = self.epsilon.unwrap_or(0.1);
        let only_for = |name: &str, present: bool, owner: &str| -> Result<()> {
            if present {
                return Err(Error::invalid(format!("hyperparameter {name} belongs to {owner}")));
            }
            Ok(())
        };
        match learner {
            Learner::PassiveAggressive => {
                only_for("penalty", self.penalty.is_some(), "stochastic_gradient_descent")?;
                only_for("learning_rate", self.learning_rate.is_some(), "stochastic_gradient_descent")?;
                let c = self.c.unwrap_or(1.0);
                check_positive("C", c)?;
                let loss = if classification { Loss::Hinge(1.0) } else { Loss::EpsilonInsensitive(epsilon) };
                Ok(Plan { loss, rate: Rate::Pa(c), alpha: 0.0, penalised: false })
            }
            Learner::Perceptron => {
                only_for("C", self.c.is_some(), "passive_aggressive")?;
                let rate = Rate::Constant(self.eta0.unwrap_or(1.0));
                let penalised = self.penalty.as_deref().is_some_and(|p| p == "l2");
                Ok(Plan { loss: Loss::Hinge(0.0), rate, alpha, penalised })
            }
            Learner::Sgd => {
                only_for("C", self.c.is_some(), "passive_aggressive")?;
                let loss = match (self.loss.as_deref(), classification) {
                    (None | Some("hinge"), true) => Loss::Hinge(1.0),
                    (Some("perceptron"), true) => Loss::Hinge(0.0),
                    (Some("squared_hinge"), true) => Loss::SquaredHinge,
                    (Some("log_loss"), true) => Loss::Log,
                    (Some("modified_huber"), true) => Loss::ModifiedHuber,
                    (None | Some("squared_error"), false) => Loss::Squared,
                    (Some("epsilon_insensitive"), false) => Loss::EpsilonInsensitive(epsilon),
                    (Some(other), _) => {
                        return Err(Error::invalid(format!(
                            "unsupported loss \"{other}\" for {}",
                            task.name()
                        ))
                        .with_hint(if classification {
                            "use hinge, log_loss, modified_huber, perceptron or squared_hinge"
                        } else {
                            "use squared_error or epsilon_insensitive"
                        }))
                    }
                };
                let penalised = match self.penalty.as_deref() {
                    None | Some("l2") => true,
                    Some("none") => false,
                    Some(other) => {
                        return Err(Error::invalid(format!("unsupported penalty \"{other}\""))
                            .with_hint("use l2 or none"))
                    }
                };
                let default_rate = if classification { "optimal" } else { "invscaling" };
                let eta0 = self.eta0.unwrap_or(if classification { 0.0 } else { 0.01 });
                let rate = match self.learning_rate.as_deref().unwrap_or(default_rate) {
                    "optimal" => Rate::Optimal,
                    "constant" => Rate::Constant(eta0),
                    "invscaling" => Rate::InvScaling(eta0, self.power_t.unwrap_or(0.25)),
                    other => {
                        return Err(Error::invalid(format!("unsupported learning_rate \"{other}\""))
                            .with_hint("use optimal, constant or invscaling"))
                    }
                };
                if matches!(rate, Rate::Constant(e) | Rate::InvScaling(e, _) if e <= 0.0) {
                    return Err(Error::invalid(
                        "hyperparameter eta0 must be greater than 0 for this learning_rate",
                    ));
                }
                Ok(Plan { loss, rate, alpha, penalised })
            }
        }
    }

    pub(super) fn validate(&self, learner: Learner, task: Task) -> Result<()> {
        check_range("max_iter", self.max_iter, 1, 1_000_000)?;
        check_at_least("tol", self.tol, 0.0)?;
        check_range("n_iter_no_change", self.n_iter_no_change, 1, 1_000)?;
        if let Some(a) = self.alpha {
            check_positive("alpha", a)?;
        }
        if let Some(e) = self.epsilon {
            check_at_least("epsilon", e, 0.0)?;
        }
        self.plan(learner, task).map(|_| ())
    }
}

pub(super) fn train(
    learner: Learner,
    task: Task,
    p: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let plan = p.plan(learner, task)?;
    // numpy takes seeds below 2^32
    let mut random = LegacyRandom::new(p.random_state.unwrap_or(ctx.seed) as u32);
    if task == Task::Regression {
        let target: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let seed = random.randint(0, MAX_INT);
        return Ok(Box::new(Penalized::Regression(fit_one(&p, &plan, x, &target, seed, ctx))));
    }
    let targets = super::one_vs_rest(y, classes, 1.0, -1.0);
    // scikit-learn's seeds: one generator for a binary problem; for more classes, a seed per
    // class drawn first, each seeding the generator of its one-vs-rest fit. Each fit draws
    // one number for its dataset, then its shuffle seed.
    let mut generators: Vec<LegacyRandom> = if targets.len() == 1 {
        vec![random]
    } else {
        targets.iter().map(|_| LegacyRandom::new(random.randint(0, MAX_INT))).collect()
    };
    let models = targets
        .iter()
        .zip(&mut generators)
        .map(|(target, random)| {
            random.randint(1, MAX_INT);
            let seed = random.randint(0, MAX_INT);
            fit_one(&p, &plan, x, target, seed, ctx)
        })
        .collect();
    Ok(Box::new(Penalized::Classifier(models)))
}

/// numpy's `np.iinfo(np.int32).max`, scikit-learn's bound on its seeds.
const MAX_INT: u32 = i32::MAX as u32;

/// numpy's legacy `RandomState` (MT19937) as scikit-learn's SGD draws its seeds from it:
/// seeded by an integer, and `randint` by masked rejection. With the same seeds and rows,
/// our fits visit the rows in scikit-learn's order.
struct LegacyRandom {
    key: [u32; 624],
    pos: usize,
}

impl LegacyRandom {
    fn new(seed: u32) -> LegacyRandom {
        let mut key = [0u32; 624];
        key[0] = seed;
        for i in 1..624 {
            key[i] = 1_812_433_253u32.wrapping_mul(key[i - 1] ^ (key[i - 1] >> 30)).wrapping_add(i as u32);
        }
        LegacyRandom { key, pos: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.pos == 624 {
            for i in 0..624 {
                let y = (self.key[i] & 0x8000_0000) | (self.key[(i + 1) % 624] & 0x7fff_ffff);
                self.key[i] = self.key[(i + 397) % 624] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            self.pos = 0;
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `randint(low, high)`: uniform in [low, high).
    fn randint(&mut self, low: u32, high: u32) -> u32 {
        let range = high - low - 1;
        if range == 0 {
            return low;
        }
        let mask = u32::MAX >> range.leading_zeros();
        loop {
            let v = self.next_u32() & mask;
            if v <= range {
                return low + v;
            }
        }
    }
}

/// scikit-learn's shuffle of its dataset's rows at each epoch: Fisher–Yates driven by an
/// xorshift generator that starts from the same seed every epoch.
fn shuffle(order: &mut [usize], seed: u32) {
    let mut state = seed;
    let n = order.len();
    for i in 0..n.saturating_sub(1) {
        if state == 0 {
            state = 1;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let j = i + ((state & 0x7fff_ffff) % (n - i) as u32) as usize;
        order.swap(i, j);
    }
}

/// scikit-learn's `_plain_sgd` for one binary (±1) or regression target.
fn fit_one(p: &Params, plan: &Plan, x: &Matrix, y: &[f64], seed: u32, ctx: &mut TrainContext) -> Ols {
    let (n, cols) = (x.rows, x.cols);
    let mut w = vec![0.0f64; cols];
    let mut scale = 1.0f64;
    let mut intercept = 0.0;
    let mut t = 1.0f64;
    let optimal_init = if plan.rate == Rate::Optimal {
        let typw = (1.0 / plan.alpha.sqrt()).sqrt();
        let initial_eta0 = typw / plan.loss.derivative(-typw, 1.0).abs().max(1.0);
        1.0 / (initial_eta0 * plan.alpha)
    } else {
        0.0
    };
    let mut order: Vec<usize> = (0..n).collect();
    // the squared norm of the weights, kept as scikit-learn keeps it for its objective
    let mut sq_norm = 0.0f64;
    let (mut best, mut stalled) = (f64::INFINITY, 0);
    for _ in 0..p.max_iter {
        (ctx.on_step)();
        if p.shuffle {
            shuffle(&mut order, seed);
        }
        let mut total = 0.0;
        for &i in &order {
            let row = x.row(i);
            let dot: f64 = row.iter().zip(&w).map(|(a, b)| *a as f64 * b).sum();
            let prediction = dot * scale + intercept;
            let eta = match plan.rate {
                Rate::Constant(e) => e,
                Rate::Optimal => 1.0 / (plan.alpha * (optimal_init + t - 1.0)),
                Rate::InvScaling(e, power) => e / t.powf(power),
                Rate::Pa(_) => 0.0,
            };
            total += plan.loss.value(prediction, y[i]);
            if plan.penalised && !matches!(plan.rate, Rate::Pa(_)) {
                // the objective the stopping rule watches includes the L2 term at every row
                let norm = sq_norm.sqrt();
                total += plan.alpha * (0.5 * (norm * norm));
            }
            let update = match plan.rate {
                Rate::Pa(c) => {
                    let norm: f64 = row.iter().map(|v| (*v as f64).powi(2)).sum();
                    if norm == 0.0 {
                        continue;
                    }
                    let step = c.min(plan.loss.value(prediction, y[i]) / norm);
                    match plan.loss {
                        Loss::Hinge(_) => step * y[i],
                        _ if y[i] - prediction < 0.0 => -step,
                        _ => step,
                    }
                }
                _ => -eta * plan.loss.derivative(prediction, y[i]).clamp(-1e12, 1e12),
            };
            if plan.penalised {
                let shrink = (1.0 - eta * plan.alpha).max(0.0);
                scale *= shrink;
                sq_norm *= shrink * shrink;
                if scale < 1e-9 {
                    w.iter_mut().for_each(|v| *v *= scale);
                    scale = 1.0;
                }
            }
            if update != 0.0 {
                let mut l2 = 0.0;
                for (wj, a) in w.iter_mut().zip(row) {
                    // scikit-learn's order of operations: the penalised fits are sensitive to it
                    *wj += *a as f64 * (update / scale);
                    l2 += *wj * *wj;
                }
                sq_norm = l2 * (scale * scale);
                if p.fit_intercept {
                    intercept += update;
                }
            }
            t += 1.0;
        }
        let objective = total / n as f64;
        stalled = if objective > best - p.tol { stalled + 1 } else { 0 };
        best = best.min(objective);
        if stalled >= p.n_iter_no_change {
            break;
        }
    }
    Ols::new(w.iter().map(|v| v * scale).collect(), intercept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds and the row order are scikit-learn's, from numpy 2 and scikit-learn 1.9.1:
    /// `RandomState(0)`'s `randint(1, MAX_INT)`, `randint(MAX_INT)`; `RandomState(7)`'s
    /// `randint(MAX_INT, size=3)`; and `ArrayDataset64(...)._shuffle_py(12345)` of 10 rows.
    #[test]
    fn seeds_and_shuffles_follow_scikit_learn() {
        let mut random = LegacyRandom::new(0);
        assert_eq!([random.randint(1, MAX_INT), random.randint(0, MAX_INT)], [209_652_397, 398_764_591]);
        let mut random = LegacyRandom::new(7);
        let seeds: Vec<u32> = (0..3).map(|_| random.randint(0, MAX_INT)).collect();
        assert_eq!(seeds, [327_741_615, 976_413_892, 1_202_242_073]);
        let mut order: Vec<usize> = (0..10).collect();
        shuffle(&mut order, 12345);
        assert_eq!(order, [2, 4, 0, 8, 9, 7, 6, 5, 3, 1]);
    }
}
