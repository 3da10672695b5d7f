//! Rollouts simulated with a known truth: how often the sequential test rolls back a candidate
//! as good as the baseline, promotes one worse by more than the margin, and how many labelled
//! rows a harmful one takes to roll back. `cargo test` bounds these rates (deterministic seeds);
//! `cargo run --release -p pgml-core --example rollout_simulation` prints them.
//!
//! Losses are 0/1 errors. Labels arrive `rows_per_minute` a minute, the test looks every
//! minute, as the registry's job does.

use super::sequential::{evaluate, Moments, Policy, Verdict};

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Both models score every request; with probability `agreement` the candidate errs on
    /// exactly the requests the baseline finds hard (the two are correlated, as two versions of
    /// a model are), otherwise independently.
    Shadow { agreement: f64 },
    /// `percent` of the requests go to the candidate.
    Canary { percent: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub mode: Mode,
    pub baseline_error: f64,
    pub candidate_error: f64,
    pub rows_per_minute: u32,
    pub minutes: u32,
    pub policy: Policy,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Labelled requests when it was decided (or at the end).
    pub rows: u64,
}

/// SplitMix64: fast, and the same stream on every machine.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One rollout, to its decision or its last minute.
pub fn run(s: &Scenario, seed: u64) -> Outcome {
    let mut rng = Rng(seed);
    let mut stream = Moments::default();
    let (mut candidate_rows, mut baseline_rows) = (0u64, 0u64);
    let mut rho2 = None;
    let (eb, ec) = (s.baseline_error, s.candidate_error);
    for minute in 1..=s.minutes {
        for _ in 0..s.rows_per_minute {
            match s.mode {
                Mode::Shadow { agreement } => {
                    let u = rng.uniform();
                    let v = if rng.uniform() < agreement { u } else { rng.uniform() };
                    stream.push(f64::from(u8::from(v < ec)) - f64::from(u8::from(u < eb)));
                    candidate_rows += 1;
                    baseline_rows += 1;
                }
                Mode::Canary { percent } => {
                    let p = percent / 100.0;
                    if rng.uniform() < p {
                        stream.push(f64::from(u8::from(rng.uniform() < ec)) / p);
                        candidate_rows += 1;
                    } else {
                        stream.push(-f64::from(u8::from(rng.uniform() < eb)) / (1.0 - p));
                        baseline_rows += 1;
                    }
                }
            }
        }
        let elapsed = f64::from(minute) * 60.0;
        let per_arm = candidate_rows.min(baseline_rows) as f64;
        let e = evaluate(&stream, per_arm, elapsed, rho2, &s.policy);
        rho2 = e.rho2;
        if e.verdict != Verdict::Continue {
            return Outcome { verdict: e.verdict, rows: stream.n as u64 };
        }
    }
    Outcome { verdict: Verdict::Inconclusive, rows: stream.n as u64 }
}

/// What `runs` rollouts of a scenario decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub runs: u32,
    pub rolled_back: u32,
    pub promoted: u32,
    pub inconclusive: u32,
    /// The median labelled rows of the runs that rolled back (None when none did).
    pub median_rows_to_roll_back: Option<u64>,
    pub median_rows_to_promote: Option<u64>,
}

pub fn summarize(s: &Scenario, runs: u32, seed: u64) -> Summary {
    let outcomes: Vec<Outcome> = (0..runs).map(|i| run(s, seed.wrapping_add(u64::from(i) * 7919))).collect();
    let count = |v| outcomes.iter().filter(|o| o.verdict == v).count() as u32;
    let median = |v| {
        let mut rows: Vec<u64> = outcomes.iter().filter(|o| o.verdict == v).map(|o| o.rows).collect();
        rows.sort_unstable();
        rows.get(rows.len() / 2).copied()
    };
    Summary {
        runs,
        rolled_back: count(Verdict::RollBack),
        promoted: count(Verdict::Promote),
        inconclusive: count(Verdict::Inconclusive),
        median_rows_to_roll_back: median(Verdict::RollBack),
        median_rows_to_promote: median(Verdict::Promote),
    }
}

/// The scenarios for a mode: an equal candidate, one worse than the baseline by just
/// more than the margin, and one 2 points worse than a 10 % baseline error.
pub fn scenarios(mode: Mode) -> [(&'static str, Scenario); 3] {
    let (rows_per_minute, minutes) = match mode {
        Mode::Shadow { .. } => (100, 7 * 24 * 60 / 4),
        Mode::Canary { .. } => (1000, 7 * 24 * 60 / 4),
    };
    let policy = Policy { max_seconds: f64::from(minutes) * 60.0, ..Policy::default() };
    let at = |candidate_error| Scenario {
        mode,
        baseline_error: 0.10,
        candidate_error,
        rows_per_minute,
        minutes,
        policy,
    };
    [
        ("equal", at(0.10)),
        ("worse by more than the margin", at(0.10 + policy.margin + 0.001)),
        ("2 points worse", at(0.12)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More than the 200 a scenario, so that the rates are measured, not glimpsed.
    const RUNS: u32 = 1000;

    fn check(mode: Mode) -> Vec<Summary> {
        let [equal, worse, harmful] = scenarios(mode).map(|(_, s)| summarize(&s, RUNS, 20261207));
        // at most 2.5 %, and at least 95 %
        assert!(equal.rolled_back <= RUNS / 40, "{mode:?}: an equal candidate rolled back: {equal:?}");
        assert!(
            worse.promoted <= RUNS / 40,
            "{mode:?}: a candidate worse than the margin promoted: {worse:?}"
        );
        assert!(harmful.rolled_back >= RUNS * 95 / 100, "{mode:?}: a harmful candidate kept: {harmful:?}");
        vec![equal, worse, harmful]
    }

    #[test]
    fn shadow_rolls_back_a_harmful_candidate_and_rarely_a_good_one() {
        let s = check(Mode::Shadow { agreement: 0.8 });
        // an equal candidate is mostly promoted within the week
        assert!(s[0].promoted >= RUNS * 3 / 4, "{:?}", s[0]);
    }

    #[test]
    fn a_10_percent_canary_does_the_same_with_more_rows() {
        let canary = check(Mode::Canary { percent: 10.0 });
        let shadow = summarize(&scenarios(Mode::Shadow { agreement: 0.8 })[2].1, 50, 1);
        let rows = |s: &Summary| s.median_rows_to_roll_back.unwrap_or(u64::MAX);
        assert!(rows(&shadow) * 5 < rows(&canary[2]), "shadow {shadow:?}, canary {:?}", canary[2]);
    }
}
