//! Tree ensembles as TreeSHAP reads them: every node's split, the side a missing value takes,
//! its cover (the training weight that reached it), and every leaf's value, for XGBoost's
//! and LightGBM's models alike. Prediction through these trees is the model's margin, which
//! the tests compare with the library's.

use crate::error::{Error, Result};
use serde_json::Value;

/// How a split compares: XGBoost sends `x < t` left, LightGBM `x <= t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Less,
    LessOrEqual,
}

/// Which values a split treats as missing (LightGBM's missing types; XGBoost's is `Nan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Missing {
    /// NaN is read as 0 and compared (LightGBM's `None`).
    AsZero,
    /// 0 and NaN take the default side.
    Zero,
    /// NaN takes the default side.
    Nan,
}

/// One node as the walks read it: one cache line holds what a step needs.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    /// The left child, or -1 for a leaf.
    pub left: i32,
    pub right: i32,
    pub feature: u32,
    pub default_left: bool,
    pub missing: Missing,
    pub threshold: f64,
    pub cover: f64,
    pub value: f64,
    /// The expected value below the node (`Tree::means`).
    pub mean: f64,
}

/// One tree, node 0 its root; `left[i] < 0` marks a leaf. `nodes` (the same, packed) and
/// `depth` are filled by `Ensemble`'s constructors, which every walk goes through.
#[derive(Debug, Clone)]
pub struct Tree {
    pub left: Vec<i32>,
    pub right: Vec<i32>,
    pub feature: Vec<u32>,
    pub threshold: Vec<f64>,
    pub default_left: Vec<bool>,
    pub missing: Vec<Missing>,
    pub cover: Vec<f64>,
    /// A split's gain (its loss reduction in training).
    pub gain: Vec<f64>,
    /// A leaf's value (unused for splits).
    pub value: Vec<f64>,
    pub rule: Rule,
    /// The output (class) the tree adds to.
    pub group: usize,
    pub nodes: Vec<Node>,
    pub depth: usize,
}

impl Tree {
    pub fn is_leaf(&self, node: usize) -> bool {
        self.nodes[node].left < 0
    }

    /// The child `row` goes to from split `node`.
    #[inline]
    pub fn next(&self, node: usize, row: &[f32]) -> usize {
        let n = &self.nodes[node];
        let mut x = row[n.feature as usize] as f64;
        let default = match n.missing {
            Missing::Nan => x.is_nan(),
            Missing::Zero => x.is_nan() || x.abs() <= 1e-35,
            Missing::AsZero => {
                if x.is_nan() {
                    x = 0.0;
                }
                false
            }
        };
        let left = if default {
            n.default_left
        } else {
            match self.rule {
                Rule::Less => x < n.threshold,
                Rule::LessOrEqual => x <= n.threshold,
            }
        };
        (if left { n.left } else { n.right }) as usize
    }

    pub fn leaf_of(&self, row: &[f32]) -> usize {
        let mut node = 0;
        while !self.is_leaf(node) {
            node = self.next(node, row);
        }
        node
    }

    /// Packs the nodes and measures the depth.
    fn prepare(&mut self) {
        self.nodes = (0..self.left.len())
            .map(|i| Node {
                left: self.left[i],
                right: self.right[i],
                feature: self.feature[i],
                default_left: self.default_left[i],
                missing: self.missing[i],
                threshold: self.threshold[i],
                cover: self.cover[i],
                value: self.value[i],
                mean: 0.0,
            })
            .collect();
        fn depth(t: &Tree, node: usize) -> usize {
            if t.is_leaf(node) {
                0
            } else {
                1 + depth(t, t.left[node] as usize).max(depth(t, t.right[node] as usize))
            }
        }
        self.depth = depth(self, 0);
        let means = self.means();
        for (node, mean) in self.nodes.iter_mut().zip(means) {
            node.mean = mean;
        }
    }

    /// The expected value below each node: its leaves' values weighted by cover.
    pub fn means(&self) -> Vec<f64> {
        let mut means = vec![0.0; self.left.len()];
        self.fill_means(0, &mut means);
        means
    }

    fn fill_means(&self, node: usize, means: &mut [f64]) -> f64 {
        let mean = if self.is_leaf(node) {
            self.value[node]
        } else {
            let (l, r) = (self.left[node] as usize, self.right[node] as usize);
            let (ml, mr) = (self.fill_means(l, means), self.fill_means(r, means));
            if self.cover[node] > 0.0 {
                (ml * self.cover[l] + mr * self.cover[r]) / self.cover[node]
            } else {
                0.0
            }
        };
        means[node] = mean;
        mean
    }
}

/// A boosted ensemble: the sum of its trees per output, plus the intercept.
#[derive(Debug, Clone)]
pub struct Ensemble {
    pub trees: Vec<Tree>,
    pub outputs: usize,
    pub intercept: Vec<f64>,
    pub num_features: usize,
}

impl Ensemble {
    pub(crate) fn new(mut trees: Vec<Tree>, outputs: usize, num_features: usize) -> Ensemble {
        trees.iter_mut().for_each(Tree::prepare);
        Ensemble { trees, outputs, intercept: vec![0.0; outputs], num_features }
    }

    /// The margin of each output for one row.
    pub fn margin(&self, row: &[f32]) -> Vec<f64> {
        let mut out = self.intercept.clone();
        for t in &self.trees {
            out[t.group] += t.value[t.leaf_of(row)];
        }
        out
    }

    /// Sets the intercept so that `margin(row)` is the library's margin there.
    pub fn calibrate(&mut self, row: &[f32], library_margin: &[f32]) {
        let ours = self.margin(row);
        for ((i, lib), own) in self.intercept.iter_mut().zip(library_margin).zip(ours) {
            *i += *lib as f64 - own;
        }
    }

    /// XGBoost's JSON model (checked by `portable::xgboost::check` or written by the library).
    /// The intercept is left at 0: `calibrate` sets it from the library's margin.
    pub fn from_xgboost(model: &Value, outputs: usize) -> Result<Ensemble> {
        let bad = |what: &str| Error::Internal(format!("XGBoost model JSON: {what}"));
        let learner = &model["learner"];
        let num_features = learner["learner_model_param"]["num_feature"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("num_feature"))?;
        let m = &learner["gradient_booster"]["model"];
        let groups: Vec<usize> = m["tree_info"]
            .as_array()
            .ok_or_else(|| bad("tree_info"))?
            .iter()
            .map(|g| g.as_u64().map(|g| g as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("tree_info"))?;
        let trees = m["trees"].as_array().ok_or_else(|| bad("trees"))?;
        let mut out = Vec::with_capacity(trees.len());
        for (t, &group) in trees.iter().zip(&groups) {
            let ints = |key: &str| -> Result<Vec<i64>> {
                t[key]
                    .as_array()
                    .ok_or_else(|| bad(key))?
                    .iter()
                    .map(|v| v.as_i64().ok_or_else(|| bad(key)))
                    .collect()
            };
            let floats = |key: &str| -> Result<Vec<f64>> {
                t[key]
                    .as_array()
                    .ok_or_else(|| bad(key))?
                    .iter()
                    .map(|v| v.as_f64().ok_or_else(|| bad(key)))
                    .collect()
            };
            let left: Vec<i32> = ints("left_children")?.into_iter().map(|v| v as i32).collect();
            let n = left.len();
            let conditions = floats("split_conditions")?;
            let tree = Tree {
                right: ints("right_children")?.into_iter().map(|v| v as i32).collect(),
                feature: ints("split_indices")?.into_iter().map(|v| v as u32).collect(),
                // XGBoost compares in f32: the threshold as the f32 it is
                threshold: conditions.iter().map(|&c| c as f32 as f64).collect(),
                default_left: ints("default_left")?.into_iter().map(|v| v != 0).collect(),
                missing: vec![Missing::Nan; n],
                cover: floats("sum_hessian")?,
                gain: floats("loss_changes")?,
                value: conditions.iter().map(|&c| c as f32 as f64).collect(),
                rule: Rule::Less,
                group,
                left,
                nodes: Vec::new(),
                depth: 0,
            };
            if [tree.right.len(), tree.feature.len(), tree.default_left.len(), tree.cover.len()]
                .iter()
                .any(|&l| l != n)
            {
                return Err(bad("tree arrays of different lengths"));
            }
            out.push(tree);
        }
        Ok(Ensemble::new(out, outputs, num_features))
    }

    /// LightGBM's text model (checked by `portable::lightgbm::check` or written by the
    /// library): counts as covers, as LightGBM's own contributions use them.
    pub fn from_lightgbm(text: &str) -> Result<Ensemble> {
        let bad = |what: &str| Error::Internal(format!("LightGBM model text: {what}"));
        let header_end = text.find("\nTree=").ok_or_else(|| bad("no trees"))?;
        let header = &text[..header_end];
        let value = |block: &str, key: &str| -> Option<String> {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')).map(str::to_string))
        };
        let per_iteration: usize = value(header, "num_tree_per_iteration")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("num_tree_per_iteration"))?;
        let num_features: usize = value(header, "max_feature_idx")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|m| m + 1)
            .ok_or_else(|| bad("max_feature_idx"))?;
        let average = header.lines().any(|l| l.trim() == "average_output");
        let body = &text[header_end + 1..text.find("end of trees").unwrap_or(text.len())];
        let mut trees = Vec::new();
        for (i, block) in body.split("Tree=").skip(1).enumerate() {
            let nums = |key: &str| -> Result<Vec<f64>> {
                value(block, key)
                    .ok_or_else(|| bad(key))?
                    .split_whitespace()
                    .map(|v| v.parse().map_err(|_| bad(key)))
                    .collect()
            };
            let leaves: usize = value(block, "num_leaves")
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| bad("num_leaves"))?;
            let leaf_value = nums("leaf_value")?;
            let leaf_count = nums("leaf_count").unwrap_or_else(|_| vec![1.0; leaves]);
            let shrink = 1.0;
            // nodes: the inner nodes 0..leaves-1, then the leaves after them
            let inner = leaves - 1;
            let n = inner + leaves;
            let mut tree = Tree {
                left: vec![-1; n],
                right: vec![-1; n],
                feature: vec![0; n],
                threshold: vec![0.0; n],
                default_left: vec![false; n],
                missing: vec![Missing::Nan; n],
                cover: vec![0.0; n],
                gain: vec![0.0; n],
                value: vec![0.0; n],
                rule: Rule::LessOrEqual,
                group: i % per_iteration,
                nodes: Vec::new(),
                depth: 0,
            };
            if inner > 0 {
                let (feature, threshold, decision) =
                    (nums("split_feature")?, nums("threshold")?, nums("decision_type")?);
                let (left, right) = (nums("left_child")?, nums("right_child")?);
                let count = nums("internal_count")?;
                let gain = nums("split_gain").unwrap_or_else(|_| vec![0.0; inner]);
                let child = |c: f64| if c >= 0.0 { c as i32 } else { inner as i32 + (!(c as i32)) };
                for j in 0..inner {
                    let d = decision[j] as u32;
                    tree.left[j] = child(left[j]);
                    tree.right[j] = child(right[j]);
                    tree.feature[j] = feature[j] as u32;
                    tree.threshold[j] = threshold[j];
                    tree.default_left[j] = d & 2 != 0;
                    tree.missing[j] = match (d >> 2) & 3 {
                        0 => Missing::AsZero,
                        1 => Missing::Zero,
                        _ => Missing::Nan,
                    };
                    tree.cover[j] = count[j];
                    tree.gain[j] = gain[j];
                }
            }
            for l in 0..leaves {
                tree.value[inner + l] = leaf_value[l] * shrink;
                tree.cover[inner + l] = leaf_count[l];
            }
            if inner == 0 {
                // a single leaf: node 0 is it
                tree.left = vec![-1];
                tree.right = vec![-1];
                tree.value = vec![leaf_value[0]];
                tree.cover = vec![leaf_count[0].max(1.0)];
                tree.gain = vec![0.0];
                tree.feature.truncate(1);
                tree.threshold.truncate(1);
                tree.default_left.truncate(1);
                tree.missing.truncate(1);
            }
            trees.push(tree);
        }
        if average && !trees.is_empty() {
            let iterations = (trees.len() / per_iteration) as f64;
            for t in &mut trees {
                t.value.iter_mut().for_each(|v| *v /= iterations);
            }
        }
        Ok(Ensemble::new(trees, per_iteration, num_features))
    }
}

impl Ensemble {
    /// XGBoost's five importances of each feature, from the splits on it: `weight` (how many),
    /// `gain` and `cover` (their mean gain and cover), `total_gain`, `total_cover`.
    pub fn importance(&self) -> super::Importance {
        let f = self.num_features;
        let (mut weight, mut gain, mut cover) = (vec![0.0; f], vec![0.0; f], vec![0.0; f]);
        for t in &self.trees {
            for node in (0..t.left.len()).filter(|&n| !t.is_leaf(n)) {
                let j = t.feature[node] as usize;
                if j < f {
                    weight[j] += 1.0;
                    gain[j] += t.gain[node];
                    cover[j] += t.cover[node];
                }
            }
        }
        let mean = |total: &[f64]| -> Vec<f64> {
            total.iter().zip(&weight).map(|(t, &w)| if w > 0.0 { t / w } else { 0.0 }).collect()
        };
        let measures = vec![
            ("gain", None, mean(&gain)),
            ("cover", None, mean(&cover)),
            ("total_gain", None, gain),
            ("total_cover", None, cover),
            ("weight", None, weight),
        ];
        super::Importance { measures }
    }
}
