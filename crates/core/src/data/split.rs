//! Train/test split: `random`, `last` and real `stratified` sampling, seeded.

use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// How test rows are chosen (PostgresML's `test_sampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    Random,
    Last,
    Stratified,
}

impl Sampling {
    pub fn parse(name: &str) -> Result<Sampling> {
        match name {
            "random" => Ok(Sampling::Random),
            "last" => Ok(Sampling::Last),
            "stratified" => Ok(Sampling::Stratified),
            _ => Err(Error::invalid(format!("unknown test_sampling \"{name}\""))
                .with_hint("use one of: random, last, stratified")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sampling::Random => "random",
            Sampling::Last => "last",
            Sampling::Stratified => "stratified",
        }
    }
}

/// Row indices of the training and the test part.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Checks `test_size` and turns it into a test row count: a fraction in (0, 1), rounded up as
/// scikit-learn does, leaving at least one row on each side.
pub fn test_rows(rows: usize, test_size: f32) -> Result<usize> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(Error::invalid(format!(
            "test_size must be between 0 and 1 (exclusive), got {test_size}"
        )));
    }
    // Through the decimal text, so 0.2f32 counts as 0.2 and not 0.200000003 (which would round
    // 30.0000004 rows up to 31).
    let fraction: f64 = test_size.to_string().parse().unwrap_or(test_size as f64);
    let n_test = (rows as f64 * fraction).ceil() as usize;
    if rows < 2 || n_test >= rows {
        return Err(Error::data(format!(
            "{rows} row(s) cannot be split into training and test rows with test_size {test_size}"
        ))
        .with_hint("a training needs at least 2 rows"));
    }
    Ok(n_test)
}

/// Splits `rows` rows. `stratify_on` (the class labels) is used by `Stratified`; without it
/// (regression, clustering) stratified sampling falls back to random.
pub fn split(
    rows: usize,
    test_size: f32,
    sampling: Sampling,
    stratify_on: Option<&[f32]>,
    seed: u64,
) -> Result<Split> {
    let n_test = test_rows(rows, test_size)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let split = match (sampling, stratify_on) {
        (Sampling::Last, _) => {
            Split { train: (0..rows - n_test).collect(), test: (rows - n_test..rows).collect() }
        }
        (Sampling::Stratified, Some(labels)) => stratified(labels, n_test, &mut rng),
        _ => {
            let mut idx: Vec<usize> = (0..rows).collect();
            idx.shuffle(&mut rng);
            let test = idx.split_off(rows - n_test);
            Split { train: idx, test }
        }
    };
    Ok(split)
}

/// Each class contributes to the test part in proportion to its size (largest remainders get
/// the leftover rows), and every class keeps at least one training row.
fn stratified(labels: &[f32], n_test: usize, rng: &mut ChaCha8Rng) -> Split {
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, y) in labels.iter().enumerate() {
        by_class.entry(y.to_bits()).or_default().push(i);
    }
    let n = labels.len() as f64;
    let mut quota: Vec<(usize, f64)> = by_class
        .values()
        .map(|rows| {
            let exact = rows.len() as f64 * n_test as f64 / n;
            (exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let mut left = n_test - quota.iter().map(|q| q.0).sum::<usize>();
    let mut order: Vec<usize> = (0..quota.len()).collect();
    order.sort_by(|&a, &b| quota[b].1.total_cmp(&quota[a].1));
    for &c in order.iter().cycle().take(order.len() * 2) {
        if left == 0 {
            break;
        }
        let size = by_class.values().nth(c).map_or(0, Vec::len);
        if quota[c].0 + 1 < size {
            quota[c].0 += 1;
            left -= 1;
        }
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (rows, (take, _)) in by_class.into_values().zip(quota) {
        let mut rows = rows;
        rows.shuffle(rng);
        let take = take.min(rows.len().saturating_sub(1));
        test.extend_from_slice(&rows[..take]);
        train.extend_from_slice(&rows[take..]);
    }
    train.shuffle(rng);
    test.shuffle(rng);
    Split { train, test }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_takes_the_tail() {
        let s = split(8, 0.25, Sampling::Last, None, 1).unwrap();
        assert_eq!(s.test, vec![6, 7]);
        assert_eq!(s.train, (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn random_is_seeded_and_a_partition() {
        let a = split(100, 0.25, Sampling::Random, None, 7).unwrap();
        let b = split(100, 0.25, Sampling::Random, None, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.test.len(), 25);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn stratified_keeps_class_proportions() {
        // 90 of class 0, 30 of class 1, 30 of class 2: a 20 % test part is 18 / 6 / 6.
        let labels: Vec<f32> = (0..150)
            .map(|i| {
                if i < 90 {
                    0.0
                } else if i < 120 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let s = split(150, 0.2, Sampling::Stratified, Some(&labels), 3).unwrap();
        let count = |c: f32| s.test.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0.0), count(1.0), count(2.0)), (18, 6, 6));
        assert_eq!(s.train.len(), 120);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(matches!(test_rows(10, 0.0), Err(Error::InvalidArgument { .. })));
        assert!(matches!(test_rows(10, 1.0), Err(Error::InvalidArgument { .. })));
        assert!(matches!(test_rows(1, 0.5), Err(Error::Data { .. })));
    }
}
