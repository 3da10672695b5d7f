//! Stages and promotion gates: which checks a model must pass before it may serve a stage,
//! decided from plain values (the candidate's metrics, the serving model's, a drift outcome).

use crate::error::{Error, Result};
use crate::metrics::{self, Metrics};
use crate::task::Task;
use serde::Serialize;

/// The stage `pgml.deploy` and `pgml.predict` use when none is named: PostgresML's only one.
pub const PRODUCTION: &str = "production";
/// Every project starts with these stages.
pub const DEFAULT_STAGES: [&str; 2] = ["staging", PRODUCTION];

/// Stage names are lower-case identifiers, so they read the same in SQL, URLs and logs.
pub fn check_stage_name(name: &str) -> Result<()> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid stage name \"{name}\"")).with_hint(
            "a stage name is 1 to 63 lower-case letters, digits or underscores, starting with a letter",
        ))
    }
}

/// A project's gates for one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Policy {
    /// Metric → the least value it may have (accuracy, f1, r2 …).
    pub min_metrics: Metrics,
    /// Metric → the greatest value it may have (mean_squared_error, log_loss …).
    pub max_metrics: Metrics,
    /// The key metric must beat the serving model's by at least this much.
    pub min_improvement: Option<f64>,
    /// … and by at least this fraction of the serving model's value.
    pub min_relative_improvement: Option<f64>,
    /// Approvals needed before the promotion happens.
    pub approvals: u32,
    /// A relation of current data the model must show no dataset drift on.
    pub drift_relation: Option<String>,
}

impl Policy {
    /// Checks metric names against what the task records, and that every bound is a number.
    pub fn validate(&self, task: Task) -> Result<()> {
        let known = metrics::names(task);
        for (name, value) in self.min_metrics.iter().chain(&self.max_metrics) {
            if !known.contains(&name.as_str()) {
                return Err(Error::invalid(format!("\"{name}\" is not a metric of {} models", task.name()))
                    .with_hint(format!("use one of: {}", known.join(", "))));
            }
            if !value.is_finite() {
                return Err(Error::invalid(format!("the bound of \"{name}\" must be a finite number")));
            }
        }
        for (what, v) in [
            ("min_improvement", self.min_improvement),
            ("min_relative_improvement", self.min_relative_improvement),
        ] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(Error::invalid(format!("{what} must be a finite number")));
            }
        }
        Ok(())
    }
}

/// A drift check's outcome on the policy's relation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftOutcome {
    pub dataset_drifted: bool,
    /// The share of features that drifted.
    pub share: f64,
}

/// What the gates look at.
pub struct Evidence<'a> {
    pub task: Task,
    pub candidate_id: i64,
    pub candidate: &'a Metrics,
    /// The model the stage serves now, with its metrics.
    pub serving: Option<(i64, &'a Metrics)>,
    /// Present when the policy names a drift relation.
    pub drift: Option<DriftOutcome>,
}

/// One gate's verdict, as the refusal lists it and the audit trail records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub check: String,
    pub required: String,
    pub actual: String,
    pub passed: bool,
}

/// Every gate of `policy` but approvals, in a fixed order.
pub fn evaluate(policy: &Policy, e: &Evidence) -> Vec<Check> {
    let mut checks = Vec::new();
    let value = |name: &str| e.candidate.get(name).copied().filter(|v| v.is_finite());
    let shown = |v: Option<f64>| v.map_or("missing".to_string(), |v| format!("{v:.4}"));
    for (name, &min) in &policy.min_metrics {
        let v = value(name);
        checks.push(Check {
            check: name.clone(),
            required: format!(">= {min}"),
            actual: shown(v),
            passed: v.is_some_and(|v| v >= min),
        });
    }
    for (name, &max) in &policy.max_metrics {
        let v = value(name);
        checks.push(Check {
            check: name.clone(),
            required: format!("<= {max}"),
            actual: shown(v),
            passed: v.is_some_and(|v| v <= max),
        });
    }
    let key = e.task.key_metric();
    if let Some(min) = policy.min_improvement {
        checks.push(improvement(e, format!("{key} improvement"), format!(">= {min:+}"), |new, old| {
            (new - old, new - old >= min)
        }));
    }
    if let Some(min) = policy.min_relative_improvement {
        checks.push(improvement(
            e,
            format!("{key} relative improvement"),
            format!(">= {min:+}"),
            |new, old| {
                let relative = (new - old) / old.abs();
                // old == 0: any gain is infinitely large, no change is none
                let relative = if relative.is_nan() { 0.0 } else { relative };
                (relative, relative >= min)
            },
        ));
    }
    if let Some(relation) = &policy.drift_relation {
        let (actual, passed) = match e.drift {
            Some(d) if d.dataset_drifted => (format!("drifted ({:.0}% of features)", d.share * 100.0), false),
            Some(d) => (format!("not drifted ({:.0}% of features)", d.share * 100.0), true),
            None => ("not measured".to_string(), false),
        };
        checks.push(Check {
            check: format!("drift on {relation}"),
            required: "not drifted".into(),
            actual,
            passed,
        });
    }
    checks
}

/// The key metric's gain over the serving model; passes when nothing else serves the stage.
fn improvement(
    e: &Evidence,
    check: String,
    required: String,
    judge: impl Fn(f64, f64) -> (f64, bool),
) -> Check {
    let key = e.task.key_metric();
    let metric = |m: &Metrics| m.get(key).copied().filter(|v| v.is_finite());
    let (actual, passed) = match e.serving {
        None => ("no model serves the stage".to_string(), true),
        Some((id, _)) if id == e.candidate_id => (format!("model {id} already serves the stage"), true),
        Some((id, serving)) => match (metric(e.candidate), metric(serving)) {
            (Some(new), Some(old)) => {
                let (gain, passed) = judge(new, old);
                (format!("{gain:+.4} ({new:.4} vs {old:.4} of model {id})"), passed)
            }
            (None, _) => (format!("{key} missing"), false),
            // a serving model without the key metric is beaten by any model that has it
            (Some(new), None) => (format!("{new:.4} vs missing {key} of model {id}"), true),
        },
    };
    Check { check, required, actual, passed }
}

/// The refusal for failed gates: one line per check, failed ones first.
pub fn refusal(subject: &str, checks: &[Check]) -> Error {
    let failed = checks.iter().filter(|c| !c.passed).count();
    let mut message = format!("{subject}: {failed} of {} checks failed", checks.len());
    for c in checks.iter().filter(|c| !c.passed).chain(checks.iter().filter(|c| c.passed)) {
        let verdict = if c.passed { "passed" } else { "FAILED" };
        message.push_str(&format!("\n  {verdict} {}: required {}, got {}", c.check, c.required, c.actual));
    }
    Error::refused(message).with_hint(
        "train a better model, change the policy with pgml.set_promotion_policy, \
         or override with force => true (members of pgml_admin)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> Metrics {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn policy() -> Policy {
        Policy {
            min_metrics: metrics(&[("accuracy", 0.8), ("f1", 0.8), ("precision", 0.8), ("recall", 0.8)]),
            min_improvement: Some(0.01),
            ..Policy::default()
        }
    }

    #[test]
    fn every_minimum_is_checked_and_reported_with_both_values() {
        let candidate = metrics(&[("accuracy", 0.9), ("f1", 0.79), ("precision", 0.85), ("recall", 0.7)]);
        let e = Evidence {
            task: Task::Classification,
            candidate_id: 2,
            candidate: &candidate,
            serving: None,
            drift: None,
        };
        let checks = evaluate(&policy(), &e);
        let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.check.as_str()).collect();
        assert_eq!(failed, ["f1", "recall"]);
        let err = refusal("model 2 cannot serve \"production\"", &checks).to_string();
        assert!(err.contains("2 of 5 checks failed"), "{err}");
        assert!(err.contains("FAILED f1: required >= 0.8, got 0.7900"), "{err}");
        assert!(err.contains("passed f1 improvement: required >= +0.01, got no model serves"), "{err}");
        // failed checks are listed first
        assert!(err.find("FAILED recall").unwrap() < err.find("passed accuracy").unwrap());
    }

    #[test]
    fn improvement_is_measured_against_the_serving_model() {
        let serving = metrics(&[("r2", 0.50)]);
        let p =
            Policy { min_improvement: Some(0.02), min_relative_improvement: Some(0.05), ..Policy::default() };
        let verdict = |r2: f64| {
            let candidate = metrics(&[("r2", r2)]);
            let e = Evidence {
                task: Task::Regression,
                candidate_id: 9,
                candidate: &candidate,
                serving: Some((4, &serving)),
                drift: None,
            };
            evaluate(&p, &e).iter().map(|c| c.passed).collect::<Vec<_>>()
        };
        assert_eq!(verdict(0.51), [false, false]); // +0.01, +2 %
        assert_eq!(verdict(0.521), [true, false]); // +0.021, +4.2 %
        assert_eq!(verdict(0.53), [true, true]); // +0.03, +6 %
        assert_eq!(verdict(0.40), [false, false]);
    }

    #[test]
    fn negative_key_metrics_improve_relative_to_their_magnitude() {
        // r2 -0.5 -> -0.4 is a 20 % improvement, not a -20 % one
        let serving = metrics(&[("r2", -0.5)]);
        let candidate = metrics(&[("r2", -0.4)]);
        let p = Policy { min_relative_improvement: Some(0.1), ..Policy::default() };
        let e = Evidence {
            task: Task::Regression,
            candidate_id: 2,
            candidate: &candidate,
            serving: Some((1, &serving)),
            drift: None,
        };
        assert!(evaluate(&p, &e)[0].passed);
    }

    #[test]
    fn a_missing_metric_fails_its_gate() {
        let candidate = metrics(&[("f1", f64::NAN)]);
        let e = Evidence {
            task: Task::Classification,
            candidate_id: 1,
            candidate: &candidate,
            serving: None,
            drift: None,
        };
        let checks = evaluate(&policy(), &e);
        assert!(checks.iter().filter(|c| c.check != "f1 improvement").all(|c| !c.passed));
        assert_eq!(checks[1].actual, "missing");
    }

    #[test]
    fn drift_gate_fails_when_the_dataset_drifted() {
        let p = Policy { drift_relation: Some("public.recent".into()), ..Policy::default() };
        let candidate = metrics(&[("f1", 0.9)]);
        let mut e = Evidence {
            task: Task::Classification,
            candidate_id: 1,
            candidate: &candidate,
            serving: None,
            drift: Some(DriftOutcome { dataset_drifted: true, share: 0.75 }),
        };
        let check = &evaluate(&p, &e)[0];
        assert!(!check.passed);
        assert_eq!(check.actual, "drifted (75% of features)");
        e.drift = Some(DriftOutcome { dataset_drifted: false, share: 0.25 });
        assert!(evaluate(&p, &e)[0].passed);
    }

    #[test]
    fn policies_name_only_metrics_the_task_records() {
        let p = Policy { min_metrics: metrics(&[("r2", 0.5)]), ..Policy::default() };
        assert!(p.validate(Task::Regression).is_ok());
        let err = p.validate(Task::Classification).unwrap_err().to_string();
        assert!(err.contains("\"r2\" is not a metric of classification models"), "{err}");
        let p = Policy { max_metrics: metrics(&[("log_loss", f64::INFINITY)]), ..Policy::default() };
        assert!(p.validate(Task::Classification).is_err());
    }

    #[test]
    fn stage_names_are_identifiers() {
        for ok in ["production", "staging", "canary_2"] {
            assert!(check_stage_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Production", "2nd", "pre-prod", &"x".repeat(64)] {
            assert!(check_stage_name(bad).is_err(), "{bad}");
        }
    }
}
