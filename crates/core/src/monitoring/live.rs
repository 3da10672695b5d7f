//! Live metrics: statistics of one time bucket of one model's logged predictions that merge
//! (sums and counts only), so a bucket is folded in as records and outcomes arrive and any
//! window is the merge of its buckets, never a rescan of the log. Every sum is weighted by the
//! records' sampling weights, so a sampled scan counts for the traffic it stands for.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency histogram buckets per doubling: a quantile read from it is within 4.4 % of the true one.
const PER_OCTAVE: f64 = 8.0;
const CALIBRATION_BINS: usize = 10;

/// The statistics of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BucketStats {
    /// Log records.
    pub records: u64,
    /// Predictions they stand for (Σ weight).
    pub predictions: f64,
    /// Latency histogram: bucket (log scale of nanoseconds) → Σ weight.
    pub latency: BTreeMap<i32, f64>,
    /// The predicted values' distribution: a class label, or the index of the training
    /// reference's bin the prediction fell in → Σ weight.
    pub predicted: BTreeMap<String, f64>,
    pub labelled: Labelled,
}

/// Sums over the predictions that have an outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Labelled {
    pub rows: u64,
    /// Σ weight.
    pub n: f64,
    // classification
    pub correct: f64,
    /// class → [true positives, false positives, false negatives]
    pub classes: BTreeMap<String, [f64; 3]>,
    pub log_loss_sum: f64,
    pub log_loss_n: f64,
    /// 10 bins of the top class's probability: [Σ weight, Σ weight × probability, Σ weight × correct]
    pub calibration: Vec<[f64; 3]>,
    // regression
    pub error_sum: f64,
    pub abs_error_sum: f64,
    pub sq_error_sum: f64,
    pub label_sum: f64,
    pub label_sq_sum: f64,
}

/// What a classifier's record carries beyond its label: the probabilities and the index of the
/// outcome's class among them.
pub struct Probabilities<'a> {
    pub values: &'a [f32],
    pub label_index: Option<usize>,
}

fn latency_bucket(micros: f32) -> i32 {
    let ns = (micros as f64 * 1000.0).max(1.0);
    (ns.log2() * PER_OCTAVE).floor() as i32
}

fn latency_of(bucket: i32) -> f64 {
    2f64.powf((bucket as f64 + 0.5) / PER_OCTAVE) / 1000.0
}

/// The class label as the log and the training reference write it (`f32`'s shortest form).
pub fn class_key(label: f32) -> String {
    label.to_string()
}

impl BucketStats {
    /// One logged prediction; `predicted` is its class label or reference bin, when known.
    pub fn add_prediction(&mut self, weight: f32, latency_micros: f32, predicted: Option<String>) {
        let w = weight as f64;
        self.records += 1;
        self.predictions += w;
        *self.latency.entry(latency_bucket(latency_micros)).or_default() += w;
        if let Some(p) = predicted {
            *self.predicted.entry(p).or_default() += w;
        }
    }

    pub fn merge(&mut self, other: &BucketStats) {
        self.records += other.records;
        self.predictions += other.predictions;
        for (k, v) in &other.latency {
            *self.latency.entry(*k).or_default() += v;
        }
        for (k, v) in &other.predicted {
            *self.predicted.entry(k.clone()).or_default() += v;
        }
        self.labelled.merge(&other.labelled);
    }

    /// The latency below which a share `q` of the predictions fell, in microseconds.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let total: f64 = self.latency.values().sum();
        if total <= 0.0 {
            return None;
        }
        let mut seen = 0.0;
        for (bucket, w) in &self.latency {
            seen += w;
            if seen >= q * total {
                return Some(latency_of(*bucket));
            }
        }
        self.latency.keys().last().map(|b| latency_of(*b))
    }
}

impl Labelled {
    /// A classifier's prediction and its outcome.
    pub fn add_classification(
        &mut self,
        weight: f32,
        predicted: f32,
        label: f32,
        probabilities: Option<Probabilities>,
    ) {
        let w = weight as f64;
        self.rows += 1;
        self.n += w;
        let hit = predicted.to_bits() == label.to_bits();
        if hit {
            self.correct += w;
            self.classes.entry(class_key(label)).or_default()[0] += w;
        } else {
            self.classes.entry(class_key(predicted)).or_default()[1] += w;
            self.classes.entry(class_key(label)).or_default()[2] += w;
        }
        if let Some(p) = probabilities {
            // log-loss as scikit-learn clips it
            let eps = 1e-15;
            let p_true = p.label_index.and_then(|i| p.values.get(i)).map_or(0.0, |&v| v as f64);
            self.log_loss_sum -= w * p_true.clamp(eps, 1.0 - eps).ln();
            self.log_loss_n += w;
            let top = p.values.iter().copied().fold(0.0f32, f32::max) as f64;
            if self.calibration.len() < CALIBRATION_BINS {
                self.calibration.resize(CALIBRATION_BINS, [0.0; 3]);
            }
            let bin = ((top * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
            let c = &mut self.calibration[bin];
            c[0] += w;
            c[1] += w * top;
            c[2] += if hit { w } else { 0.0 };
        }
    }

    /// A regressor's prediction and its outcome.
    pub fn add_regression(&mut self, weight: f32, predicted: f32, label: f32) {
        let (w, p, y) = (weight as f64, predicted as f64, label as f64);
        self.rows += 1;
        self.n += w;
        self.error_sum += w * (p - y);
        self.abs_error_sum += w * (p - y).abs();
        self.sq_error_sum += w * (p - y) * (p - y);
        self.label_sum += w * y;
        self.label_sq_sum += w * y * y;
    }

    pub fn merge(&mut self, o: &Labelled) {
        self.rows += o.rows;
        self.n += o.n;
        self.correct += o.correct;
        for (k, v) in &o.classes {
            let c = self.classes.entry(k.clone()).or_default();
            for i in 0..3 {
                c[i] += v[i];
            }
        }
        self.log_loss_sum += o.log_loss_sum;
        self.log_loss_n += o.log_loss_n;
        if self.calibration.len() < o.calibration.len() {
            self.calibration.resize(o.calibration.len(), [0.0; 3]);
        }
        for (a, b) in self.calibration.iter_mut().zip(&o.calibration) {
            for i in 0..3 {
                a[i] += b[i];
            }
        }
        self.error_sum += o.error_sum;
        self.abs_error_sum += o.abs_error_sum;
        self.sq_error_sum += o.sq_error_sum;
        self.label_sum += o.label_sum;
        self.label_sq_sum += o.label_sq_sum;
    }
}

/// A task's metrics on the labelled predictions (None where there is nothing to compute).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub accuracy: Option<f64>,
    pub log_loss: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    /// Expected calibration error of the top class's probability, 10 equal-width bins.
    pub calibration_error: Option<f64>,
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
    pub r2: Option<f64>,
    /// Mean of prediction − outcome.
    pub bias: Option<f64>,
}

impl Labelled {
    /// Classification metrics as `metrics::classification` computes them on the test split
    /// (macro averages over the classes seen in outcomes or predictions), weighted.
    pub fn classification(&self) -> Metrics {
        if self.n <= 0.0 {
            return Metrics::default();
        }
        let (mut p_sum, mut r_sum, mut f_sum) = (0.0, 0.0, 0.0);
        for [tp, fp, fneg] in self.classes.values() {
            let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
            let recall = if tp + fneg > 0.0 { tp / (tp + fneg) } else { 0.0 };
            p_sum += precision;
            r_sum += recall;
            f_sum +=
                if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        }
        let k = self.classes.len().max(1) as f64;
        let calibrated: f64 = self.calibration.iter().map(|c| c[0]).sum();
        Metrics {
            accuracy: Some(self.correct / self.n),
            log_loss: (self.log_loss_n > 0.0).then(|| self.log_loss_sum / self.log_loss_n),
            precision: Some(p_sum / k),
            recall: Some(r_sum / k),
            f1: Some(f_sum / k),
            calibration_error: (calibrated > 0.0).then(|| {
                self.calibration.iter().filter(|c| c[0] > 0.0).map(|c| (c[1] - c[2]).abs() / calibrated).sum()
            }),
            ..Metrics::default()
        }
    }

    pub fn regression(&self) -> Metrics {
        if self.n <= 0.0 {
            return Metrics::default();
        }
        let total = self.label_sq_sum - self.label_sum * self.label_sum / self.n;
        Metrics {
            mae: Some(self.abs_error_sum / self.n),
            rmse: Some((self.sq_error_sum / self.n).sqrt()),
            r2: (total > 0.0).then(|| 1.0 - self.sq_error_sum / total),
            bias: Some(self.error_sum / self.n),
            ..Metrics::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    #[test]
    fn classification_matches_the_test_split_metrics_and_merges() {
        let y_true = [0.0, 1.0, 2.0, 2.0, 1.0, 0.0, 1.0, 2.0];
        let y_pred = [0.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.0];
        let reference = metrics::classification(&y_true, &y_pred, None);
        let (mut a, mut b) = (Labelled::default(), Labelled::default());
        for (i, (&t, &p)) in y_true.iter().zip(&y_pred).enumerate() {
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.add_classification(1.0, p, t, None);
        }
        a.merge(&b);
        let m = a.classification();
        for (name, value) in
            [("accuracy", m.accuracy), ("precision", m.precision), ("recall", m.recall), ("f1", m.f1)]
        {
            assert!((value.unwrap() - reference[name]).abs() < 1e-12, "{name}");
        }
        assert_eq!(m.log_loss, None);
    }

    #[test]
    fn log_loss_and_calibration_from_probabilities() {
        let mut l = Labelled::default();
        // binary: outcomes 1, 0, 1 with P(class 1) = 0.9, 0.2, 0.4
        for (p1, label) in [(0.9f32, 1.0f32), (0.2, 0.0), (0.4, 1.0)] {
            let values = [1.0 - p1, p1];
            let predicted = if p1 >= 0.5 { 1.0 } else { 0.0 };
            l.add_classification(
                1.0,
                predicted,
                label,
                Some(Probabilities { values: &values, label_index: Some(label as usize) }),
            );
        }
        let reference = metrics::log_loss(&[1.0, 0.0, 1.0], &[0.9, 0.2, 0.4]);
        let m = l.classification();
        assert!((m.log_loss.unwrap() - reference).abs() < 1e-6, "{:?} {reference}", m.log_loss);
        // top-class probabilities 0.9 (right), 0.8 (right), 0.6 (wrong): bins 9, 8, 6
        let ece = ((0.9 - 1.0f64).abs() + (0.8 - 1.0f64).abs() + (0.6f64 - 0.0).abs()) / 3.0;
        assert!((m.calibration_error.unwrap() - ece).abs() < 1e-6);
    }

    #[test]
    fn regression_matches_the_test_split_metrics_with_weights() {
        let y = [3.0f32, -0.5, 2.0, 7.0];
        let p = [2.5f32, 0.0, 2.0, 8.0];
        let reference = metrics::regression(&y, &p);
        let mut l = Labelled::default();
        for (&t, &q) in y.iter().zip(&p) {
            l.add_regression(1.0, q, t);
        }
        let m = l.regression();
        assert!((m.r2.unwrap() - reference["r2"]).abs() < 1e-9);
        assert!((m.mae.unwrap() - reference["mean_absolute_error"]).abs() < 1e-9);
        assert!((m.rmse.unwrap().powi(2) - reference["mean_squared_error"]).abs() < 1e-9);
        assert!((m.bias.unwrap() - 0.25).abs() < 1e-9);
        // a record of weight 2 counts as two
        let mut w = Labelled::default();
        w.add_regression(2.0, 1.0, 0.0);
        w.add_regression(1.0, 4.0, 4.0);
        assert!((w.regression().mae.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn latency_quantiles_are_within_the_histograms_resolution() {
        let mut s = BucketStats::default();
        for i in 1..=1000 {
            s.add_prediction(1.0, i as f32, None);
        }
        let p50 = s.latency_quantile(0.5).unwrap();
        let p99 = s.latency_quantile(0.99).unwrap();
        assert!((p50 / 500.0 - 1.0).abs() < 0.05, "{p50}");
        assert!((p99 / 990.0 - 1.0).abs() < 0.05, "{p99}");
        let mut merged = BucketStats::default();
        merged.merge(&s);
        merged.merge(&s);
        assert_eq!(merged.records, 2000);
        assert_eq!(merged.latency_quantile(0.5), Some(p50));
        let json = serde_json::to_string(&merged).unwrap();
        assert_eq!(serde_json::from_str::<BucketStats>(&json).unwrap(), merged);
    }
}
