//! Guards that need no labels, for the minutes before outcomes arrive: the candidate's error
//! rate (predictions that failed) and its p99 latency against the baseline's, minute by minute.
//! A minute fails when the candidate's error rate is above the baseline's by more than
//! `max_error_increase`, or when its p99 is both `max_p99_ratio` times and
//! `max_p99_increase_micros` above the baseline's (a model 10 µs slower is not harmful, a
//! ratio alone would say so). `consecutive` failing minutes in a row roll back; a minute with
//! fewer than `min_requests` in an arm decides nothing and breaks no streak.

/// One arm's minute.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Minute {
    pub requests: f64,
    pub errors: f64,
    pub p99_micros: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guards {
    pub max_error_increase: f64,
    pub max_p99_ratio: f64,
    pub max_p99_increase_micros: f64,
    pub min_requests: f64,
    pub consecutive: u32,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            max_error_increase: 0.01,
            max_p99_ratio: 2.0,
            max_p99_increase_micros: 1000.0,
            min_requests: 50.0,
            consecutive: 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Pass,
    /// Too few requests in an arm to say.
    Idle,
    /// Which guard failed: "error_rate" or "latency_p99".
    Fail(&'static str),
}

pub fn check(candidate: &Minute, baseline: &Minute, g: &Guards) -> Check {
    if candidate.requests < g.min_requests || baseline.requests < g.min_requests {
        return Check::Idle;
    }
    let rate = |m: &Minute| m.errors / m.requests;
    if rate(candidate) > rate(baseline) + g.max_error_increase {
        return Check::Fail("error_rate");
    }
    if let (Some(c), Some(b)) = (candidate.p99_micros, baseline.p99_micros) {
        if c > b * g.max_p99_ratio && c - b > g.max_p99_increase_micros {
            return Check::Fail("latency_p99");
        }
    }
    Check::Pass
}

/// Failing minutes in a row after this one: a pass resets the streak, an idle minute keeps it.
pub fn streak(previous: u32, check: Check) -> u32 {
    match check {
        Check::Pass => 0,
        Check::Idle => previous,
        Check::Fail(_) => previous + 1,
    }
}

/// Whether the streak rolls the candidate back.
pub fn rolls_back(streak: u32, g: &Guards) -> bool {
    streak >= g.consecutive.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_failing_minutes_roll_back_and_a_pass_resets_them() {
        let g = Guards::default();
        let base = Minute { requests: 1000.0, errors: 0.0, p99_micros: Some(400.0) };
        let failing = Minute { requests: 100.0, errors: 5.0, p99_micros: Some(400.0) };
        let slow = Minute { requests: 100.0, errors: 0.0, p99_micros: Some(2000.0) };
        let a_bit_slower = Minute { requests: 100.0, errors: 0.0, p99_micros: Some(900.0) };
        let quiet = Minute { requests: 10.0, errors: 10.0, p99_micros: None };
        assert_eq!(check(&failing, &base, &g), Check::Fail("error_rate"));
        assert_eq!(check(&slow, &base, &g), Check::Fail("latency_p99"));
        // twice as slow but only 500 µs more: not harmful
        assert_eq!(check(&a_bit_slower, &base, &g), Check::Pass);
        assert_eq!(check(&quiet, &base, &g), Check::Idle);
        let minutes = [&failing, &quiet, &slow, &base, &failing, &failing, &failing];
        let mut s = 0;
        let mut rolled_back_at = None;
        for (i, m) in minutes.iter().enumerate() {
            s = streak(s, check(m, &base, &g));
            if rolls_back(s, &g) && rolled_back_at.is_none() {
                rolled_back_at = Some(i);
            }
        }
        // failing, idle, slow (2), then a pass resets: the next three roll back at the last
        assert_eq!(rolled_back_at, Some(6));
    }
}
