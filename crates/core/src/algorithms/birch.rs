//! `birch`: scikit-learn's `Birch` — a clustering-feature tree (`threshold` 0.5,
//! `branching_factor` 50) summarises the rows into subclusters, whose centroids are then
//! grouped into `n_clusters` (3) by Ward's agglomerative clustering. A row belongs to its
//! nearest subcluster's group.

use super::{check_positive, check_range, to_json, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default = "half")]
    threshold: f64,
    #[serde(default = "fifty")]
    branching_factor: usize,
    #[serde(default = "three")]
    n_clusters: usize,
}

fn half() -> f64 {
    0.5
}
fn fifty() -> usize {
    50
}
fn three() -> usize {
    3
}

/// Subclusters beyond which the final agglomerative step (cubic in their number) is refused.
const MAX_SUBCLUSTERS: usize = 5_000;

impl Params {
    pub(super) fn validate(&self) -> Result<()> {
        check_positive("threshold", self.threshold)?;
        check_range("branching_factor", self.branching_factor, 2, 100_000)?;
        check_range("n_clusters", self.n_clusters, 1, 100_000)
    }
}

/// A clustering feature: count, linear sum and squared sum of its rows, and the node below.
#[derive(Clone)]
struct Sub {
    n: f64,
    ls: Vec<f64>,
    ss: f64,
    child: Option<usize>,
}

impl Sub {
    fn of_row(row: &[f32]) -> Sub {
        let ls: Vec<f64> = row.iter().map(|&v| v as f64).collect();
        let ss = ls.iter().map(|v| v * v).sum();
        Sub { n: 1.0, ls, ss, child: None }
    }

    fn empty(cols: usize) -> Sub {
        Sub { n: 0.0, ls: vec![0.0; cols], ss: 0.0, child: None }
    }

    fn centroid(&self) -> Vec<f64> {
        self.ls.iter().map(|v| v / self.n).collect()
    }

    fn absorb(&mut self, other: &Sub) {
        self.n += other.n;
        self.ss += other.ss;
        self.ls.iter_mut().zip(&other.ls).for_each(|(a, b)| *a += b);
    }

    /// Absorbs `other` if the merged radius stays within the threshold.
    fn merge_within(&mut self, other: &Sub, threshold: f64) -> bool {
        let n = self.n + other.n;
        let ls: Vec<f64> = self.ls.iter().zip(&other.ls).map(|(a, b)| a + b).collect();
        let centre2: f64 = ls.iter().map(|v| (v / n).powi(2)).sum();
        if (self.ss + other.ss) / n - centre2 <= threshold * threshold {
            self.absorb(other);
            return true;
        }
        false
    }
}

struct Tree {
    nodes: Vec<Vec<Sub>>,
    cols: usize,
    threshold: f64,
    branching: usize,
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

impl Tree {
    /// Inserts into node `at`; true when the node now holds too many subclusters.
    fn insert(&mut self, at: usize, sub: Sub) -> bool {
        if self.nodes[at].is_empty() {
            self.nodes[at].push(sub);
            return false;
        }
        let point = sub.centroid();
        let closest = (0..self.nodes[at].len())
            .min_by(|&a, &b| {
                let da = distance2(&self.nodes[at][a].centroid(), &point);
                let db = distance2(&self.nodes[at][b].centroid(), &point);
                da.total_cmp(&db)
            })
            .unwrap_or(0);
        if let Some(child) = self.nodes[at][closest].child {
            if !self.insert(child, sub.clone()) {
                self.nodes[at][closest].absorb(&sub);
                return false;
            }
            let (one, two) = self.split(child);
            self.nodes[at][closest] = one;
            self.nodes[at].push(two);
            return self.nodes[at].len() > self.branching;
        }
        let threshold = self.threshold;
        if self.nodes[at][closest].merge_within(&sub, threshold) {
            return false;
        }
        self.nodes[at].push(sub);
        self.nodes[at].len() > self.branching
    }

    /// Splits a node's subclusters around its farthest pair into two new nodes; returns the
    /// two subclusters summarising them.
    fn split(&mut self, node: usize) -> (Sub, Sub) {
        let subs = std::mem::take(&mut self.nodes[node]);
        let centres: Vec<Vec<f64>> = subs.iter().map(Sub::centroid).collect();
        let (mut far, mut pair) = (-1.0, (0, 0));
        for i in 0..centres.len() {
            for j in 0..centres.len() {
                let d = distance2(&centres[i], &centres[j]);
                if d > far {
                    far = d;
                    pair = (i, j);
                }
            }
        }
        let (mut one, mut two) = (Sub::empty(self.cols), Sub::empty(self.cols));
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for (i, sub) in subs.into_iter().enumerate() {
            let to_first = i == pair.0
                || distance2(&centres[i], &centres[pair.0]) < distance2(&centres[i], &centres[pair.1]);
            if to_first {
                one.absorb(&sub);
                first.push(sub);
            } else {
                two.absorb(&sub);
                second.push(sub);
            }
        }
        self.nodes[node] = first;
        self.nodes.push(second);
        one.child = Some(node);
        two.child = Some(self.nodes.len() - 1);
        (one, two)
    }

    fn leaves(&self, at: usize, out: &mut Vec<Vec<f64>>) {
        for sub in &self.nodes[at] {
            match sub.child {
                Some(child) => self.leaves(child, out),
                None => out.push(sub.centroid()),
            }
        }
    }
}

/// Ward's agglomerative clustering of points into `k` groups; returns each point's group.
/// Each merge looks at every pair (5,000 subclusters: 12.5 million), `interrupt` before it.
fn ward(points: &[Vec<f64>], k: usize, interrupt: &dyn Fn()) -> Vec<usize> {
    let m = points.len();
    let mut group: Vec<usize> = (0..m).collect();
    let mut size = vec![1.0f64; m];
    let mut centre: Vec<Vec<f64>> = points.to_vec();
    let mut alive: Vec<usize> = (0..m).collect();
    while alive.len() > k {
        interrupt();
        let (mut best, mut pair) = (f64::INFINITY, (0, 1));
        for (x, &a) in alive.iter().enumerate() {
            for &b in &alive[x + 1..] {
                let cost = size[a] * size[b] / (size[a] + size[b]) * distance2(&centre[a], &centre[b]);
                if cost < best {
                    best = cost;
                    pair = (a, b);
                }
            }
        }
        let (a, b) = pair;
        let total = size[a] + size[b];
        centre[a] =
            centre[a].iter().zip(&centre[b]).map(|(p, q)| (p * size[a] + q * size[b]) / total).collect();
        size[a] = total;
        group.iter_mut().filter(|g| **g == b).for_each(|g| *g = a);
        alive.retain(|&c| c != b);
    }
    group.iter().map(|g| alive.iter().position(|a| a == g).unwrap_or(0)).collect()
}

/// The fitted model: subcluster centroids and the group of each.
#[derive(Serialize, Deserialize)]
pub(super) struct Birch {
    centroids: Vec<f32>,
    labels: Vec<u32>,
    cols: usize,
}

pub(super) fn train(p: Params, x: &Matrix, ctx: &mut TrainContext) -> Result<Box<dyn Model>> {
    let mut tree =
        Tree { nodes: vec![Vec::new()], cols: x.cols, threshold: p.threshold, branching: p.branching_factor };
    let mut root = 0;
    for i in 0..x.rows {
        if i.is_multiple_of(1000) {
            (ctx.on_step)();
        }
        if tree.insert(root, Sub::of_row(x.row(i))) {
            let (one, two) = tree.split(root);
            tree.nodes.push(vec![one, two]);
            root = tree.nodes.len() - 1;
        }
    }
    let mut centroids = Vec::new();
    tree.leaves(root, &mut centroids);
    if centroids.len() > MAX_SUBCLUSTERS {
        return Err(Error::unsupported(format!(
            "birch made {} subclusters; grouping more than {MAX_SUBCLUSTERS} is not supported",
            centroids.len()
        ))
        .with_hint("raise threshold so fewer, larger subclusters form"));
    }
    // scikit-learn warns and keeps every subcluster when there are fewer than n_clusters.
    let labels = ward(&centroids, p.n_clusters.min(centroids.len()), ctx.interrupt);
    Ok(Box::new(Birch {
        centroids: centroids.iter().flatten().map(|&v| v as f32).collect(),
        labels: labels.iter().map(|&l| l as u32).collect(),
        cols: x.cols,
    }))
}

impl Model for Birch {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        (0..x.rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        let nearest = self
            .centroids
            .chunks(self.cols.max(1))
            .map(|c| c.iter().zip(row).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>())
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        Ok(self.labels.get(nearest).copied().unwrap_or(0) as f32)
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        to_json(self)
    }
}
