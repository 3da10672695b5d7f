//! Test-set metrics with PostgresML's names and scikit-learn's definitions.

use crate::task::Task;
use std::collections::BTreeMap;

/// Metric name → value, as stored in `pgml.models.metrics`.
pub type Metrics = BTreeMap<String, f64>;

/// The metrics training records for a task (besides `fit_time` and `score_time`).
pub fn names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Regression => &["r2", "mean_absolute_error", "mean_squared_error"],
        Task::Classification => &["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"],
        Task::Clustering => &["silhouette"],
        Task::Decomposition => &["cumulative_explained_variance"],
    }
}

/// `r2`, `mean_absolute_error`, `mean_squared_error`. `r2` is NaN for a constant target.
pub fn regression(y_true: &[f32], y_pred: &[f32]) -> Metrics {
    let n = y_true.len() as f64;
    let mean = y_true.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut ss_res, mut ss_tot, mut abs) = (0.0, 0.0, 0.0);
    for (&t, &p) in y_true.iter().zip(y_pred) {
        let (t, p) = (t as f64, p as f64);
        ss_res += (t - p).powi(2);
        ss_tot += (t - mean).powi(2);
        abs += (t - p).abs();
    }
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { f64::NAN };
    Metrics::from([
        ("r2".into(), r2),
        ("mean_absolute_error".into(), abs / n),
        ("mean_squared_error".into(), ss_res / n),
    ])
}

/// `accuracy` and macro `precision`, `recall`, `f1` over the classes seen in either vector
/// (a class never predicted has precision 0, as scikit-learn's `zero_division=0`). With
/// probabilities of a binary problem (`proba[i]` = P(class 1)), also `roc_auc` and `log_loss`.
pub fn classification(y_true: &[f32], y_pred: &[f32], binary_proba: Option<&[f32]>) -> Metrics {
    let mut classes: Vec<u32> = y_true.iter().chain(y_pred).map(|v| v.to_bits()).collect();
    classes.sort_unstable();
    classes.dedup();
    let (mut p_sum, mut r_sum, mut f_sum) = (0.0, 0.0, 0.0);
    for &c in &classes {
        let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            match (t.to_bits() == c, p.to_bits() == c) {
                (true, true) => tp += 1.0,
                (false, true) => fp += 1.0,
                (true, false) => fneg += 1.0,
                _ => {}
            }
        }
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall = if tp + fneg > 0.0 { tp / (tp + fneg) } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        p_sum += precision;
        r_sum += recall;
        f_sum += f1;
    }
    let k = classes.len() as f64;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    let mut m = Metrics::from([
        ("accuracy".into(), correct as f64 / y_true.len() as f64),
        ("precision".into(), p_sum / k),
        ("recall".into(), r_sum / k),
        ("f1".into(), f_sum / k),
    ]);
    if let Some(proba) = binary_proba {
        m.insert("roc_auc".into(), roc_auc(y_true, proba));
        m.insert("log_loss".into(), log_loss(y_true, proba));
    }
    m
}

/// Area under the ROC curve from scores (Mann–Whitney U with average ranks for ties); NaN when
/// only one class is present. Labels are 0/1 class indices.
pub fn roc_auc(y_true: &[f32], score: &[f32]) -> f64 {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut ranks = vec![0.0; score.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = avg;
        }
        i = j + 1;
    }
    let pos = y_true.iter().filter(|&&y| y == 1.0).count() as f64;
    let neg = y_true.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = y_true.iter().zip(&ranks).filter(|(&y, _)| y == 1.0).map(|(_, r)| r).sum();
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Mean binary cross-entropy, probabilities clipped to [1e-15, 1 - 1e-15] as scikit-learn does.
pub fn log_loss(y_true: &[f32], proba: &[f32]) -> f64 {
    let eps = 1e-15;
    let total: f64 = y_true
        .iter()
        .zip(proba)
        .map(|(&y, &p)| {
            let p = (p as f64).clamp(eps, 1.0 - eps);
            if y == 1.0 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    total / y_true.len() as f64
}

/// Mean silhouette coefficient of a clustering (Euclidean). NaN with fewer than two clusters.
pub fn silhouette(x: &[f32], cols: usize, labels: &[f32]) -> f64 {
    let n = labels.len();
    let mut clusters: Vec<u32> = labels.iter().map(|l| l.to_bits()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    if clusters.len() < 2 || clusters.len() >= n {
        return f64::NAN;
    }
    let dist = |a: usize, b: usize| -> f64 {
        x[a * cols..(a + 1) * cols]
            .iter()
            .zip(&x[b * cols..(b + 1) * cols])
            .map(|(p, q)| ((p - q) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let index = |l: f32| clusters.binary_search(&l.to_bits()).unwrap_or(0);
    let mut total = 0.0;
    for i in 0..n {
        let mut sums = vec![0.0; clusters.len()];
        let mut counts = vec![0usize; clusters.len()];
        for (j, &label) in labels.iter().enumerate() {
            if i != j {
                let c = index(label);
                sums[c] += dist(i, j);
                counts[c] += 1;
            }
        }
        let own = index(labels[i]);
        if counts[own] == 0 {
            continue; // a singleton cluster scores 0
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..clusters.len())
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        total += (b - a) / a.max(b);
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_matches_hand_computed_values() {
        let m = regression(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]);
        // scikit-learn's r2_score doc example gives 0.948...
        assert!((m["r2"] - 0.948_608_137).abs() < 1e-6);
        assert!((m["mean_absolute_error"] - 0.5).abs() < 1e-9);
        assert!((m["mean_squared_error"] - 0.375).abs() < 1e-9);
        assert!(regression(&[1.0, 1.0], &[1.0, 2.0])["r2"].is_nan());
    }

    #[test]
    fn macro_scores_match_scikit_learn() {
        // sklearn: f1_score([0,1,2,0,1,2],[0,2,1,0,0,1], average='macro') == 0.26666...
        let t = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0];
        let p = [0.0, 2.0, 1.0, 0.0, 0.0, 1.0];
        let m = classification(&t, &p, None);
        assert!((m["f1"] - 0.266_666_667).abs() < 1e-6);
        assert!((m["precision"] - 0.222_222_222).abs() < 1e-6);
        assert!((m["recall"] - 0.333_333_333).abs() < 1e-6);
        assert!((m["accuracy"] - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn auc_and_log_loss_match_scikit_learn() {
        // sklearn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
        assert!((roc_auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]) - 0.75).abs() < 1e-9);
        // sklearn: log_loss([0,1,1],[0.1,0.9,0.8]) == 0.1446215275...
        assert!((log_loss(&[0.0, 1.0, 1.0], &[0.1, 0.9, 0.8]) - 0.144_621_527_5).abs() < 1e-7);
    }

    #[test]
    fn silhouette_of_two_tight_clusters_is_near_one() {
        let x = [0.0, 0.0, 0.0, 0.1, 10.0, 10.0, 10.0, 10.1];
        let s = silhouette(&x, 2, &[0.0, 0.0, 1.0, 1.0]);
        assert!(s > 0.99, "{s}");
        assert!(silhouette(&x, 2, &[0.0; 4]).is_nan());
    }
}
