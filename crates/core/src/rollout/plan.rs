//! A rollout's plan as the user writes it (mode, percentage, policy as JSON), checked before
//! anything starts, and the route a predict follows while it runs.

use super::assign::in_candidate;
use super::guards::Guards;
use super::loss::Loss;
use super::sequential::Policy;
use crate::{Error, Result, Task};
use serde::{Deserialize, Serialize};

/// How a candidate meets traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The baseline answers every request; the candidate scores the same features beside it.
    Shadow,
    /// Keyed requests whose bucket falls under the percentage are answered by the candidate.
    Canary,
    /// Shadow until the candidate is shown no worse than the margin, then canary.
    ShadowThenCanary,
}

impl Mode {
    pub fn parse(name: &str) -> Result<Mode> {
        match name {
            "shadow" => Ok(Mode::Shadow),
            "canary" => Ok(Mode::Canary),
            "shadow_then_canary" => Ok(Mode::ShadowThenCanary),
            other => Err(Error::invalid(format!("unknown rollout mode \"{other}\""))
                .with_hint("use shadow, canary or shadow_then_canary")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Canary => "canary",
            Mode::ShadowThenCanary => "shadow_then_canary",
        }
    }

    /// The phase a rollout of this mode starts in.
    pub fn first_phase(self) -> Phase {
        match self {
            Mode::Canary => Phase::Canary,
            Mode::Shadow | Mode::ShadowThenCanary => Phase::Shadow,
        }
    }
}

/// What the running rollout does with traffic now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Shadow,
    Canary,
}

impl Phase {
    pub fn parse(name: &str) -> Result<Phase> {
        match name {
            "shadow" => Ok(Phase::Shadow),
            "canary" => Ok(Phase::Canary),
            other => Err(Error::Internal(format!("unknown rollout phase \"{other}\""))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Shadow => "shadow",
            Phase::Canary => "canary",
        }
    }
}

/// The policy a user may pass as JSON: every field optional, unknown ones refused.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub loss: Option<String>,
    pub alpha_harm: Option<f64>,
    pub alpha_promote: Option<f64>,
    pub margin: Option<f64>,
    pub min_rows: Option<f64>,
    pub bake_seconds: Option<f64>,
    pub max_seconds: Option<f64>,
    /// The share of requests the candidate also scores in shadow (bounds its cost).
    pub shadow_sample: Option<f64>,
    pub max_error_increase: Option<f64>,
    pub max_p99_ratio: Option<f64>,
    pub max_p99_increase_micros: Option<f64>,
    pub guard_min_requests: Option<f64>,
    pub guard_minutes: Option<u32>,
}

/// The policy with every default filled in, as stored with the rollout (so that a later release
/// with other defaults never changes a running rollout's rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub loss: String,
    pub alpha_harm: f64,
    pub alpha_promote: f64,
    pub margin: f64,
    pub min_rows: f64,
    pub bake_seconds: f64,
    pub max_seconds: f64,
    pub shadow_sample: f64,
    pub max_error_increase: f64,
    pub max_p99_ratio: f64,
    pub max_p99_increase_micros: f64,
    pub guard_min_requests: f64,
    pub guard_minutes: u32,
}

impl Resolved {
    /// Checks the user's policy for a project of `task` and fills in the defaults.
    pub fn from_json(value: &serde_json::Value, task: Task) -> Result<Resolved> {
        let input: PolicyInput = serde_json::from_value(value.clone()).map_err(|e| {
            Error::invalid(format!("invalid rollout policy: {e}")).with_hint(
                "keys: loss, alpha_harm, alpha_promote, margin, min_rows, bake_seconds, max_seconds, \
                 shadow_sample, max_error_increase, max_p99_ratio, max_p99_increase_micros, \
                 guard_min_requests, guard_minutes",
            )
        })?;
        let loss = match &input.loss {
            Some(name) => Loss::parse(name, task)?,
            None => {
                Loss::parse(Loss::default_for(task).name(), task)?;
                Loss::default_for(task)
            }
        };
        let p = Policy::default();
        let g = Guards::default();
        let r = Resolved {
            loss: loss.name().to_string(),
            alpha_harm: input.alpha_harm.unwrap_or(p.alpha_harm),
            alpha_promote: input.alpha_promote.unwrap_or(p.alpha_promote),
            margin: input.margin.unwrap_or(p.margin),
            min_rows: input.min_rows.unwrap_or(p.min_rows),
            bake_seconds: input.bake_seconds.unwrap_or(p.bake_seconds),
            max_seconds: input.max_seconds.unwrap_or(p.max_seconds),
            shadow_sample: input.shadow_sample.unwrap_or(1.0),
            max_error_increase: input.max_error_increase.unwrap_or(g.max_error_increase),
            max_p99_ratio: input.max_p99_ratio.unwrap_or(g.max_p99_ratio),
            max_p99_increase_micros: input.max_p99_increase_micros.unwrap_or(g.max_p99_increase_micros),
            guard_min_requests: input.guard_min_requests.unwrap_or(g.min_requests),
            guard_minutes: input.guard_minutes.unwrap_or(g.consecutive),
        };
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<()> {
        let bad = |name: &str, value: f64, rule: &str| {
            Err(Error::invalid(format!("rollout policy: {name} must be {rule}, not {value}")))
        };
        for (name, v) in [("alpha_harm", self.alpha_harm), ("alpha_promote", self.alpha_promote)] {
            if !(v > 0.0 && v < 0.5) {
                return bad(name, v, "between 0 and 0.5 (exclusive)");
            }
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return bad("margin", self.margin, "0 or more");
        }
        if !(self.min_rows.is_finite() && self.min_rows >= 2.0) {
            return bad("min_rows", self.min_rows, "at least 2");
        }
        if !(self.bake_seconds.is_finite() && self.bake_seconds >= 0.0) {
            return bad("bake_seconds", self.bake_seconds, "0 or more");
        }
        if !(self.max_seconds.is_finite() && self.max_seconds > self.bake_seconds) {
            return bad("max_seconds", self.max_seconds, "more than bake_seconds");
        }
        if !(self.shadow_sample > 0.0 && self.shadow_sample <= 1.0) {
            return bad("shadow_sample", self.shadow_sample, "above 0 and at most 1");
        }
        for (name, v) in [
            ("max_error_increase", self.max_error_increase),
            ("max_p99_increase_micros", self.max_p99_increase_micros),
            ("guard_min_requests", self.guard_min_requests),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, v, "0 or more");
            }
        }
        if !(self.max_p99_ratio.is_finite() && self.max_p99_ratio >= 1.0) {
            return bad("max_p99_ratio", self.max_p99_ratio, "at least 1");
        }
        if self.guard_minutes == 0 {
            return bad("guard_minutes", 0.0, "at least 1");
        }
        Ok(())
    }

    pub fn loss(&self, task: Task) -> Result<Loss> {
        Loss::parse(&self.loss, task)
    }

    pub fn policy(&self) -> Policy {
        Policy {
            alpha_harm: self.alpha_harm,
            alpha_promote: self.alpha_promote,
            margin: self.margin,
            min_rows: self.min_rows,
            bake_seconds: self.bake_seconds,
            max_seconds: self.max_seconds,
        }
    }

    pub fn guards(&self) -> Guards {
        Guards {
            max_error_increase: self.max_error_increase,
            max_p99_ratio: self.max_p99_ratio,
            max_p99_increase_micros: self.max_p99_increase_micros,
            min_requests: self.guard_min_requests,
            consecutive: self.guard_minutes,
        }
    }
}

/// Checks a canary's percentage: above 0 and below 100.
pub fn check_percent(percent: f64) -> Result<()> {
    if percent > 0.0 && percent < 100.0 {
        return Ok(());
    }
    Err(Error::invalid(format!("percent must be above 0 and below 100, not {percent}"))
        .with_hint("the share of keys the candidate answers in canary, e.g. percent => 10"))
}

/// Which model answers a request while a rollout runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub rollout_id: i64,
    pub candidate_id: i64,
    pub phase: Phase,
    pub percent: f64,
    pub salt: u64,
    pub shadow_sample: f64,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arm {
    /// The baseline answers and nothing else runs.
    Baseline,
    /// The baseline answers; the candidate scores the features too (a shadow record).
    BaselineAndShadow,
    /// The candidate answers.
    Candidate,
}

impl Route {
    /// The arm of a request with this `key` (None: no key). `draw` is a uniform number in
    /// [0, 1) for the shadow's sample, asked only when the share is below 1.
    pub fn arm(&self, key: Option<&[u8]>, draw: impl FnOnce() -> f64) -> Arm {
        match self.phase {
            Phase::Shadow => {
                if self.shadow_sample >= 1.0 || draw() < self.shadow_sample {
                    Arm::BaselineAndShadow
                } else {
                    Arm::Baseline
                }
            }
            // a request without a key goes to the baseline: its arm could not be repeated
            Phase::Canary => match key {
                Some(k) if in_candidate(self.salt, k, self.percent) => Arm::Candidate,
                _ => Arm::Baseline,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_policy_fills_its_defaults_and_refuses_what_is_wrong() {
        let r = Resolved::from_json(&json!({}), Task::Classification).unwrap();
        assert_eq!(
            (r.loss.as_str(), r.alpha_harm, r.min_rows, r.guard_minutes),
            ("zero_one", 0.025, 200.0, 3)
        );
        let r = Resolved::from_json(&json!({"loss": "absolute", "margin": 0.5}), Task::Regression).unwrap();
        assert_eq!((r.loss.as_str(), r.margin), ("absolute", 0.5));
        for (bad, needle) in [
            (json!({"alpha": 0.1}), "unknown field `alpha`"),
            (json!({"alpha_harm": 0.7}), "alpha_harm must be between 0 and 0.5"),
            (json!({"loss": "squared"}), "does not apply to a classification project"),
            (json!({"max_seconds": 60, "bake_seconds": 3600}), "max_seconds must be more than bake_seconds"),
            (json!({"shadow_sample": 0}), "shadow_sample must be above 0"),
        ] {
            let e = Resolved::from_json(&bad, Task::Classification).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        let e = Resolved::from_json(&json!({}), Task::Clustering).unwrap_err().to_string();
        assert!(e.contains("no labels"), "{e}");
        assert!(check_percent(0.0).is_err() && check_percent(100.0).is_err() && check_percent(0.5).is_ok());
    }

    #[test]
    fn a_canary_sends_a_key_to_one_arm_and_a_keyless_request_to_the_baseline() {
        let route = Route {
            rollout_id: 1,
            candidate_id: 2,
            phase: Phase::Canary,
            percent: 10.0,
            salt: 42,
            shadow_sample: 1.0,
        };
        let arms: Vec<Arm> =
            (0..10_000).map(|i| route.arm(Some(format!("k{i}").as_bytes()), || unreachable!())).collect();
        let candidate = arms.iter().filter(|a| **a == Arm::Candidate).count();
        // binomial: 1,000 ± 30 (one standard deviation); the 100,000-key share is pinned in assign
        assert!((910..=1090).contains(&candidate), "{candidate}");
        assert_eq!(route.arm(Some(b"k7"), || 0.0), route.arm(Some(b"k7"), || 0.9));
        assert_eq!(route.arm(None, || unreachable!()), Arm::Baseline);
        let shadow = Route { phase: Phase::Shadow, shadow_sample: 0.25, ..route };
        assert_eq!(shadow.arm(None, || 0.1), Arm::BaselineAndShadow);
        assert_eq!(shadow.arm(Some(b"k"), || 0.3), Arm::Baseline);
    }
}
