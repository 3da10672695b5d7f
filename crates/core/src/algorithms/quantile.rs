//! `quantile`: scikit-learn's `QuantileRegressor`, the linear model minimising
//! (1/n)·Σ ρ_τ(yᵢ − xᵢ·w − b) + α·‖w‖₁ (ρ_τ the pinball loss of the τ-th quantile). It is a
//! linear program, solved exactly as scikit-learn's HiGHS does, here by a primal-dual
//! interior-point method (Mehrotra's predictor-corrector) on its dual, the Frisch–Newton
//! algorithm of Koenker & Portnoy.
//!
//! The L1 penalty becomes two pseudo-rows per feature (±eⱼ, target 0, weight n·α), since
//! ρ_τ(t) + ρ_τ(−t) = |t|: the penalised problem is a weighted unpenalised one.

use super::linear::{solve_spd, Ols};
use super::penalized::Penalized;
use super::{check_at_least, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "median")]
    quantile: f64,
    #[serde(default = "one")]
    alpha: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
    /// scikit-learn's LP solvers: each reaches the same optimum, which ours finds; the name
    /// is checked, and `solver_options` accepted, for compatibility.
    #[serde(default)]
    solver: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    solver_options: Option<serde_json::Value>,
}

fn median() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

const SOLVERS: &[&str] = &["highs", "highs-ds", "highs-ipm", "interior-point", "revised simplex"];

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        if !(self.quantile > 0.0 && self.quantile < 1.0) {
            return Err(Error::invalid(format!(
                "hyperparameter quantile must be strictly between 0 and 1, got {}",
                self.quantile
            ))
            .with_hint("0.5 fits the median"));
        }
        check_at_least("alpha", self.alpha, 0.0)?;
        if let Some(s) = self.solver.as_deref().filter(|s| !SOLVERS.contains(s)) {
            return Err(Error::invalid(format!("unknown solver \"{s}\""))
                .with_hint(format!("use one of {}", SOLVERS.join(", "))));
        }
        Ok(())
    }
}

/// Most interior-point iterations; Frisch–Newton needs some tens.
const MAX_ITER: usize = 200;
/// Duality gap, relative to the objective, at which the optimum is reached.
const GAP: f64 = 1e-10;

pub(super) fn train(p: Params, x: &Matrix, y: &[f32], ctx: &mut TrainContext) -> Result<Box<dyn Model>> {
    let (n, cols) = (x.rows, x.cols);
    let penalty = p.alpha * n as f64;
    let pseudo = if penalty > 0.0 { 2 * cols } else { 0 };
    let lp = Lp {
        x,
        fit_intercept: p.fit_intercept,
        m: cols + p.fit_intercept as usize,
        y: y.iter().map(|&v| v as f64).chain(std::iter::repeat_n(0.0, pseudo)).collect(),
        u: std::iter::repeat_n(1.0, n).chain(std::iter::repeat_n(penalty, pseudo)).collect(),
    };
    let beta = frisch_newton(&lp, p.quantile, ctx)?;
    let intercept = if p.fit_intercept { beta[cols] } else { 0.0 };
    Ok(Box::new(Penalized::Regression(Ols::new(beta[..cols].to_vec(), intercept))))
}

/// The β minimising Σ uᵢ·ρ_τ(yᵢ − zᵢ·β), from its dual: maximise y·a subject to
/// Σ aᵢ zᵢ = (1 − τ) Σ uᵢ zᵢ and 0 ≤ a ≤ u, whose equality multipliers are β. The dual is
/// solved as min c·a with c = −y by Mehrotra's predictor-corrector; s = u − a is the room
/// under the upper bound, z and v the dual slacks of a ≥ 0 and s ≥ 0.
fn frisch_newton(lp: &Lp, tau: f64, ctx: &mut TrainContext) -> Result<Vec<f64>> {
    let rows = lp.y.len();
    // a = (1 − τ)·u satisfies the equality exactly and lies inside the box
    let mut pt = Point {
        a: lp.u.iter().map(|u| (1.0 - tau) * u).collect(),
        s: lp.u.iter().map(|u| tau * u).collect(),
        z: vec![0.0; rows],
        v: vec![0.0; rows],
    };
    let b = lp.times(&pt.a);
    // β from least squares; dual slacks with z − v = −r, both positive
    let mut beta = lp.least_squares()?;
    let spread = lp.y.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1.0);
    for (i, r) in lp.residuals(&beta).into_iter().enumerate() {
        pt.z[i] = (-r).max(0.0) + 1e-3 * spread;
        pt.v[i] = r.max(0.0) + 1e-3 * spread;
    }
    for _ in 0..MAX_ITER {
        (ctx.on_step)();
        let gap: f64 = (0..rows).map(|i| pt.a[i] * pt.z[i] + pt.s[i] * pt.v[i]).sum();
        let objective: f64 = lp.y.iter().zip(&pt.a).map(|(y, a)| y * a).sum::<f64>().abs();
        if gap <= GAP * (1.0 + objective) {
            return Ok(beta);
        }
        let mu = gap / (2 * rows) as f64;
        let newton = Newton {
            // c − A'λ − z + v with c = −y and λ = −β
            r_d: lp.residuals(&beta).iter().enumerate().map(|(i, r)| -r - pt.z[i] + pt.v[i]).collect(),
            r_p: b.iter().zip(lp.times(&pt.a)).map(|(b, ax)| b - ax).collect(),
            d: (0..rows).map(|i| 1.0 / (pt.z[i] / pt.a[i] + pt.v[i] / pt.s[i])).collect(),
        };
        let normal = lp.normal_matrix(&newton.d);
        // predictor: the affine direction (σ = 0)
        let comp_a: Vec<f64> = (0..rows).map(|i| -pt.a[i] * pt.z[i]).collect();
        let comp_s: Vec<f64> = (0..rows).map(|i| -pt.s[i] * pt.v[i]).collect();
        let Step { dx, dz, dv, .. } = newton.direction(lp, &normal, &pt, &comp_a, &comp_s)?;
        let (ap, ad) = pt.steps(&dx, &dz, &dv);
        let mu_aff = (0..rows)
            .map(|i| {
                (pt.a[i] + ap * dx[i]) * (pt.z[i] + ad * dz[i])
                    + (pt.s[i] - ap * dx[i]) * (pt.v[i] + ad * dv[i])
            })
            .sum::<f64>()
            / (2 * rows) as f64;
        let sigma = (mu_aff / mu).powi(3).min(1.0);
        // corrector: centred towards σμ, with the predictor's second-order terms
        let comp_a: Vec<f64> = (0..rows).map(|i| sigma * mu - pt.a[i] * pt.z[i] - dx[i] * dz[i]).collect();
        let comp_s: Vec<f64> = (0..rows).map(|i| sigma * mu - pt.s[i] * pt.v[i] + dx[i] * dv[i]).collect();
        let Step { dl, dx, dz, dv } = newton.direction(lp, &normal, &pt, &comp_a, &comp_s)?;
        let (ap, ad) = pt.steps(&dx, &dz, &dv);
        let (ap, ad) = (0.99995 * ap, 0.99995 * ad);
        for i in 0..rows {
            pt.a[i] += ap * dx[i];
            pt.s[i] -= ap * dx[i];
            pt.z[i] += ad * dz[i];
            pt.v[i] += ad * dv[i];
        }
        for (bk, dk) in beta.iter_mut().zip(&dl) {
            *bk -= ad * dk; // β = −λ
        }
    }
    Err(Error::data(format!("quantile regression did not converge in {MAX_ITER} interior-point iterations"))
        .with_hint("scale the features, or raise alpha"))
}

/// The weighted problem: rows zᵢ (the data with a 1 for the intercept, then the penalty's
/// ±eⱼ), targets y and weights u.
struct Lp<'a> {
    x: &'a Matrix,
    fit_intercept: bool,
    m: usize,
    y: Vec<f64>,
    u: Vec<f64>,
}

impl Lp<'_> {
    fn row(&self, i: usize, out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let (n, cols) = (self.x.rows, self.x.cols);
        if i < n {
            for (o, v) in out.iter_mut().zip(self.x.row(i)) {
                *o = *v as f64;
            }
            if self.fit_intercept {
                out[cols] = 1.0;
            }
        } else {
            out[(i - n) / 2] = if (i - n).is_multiple_of(2) { 1.0 } else { -1.0 };
        }
    }

    /// A·a = Σ aᵢ zᵢ.
    fn times(&self, a: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.m];
        let mut z = vec![0.0; self.m];
        for (i, ai) in a.iter().enumerate() {
            self.row(i, &mut z);
            out.iter_mut().zip(&z).for_each(|(o, z)| *o += ai * z);
        }
        out
    }

    /// y − z·β of every row.
    fn residuals(&self, beta: &[f64]) -> Vec<f64> {
        let mut z = vec![0.0; self.m];
        (0..self.y.len())
            .map(|i| {
                self.row(i, &mut z);
                self.y[i] - z.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>()
            })
            .collect()
    }

    /// A·D·A' = Σ dᵢ zᵢ zᵢ'.
    fn normal_matrix(&self, d: &[f64]) -> Vec<f64> {
        let m = self.m;
        let mut out = vec![0.0; m * m];
        let mut z = vec![0.0; m];
        for (i, di) in d.iter().enumerate() {
            self.row(i, &mut z);
            for j in 0..m {
                let w = di * z[j];
                if w != 0.0 {
                    for k in 0..=j {
                        out[j * m + k] += w * z[k];
                    }
                }
            }
        }
        for j in 0..m {
            for k in 0..j {
                out[k * m + j] = out[j * m + k];
            }
        }
        out
    }

    /// Solves A·D·A'·x = r, with a ridge that grows until the factorisation succeeds (the
    /// matrix loses rank as the iterates reach the optimum's vertex).
    fn solve(&self, normal: &[f64], r: &[f64]) -> Result<Vec<f64>> {
        let scale = (0..self.m).map(|k| normal[k * self.m + k]).fold(0.0, f64::max).max(1e-300);
        let mut ridge = 1e-14 * scale;
        while ridge < scale {
            if let Some(x) = solve_spd(normal, r, self.m, ridge) {
                return Ok(x);
            }
            ridge *= 100.0;
        }
        Err(Error::data(
            "quantile regression: the features are degenerate (a constant or non-finite column?)",
        ))
    }

    /// Least squares on the weighted problem's rows: the starting β.
    fn least_squares(&self) -> Result<Vec<f64>> {
        let gram = self.normal_matrix(&vec![1.0; self.y.len()]);
        self.solve(&gram, &self.times(&self.y))
    }
}

/// An interior point of the dual LP.
struct Point {
    a: Vec<f64>,
    s: Vec<f64>,
    z: Vec<f64>,
    v: Vec<f64>,
}

impl Point {
    /// The longest primal and dual steps (at most 1) that keep every variable positive.
    fn steps(&self, dx: &[f64], dz: &[f64], dv: &[f64]) -> (f64, f64) {
        let limit = |x: &[f64], d: &[f64], sign: f64| {
            x.iter()
                .zip(d)
                .filter(|(_, d)| sign * **d < 0.0)
                .map(|(x, d)| -x / (sign * d))
                .fold(1.0, f64::min)
        };
        let primal = limit(&self.a, dx, 1.0).min(limit(&self.s, dx, -1.0));
        let dual = limit(&self.z, dz, 1.0).min(limit(&self.v, dv, 1.0));
        (primal, dual)
    }
}

/// One Newton system: the residuals and the scaling D = (z/a + v/s)⁻¹.
struct Newton {
    r_d: Vec<f64>,
    r_p: Vec<f64>,
    d: Vec<f64>,
}

impl Newton {
    /// The direction (dλ, da, dz, dv) whose complementarity products move to `comp_a`
    /// (for a·z) and `comp_s` (for s·v, with ds = −da).
    fn direction(&self, lp: &Lp, normal: &[f64], pt: &Point, comp_a: &[f64], comp_s: &[f64]) -> Result<Step> {
        let rows = self.d.len();
        // da = D·(A'dλ − ρ) with ρ = r_d − comp_a/a + comp_s/s; A·da = r_p
        let rho: Vec<f64> =
            (0..rows).map(|i| self.r_d[i] - comp_a[i] / pt.a[i] + comp_s[i] / pt.s[i]).collect();
        let d_rho: Vec<f64> = rho.iter().zip(&self.d).map(|(r, d)| r * d).collect();
        let rhs: Vec<f64> = self.r_p.iter().zip(lp.times(&d_rho)).map(|(r, a)| r + a).collect();
        let dl = lp.solve(normal, &rhs)?;
        let mut z = vec![0.0; lp.m];
        let dx: Vec<f64> = (0..rows)
            .map(|i| {
                lp.row(i, &mut z);
                self.d[i] * (z.iter().zip(&dl).map(|(a, b)| a * b).sum::<f64>() - rho[i])
            })
            .collect();
        let dz = (0..rows).map(|i| (comp_a[i] - pt.z[i] * dx[i]) / pt.a[i]).collect();
        let dv = (0..rows).map(|i| (comp_s[i] + pt.v[i] * dx[i]) / pt.s[i]).collect();
        Ok(Step { dl, dx, dz, dv })
    }
}

/// A Newton direction: dλ, da (= −ds), dz and dv.
struct Step {
    dl: Vec<f64>,
    dx: Vec<f64>,
    dz: Vec<f64>,
    dv: Vec<f64>,
}
#[cfg(test)]
mod tests {
    use super::*;

    /// The objective scikit-learn minimises.
    fn objective(x: &[f32], y: &[f32], tau: f64, alpha: f64, w: f64, b: f64) -> f64 {
        let pinball: f64 = x
            .iter()
            .zip(y)
            .map(|(&x, &y)| {
                let r = y as f64 - w * x as f64 - b;
                if r >= 0.0 {
                    tau * r
                } else {
                    (tau - 1.0) * r
                }
            })
            .sum();
        pinball / x.len() as f64 + alpha * w.abs()
    }

    /// The optimum of a piecewise-linear objective in (w, b) lies on a vertex: where two of
    /// the lines rᵢ = 0 and w = 0 cross. All of them are tried.
    fn brute_force(x: &[f32], y: &[f32], tau: f64, alpha: f64) -> f64 {
        let mut best = f64::INFINITY;
        for i in 0..x.len() {
            best = best.min(objective(x, y, tau, alpha, 0.0, y[i] as f64));
            for j in i + 1..x.len() {
                if x[i] != x[j] {
                    let w = (y[j] - y[i]) as f64 / (x[j] - x[i]) as f64;
                    best = best.min(objective(x, y, tau, alpha, w, y[i] as f64 - w * x[i] as f64));
                }
            }
        }
        best
    }

    #[test]
    fn reaches_the_linear_programs_optimum() {
        // skewed noise, so quantiles of the residuals differ from the mean
        let x: Vec<f32> = (0..40).map(|i| ((i * 37) % 40) as f32 / 4.0).collect();
        let y: Vec<f32> =
            x.iter().enumerate().map(|(i, &x)| 2.0 * x + 1.0 + ((i * i * 7) % 13) as f32 * 0.5).collect();
        let m = Matrix::new(x.clone(), 1).unwrap();
        for (tau, alpha) in [(0.5, 0.0), (0.2, 0.0), (0.9, 0.0), (0.5, 0.5), (0.3, 3.0), (0.5, 100.0)] {
            let p = Params { quantile: tau, alpha, fit_intercept: true, solver: None, solver_options: None };
            let model =
                train(p, &m, &y, &mut TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} })
                    .unwrap();
            let at_zero = model.predict_row(&[0.0]).unwrap() as f64;
            let w = model.predict_row(&[1.0]).unwrap() as f64 - at_zero;
            let ours = objective(&x, &y, tau, alpha, w, at_zero);
            let best = brute_force(&x, &y, tau, alpha);
            assert!(
                ours <= best * (1.0 + 1e-5) + 1e-6,
                "tau {tau} alpha {alpha}: {ours} against the optimum {best}"
            );
        }
    }

    #[test]
    fn constant_and_repeated_columns_still_reach_the_optimum() {
        // the second column repeats the first and the third is constant: the normal matrix
        // is singular, the optimum's objective is still the one-feature problem's
        let x: Vec<f32> = (0..30).map(|i| ((i * 11) % 30) as f32 / 3.0).collect();
        let y: Vec<f32> = x.iter().enumerate().map(|(i, &x)| 1.5 * x - 2.0 + ((i * 5) % 7) as f32).collect();
        let wide = Matrix::new(x.iter().flat_map(|&v| [v, v, 4.0]).collect(), 3).unwrap();
        let p = Params { quantile: 0.7, alpha: 0.0, fit_intercept: true, solver: None, solver_options: None };
        let model =
            train(p, &wide, &y, &mut TrainContext { seed: 0, on_step: &mut || {}, interrupt: &|| {} })
                .unwrap();
        let pred = model.predict(&wide).unwrap();
        let ours: f64 = pred
            .iter()
            .zip(&y)
            .map(|(p, y)| {
                let r = (*y - *p) as f64;
                if r >= 0.0 {
                    0.7 * r
                } else {
                    -0.3 * r
                }
            })
            .sum::<f64>()
            / y.len() as f64;
        let best = brute_force(&x, &y, 0.7, 0.0);
        assert!(ours <= best * (1.0 + 1e-5) + 1e-6, "{ours} against the optimum {best}");
    }

    #[test]
    fn refuses_a_quantile_outside_zero_one_and_unknown_solvers() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Params>(v).unwrap().validate();
        assert!(parse(serde_json::json!({"quantile": 0.1, "solver": "highs"})).is_ok());
        for bad in [
            serde_json::json!({"quantile": 1.0}),
            serde_json::json!({"quantile": 0}),
            serde_json::json!({"solver": "glpk"}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument { .. }), "{bad}: {e}");
        }
    }
}
