//! The loss a labelled prediction scores, row by row, so that two models compare on the same
//! requests (shadow) or between arms (canary): lower is better.

use crate::{Error, Result, Task};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// 1 when the predicted class is wrong, 0 when right (classification).
    ZeroOne,
    /// −ln of the probability given to the true class, capped at ln(10⁶) ≈ 13.8 (classification
    /// with probabilities).
    LogLoss,
    /// (prediction − label)² (regression).
    Squared,
    /// |prediction − label| (regression).
    Absolute,
}

/// The probability a log-loss floors at, so that one confident mistake cannot outweigh every
/// other row of the test.
const FLOOR: f64 = 1e-6;

impl Loss {
    pub fn parse(name: &str, task: Task) -> Result<Loss> {
        if !task.is_supervised() {
            return Err(Error::invalid(format!(
                "a {} project has no labels to judge a candidate on",
                task.name()
            )));
        }
        let loss = match name {
            "zero_one" | "error_rate" => Loss::ZeroOne,
            "log_loss" => Loss::LogLoss,
            "squared" | "squared_error" => Loss::Squared,
            "absolute" | "absolute_error" => Loss::Absolute,
            other => {
                return Err(Error::invalid(format!("unknown loss \"{other}\"")).with_hint(
                    "use zero_one or log_loss (classification), squared or absolute (regression)",
                ))
            }
        };
        if loss.classification() != (task == Task::Classification) {
            return Err(Error::invalid(format!(
                "the loss \"{name}\" does not apply to a {} project",
                task.name()
            ))
            .with_hint(match task {
                Task::Classification => "use zero_one or log_loss",
                _ => "use squared or absolute",
            }));
        }
        Ok(loss)
    }

    /// The task's default: the 0/1 error of a classifier, the squared error of a regressor.
    pub fn default_for(task: Task) -> Loss {
        match task {
            Task::Classification => Loss::ZeroOne,
            _ => Loss::Squared,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Loss::ZeroOne => "zero_one",
            Loss::LogLoss => "log_loss",
            Loss::Squared => "squared",
            Loss::Absolute => "absolute",
        }
    }

    fn classification(self) -> bool {
        matches!(self, Loss::ZeroOne | Loss::LogLoss)
    }

    /// The row's loss; `probability` is what the model gave the true class (log-loss), None
    /// when it logged no probabilities (the row then has no log-loss).
    pub fn of(self, prediction: f32, label: f32, probability: Option<f32>) -> Option<f64> {
        let (p, y) = (f64::from(prediction), f64::from(label));
        match self {
            Loss::ZeroOne => Some(if p == y { 0.0 } else { 1.0 }),
            Loss::LogLoss => probability.map(|q| -f64::from(q).clamp(FLOOR, 1.0).ln()),
            Loss::Squared => Some((p - y).powi(2)),
            Loss::Absolute => Some((p - y).abs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_loss_scores_a_row_and_belongs_to_its_task() {
        assert_eq!(Loss::ZeroOne.of(1.0, 1.0, None), Some(0.0));
        assert_eq!(Loss::ZeroOne.of(1.0, 2.0, None), Some(1.0));
        assert!((Loss::LogLoss.of(1.0, 1.0, Some(0.5)).unwrap() - std::f64::consts::LN_2).abs() < 1e-12);
        assert!((Loss::LogLoss.of(1.0, 1.0, Some(0.0)).unwrap() - 1e6f64.ln()).abs() < 1e-9);
        assert_eq!(Loss::LogLoss.of(1.0, 1.0, None), None);
        assert_eq!(Loss::Squared.of(3.0, 1.0, None), Some(4.0));
        assert_eq!(Loss::Absolute.of(-1.0, 1.0, None), Some(2.0));
        assert_eq!(Loss::parse("log_loss", Task::Classification).unwrap(), Loss::LogLoss);
        let wrong = Loss::parse("squared", Task::Classification).unwrap_err();
        assert!(wrong.to_string().contains("\"squared\""), "{wrong}");
        assert!(Loss::parse("hinge", Task::Regression).unwrap_err().to_string().contains("\"hinge\""));
        assert_eq!(Loss::default_for(Task::Regression), Loss::Squared);
    }
}
