//! Limited-memory BFGS as SciPy's L-BFGS-B runs it without bounds, which is what
//! scikit-learn's `lbfgs` solver calls: ten correction pairs, the first step of length one
//! along the steepest descent, the Moré–Thuente line search (MINPACK-2's `dcsrch`, with
//! L-BFGS-B's constants), and L-BFGS-B's stopping rules. Taking the same steps matters when
//! the iteration limit ends a fit before it converges (scikit-learn's `LogisticRegression`
//! on unscaled features stops at 100 iterations): the model is then wherever the path is.

/// Correction pairs kept (L-BFGS-B's `m`).
const MEMORY: usize = 10;
/// Evaluations allowed in one line search (scikit-learn passes `maxls = 50`).
const MAX_LINE_SEARCH: usize = 50;
/// The relative decrease of the objective below which the fit has converged: scikit-learn's
/// `ftol = 64 · ε`.
const FTOL: f64 = 64.0 * f64::EPSILON;

/// Minimizes `f` from `x0`. `f(x, grad)` returns the value and writes the gradient. Stops
/// when the largest gradient component is at most `tol`, when an iteration lowers the value
/// by a relative `64 ε` or less, or after `max_iter` iterations (accepted steps).
pub fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    max_iter: usize,
    tol: f64,
    on_step: &mut dyn FnMut(),
) -> Vec<f64> {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut pairs: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut failed_searches = 0;
    let mut iterations = 0;
    while iterations < max_iter && inf_norm(&g) > tol {
        on_step();
        let mut d = direction(&g, &pairs);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // not a descent direction (rounding): forget the pairs, go down the gradient
            pairs.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        let step = if iterations == 0 { (1.0 / dot(&d, &d).sqrt()).min(1e10) } else { 1.0 };
        let mut search = LineSearch::new(step, fx, slope, 1e10);
        let mut accepted = None;
        for _ in 0..MAX_LINE_SEARCH {
            let stp = search.stp;
            for i in 0..n {
                x_new[i] = if stp == 1.0 { x[i] + d[i] } else { stp * d[i] + x[i] };
            }
            let f_new = f(&x_new, &mut g_new);
            if !f_new.is_finite() {
                // outside the objective's domain: back off towards the last point
                search.stp = 0.5 * (stp + search.stx);
                continue;
            }
            if search.next(f_new, dot(&g_new, &d)) {
                accepted = Some((stp, f_new));
                break;
            }
        }
        let Some((stp, f_new)) = accepted else {
            // L-BFGS-B forgets its pairs and retries once, then gives up
            failed_searches += 1;
            if failed_searches > 1 || pairs.is_empty() {
                break;
            }
            pairs.clear();
            continue;
        };
        failed_searches = 0;
        iterations += 1;
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let f_old = std::mem::replace(&mut fx, f_new);
        if inf_norm(&g) <= tol || f_old - fx <= FTOL * f_old.abs().max(fx.abs()).max(1.0) {
            break;
        }
        // L-BFGS-B skips a pair whose curvature is not clearly positive
        if dot(&s, &y) > f64::EPSILON * (-slope * stp) {
            if pairs.len() == MEMORY {
                pairs.remove(0);
            }
            pairs.push((s, y));
        }
    }
    x
}

/// `-H g` by the two-loop recursion, `H` starting from `(sᵀy / yᵀy) I` of the newest pair.
fn direction(g: &[f64], pairs: &[(Vec<f64>, Vec<f64>)]) -> Vec<f64> {
    let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y) in pairs.iter().rev() {
        let rho = 1.0 / dot(y, s);
        let a = rho * dot(s, &d);
        axpy(-a, y, &mut d);
        alphas.push((a, rho));
    }
    if let Some((s, y)) = pairs.last() {
        let gamma = dot(s, y) / dot(y, y);
        d.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y), (a, rho)) in pairs.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &d);
        axpy(a - b, s, &mut d);
    }
    d
}

/// The Moré–Thuente line search with L-BFGS-B's constants: sufficient decrease 1e-3,
/// curvature 0.9, interval tolerance 0.1. `stp` is the next step to evaluate.
struct LineSearch {
    stp: f64,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    stmin: f64,
    stmax: f64,
    stpmax: f64,
    finit: f64,
    ginit: f64,
    width: f64,
    width1: f64,
    brackt: bool,
    stage_one: bool,
}

const FTOL_LS: f64 = 1e-3;
const GTOL_LS: f64 = 0.9;
const XTOL_LS: f64 = 0.1;

impl LineSearch {
    fn new(stp: f64, finit: f64, ginit: f64, stpmax: f64) -> LineSearch {
        LineSearch {
            stp,
            stx: 0.0,
            fx: finit,
            gx: ginit,
            sty: 0.0,
            fy: finit,
            gy: ginit,
            stmin: 0.0,
            stmax: stp + 4.0 * stp,
            stpmax,
            finit,
            ginit,
            width: stpmax,
            width1: 2.0 * stpmax,
            brackt: false,
            stage_one: true,
        }
    }

    /// Takes the value and slope at `stp`: true if the step is accepted, otherwise sets the
    /// next `stp` to try.
    fn next(&mut self, f: f64, g: f64) -> bool {
        let stp = self.stp;
        let gtest = FTOL_LS * self.ginit;
        let ftest = self.finit + stp * gtest;
        if self.stage_one && f <= ftest && g >= 0.0 {
            self.stage_one = false;
        }
        // the conditions hold, or the interval can no longer shrink: either way the step stands
        if (f <= ftest && g.abs() <= GTOL_LS * -self.ginit)
            || (self.brackt && (stp <= self.stmin || stp >= self.stmax))
            || (self.brackt && self.stmax - self.stmin <= XTOL_LS * self.stmax)
            || (stp == self.stpmax && f <= ftest && g <= gtest)
            || (stp == 0.0 && (f > ftest || g >= gtest))
        {
            return true;
        }
        if self.stage_one && f <= self.fx && f > ftest {
            // on the modified function ψ(α) = f(α) - f(0) - α·gtest
            let (mut fx, mut gx) = (self.fx - self.stx * gtest, self.gx - gtest);
            let (mut fy, mut gy) = (self.fy - self.sty * gtest, self.gy - gtest);
            self.step(&mut fx, &mut gx, &mut fy, &mut gy, f - stp * gtest, g - gtest);
            self.fx = fx + self.stx * gtest;
            self.fy = fy + self.sty * gtest;
            self.gx = gx + gtest;
            self.gy = gy + gtest;
        } else {
            let (mut fx, mut gx, mut fy, mut gy) = (self.fx, self.gx, self.fy, self.gy);
            self.step(&mut fx, &mut gx, &mut fy, &mut gy, f, g);
            (self.fx, self.gx, self.fy, self.gy) = (fx, gx, fy, gy);
        }
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                self.stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = self.stp + 1.1 * (self.stp - self.stx);
            self.stmax = self.stp + 4.0 * (self.stp - self.stx);
        }
        self.stp = self.stp.clamp(0.0, self.stpmax);
        if self.brackt
            && (self.stp <= self.stmin
                || self.stp >= self.stmax
                || self.stmax - self.stmin <= XTOL_LS * self.stmax)
        {
            self.stp = self.stx;
        }
        false
    }

    /// MINPACK-2's `dcstep`: a safeguarded cubic or quadratic step from the best point `stx`
    /// (value `fx`, slope `dx`), the other end `sty` and the trial `stp` (`fp`, `dp`); updates
    /// the interval and sets `stp` to the next trial.
    fn step(&mut self, fx: &mut f64, dx: &mut f64, fy: &mut f64, dy: &mut f64, fp: f64, dp: f64) {
        let (stx, sty, stp) = (self.stx, self.sty, self.stp);
        let (stpmin, stpmax) = (self.stmin, self.stmax);
        let sgnd = dp * (*dx / dx.abs());
        let cubic = |f_a: f64, d_a: f64, a: f64, f_b: f64, d_b: f64, b: f64| {
            let theta = 3.0 * (f_a - f_b) / (b - a) + d_a + d_b;
            let s = theta.abs().max(d_a.abs()).max(d_b.abs());
            (theta, s)
        };
        let stpf;
        if fp > *fx {
            let (theta, s) = cubic(*fx, *dx, stx, fp, dp, stp);
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
            if stp < stx {
                gamma = -gamma;
            }
            let p = (gamma - *dx) + theta;
            let q = ((gamma - *dx) + gamma) + dp;
            let stpc = stx + p / q * (stp - stx);
            let stpq = stx + ((*dx / ((*fx - fp) / (stp - stx) + *dx)) / 2.0) * (stp - stx);
            stpf = if (stpc - stx).abs() < (stpq - stx).abs() { stpc } else { stpc + (stpq - stpc) / 2.0 };
            self.brackt = true;
        } else if sgnd < 0.0 {
            let (theta, s) = cubic(*fx, *dx, stx, fp, dp, stp);
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dx;
            let stpc = stp + p / q * (stx - stp);
            let stpq = stp + (dp / (dp - *dx)) * (stx - stp);
            stpf = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
            self.brackt = true;
        } else if dp.abs() < dx.abs() {
            let (theta, s) = cubic(*fx, *dx, stx, fp, dp, stp);
            let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = (gamma + (*dx - dp)) + gamma;
            let r = p / q;
            let stpc = if r < 0.0 && gamma != 0.0 {
                stp + r * (stx - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
            let stpq = stp + (dp / (dp - *dx)) * (stx - stp);
            stpf = if self.brackt {
                let f = if (stpc - stp).abs() < (stpq - stp).abs() { stpc } else { stpq };
                if stp > stx {
                    (stp + 0.66 * (sty - stp)).min(f)
                } else {
                    (stp + 0.66 * (sty - stp)).max(f)
                }
            } else {
                let f = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
                f.min(stpmax).max(stpmin)
            };
        } else if self.brackt {
            let (theta, s) = cubic(fp, dp, stp, *fy, *dy, sty);
            let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).sqrt();
            if stp > sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            stpf = stp + p / q * (sty - stp);
        } else {
            stpf = if stp > stx { stpmax } else { stpmin };
        }
        if fp > *fx {
            self.sty = stp;
            (*fy, *dy) = (fp, dp);
        } else {
            if sgnd < 0.0 {
                self.sty = stx;
                (*fy, *dy) = (*fx, *dx);
            }
            self.stx = stp;
            (*fx, *dx) = (fp, dp);
        }
        self.stp = stpf;
    }
}

fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_function() {
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let x = minimize(f, vec![-1.2, 1.0], 500, 1e-8, &mut || {});
        assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4, "{x:?}");
    }
}
