//! Ensembles of CART trees, as scikit-learn's (Gini / squared error, probabilities averaged
//! over trees): `random_forest` (`RandomForest*`: bootstrap rows, random feature subsets,
//! best midpoint thresholds), `extra_trees` (`ExtraTrees*`: all rows, random feature subsets,
//! one random threshold per feature), `bagging` (`Bagging*` of decision trees: bootstrap rows,
//! every feature, 10 trees).

use super::{check_at_least, check_fraction, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How many features each split considers.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum MaxFeatures {
    Name(String),
    Count(usize),
    Fraction(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    /// Default: 100, or 10 for bagging.
    #[serde(default)]
    n_estimators: Option<usize>,
    #[serde(default)]
    max_depth: Option<usize>,
    #[serde(default = "two")]
    min_samples_split: usize,
    #[serde(default = "one")]
    min_samples_leaf: usize,
    #[serde(default)]
    max_features: Option<MaxFeatures>,
    /// Default: true for random_forest and bagging, false for extra_trees.
    #[serde(default)]
    bootstrap: Option<bool>,
    #[serde(default)]
    random_state: Option<u64>,
    /// Accepted for scikit-learn compatibility; trees are built on the calling thread.
    #[serde(default)]
    #[allow(dead_code)]
    n_jobs: Option<i64>,
}

fn two() -> usize {
    2
}
fn one() -> usize {
    1
}

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(n) = self.n_estimators {
            check_range("n_estimators", n, 1, 10_000)?;
        }
        if let Some(d) = self.max_depth {
            check_range("max_depth", d, 1, 1_000)?;
        }
        check_at_least("min_samples_split", self.min_samples_split, 2)?;
        check_at_least("min_samples_leaf", self.min_samples_leaf, 1)?;
        match &self.max_features {
            Some(MaxFeatures::Name(n)) if n != "sqrt" && n != "log2" => Err(Error::invalid(format!(
                "hyperparameter max_features must be \"sqrt\", \"log2\", a count or a fraction, got \"{n}\""
            ))),
            Some(MaxFeatures::Fraction(f)) => check_fraction("max_features", *f),
            Some(MaxFeatures::Count(0)) => {
                Err(Error::invalid("hyperparameter max_features must be at least 1"))
            }
            _ => Ok(()),
        }
    }

    fn features_per_split(&self, kind: Kind, task: Task, cols: usize) -> usize {
        let n = match &self.max_features {
            // bagging's trees see every feature at every split
            None if kind == Kind::Bagging => cols,
            // scikit-learn's defaults: sqrt for classification, all features for regression.
            None if task == Task::Classification => (cols as f64).sqrt() as usize,
            None => cols,
            Some(MaxFeatures::Name(n)) if n == "log2" => (cols as f64).log2() as usize,
            Some(MaxFeatures::Name(_)) => (cols as f64).sqrt() as usize,
            Some(MaxFeatures::Count(c)) => *c,
            Some(MaxFeatures::Fraction(f)) => (f * cols as f64) as usize,
        };
        n.clamp(1, cols)
    }
}

/// A trained forest.
#[derive(Serialize, Deserialize)]
pub(super) struct Forest {
    trees: Vec<Tree>,
    /// Values per leaf: the class distribution (classification) or 1 (regression).
    width: usize,
    classification: bool,
}

/// One node; `feature == LEAF` marks a leaf whose values start at `left * width` in the
/// tree's `values`. Nodes are packed so a step of the walk reads one struct.
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Node {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
}

/// One tree: its nodes (the root first) and the leaves' values.
#[derive(Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
    values: Vec<f32>,
}

const LEAF: u32 = u32::MAX;

/// Which ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    RandomForest,
    ExtraTrees,
    Bagging,
}

pub(super) fn train(
    kind: Kind,
    task: Task,
    params: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let classification = task == Task::Classification;
    let width = if classification { classes.max(2) } else { 1 };
    let mtry = params.features_per_split(kind, task, x.cols);
    let seed = params.random_state.unwrap_or(ctx.seed);
    let n_estimators = params.n_estimators.unwrap_or(if kind == Kind::Bagging { 10 } else { 100 });
    let bootstrap = params.bootstrap.unwrap_or(kind != Kind::ExtraTrees);
    let mut trees = Vec::with_capacity(n_estimators);
    for t in 0..n_estimators {
        (ctx.on_step)();
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(t as u64));
        let rows: Vec<usize> = if bootstrap {
            (0..x.rows).map(|_| rng.gen_range(0..x.rows)).collect()
        } else {
            (0..x.rows).collect()
        };
        let random_thresholds = kind == Kind::ExtraTrees;
        let builder = Builder { x, y, width, classification, mtry, random_thresholds, params: &params };
        trees.push(builder.build(rows, &mut rng));
    }
    Ok(Box::new(Forest { trees, width, classification }))
}

struct Builder<'a> {
    x: &'a Matrix,
    y: &'a [f32],
    width: usize,
    classification: bool,
    mtry: usize,
    /// Extra trees: one uniformly drawn threshold per sampled feature, not the best one.
    random_thresholds: bool,
    params: &'a Params,
}

struct Best {
    feature: usize,
    threshold: f32,
    score: f64,
}

impl Builder<'_> {
    fn build(&self, mut rows: Vec<usize>, rng: &mut ChaCha8Rng) -> Tree {
        let mut tree = Tree { nodes: vec![], values: vec![] };
        // (node, start, end, depth) of nodes still to split.
        let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
        tree.push_node();
        while let Some((node, start, end, depth)) = stack.pop() {
            let part = &mut rows[start..end];
            let split = if end - start >= self.params.min_samples_split
                && self.params.max_depth.is_none_or(|d| depth < d)
                && !self.is_pure(part)
            {
                self.best_split(part, rng)
            } else {
                None
            };
            match split {
                Some(best) => {
                    let mid = start + partition(part, |&r| self.x.row(r)[best.feature] <= best.threshold);
                    let (l, r) = (tree.push_node(), tree.push_node());
                    tree.nodes[node] = Node {
                        feature: best.feature as u32,
                        threshold: best.threshold,
                        left: l as u32,
                        right: r as u32,
                    };
                    stack.push((r, mid, end, depth + 1));
                    stack.push((l, start, mid, depth + 1));
                }
                None => {
                    tree.nodes[node].left = (tree.values.len() / self.width) as u32;
                    tree.values.extend(self.leaf_values(part));
                }
            }
        }
        // grown by doubling: a deep forest kept up to twice its nodes' memory
        tree.nodes.shrink_to_fit();
        tree.values.shrink_to_fit();
        tree
    }

    fn is_pure(&self, rows: &[usize]) -> bool {
        let first = self.y[rows[0]];
        rows.iter().all(|&r| self.y[r] == first)
    }

    fn leaf_values(&self, rows: &[usize]) -> Vec<f32> {
        let n = rows.len() as f32;
        if self.classification {
            let mut dist = vec![0.0; self.width];
            for &r in rows {
                dist[self.y[r] as usize] += 1.0 / n;
            }
            dist
        } else {
            vec![rows.iter().map(|&r| self.y[r] as f64).sum::<f64>() as f32 / n]
        }
    }

    /// Extra trees' split: per sampled feature one threshold drawn uniformly between its
    /// minimum and maximum in the node; the best of those.
    fn random_split(&self, rows: &[usize], rng: &mut ChaCha8Rng) -> Option<Best> {
        let min_leaf = self.params.min_samples_leaf;
        let n = rows.len();
        let mut best: Option<Best> = None;
        for feature in sample(rng, self.x.cols, self.mtry) {
            let values = rows.iter().map(|&r| self.x.row(r)[feature]);
            let (lo, hi) =
                values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            if lo >= hi {
                continue;
            }
            let threshold = lo + (hi - lo) * rng.gen::<f32>();
            let threshold = if threshold >= hi { lo } else { threshold };
            let mut impurity = Impurity::new(self.classification, self.width, &[]);
            let mut all = Impurity::new(self.classification, self.width, &[]);
            for &r in rows {
                all.move_left(self.y[r]);
                if self.x.row(r)[feature] <= threshold {
                    impurity.move_left(self.y[r]);
                }
            }
            let left = impurity.count();
            if left < min_leaf || n - left < min_leaf {
                continue;
            }
            let score = impurity.score_against(&all);
            if best.as_ref().is_none_or(|b| score < b.score) {
                best = Some(Best { feature, threshold, score });
            }
        }
        best
    }

    /// The split of the sampled features with the lowest weighted impurity of the children.
    fn best_split(&self, rows: &[usize], rng: &mut ChaCha8Rng) -> Option<Best> {
        if self.random_thresholds {
            return self.random_split(rows, rng);
        }
        let min_leaf = self.params.min_samples_leaf;
        let n = rows.len();
        let mut best: Option<Best> = None;
        let mut pairs: Vec<(f32, f32)> = Vec::with_capacity(n);
        for feature in sample(rng, self.x.cols, self.mtry) {
            pairs.clear();
            pairs.extend(rows.iter().map(|&r| (self.x.row(r)[feature], self.y[r])));
            pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            if pairs[0].0 == pairs[n - 1].0 {
                continue;
            }
            let mut impurity = Impurity::new(self.classification, self.width, &pairs);
            for i in 0..n - 1 {
                impurity.move_left(pairs[i].1);
                let left = i + 1;
                if left < min_leaf || n - left < min_leaf || pairs[i].0 == pairs[i + 1].0 {
                    continue;
                }
                let score = impurity.children_score();
                if best.as_ref().is_none_or(|b| score < b.score) {
                    let mut threshold = pairs[i].0 / 2.0 + pairs[i + 1].0 / 2.0;
                    if threshold >= pairs[i + 1].0 {
                        threshold = pairs[i].0;
                    }
                    best = Some(Best { feature, threshold, score });
                }
            }
        }
        best
    }
}

/// Running statistics of the left and right child while the split point moves right.
/// Scores are proportional to the weighted child impurity (lower is better).
enum Impurity {
    Gini { left: Vec<f64>, right: Vec<f64>, n_left: f64, n_right: f64 },
    Mse { sum_left: f64, sum_right: f64, n_left: f64, n_right: f64 },
}

impl Impurity {
    fn new(classification: bool, width: usize, pairs: &[(f32, f32)]) -> Impurity {
        let n = pairs.len() as f64;
        if classification {
            let mut right = vec![0.0; width];
            for p in pairs {
                right[p.1 as usize] += 1.0;
            }
            Impurity::Gini { left: vec![0.0; width], right, n_left: 0.0, n_right: n }
        } else {
            let sum: f64 = pairs.iter().map(|p| p.1 as f64).sum();
            Impurity::Mse { sum_left: 0.0, sum_right: sum, n_left: 0.0, n_right: n }
        }
    }

    fn move_left(&mut self, y: f32) {
        match self {
            Impurity::Gini { left, right, n_left, n_right } => {
                left[y as usize] += 1.0;
                right[y as usize] -= 1.0;
                *n_left += 1.0;
                *n_right -= 1.0;
            }
            Impurity::Mse { sum_left, sum_right, n_left, n_right } => {
                *sum_left += y as f64;
                *sum_right -= y as f64;
                *n_left += 1.0;
                *n_right -= 1.0;
            }
        }
    }

    fn count(&self) -> usize {
        match self {
            Impurity::Gini { n_left, .. } | Impurity::Mse { n_left, .. } => *n_left as usize,
        }
    }

    /// `children_score` when `self` has moved the left child's rows and `all` every row of
    /// the node (extra trees' splits are not found by a sweep).
    fn score_against(&self, all: &Impurity) -> f64 {
        match (self, all) {
            (Impurity::Gini { left, n_left, .. }, Impurity::Gini { left: total, n_left: n, .. }) => {
                let right: Vec<f64> = total.iter().zip(left).map(|(t, l)| t - l).collect();
                let n_right = n - n_left;
                let sq = |v: &[f64]| v.iter().map(|c| c * c).sum::<f64>();
                (n_left - sq(left) / n_left) + (n_right - sq(&right) / n_right)
            }
            (Impurity::Mse { sum_left, n_left, .. }, Impurity::Mse { sum_left: s, n_left: n, .. }) => {
                let (sum_right, n_right) = (s - sum_left, n - n_left);
                -(sum_left * sum_left / n_left + sum_right * sum_right / n_right)
            }
            _ => f64::INFINITY,
        }
    }

    fn children_score(&self) -> f64 {
        match self {
            // n·gini = n - Σc²/n for each child.
            Impurity::Gini { left, right, n_left, n_right } => {
                let sq = |v: &[f64]| v.iter().map(|c| c * c).sum::<f64>();
                (n_left - sq(left) / n_left) + (n_right - sq(right) / n_right)
            }
            // Sum of squared errors minus the constant Σy²: -(S_l²/n_l + S_r²/n_r).
            Impurity::Mse { sum_left, sum_right, n_left, n_right } => {
                -(sum_left * sum_left / n_left + sum_right * sum_right / n_right)
            }
        }
    }
}

/// Moves the rows satisfying `pred` to the front; returns how many there are.
fn partition(rows: &mut [usize], pred: impl Fn(&usize) -> bool) -> usize {
    let mut i = 0;
    for j in 0..rows.len() {
        if pred(&rows[j]) {
            rows.swap(i, j);
            i += 1;
        }
    }
    i
}

/// One regression tree of `max_depth` on the given rows (repeats weigh a row more): the
/// weak learner of `ada_boost`'s regressor, scikit-learn's `DecisionTreeRegressor`.
#[derive(Serialize, Deserialize)]
pub(super) struct RegressionTree(Tree);

impl RegressionTree {
    pub(super) fn fit(
        x: &Matrix,
        y: &[f32],
        rows: Vec<usize>,
        max_depth: usize,
        rng: &mut ChaCha8Rng,
    ) -> RegressionTree {
        let params = Params {
            n_estimators: Some(1),
            max_depth: Some(max_depth),
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
            bootstrap: Some(false),
            random_state: None,
            n_jobs: None,
        };
        let builder = Builder {
            x,
            y,
            width: 1,
            classification: false,
            mtry: x.cols,
            random_thresholds: false,
            params: &params,
        };
        RegressionTree(builder.build(rows, rng))
    }

    pub(super) fn value(&self, row: &[f32]) -> f32 {
        self.0.leaf(row, 1)[0]
    }
}

impl Tree {
    fn push_node(&mut self) -> usize {
        self.nodes.push(Node { feature: LEAF, threshold: 0.0, left: 0, right: 0 });
        self.nodes.len() - 1
    }

    fn leaf<'t>(&'t self, row: &[f32], width: usize) -> &'t [f32] {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            let next = if row[node.feature as usize] <= node.threshold { node.left } else { node.right };
            node = self.nodes[next as usize];
        }
        let start = node.left as usize * width;
        &self.values[start..start + width]
    }
}

impl Forest {
    fn average(&self, x: &Matrix) -> Vec<f32> {
        let mut out = vec![0.0f32; x.rows * self.width];
        let scale = 1.0 / self.trees.len() as f32;
        for i in 0..x.rows {
            let acc = &mut out[i * self.width..(i + 1) * self.width];
            for tree in &self.trees {
                for (a, v) in acc.iter_mut().zip(tree.leaf(x.row(i), self.width)) {
                    *a += v * scale;
                }
            }
        }
        out
    }
}

impl Model for Forest {
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        if !self.classification {
            let sum: f32 = self.trees.iter().map(|t| t.leaf(row, 1)[0]).sum();
            return Ok(sum / self.trees.len() as f32);
        }
        let mut acc = vec![0.0f32; self.width];
        for tree in &self.trees {
            for (a, v) in acc.iter_mut().zip(tree.leaf(row, self.width)) {
                *a += v;
            }
        }
        Ok(super::argmax_rows(&acc, self.width)[0])
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        let avg = self.average(x);
        Ok(if self.classification { super::argmax_rows(&avg, self.width) } else { avg })
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        if !self.classification {
            return Err(Error::unsupported("a regression has no probabilities"));
        }
        Ok(self.average(x))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.encode())
    }
}

/// The stored form of a forest: `MAGIC`, then little-endian `width` (u32), `classification`
/// (u8), the tree count (u32) and per tree its node count (u32), nodes (feature, threshold,
/// left, right), value count (u32) and values. A fully grown regression forest has millions
/// of nodes: as JSON (about 70 bytes a node) 100 trees on 75,000 rows came near PostgreSQL's
/// 1 GB limit on a value; here they take 16 bytes a node.
const MAGIC: &[u8; 5] = b"PGRF1";

impl Forest {
    fn encode(&self) -> Vec<u8> {
        let size: usize = self.trees.iter().map(|t| 8 + 16 * t.nodes.len() + 4 * t.values.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 9 + size);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.width as u32).to_le_bytes());
        out.push(self.classification as u8);
        out.extend_from_slice(&(self.trees.len() as u32).to_le_bytes());
        for tree in &self.trees {
            out.extend_from_slice(&(tree.nodes.len() as u32).to_le_bytes());
            for n in &tree.nodes {
                for word in [n.feature, n.threshold.to_bits(), n.left, n.right] {
                    out.extend_from_slice(&word.to_le_bytes());
                }
            }
            out.extend_from_slice(&(tree.values.len() as u32).to_le_bytes());
            for v in &tree.values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Forest> {
        let mut r = Reader(bytes.strip_prefix(MAGIC)?);
        let width = r.u32()? as usize;
        let classification = r.take(1)?[0] != 0;
        let trees = (0..r.u32()?)
            .map(|_| {
                let nodes = (0..r.u32()?)
                    .map(|_| {
                        Some(Node {
                            feature: r.u32()?,
                            threshold: f32::from_bits(r.u32()?),
                            left: r.u32()?,
                            right: r.u32()?,
                        })
                    })
                    .collect::<Option<Vec<Node>>>()?;
                let values =
                    (0..r.u32()?).map(|_| r.u32().map(f32::from_bits)).collect::<Option<Vec<f32>>>()?;
                Some(Tree { nodes, values })
            })
            .collect::<Option<Vec<Tree>>>()?;
        r.0.is_empty().then_some(Forest { trees, width, classification })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A stored forest: the binary form, or JSON as models trained before it were stored.
pub(super) fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    if bytes.starts_with(MAGIC) {
        let forest =
            Forest::decode(bytes).ok_or_else(|| Error::Internal("corrupt forest model bytes".into()))?;
        return Ok(Box::new(forest));
    }
    super::from_json::<Forest>(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load as dataset;

    #[test]
    fn stored_forests_read_back_binary_and_json() {
        let (x, y) = dataset("diabetes");
        let params: Params = serde_json::from_value(serde_json::json!({"n_estimators": 5})).unwrap();
        let mut ctx = TrainContext { seed: 3, on_step: &mut || {} };
        let model = train(Kind::RandomForest, Task::Regression, params, &x, &y, 0, &mut ctx).unwrap();
        let expected = model.predict(&x).unwrap();
        let binary = model.to_bytes().unwrap();
        assert!(binary.starts_with(MAGIC));
        assert_eq!(load(&binary).unwrap().predict(&x).unwrap(), expected);
        // models stored before the binary form were JSON
        let forest = Forest::decode(&binary).unwrap();
        let json = serde_json::to_vec(&forest).unwrap();
        assert!(json.len() > 3 * binary.len(), "JSON {} bytes, binary {}", json.len(), binary.len());
        assert_eq!(load(&json).unwrap().predict(&x).unwrap(), expected);
        // truncated or padded bytes are refused, not misread
        for bad in [&binary[..binary.len() - 1], &[&binary[..], &[0]].concat()[..]] {
            assert!(matches!(load(bad), Err(Error::Internal(_))));
        }
    }
}
