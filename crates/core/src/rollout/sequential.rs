//! Deciding a rollout on live outcomes with a test that stays valid however often it looks.
//!
//! Each labelled request gives one number whose mean is Δ, how much higher the candidate's loss
//! is than the baseline's:
//! - shadow: both models scored the same request, `x = loss(candidate) − loss(baseline)`
//!   (paired: the request's own difficulty cancels out);
//! - canary: each request was served by one arm, the candidate's with probability `p`:
//!   `x = loss / p` for a candidate row and `−loss / (1 − p)` for a baseline row (inverse
//!   probability weighting: its mean is Δ whatever the arms' sizes).
//!
//! An asymptotic confidence sequence (Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas,
//! "Time-uniform central limit theory and asymptotic confidence sequences", 2021) bounds Δ at
//! every moment at once: the chance that it *ever* excludes the true Δ, however many times it
//! is looked at, is at most α as the sample grows. A job may look every minute without
//! inflating its error rates, unlike a t-test repeated each minute (which, looked at 100
//! times, declares a difference between equal models about a third of the time).
//!
//! Decisions, each terminal: **roll back** when the lower bound (one-sided, `alpha_harm`) is
//! above 0 — the candidate is worse; **promote** when the upper bound (one-sided,
//! `alpha_promote`) is below `margin` — the candidate is at most `margin` worse — once the
//! rollout has baked; **inconclusive** when neither happened by the maximum duration. No
//! quality decision is taken before each arm has `min_rows` labelled rows.

/// Mergeable moments of a stream of numbers: per minute in the registry, summed over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
        self.sum_sq += x * x;
    }

    pub fn merge(&mut self, other: &Moments) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    pub fn mean(&self) -> f64 {
        if self.n > 0.0 {
            self.sum / self.n
        } else {
            0.0
        }
    }

    /// The variance (dividing by n), never negative.
    pub fn variance(&self) -> f64 {
        if self.n > 0.0 {
            (self.sum_sq / self.n - self.mean().powi(2)).max(0.0)
        } else {
            0.0
        }
    }

    /// A canary's stream from its arms' loss moments, `p` the candidate's share of the traffic
    /// when they were served (a rollout whose percentage changed sums one of these per share).
    pub fn canary(candidate: &Moments, baseline: &Moments, p: f64) -> Moments {
        let q = 1.0 - p;
        Moments {
            n: candidate.n + baseline.n,
            sum: candidate.sum / p - baseline.sum / q,
            sum_sq: candidate.sum_sq / (p * p) + baseline.sum_sq / (q * q),
        }
    }
}

/// Δ's estimate and its bounds at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The mixture's ρ², tuned before the test (from the variance of its first rows, then fixed) so
/// that the sequence is tightest once `rows` rows are in.
pub fn tuning(alpha: f64, rows: f64, variance: f64) -> f64 {
    let l = -2.0 * alpha.ln();
    (l + (l + 1.0).ln()) / (rows * variance.max(1e-9))
}

/// The two-sided (1 − alpha) asymptotic confidence sequence for the stream's mean, now.
pub fn bounds(m: &Moments, alpha: f64, rho2: f64) -> Option<Bounds> {
    if m.n < 2.0 || !(0.0..1.0).contains(&alpha) || rho2 <= 0.0 {
        return None;
    }
    let r = m.n * m.variance() * rho2 + 1.0;
    let half = (2.0 * r / (m.n * m.n * rho2) * (r.sqrt() / alpha).ln()).sqrt();
    let estimate = m.mean();
    Some(Bounds { estimate, lower: estimate - half, upper: estimate + half })
}

/// A rollout's decision rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// The chance of rolling back a candidate no worse than the baseline.
    pub alpha_harm: f64,
    /// The chance of promoting a candidate worse than the baseline by more than `margin`.
    pub alpha_promote: f64,
    /// How much worse (in the loss's units) a candidate may be and still be promoted.
    pub margin: f64,
    /// Labelled rows each arm needs before any quality decision.
    pub min_rows: f64,
    /// Seconds before a promotion.
    pub bake_seconds: f64,
    /// Seconds after which a rollout with no decision ends inconclusive.
    pub max_seconds: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            alpha_harm: 0.025,
            alpha_promote: 0.025,
            margin: 0.01,
            min_rows: 200.0,
            bake_seconds: 3600.0,
            max_seconds: 7.0 * 86400.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    RollBack,
    Promote,
    Inconclusive,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Continue => "running",
            Verdict::RollBack => "rolled_back",
            Verdict::Promote => "promoted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// What one evaluation saw and decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// ρ², set at the first evaluation with enough rows and kept for the rollout's life.
    pub rho2: Option<f64>,
    /// The bounds the harm test used (lower) and the promotion test used (upper).
    pub harm: Option<Bounds>,
    pub promote: Option<Bounds>,
}

/// How many rows in the mixture is tuned for, per row at tuning: its bounds are tightest then.
const TUNED_FOR: f64 = 10.0;

/// Evaluates the test now: `m` the stream so far, `rows_per_arm` the labelled rows of the
/// smaller arm (in shadow, every row is both arms'), `elapsed` the seconds since the start, and
/// `rho2` what the previous evaluations fixed (None before the first with enough rows).
pub fn evaluate(
    m: &Moments,
    rows_per_arm: f64,
    elapsed: f64,
    rho2: Option<f64>,
    policy: &Policy,
) -> Evaluation {
    let timed_out = elapsed >= policy.max_seconds;
    let ended = |verdict| Evaluation { verdict, rho2, harm: None, promote: None };
    if rows_per_arm < policy.min_rows || m.n < 2.0 {
        return ended(if timed_out { Verdict::Inconclusive } else { Verdict::Continue });
    }
    let rho2 = rho2.unwrap_or_else(|| {
        tuning(policy.alpha_harm.min(policy.alpha_promote), TUNED_FOR * m.n, m.variance())
    });
    // one-sided at alpha: the side of a two-sided sequence at 2 alpha
    let harm = bounds(m, 2.0 * policy.alpha_harm, rho2);
    let promote = bounds(m, 2.0 * policy.alpha_promote, rho2);
    let verdict = match (harm, promote) {
        (Some(h), _) if h.lower > 0.0 => Verdict::RollBack,
        (_, Some(p)) if p.upper < policy.margin && elapsed >= policy.bake_seconds => Verdict::Promote,
        _ if timed_out => Verdict::Inconclusive,
        _ => Verdict::Continue,
    };
    Evaluation { verdict, rho2: Some(rho2), harm, promote }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_merge_and_the_canary_stream_has_the_difference_of_the_arms_as_its_mean() {
        let mut a = Moments::default();
        let mut b = Moments::default();
        for x in [1.0, 2.0, 3.0] {
            a.push(x);
        }
        b.push(4.0);
        a.merge(&b);
        assert_eq!((a.n, a.mean(), a.variance()), (4.0, 2.5, 1.25));
        // a 25 % candidate arm losing 0.2 on average, a baseline losing 0.1: Δ = 0.1
        let candidate = Moments { n: 250.0, sum: 50.0, sum_sq: 50.0 };
        let baseline = Moments { n: 750.0, sum: 75.0, sum_sq: 75.0 };
        let stream = Moments::canary(&candidate, &baseline, 0.25);
        assert!((stream.mean() - 0.1).abs() < 1e-12, "{}", stream.mean());
    }

    #[test]
    fn the_bounds_shrink_as_rows_come_and_widen_with_confidence() {
        let m = |n: f64| Moments { n, sum: 0.1 * n, sum_sq: 0.1 * n };
        let rho2 = tuning(0.05, 2000.0, 0.09);
        let narrow = bounds(&m(20_000.0), 0.05, rho2).unwrap();
        let wide = bounds(&m(2000.0), 0.05, rho2).unwrap();
        assert!(narrow.upper - narrow.lower < wide.upper - wide.lower);
        let stricter = bounds(&m(2000.0), 0.01, rho2).unwrap();
        assert!(stricter.upper - stricter.lower > wide.upper - wide.lower);
        assert!((wide.estimate - 0.1).abs() < 1e-12 && wide.lower < 0.1 && wide.upper > 0.1);
        assert_eq!(bounds(&m(1.0), 0.05, rho2), None);
    }

    #[test]
    fn no_decision_before_the_rows_and_no_promotion_before_the_bake() {
        let policy = Policy::default();
        let good = Moments { n: 10_000.0, sum: -100.0, sum_sq: 10_000.0 * 0.01 };
        let early = evaluate(&good, 150.0, 1e9, None, &policy);
        assert_eq!((early.verdict, early.rho2), (Verdict::Inconclusive, None));
        let unbaked = evaluate(&good, 10_000.0, 60.0, None, &policy);
        assert_eq!(unbaked.verdict, Verdict::Continue);
        assert!(unbaked.promote.unwrap().upper < policy.margin);
        let baked = evaluate(&good, 10_000.0, 3600.0, unbaked.rho2, &policy);
        assert_eq!((baked.verdict, baked.rho2), (Verdict::Promote, unbaked.rho2));
        let bad = Moments { n: 10_000.0, sum: 300.0, sum_sq: 10_000.0 * 0.05 };
        assert_eq!(evaluate(&bad, 10_000.0, 60.0, None, &policy).verdict, Verdict::RollBack);
    }
}
