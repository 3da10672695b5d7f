//! Ensembles of CART trees, as scikit-learn's (Gini / squared error, probabilities averaged
//! over trees): `random_forest` (`RandomForest*`: bootstrap rows, random feature subsets,
//! best midpoint thresholds), `extra_trees` (`ExtraTrees*`: all rows, random feature subsets,
//! one random threshold per feature), `bagging` (`Bagging*` of decision trees: bootstrap rows,
//! every feature, 10 trees).

use super::{check_at_least, check_fraction, check_range, Model, Sink, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// How many features each split considers.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum MaxFeatures {
    Name(String),
    Count(usize),
    Fraction(f64),
}

impl MaxFeatures {
    pub(super) fn validate(&self) -> Result<()> {
        match self {
            MaxFeatures::Name(n) if n != "sqrt" && n != "log2" => Err(Error::invalid(format!(
                "hyperparameter max_features must be \"sqrt\", \"log2\", a count or a fraction, got \"{n}\""
            ))),
            MaxFeatures::Fraction(f) => check_fraction("max_features", *f),
            MaxFeatures::Count(0) => Err(Error::invalid("hyperparameter max_features must be at least 1")),
            _ => Ok(()),
        }
    }

    /// The features a split considers out of `cols`, at least one.
    pub(super) fn of(&self, cols: usize) -> usize {
        let n = match self {
            MaxFeatures::Name(n) if n == "log2" => (cols as f64).log2() as usize,
            MaxFeatures::Name(_) => (cols as f64).sqrt() as usize,
            MaxFeatures::Count(c) => *c,
            MaxFeatures::Fraction(f) => (f * cols as f64) as usize,
        };
        n.clamp(1, cols.max(1))
    }
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
    /// Threads building trees, as scikit-learn's: 1 by default, -1 every core, -2 all but one.
    #[serde(default)]
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
        if let Some(m) = &self.max_features {
            m.validate()?;
        }
        if self.n_jobs == Some(0) {
            return Err(Error::invalid("hyperparameter n_jobs must not be 0")
                .with_hint("1 builds the trees on one thread, -1 on every core"));
        }
        Ok(())
    }

    /// How many threads build trees (`n_jobs`; a negative count leaves that many cores minus one).
    fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        match self.n_jobs.unwrap_or(1) {
            n if n < 0 => (cores + 1 + n).max(1) as usize,
            n => n.min(cores) as usize,
        }
    }

    /// How many trees: `n_estimators`, by default 100, or 10 for bagging.
    pub(super) fn trees(&self, kind: Kind) -> usize {
        self.n_estimators.unwrap_or(if kind == Kind::Bagging { 10 } else { 100 })
    }

    fn features_per_split(&self, kind: Kind, task: Task, cols: usize) -> usize {
        let n = match &self.max_features {
            // bagging's trees see every feature at every split
            None if kind == Kind::Bagging => cols,
            // scikit-learn's defaults: sqrt for classification, all features for regression.
            None if task == Task::Classification => (cols as f64).sqrt() as usize,
            None => cols,
            Some(m) => m.of(cols),
        };
        n.clamp(1, cols)
    }
}

/// A trained forest, held in its stored form (see `MAGIC`): each tree is appended to the
/// bytes as it is trained and then freed, predictions walk the bytes in place, and storing the
/// model hands the bytes over. A fully grown forest is many times its training data; held as
/// structs and encoded to store it, it was held twice.
pub(super) struct Forest {
    bytes: Vec<u8>,
    trees: Vec<TreeSpan>,
    /// Values per leaf: the class distribution (classification) or 1 (regression).
    width: usize,
    classification: bool,
    /// The features a row must have: the highest feature a split reads, plus one (0 for a
    /// forest built here, whose rows are its training's). Checked once per call, so a forest
    /// read from a file never indexes past a row.
    reads: usize,
}

/// Where a tree's split nodes and leaves' values start in the forest's bytes, and its root.
#[derive(Clone, Copy)]
struct TreeSpan {
    nodes: usize,
    values: usize,
    /// Where its covers start (None: stored before 0.8.0, without them).
    covers: Option<usize>,
    leaves: usize,
    root: u32,
}

/// One node as the builder makes it; `feature == LEAF` marks a leaf whose values start at
/// `left * width` in the tree's `values`. (Also the JSON form of forests stored before the
/// binary one, and of `ada_boost`'s trees.)
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Node {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
}

/// One tree as the builder makes it: its nodes (the root first) and the leaves' values.
#[derive(Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
    values: Vec<f32>,
    /// The training rows (with their bootstrap repeats) that reached each node: what TreeSHAP
    /// weighs a branch by. Not in the JSON forms (ada_boost's trees keep theirs as they were).
    #[serde(skip, default)]
    covers: Vec<f32>,
}

/// The JSON form forests were stored in before the binary one.
#[derive(Serialize, Deserialize)]
struct StoredTrees {
    trees: Vec<Tree>,
    width: usize,
    classification: bool,
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
    Ok(Box::new(grow(kind, task, params, x, y, classes, ctx, &mut |_| Ok(()))?))
}

/// `train`, never holding the forest: each tree is written to `sink` as it is built and then
/// freed, and the forest is scored on `eval` as it grows. A fully grown forest is many times
/// its training data; the caller stores it as it comes.
#[allow(clippy::too_many_arguments)]
pub(super) fn train_into(
    kind: Kind,
    task: Task,
    params: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
    eval: &Matrix,
    sink: &mut Sink,
) -> Result<Scores> {
    let scale = 1.0 / params.trees(kind) as f32;
    let mut sums = Vec::new();
    let mut seconds = 0.0;
    let forest = grow(kind, task, params, x, y, classes, ctx, &mut |forest| {
        let started = Instant::now();
        sums.resize(eval.rows * forest.width, 0.0);
        forest.accumulate(eval, &mut sums, scale);
        seconds += started.elapsed().as_secs_f64();
        sink(&forest.bytes)?;
        forest.bytes.clear();
        forest.trees.clear();
        Ok(())
    })?;
    let (labels, proba) = forest.labels_and_proba(sums);
    Ok(Scores { labels, proba, seconds })
}

/// A forest's predictions on the rows it was scored on as it grew (`train_into`): what
/// `predict_with_proba` gives, and the time the scoring took.
pub struct Scores {
    pub labels: Vec<f32>,
    pub proba: Option<Vec<f32>>,
    pub seconds: f64,
}

/// Builds the forest's trees, each appended to the forest and handed to `added`.
#[allow(clippy::too_many_arguments)]
fn grow(
    kind: Kind,
    task: Task,
    params: Params,
    x: &Matrix,
    y: &[f32],
    classes: usize,
    ctx: &mut TrainContext,
    added: &mut dyn FnMut(&mut Forest) -> Result<()>,
) -> Result<Forest> {
    let classification = task == Task::Classification;
    let width = if classification { classes.max(2) } else { 1 };
    let mtry = params.features_per_split(kind, task, x.cols);
    let seed = params.random_state.unwrap_or(ctx.seed);
    let n_estimators = params.trees(kind);
    let bootstrap = params.bootstrap.unwrap_or(kind != Kind::ExtraTrees);
    let random_thresholds = kind == Kind::ExtraTrees;
    let builder = Builder { x, y, width, classification, mtry, random_thresholds, params: &params };
    // tree t draws from its own seed, so a forest is the same on any number of threads; a tree
    // is abandoned (None) as soon as `stopped` says so
    let tree = |t: usize, stopped: &dyn Fn() -> bool| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(t as u64));
        let rows: Vec<usize> = if bootstrap {
            (0..x.rows).map(|_| rng.gen_range(0..x.rows)).collect()
        } else {
            (0..x.rows).collect()
        };
        builder.build(rows, &mut rng, stopped)
    };
    let mut forest = Forest::new(width, classification, n_estimators);
    let threads = params.threads().min(n_estimators);
    let interrupt = ctx.interrupt;
    if threads <= 1 {
        // a deep tree on a million rows takes seconds: the interrupt is asked at every node
        let stopped = || {
            interrupt();
            false
        };
        for t in 0..n_estimators {
            (ctx.on_step)();
            if let Some(built) = tree(t, &stopped) {
                forest.push(&built);
                added(&mut forest)?;
            }
        }
    } else {
        in_parallel(threads, n_estimators, &tree, interrupt, |t| {
            (ctx.on_step)();
            forest.push(&t);
            added(&mut forest)
        })?;
    }
    Ok(forest)
}

/// A tree builder that may be stopped: tree `t`, or None once `stopped` says so.
type TreeBuilder<'a> = dyn Fn(usize, &dyn Fn() -> bool) -> Option<Tree> + Sync + 'a;

/// Builds trees `0..n` on `threads` worker threads and hands them to `take` on the calling
/// thread, in order (`take` may call into PostgreSQL, which only the calling thread can).
/// Waiting, the calling thread asks `interrupt` every 20 ms. An error or a panic on the
/// calling thread (a cancel) stops the workers inside the trees they are building.
fn in_parallel(
    threads: usize,
    n: usize,
    tree: &TreeBuilder,
    interrupt: &dyn Fn(),
    mut take: impl FnMut(Tree) -> Result<()>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (sender, built) = mpsc::channel::<(usize, Tree)>();
        for _ in 0..threads {
            let (sender, next, stop) = (sender.clone(), &next, &stop);
            crate::threads::spawn_scoped(s, move || loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= n || stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(built) = tree(t, &|| stop.load(Ordering::Relaxed)) else { break };
                if sender.send((t, built)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        struct StopOnUnwind<'a>(&'a AtomicBool);
        impl Drop for StopOnUnwind<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnUnwind(&stop);
        let mut early = BTreeMap::new();
        let mut wanted = 0;
        while let Some((t, built)) = crate::threads::recv_interruptibly(&built, interrupt) {
            early.insert(t, built);
            while let Some(tree) = early.remove(&wanted) {
                take(tree)?;
                wanted += 1;
            }
        }
        Ok(())
    })
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
    /// The tree of `rows`; None once `stopped` (asked before each node) says so.
    fn build(&self, mut rows: Vec<usize>, rng: &mut ChaCha8Rng, stopped: &dyn Fn() -> bool) -> Option<Tree> {
        let mut tree = Tree { nodes: vec![], values: vec![], covers: vec![] };
        // (node, start, end, depth) of nodes still to split.
        let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
        tree.push_node();
        while let Some((node, start, end, depth)) = stack.pop() {
            if stopped() {
                return None;
            }
            let part = &mut rows[start..end];
            tree.covers[node] = (end - start) as f32;
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
        Some(tree)
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
        RegressionTree(builder.build(rows, rng, &|| false).expect("a tree never stopped is built whole"))
    }

    pub(super) fn value(&self, row: &[f32]) -> f32 {
        self.0.leaf(row, 1)[0]
    }
}

impl Tree {
    fn push_node(&mut self) -> usize {
        self.nodes.push(Node { feature: LEAF, threshold: 0.0, left: 0, right: 0 });
        self.covers.push(0.0);
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

/// A child reference with this bit set is a leaf (its index in the tree's leaves), otherwise
/// a split node of the same tree.
const LEAF_CHILD: u32 = 1 << 31;

/// The stored form of a forest: `MAGIC`, then little-endian `width` (u32), `classification`
/// (u8) and the tree count (u32); per tree its split count (u32), value count (u32), split
/// nodes (feature, threshold, left child, right child: 16 bytes, the root first, children
/// after their parent), leaves' values (f32), then the covers (f32: the training rows that
/// reached each split, then each leaf, for explanations). Leaves take no node: a fully grown
/// tree has as many leaves as splits, so a tree takes 28 bytes a leaf (regression), where the
/// first binary form, with a 16-byte node per leaf as well, took 36.
const MAGIC: &[u8; 5] = b"PGRF3";
/// The second binary form (0.2.0 to 0.7.0): no covers.
const MAGIC_V2: &[u8; 5] = b"PGRF2";
/// The first binary form: every node 16 bytes, leaves too.
const MAGIC_V1: &[u8; 5] = b"PGRF1";
const COUNT_AT: usize = MAGIC.len() + 5;
const NODE: usize = 16;

impl Forest {
    /// A forest of `count` trees, none of them pushed yet.
    fn new(width: usize, classification: bool, count: usize) -> Forest {
        let mut bytes = Vec::with_capacity(COUNT_AT + 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(width as u32).to_le_bytes());
        bytes.push(classification as u8);
        bytes.extend_from_slice(&(count as u32).to_le_bytes());
        Forest { bytes, trees: vec![], width, classification, reads: 0 }
    }

    /// Appends a tree as the builder made it.
    fn push(&mut self, tree: &Tree) {
        // each builder node's reference from its parent: its index among the splits, or its leaf
        let mut splits = 0;
        let refs: Vec<u32> = tree
            .nodes
            .iter()
            .map(|n| {
                if n.feature == LEAF {
                    LEAF_CHILD | n.left
                } else {
                    splits += 1;
                    splits - 1
                }
            })
            .collect();
        let start = self.bytes.len();
        self.bytes.reserve(8 + NODE * splits as usize + 4 * tree.values.len());
        self.bytes.extend_from_slice(&splits.to_le_bytes());
        self.bytes.extend_from_slice(&(tree.values.len() as u32).to_le_bytes());
        for n in tree.nodes.iter().filter(|n| n.feature != LEAF) {
            for word in [n.feature, n.threshold.to_bits(), refs[n.left as usize], refs[n.right as usize]] {
                self.bytes.extend_from_slice(&word.to_le_bytes());
            }
        }
        for v in &tree.values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        // covers: the splits', then the leaves' in leaf order
        let mut leaf_covers = vec![0.0f32; tree.values.len() / self.width.max(1)];
        for (i, n) in tree.nodes.iter().enumerate() {
            let cover = tree.covers.get(i).copied().unwrap_or(0.0);
            if n.feature == LEAF {
                if let Some(c) = leaf_covers.get_mut(n.left as usize) {
                    *c = cover;
                }
            } else {
                self.bytes.extend_from_slice(&cover.to_le_bytes());
            }
        }
        for c in leaf_covers {
            self.bytes.extend_from_slice(&c.to_le_bytes());
        }
        self.trees.push(TreeSpan::new(start, splits, self.width, tree.values.len(), true));
    }

    /// The values (`width` floats) of the leaf `row` falls into.
    fn leaf(&self, tree: TreeSpan, row: &[f32]) -> impl Iterator<Item = f32> + '_ {
        let (nodes, _) = self.bytes[tree.nodes..tree.values].as_chunks::<NODE>();
        let mut child = tree.root;
        while child & LEAF_CHILD == 0 {
            let node = &nodes[child as usize][..];
            let left = row[word(node, 0) as usize] <= f32::from_bits(word(node, 4));
            child = word(node, if left { 8 } else { 12 });
        }
        let at = tree.values + 4 * self.width * (child & !LEAF_CHILD) as usize;
        self.bytes[at..at + 4 * self.width].chunks_exact(4).map(|b| f32::from_bits(word(b, 0)))
    }

    fn average(&self, x: &Matrix) -> Vec<f32> {
        let mut out = vec![0.0f32; x.rows * self.width];
        self.accumulate(x, &mut out, 1.0 / self.trees.len() as f32);
        out
    }

    /// Adds each held tree's leaf values times `scale` to the rows' sums (`width` per row),
    /// tree after tree: a forest scored a tree at a time sums exactly as one scored whole.
    fn accumulate(&self, x: &Matrix, sums: &mut [f32], scale: f32) {
        for (i, acc) in sums.chunks_exact_mut(self.width).enumerate() {
            for &tree in &self.trees {
                for (a, v) in acc.iter_mut().zip(self.leaf(tree, x.row(i))) {
                    *a += v * scale;
                }
            }
        }
    }

    /// Labels and probabilities (classification) from the averaged leaf values.
    fn labels_and_proba(&self, average: Vec<f32>) -> (Vec<f32>, Option<Vec<f32>>) {
        match self.classification {
            true => (super::argmax_rows(&average, self.width), Some(average)),
            false => (average, None),
        }
    }

    /// Reads the stored form back, refusing bytes whose children point outside their tree or
    /// back to a node before them (a walk must end).
    fn decode(bytes: Vec<u8>) -> Option<Forest> {
        let covered = bytes.starts_with(MAGIC);
        let mut r = Reader(bytes.strip_prefix(MAGIC).or_else(|| bytes.strip_prefix(MAGIC_V2))?);
        let width = r.u32()? as usize;
        let classification = r.take(1)?[0] != 0;
        let count = r.u32()?;
        if width == 0 {
            return None;
        }
        let mut trees = Vec::new();
        let mut reads = 0usize;
        for _ in 0..count {
            let start = bytes.len() - r.0.len();
            let (splits, values) = (r.u32()?, r.u32()? as usize);
            let leaves = (values % width == 0).then_some((values / width) as u32)?;
            let nodes = r.take(NODE * splits as usize)?;
            for (i, node) in nodes.chunks_exact(NODE).enumerate() {
                reads = reads.max(word(node, 0) as usize + 1);
                for at in [8, 12] {
                    let child = word(node, at);
                    let fits = if child & LEAF_CHILD != 0 {
                        child & !LEAF_CHILD < leaves
                    } else {
                        (i as u32) < child && child < splits
                    };
                    if !fits {
                        return None;
                    }
                }
            }
            if splits == 0 && leaves == 0 {
                return None;
            }
            r.take(4 * values)?;
            if covered {
                r.take(4 * (splits as usize + leaves as usize))?;
            }
            trees.push(TreeSpan::new(start, splits, width, values, covered));
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(Forest { bytes, trees, width, classification, reads })
    }
}

impl TreeSpan {
    /// The tree written at `start` (after its two counts, its nodes, its `values` values, then
    /// its covers when `covered`).
    fn new(start: usize, splits: u32, width: usize, values: usize, covered: bool) -> TreeSpan {
        let nodes = start + 8;
        let at = nodes + NODE * splits as usize;
        TreeSpan {
            nodes,
            values: at,
            covers: covered.then_some(at + 4 * values),
            leaves: values / width.max(1),
            root: if splits == 0 { LEAF_CHILD } else { 0 },
        }
    }
}

impl Forest {
    /// The trees as TreeSHAP reads them: each tree once per output (a classifier's class
    /// shares), its values divided by the tree count, as the forest averages them.
    fn ensemble(&self) -> Result<crate::explain::trees::Ensemble> {
        use crate::explain::trees::{Ensemble, Missing, Rule, Tree as ShapTree};
        let scale = 1.0 / self.trees.len().max(1) as f64;
        let f32_at = |at: usize| f32::from_bits(word(&self.bytes, at)) as f64;
        let mut out = Vec::with_capacity(self.trees.len() * self.width);
        for span in &self.trees {
            let Some(covers) = span.covers else {
                return Err(Error::unsupported(
                    "this forest was stored before pgml-rs 0.8.0, without the covers an explanation needs",
                )
                .with_hint("retrain it: forests trained from 0.8.0 on keep them"));
            };
            let splits = (span.values - span.nodes) / NODE;
            let n = splits + span.leaves;
            // nodes: the splits, then the leaves after them
            let node = |child: u32| {
                if child & LEAF_CHILD != 0 {
                    splits + (child & !LEAF_CHILD) as usize
                } else {
                    child as usize
                }
            };
            let (mut left, mut right, mut feature, mut threshold) =
                (vec![-1i32; n], vec![-1i32; n], vec![0u32; n], vec![0f64; n]);
            for i in 0..splits {
                let at = span.nodes + NODE * i;
                feature[i] = word(&self.bytes, at);
                threshold[i] = f32_at(at + 4);
                left[i] = node(word(&self.bytes, at + 8)) as i32;
                right[i] = node(word(&self.bytes, at + 12)) as i32;
            }
            let cover: Vec<f64> = (0..n).map(|i| f32_at(covers + 4 * i)).collect();
            for output in 0..self.width {
                let mut value = vec![0f64; n];
                for l in 0..span.leaves {
                    value[splits + l] = f32_at(span.values + 4 * (l * self.width + output)) * scale;
                }
                out.push(ShapTree {
                    left: left.clone(),
                    right: right.clone(),
                    feature: feature.clone(),
                    threshold: threshold.clone(),
                    // a NaN compares false: it goes right
                    default_left: vec![false; n],
                    missing: vec![Missing::Nan; n],
                    cover: cover.clone(),
                    gain: vec![0.0; n],
                    value,
                    rule: Rule::LessOrEqual,
                    group: output,
                    nodes: Vec::new(),
                    depth: 0,
                });
            }
        }
        Ok(Ensemble::new(out, self.width, self.reads))
    }

    fn check_width(&self, cols: usize) -> Result<()> {
        if cols < self.reads {
            return Err(Error::data(format!(
                "the forest splits on feature {}, the row has {cols}",
                self.reads
            )));
        }
        Ok(())
    }
}

impl Model for Forest {
    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        self.check_width(row.len())?;
        if !self.classification {
            let sum: f32 = self.trees.iter().flat_map(|&t| self.leaf(t, row)).sum();
            return Ok(sum / self.trees.len() as f32);
        }
        let mut acc = vec![0.0f32; self.width];
        for &tree in &self.trees {
            for (a, v) in acc.iter_mut().zip(self.leaf(tree, row)) {
                *a += v;
            }
        }
        Ok(super::argmax_rows(&acc, self.width)[0])
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.check_width(x.cols)?;
        Ok(self.labels_and_proba(self.average(x)).0)
    }

    fn predict_with_proba(&self, x: &Matrix) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        self.check_width(x.cols)?;
        Ok(self.labels_and_proba(self.average(x)))
    }

    fn ensemble(&self) -> Result<crate::explain::trees::Ensemble> {
        Forest::ensemble(self)
    }

    fn explain(&self, row: &[f32], method: crate::explain::Method) -> Result<crate::explain::Explanation> {
        self.check_width(row.len())?;
        let mut ensemble = self.ensemble()?;
        ensemble.num_features = row.len();
        let mut e = ensemble.explain(row, method)?;
        if self.classification {
            e.output_space = "probability";
        }
        Ok(e)
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.check_width(x.cols)?;
        if !self.classification {
            return Err(Error::unsupported("a regression has no probabilities"));
        }
        Ok(self.average(x))
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.bytes.clone())
    }

    fn into_bytes(self: Box<Self>) -> Result<Vec<u8>> {
        Ok(self.bytes)
    }
}

impl StoredTrees {
    /// Forests stored in the first binary form.
    fn decode_v1(bytes: &[u8]) -> Option<StoredTrees> {
        let mut r = Reader(bytes.strip_prefix(MAGIC_V1)?);
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
                Some(Tree { nodes, values, covers: vec![] })
            })
            .collect::<Option<Vec<Tree>>>()?;
        r.0.is_empty().then_some(StoredTrees { trees, width, classification })
    }

    /// The forest in the current form; `None` if a node points outside its tree.
    fn into_forest(self) -> Option<Forest> {
        if self.width == 0 || !self.trees.iter().all(|t| t.well_formed(self.width)) {
            return None;
        }
        let mut forest = Forest::new(self.width, self.classification, self.trees.len());
        for tree in self.trees {
            let split_on = tree.nodes.iter().filter(|n| n.feature != LEAF).map(|n| n.feature as usize + 1);
            forest.reads = forest.reads.max(split_on.max().unwrap_or(0));
            forest.push(&tree);
        }
        Some(forest)
    }
}

impl Tree {
    /// Children come after their parent and inside the tree; leaves' values inside `values`.
    fn well_formed(&self, width: usize) -> bool {
        !self.nodes.is_empty()
            && self.nodes.iter().enumerate().all(|(i, n)| {
                if n.feature == LEAF {
                    (n.left as usize + 1) * width <= self.values.len()
                } else {
                    [n.left, n.right].iter().all(|&c| i < c as usize && (c as usize) < self.nodes.len())
                }
            })
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
        self.take(4).map(|b| word(b, 0))
    }
}

/// The little-endian u32 at `at`.
fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// A stored forest: the binary form, or the older ones (the first binary form, JSON).
pub(super) fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let forest = if bytes.starts_with(MAGIC) || bytes.starts_with(MAGIC_V2) {
        Forest::decode(bytes.to_vec())
    } else if bytes.starts_with(MAGIC_V1) {
        StoredTrees::decode_v1(bytes).and_then(StoredTrees::into_forest)
    } else {
        serde_json::from_slice::<StoredTrees>(bytes).ok().and_then(StoredTrees::into_forest)
    };
    Ok(Box::new(forest.ok_or_else(corrupt)?))
}

/// `load`, keeping the bytes of the binary form as the forest's own: a loaded forest is
/// hundreds of megabytes, and a copy held it twice while it loaded.
pub(super) fn load_owned(bytes: Vec<u8>) -> Result<Box<dyn Model>> {
    if !bytes.starts_with(MAGIC) && !bytes.starts_with(MAGIC_V2) {
        return load(&bytes);
    }
    Ok(Box::new(Forest::decode(bytes).ok_or_else(corrupt)?))
}

/// The trees of a stored forest as TreeSHAP reads them (the tests' access to them).
#[cfg(test)]
pub(crate) fn stored_ensemble(bytes: &[u8]) -> Result<crate::explain::trees::Ensemble> {
    let forest = Forest::decode(bytes.to_vec()).ok_or_else(corrupt)?;
    let mut e = forest.ensemble()?;
    e.num_features = forest.reads.max(4);
    Ok(e)
}

fn corrupt() -> Error {
    Error::Internal("corrupt forest model bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testdata::load as dataset;

    /// Five trees as the builder makes them.
    fn builder_trees(x: &Matrix, y: &[f32], width: usize, classification: bool) -> StoredTrees {
        let params: Params = serde_json::from_value(serde_json::json!({})).unwrap();
        let trees = (0..5)
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                let rows = (0..x.rows).map(|_| rng.gen_range(0..x.rows)).collect();
                let mtry = x.cols.div_ceil(2);
                let builder =
                    Builder { x, y, width, classification, mtry, random_thresholds: false, params: &params };
                builder.build(rows, &mut rng, &|| false).unwrap()
            })
            .collect();
        StoredTrees { trees, width, classification }
    }

    /// The first binary form, as it was written.
    fn encode_v1(stored: &StoredTrees) -> Vec<u8> {
        let mut out = MAGIC_V1.to_vec();
        out.extend((stored.width as u32).to_le_bytes());
        out.push(stored.classification as u8);
        out.extend((stored.trees.len() as u32).to_le_bytes());
        for tree in &stored.trees {
            out.extend((tree.nodes.len() as u32).to_le_bytes());
            for n in &tree.nodes {
                for word in [n.feature, n.threshold.to_bits(), n.left, n.right] {
                    out.extend(word.to_le_bytes());
                }
            }
            out.extend((tree.values.len() as u32).to_le_bytes());
            for v in &tree.values {
                out.extend(v.to_le_bytes());
            }
        }
        out
    }

    /// The second binary form (0.2.0 to 0.7.0) of a forest: the current one without covers.
    fn encode_v2(current: &[u8]) -> Vec<u8> {
        let forest = Forest::decode(current.to_vec()).unwrap();
        let mut out = MAGIC_V2.to_vec();
        out.extend_from_slice(&current[MAGIC.len()..COUNT_AT + 4]);
        for span in &forest.trees {
            let start = span.nodes - 8;
            out.extend_from_slice(&current[start..span.covers.unwrap()]);
        }
        out
    }

    #[test]
    fn the_stored_form_predicts_as_the_builders_trees_and_older_forms_still_load() {
        for (name, classification, width) in [("diabetes", false, 1), ("iris", true, 3)] {
            let (x, y) = dataset(name);
            let stored = builder_trees(&x, &y, width, classification);
            // the reference: every builder tree walked by its own nodes
            let scale = 1.0 / 5.0f32;
            let expected: Vec<f32> = (0..x.rows)
                .flat_map(|i| {
                    let mut acc = vec![0.0f32; width];
                    for tree in &stored.trees {
                        for (a, v) in acc.iter_mut().zip(tree.leaf(x.row(i), width)) {
                            *a += v * scale;
                        }
                    }
                    acc
                })
                .collect();
            let (json, v1) = (serde_json::to_vec(&stored).unwrap(), encode_v1(&stored));
            let forest = stored.into_forest().unwrap();
            assert_eq!(forest.average(&x), expected, "{name}");
            let binary = forest.to_bytes().unwrap();
            assert!(binary.starts_with(MAGIC));
            // leaves take no node: 16 bytes a split, 4 a value and 4 a cover (split or leaf),
            // where the first form took 16 for every node (36 bytes a leaf with one value, 44
            // with three): 28 and 36 bytes a leaf
            let limit = if classification { 0.85 } else { 0.8 };
            let ratio = binary.len() as f64 / v1.len() as f64;
            assert!(ratio < limit, "{name}: {} bytes, first form {}", binary.len(), v1.len());
            let v2 = encode_v2(&binary);
            assert!(v2.len() < binary.len() && v2.starts_with(MAGIC_V2));
            let predicted = forest.predict(&x).unwrap();
            for (form, bytes) in
                [("binary", &binary), ("second binary", &v2), ("first binary", &v1), ("JSON", &json)]
            {
                let back = load(bytes).unwrap();
                assert_eq!(back.predict(&x).unwrap(), predicted, "{name}, {form}");
                if classification {
                    assert_eq!(back.predict_proba(&x).unwrap(), expected, "{name}, {form}");
                }
            }
            for (i, p) in predicted.iter().enumerate() {
                let row = forest.predict_row(x.row(i)).unwrap();
                assert!((row - p).abs() <= 1e-4 * p.abs().max(1.0), "{name} row {i}");
            }
            assert_eq!(Box::new(forest).into_bytes().unwrap(), binary);
        }
    }

    #[test]
    fn a_forest_is_the_same_on_any_number_of_threads() {
        let (x, y) = dataset("iris");
        let forest = |n_jobs: i64| {
            let params: Params =
                serde_json::from_value(serde_json::json!({"n_estimators": 7, "n_jobs": n_jobs})).unwrap();
            params.validate().unwrap();
            let mut steps = 0;
            let mut ctx = TrainContext { seed: 5, on_step: &mut || steps += 1, interrupt: &|| {} };
            let model = train(Kind::RandomForest, Task::Classification, params, &x, &y, 3, &mut ctx).unwrap();
            (model.to_bytes().unwrap(), steps)
        };
        let (one, steps) = forest(1);
        assert_eq!(steps, 7);
        assert_eq!(forest(2), (one.clone(), 7));
        assert_eq!(forest(-1), (one, 7));
        let zero: Params = serde_json::from_value(serde_json::json!({"n_jobs": 0})).unwrap();
        let message = zero.validate().unwrap_err().to_string();
        assert!(message.contains("n_jobs must not be 0"), "{message}");
    }

    #[test]
    fn a_trained_forest_reads_back_and_corrupt_bytes_are_refused() {
        let (x, y) = dataset("diabetes");
        let params: Params = serde_json::from_value(serde_json::json!({"n_estimators": 5})).unwrap();
        let mut ctx = TrainContext { seed: 3, on_step: &mut || {}, interrupt: &|| {} };
        let model = train(Kind::RandomForest, Task::Regression, params, &x, &y, 0, &mut ctx).unwrap();
        let binary = model.to_bytes().unwrap();
        assert_eq!(load(&binary).unwrap().predict(&x).unwrap(), model.predict(&x).unwrap());
        // a first node whose left child is itself: a walk that would never end
        let mut cycle = binary.clone();
        let left = COUNT_AT + 4 + 8 + 8;
        cycle[left..left + 4].copy_from_slice(&0u32.to_le_bytes());
        for bad in [&binary[..binary.len() - 1], &[&binary[..], &[0]].concat()[..], &cycle[..]] {
            assert!(matches!(load(bad), Err(Error::Internal(_))));
        }
    }
}
