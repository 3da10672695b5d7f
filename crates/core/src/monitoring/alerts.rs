//! Alert rules on live metrics: which metrics a rule may watch for a task, and whether a
//! window's value breaches a rule once it holds enough predictions.

use crate::error::{Error, Result};
use crate::monitoring::live::{BucketStats, Metrics};
use crate::Task;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Accuracy,
    LogLoss,
    Precision,
    Recall,
    F1,
    CalibrationError,
    Mae,
    Rmse,
    R2,
    Bias,
    LatencyP50,
    LatencyP99,
    PredictionDrift,
    Dropped,
}

const CLASSIFICATION: &[&str] = &["accuracy", "log_loss", "precision", "recall", "f1", "calibration_error"];
const REGRESSION: &[&str] = &["mae", "rmse", "r2", "bias"];
const ANY: &[&str] = &["latency_p50_us", "latency_p99_us", "prediction_drift", "dropped"];

impl Metric {
    /// The metric named `name`, if a rule on a `task` project may watch it.
    pub fn parse(name: &str, task: Task) -> Result<Metric> {
        let m = match name {
            "accuracy" => Metric::Accuracy,
            "log_loss" => Metric::LogLoss,
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "f1" => Metric::F1,
            "calibration_error" => Metric::CalibrationError,
            "mae" => Metric::Mae,
            "rmse" => Metric::Rmse,
            "r2" => Metric::R2,
            "bias" => Metric::Bias,
            "latency_p50_us" => Metric::LatencyP50,
            "latency_p99_us" => Metric::LatencyP99,
            "prediction_drift" => Metric::PredictionDrift,
            "dropped" => Metric::Dropped,
            _ => return Err(Self::unknown(name, task)),
        };
        let fits = match task {
            Task::Classification => CLASSIFICATION.contains(&name) || ANY.contains(&name),
            Task::Regression => REGRESSION.contains(&name) || ANY.contains(&name),
            _ => ANY.contains(&name),
        };
        if !fits {
            return Err(Self::unknown(name, task));
        }
        Ok(m)
    }

    fn unknown(name: &str, task: Task) -> Error {
        let names: Vec<&str> = match task {
            Task::Classification => CLASSIFICATION.iter().chain(ANY).copied().collect(),
            Task::Regression => REGRESSION.iter().chain(ANY).copied().collect(),
            _ => ANY.to_vec(),
        };
        Error::invalid(format!("metric \"{name}\" is not one a {} project's alert can watch", task.name()))
            .with_hint(format!("one of: {}", names.join(", ")))
    }

    /// Whether the metric needs outcomes (its count is then the labelled predictions').
    pub fn needs_labels(self) -> bool {
        !matches!(self, Metric::LatencyP50 | Metric::LatencyP99 | Metric::PredictionDrift | Metric::Dropped)
    }

    /// The metric's value on a window; `drift` and `dropped` come from outside the bucket.
    pub fn value(self, stats: &BucketStats, m: &Metrics, drift: Option<f64>, dropped: f64) -> Option<f64> {
        match self {
            Metric::Accuracy => m.accuracy,
            Metric::LogLoss => m.log_loss,
            Metric::Precision => m.precision,
            Metric::Recall => m.recall,
            Metric::F1 => m.f1,
            Metric::CalibrationError => m.calibration_error,
            Metric::Mae => m.mae,
            Metric::Rmse => m.rmse,
            Metric::R2 => m.r2,
            Metric::Bias => m.bias,
            Metric::LatencyP50 => stats.latency_quantile(0.5),
            Metric::LatencyP99 => stats.latency_quantile(0.99),
            Metric::PredictionDrift => drift,
            Metric::Dropped => Some(dropped),
        }
    }

    /// How many predictions the value stands on.
    pub fn count(self, stats: &BucketStats) -> f64 {
        if self.needs_labels() {
            stats.labelled.n
        } else {
            stats.predictions
        }
    }
}

/// Whether `value` breaches a rule: None when the window holds fewer than `min_count`
/// predictions (or no value), so that neither an alert opens nor an open one resolves on too
/// little evidence.
pub fn breached(value: Option<f64>, count: f64, min_count: f64, below: bool, threshold: f64) -> Option<bool> {
    let v = value?;
    if count < min_count || v.is_nan() {
        return None;
    }
    Some(if below { v < threshold } else { v > threshold })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_fit_their_task_and_a_wrong_one_names_the_right_ones() {
        assert_eq!(Metric::parse("accuracy", Task::Classification).unwrap(), Metric::Accuracy);
        assert_eq!(Metric::parse("latency_p99_us", Task::Regression).unwrap(), Metric::LatencyP99);
        let e = Metric::parse("accuracy", Task::Regression).unwrap_err();
        assert!(e.to_string().contains("not one a regression project's alert can watch"));
        assert!(format!("{e:?}").contains("mae, rmse, r2, bias"));
        assert!(Metric::parse("auc", Task::Classification).is_err());
    }

    #[test]
    fn too_few_predictions_decide_nothing() {
        assert_eq!(breached(Some(0.5), 99.0, 100.0, true, 0.8), None);
        assert_eq!(breached(Some(0.5), 100.0, 100.0, true, 0.8), Some(true));
        assert_eq!(breached(Some(0.9), 100.0, 100.0, true, 0.8), Some(false));
        assert_eq!(breached(Some(900.0), 500.0, 100.0, false, 500.0), Some(true));
        assert_eq!(breached(None, 500.0, 100.0, false, 500.0), None);
    }
}
