//! Deployment strategies and the automatic-deploy rule.

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::task::Task;

/// Why a deployment happened; recorded with every deployment row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Automatic deploy at train time: the new model's key metric was better.
    NewScore,
    MostRecent,
    BestScore,
    Rollback,
    /// A model chosen by id.
    Specific,
    /// A model promoted to a stage by `pgml.promote` or an approved promotion request.
    Promote,
}

impl Strategy {
    /// Parses a strategy a user may ask `pgml.deploy(project, strategy)` for.
    pub fn parse_requested(name: &str) -> Result<Strategy> {
        match name {
            "most_recent" => Ok(Strategy::MostRecent),
            "best_score" => Ok(Strategy::BestScore),
            "rollback" => Ok(Strategy::Rollback),
            _ => Err(Error::invalid(format!("invalid deployment strategy \"{name}\"")).with_hint(
                "use most_recent, best_score or rollback; deploy a model by id with pgml.deploy(model_id)",
            )),
        }
    }

    /// The name stored in `pgml.deployments.strategy`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NewScore => "new_score",
            Strategy::MostRecent => "most_recent",
            Strategy::BestScore => "best_score",
            Strategy::Rollback => "rollback",
            Strategy::Specific => "specific",
            Strategy::Promote => "promote",
        }
    }

    /// The audit event a deployment by this strategy records: `rollback`, `promote`, or
    /// `deploy` for every other way onto a stage.
    pub fn audit_event(self) -> &'static str {
        match self {
            Strategy::Rollback => "rollback",
            Strategy::Promote => "promote",
            _ => "deploy",
        }
    }
}

/// A model that a strategy may pick.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i64,
    pub algorithm: String,
    /// The task's key metric; None when it could not be computed.
    pub key_metric: Option<f64>,
}

/// The task's key metric from a metrics map; NaN and infinities count as missing.
pub fn key_metric(task: Task, metrics: &Metrics) -> Option<f64> {
    metrics.get(task.key_metric()).copied().filter(|v| v.is_finite())
}

/// Whether a new model replaces the deployed one at train time: the first model deploys;
/// after that only a strictly better key metric does, and a model without a key metric
/// never replaces one that has it.
pub fn should_auto_deploy(deployed: Option<Option<f64>>, new: Option<f64>) -> bool {
    match (deployed, new) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(None), Some(_)) => true,
        (Some(Some(old)), Some(new)) => new > old,
    }
}

/// The model a strategy deploys. `candidates` are the project's models in creation order;
/// `history` the deployed model ids, newest first. `algorithm` restricts the candidates.
pub fn choose(
    strategy: Strategy,
    project: &str,
    candidates: &[Candidate],
    history: &[i64],
    algorithm: Option<&str>,
) -> Result<i64> {
    let pool: Vec<&Candidate> =
        candidates.iter().filter(|c| algorithm.is_none_or(|a| c.algorithm == a)).collect();
    if pool.is_empty() {
        return Err(match algorithm {
            Some(a) => {
                Error::not_found(format!("project \"{project}\" has no model trained with algorithm \"{a}\""))
                    .with_hint(format!(
                        "see SELECT DISTINCT algorithm FROM pgml.trained_models WHERE name = '{}'",
                        project.replace('\'', "''")
                    ))
            }
            None => Error::not_found(format!("project \"{project}\" has no trained models")),
        });
    }
    match strategy {
        Strategy::MostRecent => Ok(pool.iter().map(|c| c.id).max().unwrap_or_default()),
        Strategy::BestScore => pool
            .iter()
            .filter_map(|c| c.key_metric.map(|m| (m, c.id)))
            // ties go to the newer model
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, id)| id)
            .ok_or_else(|| {
                Error::not_found(format!("no model of project \"{project}\" has a key metric to compare"))
            }),
        Strategy::Rollback => {
            let current = history.first().copied();
            history
                .iter()
                .skip(1)
                .find(|&&id| Some(id) != current && pool.iter().any(|c| c.id == id))
                .copied()
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "project \"{project}\" has no earlier deployment of another model to roll back to"
                    ))
                    .with_hint("deploy a model with pgml.deploy(model_id) or the most_recent strategy")
                })
        }
        Strategy::NewScore | Strategy::Specific | Strategy::Promote => {
            Err(Error::Internal(format!("{} is not a choosing strategy", strategy.name())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, algorithm: &str, key: Option<f64>) -> Candidate {
        Candidate { id, algorithm: algorithm.into(), key_metric: key }
    }

    #[test]
    fn best_score_compares_numbers_not_text() {
        // As text, "-0.5" > "-10" and "9.5" > "10.1": numeric comparison must win.
        let models = [c(1, "linear", Some(-10.0)), c(2, "linear", Some(-0.5)), c(3, "xgboost", Some(0.0))];
        assert_eq!(choose(Strategy::BestScore, "p", &models, &[], None).unwrap(), 3);
        let models = [c(1, "linear", Some(9.5)), c(2, "xgboost", Some(10.1))];
        assert_eq!(choose(Strategy::BestScore, "p", &models, &[], None).unwrap(), 2);
        assert_eq!(choose(Strategy::BestScore, "p", &models, &[], Some("linear")).unwrap(), 1);
    }

    #[test]
    fn best_score_skips_missing_metrics_and_breaks_ties_by_recency() {
        let models = [c(1, "linear", Some(0.9)), c(2, "linear", None), c(3, "linear", Some(0.9))];
        assert_eq!(choose(Strategy::BestScore, "p", &models, &[], None).unwrap(), 3);
    }

    #[test]
    fn most_recent_honours_the_algorithm_filter() {
        let models = [c(1, "linear", None), c(2, "xgboost", None), c(3, "linear", None)];
        assert_eq!(choose(Strategy::MostRecent, "p", &models, &[], None).unwrap(), 3);
        assert_eq!(choose(Strategy::MostRecent, "p", &models, &[], Some("xgboost")).unwrap(), 2);
        let err = choose(Strategy::MostRecent, "p", &models, &[], Some("kmeans")).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }));
        assert!(err.to_string().contains("kmeans"));
    }

    #[test]
    fn two_rollbacks_return_to_the_start() {
        let models = [c(1, "linear", None), c(2, "linear", None), c(3, "linear", None)];
        // deployed 1, then 2, then 3 (newest first)
        let mut history = vec![3, 2, 1];
        let back = choose(Strategy::Rollback, "p", &models, &history, None).unwrap();
        assert_eq!(back, 2);
        history.insert(0, back);
        let again = choose(Strategy::Rollback, "p", &models, &history, None).unwrap();
        assert_eq!(again, 3);
    }

    #[test]
    fn rollback_skips_repeats_of_the_current_model() {
        let models = [c(1, "linear", None), c(2, "linear", None)];
        assert_eq!(choose(Strategy::Rollback, "p", &models, &[2, 2, 1], None).unwrap(), 1);
        assert!(matches!(
            choose(Strategy::Rollback, "p", &models, &[2, 2], None),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn auto_deploy_needs_a_strictly_better_key_metric() {
        assert!(should_auto_deploy(None, None));
        assert!(should_auto_deploy(Some(Some(0.5)), Some(0.6)));
        assert!(!should_auto_deploy(Some(Some(0.5)), Some(0.5)));
        assert!(!should_auto_deploy(Some(Some(-0.1)), Some(-0.2)));
        assert!(!should_auto_deploy(Some(Some(0.5)), None));
        assert!(should_auto_deploy(Some(None), Some(-3.0)));
    }

    #[test]
    fn nan_key_metric_counts_as_missing() {
        let m = Metrics::from([("r2".to_string(), f64::NAN)]);
        assert_eq!(key_metric(Task::Regression, &m), None);
        let m = Metrics::from([("f1".to_string(), 0.75)]);
        assert_eq!(key_metric(Task::Classification, &m), Some(0.75));
    }

    #[test]
    fn only_choosing_strategies_can_be_requested() {
        assert_eq!(Strategy::parse_requested("rollback").unwrap(), Strategy::Rollback);
        let err = Strategy::parse_requested("newest").unwrap_err();
        assert!(err.to_string().contains("newest"));
        assert!(Strategy::parse_requested("specific").is_err());
    }
}
