//! What a team reads to judge a model beyond its metrics, computed on the test split at
//! training (and on the holdout of an import) and stored with the model: for classifiers the
//! confusion matrix and the ROC and precision-recall curves of each class against the rest;
//! for regressions the predicted and actual values of up to `POINTS` test rows (the
//! dashboard draws predicted against actual, and the residuals).

use serde::{Deserialize, Serialize};

/// At most this many points per curve and per scatter.
pub const POINTS: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    /// The rows evaluated (the test split's, or the holdout's).
    pub rows: usize,
    /// Classifiers: the class labels; `confusion[actual][predicted]` counts rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confusion: Vec<Vec<u64>>,
    /// One per class against the rest (binary: the positive class only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curves: Vec<Curve>,
    /// Regressions: (actual, predicted) of test rows, evenly taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<[f32; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Curve {
    pub class: f32,
    /// (false positive rate, true positive rate), from (0, 0) to (1, 1).
    pub roc: Vec<[f32; 2]>,
    pub roc_auc: f64,
    /// (recall, precision).
    pub pr: Vec<[f32; 2]>,
    pub average_precision: f64,
}

/// A classifier's evaluation: `truth` and `predicted` are class indices, `proba` the rows'
/// class probabilities (`rows × classes`) when the model has them.
pub fn classification(
    truth: &[f32],
    predicted: &[f32],
    proba: Option<&[f32]>,
    classes: &[f32],
) -> Evaluation {
    let k = classes.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        if let (Some(row), true) = (confusion.get_mut(t as usize), (p as usize) < k && p >= 0.0) {
            row[p as usize] += 1;
        }
    }
    let mut curves = Vec::new();
    if let Some(proba) = proba.filter(|p| k > 0 && p.len() == truth.len() * k) {
        let positives: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
        for c in positives {
            let scored: Vec<(f32, bool)> =
                truth.iter().enumerate().map(|(r, &t)| (proba[r * k + c], t as usize == c)).collect();
            if let Some(curve) = curve(classes[c], scored) {
                curves.push(curve);
            }
        }
    }
    Evaluation { rows: truth.len(), classes: classes.to_vec(), confusion, curves, points: Vec::new() }
}

/// A regression's evaluation: up to `POINTS` (actual, predicted) pairs, evenly taken.
pub fn regression(truth: &[f32], predicted: &[f32]) -> Evaluation {
    let n = truth.len().min(predicted.len());
    let step = n.div_ceil(POINTS).max(1);
    let points = (0..n)
        .step_by(step)
        .filter(|&i| truth[i].is_finite() && predicted[i].is_finite())
        .map(|i| [truth[i], predicted[i]])
        .collect();
    Evaluation { rows: n, classes: Vec::new(), confusion: Vec::new(), curves: Vec::new(), points }
}

/// The ROC and precision-recall curves of scores against labels (None without positives or
/// negatives): every distinct score a threshold, thinned to `POINTS`.
fn curve(class: f32, mut scored: Vec<(f32, bool)>) -> Option<Curve> {
    scored.retain(|s| !s.0.is_nan());
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut roc = vec![[0.0f32, 0.0]];
    let mut pr = Vec::new();
    let (mut auc, mut ap) = (0.0f64, 0.0f64);
    let (mut last_fpr, mut last_tpr, mut last_recall) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < scored.len() {
        let score = scored[i].0;
        while i < scored.len() && scored[i].0 == score {
            if scored[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let (tpr, fpr) = (tp as f64 / positives as f64, fp as f64 / negatives as f64);
        let precision = tp as f64 / (tp + fp) as f64;
        auc += (fpr - last_fpr) * (tpr + last_tpr) / 2.0;
        ap += (tpr - last_recall) * precision;
        roc.push([fpr as f32, tpr as f32]);
        pr.push([tpr as f32, precision as f32]);
        (last_fpr, last_tpr, last_recall) = (fpr, tpr, tpr);
    }
    Some(Curve { class, roc: thin(roc), roc_auc: auc, pr: thin(pr), average_precision: ap })
}

/// At most `POINTS` points, the first and last kept.
fn thin(points: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
    if points.len() <= POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..POINTS).map(|j| points[j * last / (POINTS - 1)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confusion_matrix_counts_rows_and_the_curves_match_their_areas() {
        // 3 classes; class 2 perfectly separated by its probability
        let truth = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let predicted = [0.0, 1.0, 1.0, 1.0, 2.0, 2.0];
        let proba =
            [0.8, 0.1, 0.1, 0.4, 0.5, 0.1, 0.2, 0.7, 0.1, 0.3, 0.6, 0.1, 0.1, 0.1, 0.8, 0.0, 0.1, 0.9];
        let e = classification(&truth, &predicted, Some(&proba), &[0.0, 1.0, 2.0]);
        assert_eq!(e.confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![0, 0, 2]]);
        assert_eq!(e.curves.len(), 3);
        let two = &e.curves[2];
        assert!((two.roc_auc - 1.0).abs() < 1e-12 && (two.average_precision - 1.0).abs() < 1e-12);
        assert_eq!(two.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(two.roc.last(), Some(&[1.0, 1.0]));
        // class 0: scores 0.8, 0.4 (positives) against 0.2, 0.3, 0.1, 0.0: AUC 1; class 1 ranks
        // 0.5 (a negative) above 0.6? no: 0.7, 0.6 positives, 0.5 a negative: AUC 1
        assert!((e.curves[0].roc_auc - 1.0).abs() < 1e-12);
        // a binary classifier: one curve, of the positive class; ties make one step
        let b = classification(
            &[0.0, 1.0, 0.0, 1.0],
            &[0.0, 1.0, 1.0, 1.0],
            Some(&[0.9, 0.1, 0.2, 0.8, 0.4, 0.6, 0.4, 0.6]),
            &[0.0, 1.0],
        );
        assert_eq!(b.curves.len(), 1);
        assert!((b.curves[0].roc_auc - 0.875).abs() < 1e-12, "{}", b.curves[0].roc_auc);
    }

    #[test]
    fn regressions_keep_evenly_taken_points() {
        let truth: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let e = regression(&truth, &truth);
        assert_eq!(e.rows, 1000);
        assert_eq!(e.points.len(), 200);
        assert_eq!(e.points[1], [5.0, 5.0]);
    }
}
