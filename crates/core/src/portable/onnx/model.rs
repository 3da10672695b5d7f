//! A scikit-learn pipeline read from ONNX, compiled into the core's own predictor: the steps
//! before the model (imputer, scaler, the arithmetic skl2onnx writes for other scalers,
//! normalizer), then a linear model or a tree ensemble, then what happens to its scores. The
//! arithmetic is ONNX Runtime's: f32 throughout, its split rules, its binary classifiers'
//! conventions, so an imported model predicts what ONNX Runtime predicts for the same file.

use crate::algorithms::Model;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::explain::trees::{Ensemble, Missing, Rule, Tree};
use crate::explain::{Explanation, Importance, Method};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// A transformation of the features before the model, each vector one value per feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Step {
    /// ONNX's Scaler: `(x − offset) × scale`.
    Scale {
        #[serde(with = "floats")]
        offset: Vec<f32>,
        #[serde(with = "floats")]
        scale: Vec<f32>,
    },
    Add(#[serde(with = "floats")] Vec<f32>),
    Sub(#[serde(with = "floats")] Vec<f32>),
    Mul(#[serde(with = "floats")] Vec<f32>),
    Div(#[serde(with = "floats")] Vec<f32>),
    /// ONNX's Imputer: a missing value (NaN, or `replaced`) becomes `fill`.
    Impute {
        #[serde(with = "floats")]
        fill: Vec<f32>,
        #[serde(with = "float")]
        replaced: f32,
    },
    /// ONNX's Normalizer: the row divided by its norm.
    Normalize(Norm),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Norm {
    Max,
    L1,
    L2,
}

/// What turns scores into the probabilities a classifier outputs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub enum Post {
    #[default]
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Linear {
    /// `rows × features`, one row per score.
    #[serde(with = "floats")]
    pub coefficients: Vec<f32>,
    #[serde(with = "floats")]
    pub intercepts: Vec<f32>,
    pub post: Post,
}

/// Trees of one ensemble, their nodes together (renumbered), every split read as
/// `x <= threshold` (ONNX's other comparisons rewritten exactly for f32 inputs).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Trees {
    pub roots: Vec<u32>,
    /// Per node: the feature (splits), or the first of its weights in `weights` (leaves).
    pub feature: Vec<u32>,
    #[serde(with = "floats")]
    pub threshold: Vec<f32>,
    /// Per node: the child taken when the comparison holds; `u32::MAX` for a leaf.
    pub yes: Vec<u32>,
    /// Per node: the other child; for a leaf, how many weights it has.
    pub no: Vec<u32>,
    /// Per node: whether a NaN takes the `yes` side.
    pub nan_yes: Vec<bool>,
    /// Leaf weights: (score index, weight).
    #[serde(with = "pairs")]
    pub weights: Vec<(u32, f32)>,
    /// How many scores the trees add to (classes, or 1 for a regression).
    pub scores: usize,
    #[serde(with = "floats")]
    pub base: Vec<f32>,
    /// AVERAGE (a regression forest): the sum is divided by the number of trees.
    pub average: bool,
    pub post: Post,
    /// Per node: the rows of the holdout that reached it (TreeSHAP's covers), once imported
    /// with a holdout relation.
    #[serde(default)]
    pub covers: Option<Vec<f64>>,
    /// The nodes packed for the walk (built on first use).
    #[serde(skip)]
    pub(crate) packed: OnceLock<Vec<Packed>>,
}

/// One node in 16 bytes: a split's threshold, feature (a NaN goes to `yes` when the top bit
/// is set) and children; a leaf has `yes == u32::MAX` and the count of its weights in `no`:
/// one weight is held in the node (`threshold` the weight, `feature` its score), more are
/// `weights[feature..feature + no]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packed {
    threshold: f32,
    feature: u32,
    yes: u32,
    no: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Estimator {
    Linear(Linear),
    Trees(Box<Trees>),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Pipeline {
    pub features: usize,
    pub steps: Vec<Step>,
    pub estimator: Estimator,
    /// Classes of a classifier (0 for a regression).
    pub classes: usize,
    /// Normalizers applied to a classifier's probabilities after the model.
    pub score_steps: Vec<Norm>,
    /// The mean of each estimator input over the holdout (after the steps), once imported with
    /// a holdout relation: a linear model's explanations are centred on them.
    #[serde(default)]
    pub input_means: Option<Vec<f64>>,
    #[serde(skip)]
    ensemble: OnceLock<Option<Ensemble>>,
}

/// f32 values in JSON, NaN and the infinities among them (as the strings "NaN", "inf",
/// "-inf"; JSON has no numbers for them).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f32),
    Text(String),
}

impl Repr {
    fn of(v: f32) -> Repr {
        if v.is_finite() {
            Repr::Number(v)
        } else {
            Repr::Text(v.to_string())
        }
    }

    fn value(self) -> f32 {
        match self {
            Repr::Number(v) => v,
            Repr::Text(t) => t.parse().unwrap_or(f32::NAN),
        }
    }
}

mod float {
    use super::Repr;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        Repr::of(*v).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Repr::deserialize(d)?.value())
    }
}

mod floats {
    use super::Repr;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|v| Repr::of(*v)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Repr>::deserialize(d)?.into_iter().map(Repr::value).collect())
    }
}

mod pairs {
    use super::Repr;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[(u32, f32)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(i, v)| (i, Repr::of(*v))))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u32, f32)>, D::Error> {
        Ok(Vec::<(u32, Repr)>::deserialize(d)?.into_iter().map(|(i, v)| (i, v.value())).collect())
    }
}

pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let p: Pipeline =
        serde_json::from_slice(bytes).map_err(|e| Error::Internal(format!("corrupt ONNX pipeline: {e}")))?;
    Ok(Box::new(p))
}

impl Pipeline {
    pub fn new(
        features: usize,
        steps: Vec<Step>,
        estimator: Estimator,
        classes: usize,
        score_steps: Vec<Norm>,
    ) -> Self {
        Pipeline {
            features,
            steps,
            estimator,
            classes,
            score_steps,
            input_means: None,
            ensemble: OnceLock::new(),
        }
    }

    /// The estimator's input for one row.
    fn transform(&self, row: &[f32], z: &mut Vec<f32>) {
        z.clear();
        z.extend_from_slice(&row[..self.features.min(row.len())]);
        z.resize(self.features, f32::NAN);
        for step in &self.steps {
            match step {
                Step::Scale { offset, scale } => {
                    z.iter_mut().zip(offset.iter().zip(scale)).for_each(|(v, (o, s))| *v = (*v - o) * s)
                }
                Step::Add(c) => z.iter_mut().zip(c).for_each(|(v, c)| *v += c),
                Step::Sub(c) => z.iter_mut().zip(c).for_each(|(v, c)| *v -= c),
                Step::Mul(c) => z.iter_mut().zip(c).for_each(|(v, c)| *v *= c),
                Step::Div(c) => z.iter_mut().zip(c).for_each(|(v, c)| *v /= c),
                Step::Impute { fill, replaced } => z.iter_mut().zip(fill).for_each(|(v, f)| {
                    if v.is_nan() || *v == *replaced {
                        *v = *f
                    }
                }),
                Step::Normalize(norm) => normalize(*norm, z),
            }
        }
    }

    /// The estimator's raw scores of one input (before any post transform), and which scores
    /// a tree touched (ONNX Runtime tells "no score" from 0 in binary classifiers).
    fn scores(&self, z: &[f32], out: &mut Vec<f32>, has: &mut Vec<bool>) {
        out.clear();
        has.clear();
        match &self.estimator {
            Estimator::Linear(m) => {
                let f = self.features;
                for (row, b) in m.coefficients.chunks(f).zip(&m.intercepts) {
                    let s: f64 =
                        row.iter().zip(z).map(|(w, x)| *w as f64 * *x as f64).sum::<f64>() + *b as f64;
                    out.push(s as f32);
                    has.push(true);
                }
            }
            Estimator::Trees(t) => {
                out.resize(t.scores, 0.0);
                has.resize(t.scores, false);
                let nodes = t.packed();
                for &root in &t.roots {
                    let leaf = Trees::leaf(nodes, root as usize, z);
                    if leaf.no == 1 {
                        out[leaf.feature as usize] += leaf.threshold;
                        has[leaf.feature as usize] = true;
                        continue;
                    }
                    let start = leaf.feature as usize;
                    for &(i, w) in &t.weights[start..start + leaf.no as usize] {
                        out[i as usize] += w;
                        has[i as usize] = true;
                    }
                }
                if t.average {
                    let n = t.roots.len().max(1) as f32;
                    out.iter_mut().for_each(|s| *s /= n);
                }
            }
        }
    }

    /// A regression's value or a classifier's class index, without its probabilities where
    /// the class does not need them (more than two classes: the largest score's).
    fn label_one(&self, row: &[f32], buf: &mut Buffers) -> f32 {
        if self.classes <= 2 {
            return self.predict_one(row, buf).0;
        }
        self.transform(row, &mut buf.z);
        self.scores(&buf.z, &mut buf.scores, &mut buf.has);
        if let Estimator::Trees(t) = &self.estimator {
            for (k, b) in t.base.iter().enumerate().take(buf.scores.len()) {
                buf.scores[k] += b;
                buf.has[k] = true;
            }
        } else {
            buf.has.iter_mut().for_each(|h| *h = true);
        }
        first_max(&buf.scores, &buf.has) as f32
    }

    /// A regression's value, or a classifier's class index and probabilities, of one row.
    fn predict_one(&self, row: &[f32], buf: &mut Buffers) -> (f32, Option<Vec<f32>>) {
        self.transform(row, &mut buf.z);
        self.scores(&buf.z, &mut buf.scores, &mut buf.has);
        if self.classes == 0 {
            let s = buf.scores.first().copied().unwrap_or(0.0);
            let base = match &self.estimator {
                Estimator::Trees(t) => t.base.first().copied().unwrap_or(0.0),
                Estimator::Linear(_) => 0.0,
            };
            return (s + base, None);
        }
        let (label, mut p) = match &self.estimator {
            Estimator::Linear(m) => linear_classes(&buf.scores, m.post, self.classes),
            Estimator::Trees(t) => tree_classes(&mut buf.scores, &mut buf.has, t, self.classes),
        };
        for norm in &self.score_steps {
            normalize(*norm, &mut p);
        }
        (label as f32, Some(p))
    }

    fn predict_all(&self, x: &Matrix) -> (Vec<f32>, Option<Vec<f32>>) {
        let mut buf = Buffers::default();
        let mut labels = Vec::with_capacity(x.rows);
        let mut proba = (self.classes > 0).then(|| Vec::with_capacity(x.rows * self.classes));
        for r in 0..x.rows {
            let (y, p) = self.predict_one(x.row(r), &mut buf);
            labels.push(y);
            if let (Some(all), Some(p)) = (proba.as_mut(), p) {
                all.extend(p);
            }
        }
        (labels, proba)
    }

    /// Learns what explanations need from holdout rows: each tree node's cover and the mean of
    /// each estimator input.
    pub fn observe(&mut self, x: &Matrix) {
        let mut z = Vec::new();
        let mut sums = vec![0.0f64; self.features];
        let mut counts = vec![0usize; self.features];
        let mut covers = match &self.estimator {
            Estimator::Trees(t) => Some(vec![0.0f64; t.yes.len()]),
            Estimator::Linear(_) => None,
        };
        for r in 0..x.rows {
            self.transform(x.row(r), &mut z);
            for (j, v) in z.iter().enumerate() {
                if v.is_finite() {
                    sums[j] += *v as f64;
                    counts[j] += 1;
                }
            }
            if let (Some(c), Estimator::Trees(t)) = (covers.as_mut(), &self.estimator) {
                for &root in &t.roots {
                    let mut node = root as usize;
                    loop {
                        c[node] += 1.0;
                        if t.yes[node] == u32::MAX {
                            break;
                        }
                        node = t.next(node, &z);
                    }
                }
            }
        }
        if x.rows > 0 {
            self.input_means = Some(
                sums.iter().zip(&counts).map(|(s, &n)| if n > 0 { s / n as f64 } else { 0.0 }).collect(),
            );
            if let Estimator::Trees(t) = &mut self.estimator {
                t.covers = covers;
            }
            self.ensemble = OnceLock::new();
        }
    }

    /// The trees as TreeSHAP reads them (one tree per score a tree adds to), once covers are
    /// known.
    fn ensemble(&self) -> Result<&Ensemble> {
        let Estimator::Trees(t) = &self.estimator else {
            return Err(Error::Internal("a linear pipeline has no trees".into()));
        };
        self.ensemble
            .get_or_init(|| t.covers.as_ref().map(|c| t.ensemble(c, self.features, self.outputs())))
            .as_ref()
            .ok_or_else(|| {
                Error::unsupported("this imported ONNX model's trees have no covers to explain them by")
                    .with_hint(
                        "import it with relation_name and y_column_name: the holdout's rows give the covers",
                    )
            })
    }

    /// How many margins an explanation has: one for a regression or a binary classifier of
    /// one score, else one per score.
    fn outputs(&self) -> usize {
        match &self.estimator {
            Estimator::Linear(m) => m.intercepts.len(),
            Estimator::Trees(t) if self.classes == 2 && t.single_score() => 1,
            Estimator::Trees(t) => t.scores,
        }
    }

    fn check_explainable(&self) -> Result<()> {
        if self.steps.iter().any(|s| matches!(s, Step::Normalize(_))) {
            return Err(Error::unsupported(
                "this imported ONNX pipeline normalizes each row: its model's attributions are not its features'",
            )
            .with_hint("explanations cover pipelines whose steps treat each feature alone (scalers, imputers)"));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Buffers {
    z: Vec<f32>,
    scores: Vec<f32>,
    has: Vec<bool>,
}

impl Trees {
    fn packed(&self) -> &[Packed] {
        self.packed.get_or_init(|| {
            (0..self.yes.len())
                .map(|i| match (self.yes[i], self.no[i]) {
                    (u32::MAX, 1) => {
                        let (score, weight) = self.weights[self.feature[i] as usize];
                        Packed { threshold: weight, feature: score, yes: u32::MAX, no: 1 }
                    }
                    (u32::MAX, count) => {
                        Packed { threshold: 0.0, feature: self.feature[i], yes: u32::MAX, no: count }
                    }
                    (yes, no) => Packed {
                        threshold: self.threshold[i],
                        feature: self.feature[i] | (u32::from(self.nan_yes[i]) << 31),
                        yes,
                        no,
                    },
                })
                .collect()
        })
    }

    /// The leaf `z` reaches from `root`, by the packed nodes.
    #[inline]
    fn leaf(nodes: &[Packed], root: usize, z: &[f32]) -> Packed {
        let mut n = nodes[root];
        while n.yes != u32::MAX {
            let x = z[(n.feature & 0x7fff_ffff) as usize];
            let yes = if x.is_nan() { n.feature >> 31 == 1 } else { x <= n.threshold };
            n = nodes[if yes { n.yes } else { n.no } as usize];
        }
        n
    }

    #[inline]
    fn next(&self, node: usize, z: &[f32]) -> usize {
        let x = z[self.feature[node] as usize];
        let yes = if x.is_nan() { self.nan_yes[node] } else { x <= self.threshold[node] };
        (if yes { self.yes[node] } else { self.no[node] }) as usize
    }

    /// Whether every leaf adds to the same score (a binary classifier of one score).
    fn single_score(&self) -> bool {
        self.weights.iter().all(|w| w.0 == self.weights.first().map_or(0, |f| f.0))
    }

    /// One explain tree per (tree, score) pair a tree's leaves add to; values in the margin
    /// (AVERAGE divided by the tree count), the base as the intercept.
    fn ensemble(&self, covers: &[f64], features: usize, outputs: usize) -> Ensemble {
        let n_trees = self.roots.len().max(1) as f64;
        let scale = if self.average { 1.0 / n_trees } else { 1.0 };
        let single = outputs == 1;
        let mut trees = Vec::new();
        for &root in &self.roots {
            // the tree's nodes, in depth-first order, renumbered from 0
            let mut order = vec![root as usize];
            let mut i = 0;
            while i < order.len() {
                let n = order[i];
                if self.yes[n] != u32::MAX {
                    order.push(self.yes[n] as usize);
                    order.push(self.no[n] as usize);
                }
                i += 1;
            }
            let index: std::collections::HashMap<usize, i32> =
                order.iter().enumerate().map(|(i, &n)| (n, i as i32)).collect();
            let mut groups: Vec<u32> = order
                .iter()
                .filter(|&&n| self.yes[n] == u32::MAX)
                .flat_map(|&n| {
                    let s = self.feature[n] as usize;
                    self.weights[s..s + self.no[n] as usize].iter().map(|w| w.0)
                })
                .collect();
            groups.sort_unstable();
            groups.dedup();
            for g in groups {
                let leaf = |n: usize| -> f64 {
                    let s = self.feature[n] as usize;
                    self.weights[s..s + self.no[n] as usize]
                        .iter()
                        .filter(|w| w.0 == g)
                        .map(|w| w.1 as f64 * scale)
                        .sum()
                };
                let m = order.len();
                let mut t = Tree {
                    left: vec![-1; m],
                    right: vec![-1; m],
                    feature: vec![0; m],
                    threshold: vec![0.0; m],
                    default_left: vec![false; m],
                    missing: vec![Missing::Nan; m],
                    cover: vec![0.0; m],
                    gain: vec![0.0; m],
                    value: vec![0.0; m],
                    rule: Rule::LessOrEqual,
                    group: if single { 0 } else { g as usize },
                    nodes: Vec::new(),
                    depth: 0,
                };
                for (i, &n) in order.iter().enumerate() {
                    t.cover[i] = covers[n];
                    if self.yes[n] == u32::MAX {
                        t.value[i] = leaf(n);
                    } else {
                        t.left[i] = index[&(self.yes[n] as usize)];
                        t.right[i] = index[&(self.no[n] as usize)];
                        t.feature[i] = self.feature[n];
                        t.threshold[i] = self.threshold[n] as f64;
                        t.default_left[i] = self.nan_yes[n];
                    }
                }
                trees.push(t);
            }
        }
        let mut e = Ensemble::new(trees, outputs, features);
        for (o, i) in e.intercept.iter_mut().enumerate() {
            *i = if single { self.base.first() } else { self.base.get(o) }.copied().unwrap_or(0.0) as f64;
        }
        e
    }
}

/// ONNX Runtime's LinearClassifier: the label from the raw scores, then the probabilities.
fn linear_classes(scores: &[f32], post: Post, classes: usize) -> (usize, Vec<f32>) {
    if scores.len() == 1 && classes == 2 {
        // one score for two classes: [1 − s, s], whatever the post transform
        let s = scores[0];
        return (usize::from(s > 0.0), vec![1.0 - s, s]);
    }
    let label = first_max(scores, &vec![true; scores.len()]);
    let mut p = scores.to_vec();
    transform(post, &mut p);
    (label, p)
}

/// ONNX Runtime's TreeEnsembleClassifier (`TreeAggregatorClassifier`), its binary
/// conventions included.
fn tree_classes(scores: &mut [f32], has: &mut [bool], t: &Trees, classes: usize) -> (usize, Vec<f32>) {
    if classes > 2 {
        for (k, b) in t.base.iter().enumerate().take(scores.len()) {
            scores[k] += b;
            has[k] = true;
        }
        let label = first_max(scores, has);
        let mut p: Vec<f32> = scores.iter().zip(has.iter()).map(|(s, h)| if *h { *s } else { 0.0 }).collect();
        transform(t.post, &mut p);
        return (label, p);
    }
    let binary_case = t.single_score();
    let all_positive = t.weights.iter().all(|w| w.1 >= 0.0);
    let mut second = -1;
    if t.base.len() == 2 {
        if has[1] {
            scores[1] = t.base[1] + scores[0];
            scores[0] = -scores[1];
        } else {
            scores[1] += t.base[1];
            scores[0] += t.base[0];
        }
    } else if t.base.len() == 1 {
        scores[0] += t.base[0];
    } else {
        second = 3;
    }
    let single = !has[1] && t.base.len() != 2;
    let positive = if has[1] {
        scores[1]
    } else if has[0] {
        scores[0]
    } else {
        0.0
    };
    let label = if binary_case {
        if all_positive {
            second = if positive > 0.5 { 0 } else { 1 };
            usize::from(positive > 0.5)
        } else {
            second = if positive > 0.0 { 2 } else { 3 };
            usize::from(positive > 0.0)
        }
    } else {
        usize::from(positive > 0.0)
    };
    let p = if single {
        let s = scores[0];
        match second {
            0 | 1 => vec![1.0 - s, s],
            2 | 3 if t.post == Post::Logistic => vec![logistic(-s), logistic(s)],
            2 | 3 => vec![-s, s],
            _ => vec![s, 0.0],
        }
    } else {
        let mut p: Vec<f32> = scores[..2].to_vec();
        transform(t.post, &mut p);
        p
    };
    (label, p)
}

fn first_max(scores: &[f32], has: &[bool]) -> usize {
    let mut best: Option<usize> = None;
    for (i, s) in scores.iter().enumerate() {
        if has[i] && best.is_none_or(|b| *s > scores[b]) {
            best = Some(i);
        }
    }
    best.unwrap_or(0)
}

fn logistic(v: f32) -> f32 {
    let p = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 {
        1.0 - p
    } else {
        p
    }
}

fn transform(post: Post, p: &mut [f32]) {
    match post {
        Post::None => {}
        Post::Logistic => p.iter_mut().for_each(|v| *v = logistic(*v)),
        Post::Softmax | Post::SoftmaxZero => {
            let max = p.iter().fold(-f32::MAX, |m, v| m.max(*v));
            let mut sum = 0.0f32;
            for v in p.iter_mut() {
                if post == Post::SoftmaxZero && v.abs() <= 1e-7 {
                    *v *= (-max).exp();
                } else {
                    *v = (*v - max).exp();
                    sum += *v;
                }
            }
            p.iter_mut().for_each(|v| *v /= sum);
        }
    }
}

fn normalize(norm: Norm, z: &mut [f32]) {
    let d = match norm {
        Norm::Max => z.iter().fold(f32::MIN, |m, v| m.max(*v)),
        Norm::L1 => z.iter().map(|v| v.abs()).sum(),
        Norm::L2 => z.iter().map(|v| v * v).sum::<f32>().sqrt(),
    };
    if d != 0.0 {
        z.iter_mut().for_each(|v| *v /= d);
    }
}

impl Model for Pipeline {
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        Ok(self.predict_all(x).0)
    }

    fn predict_row(&self, row: &[f32]) -> Result<f32> {
        // the per-call path of pgml.predict: the thread's buffers, no allocation but the
        // probabilities'
        thread_local! {
            static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
        }
        Ok(BUFFERS.with(|b| self.label_one(row, &mut b.borrow_mut())))
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.predict_all(x).1.ok_or_else(|| Error::unsupported("a regression has no probabilities"))
    }

    fn predict_with_proba(&self, x: &Matrix) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        Ok(self.predict_all(x))
    }

    fn explain(&self, row: &[f32], method: Method) -> Result<Explanation> {
        self.check_explainable()?;
        let mut z = Vec::new();
        self.transform(row, &mut z);
        match &self.estimator {
            Estimator::Trees(_) => self.ensemble()?.explain(&z, method),
            Estimator::Linear(m) => {
                let means = self.input_means.as_ref().ok_or_else(|| {
                    Error::unsupported(
                        "this imported ONNX model keeps no input means to centre its explanations on",
                    )
                    .with_hint(
                        "import it with relation_name and y_column_name: the holdout's rows give the means",
                    )
                })?;
                let f = self.features;
                let weights: Vec<f64> = m
                    .coefficients
                    .chunks(f)
                    .zip(&m.intercepts)
                    .flat_map(|(w, b)| w.iter().map(|v| *v as f64).chain([*b as f64]))
                    .collect();
                let terms = crate::explain::LinearTerms { weights, outputs: m.intercepts.len(), means: None };
                terms.explain(&z, means)
            }
        }
    }

    fn importance(&self) -> Result<Importance> {
        match &self.estimator {
            Estimator::Linear(m) => {
                let measures = m
                    .coefficients
                    .chunks(self.features)
                    .enumerate()
                    .map(|(o, w)| ("coefficient", Some(o), w.iter().map(|v| *v as f64).collect()))
                    .collect();
                Ok(Importance { measures })
            }
            Estimator::Trees(_) => Ok(self.ensemble()?.importance()),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::Internal(format!("cannot serialize an ONNX pipeline: {e}")))
    }
}
