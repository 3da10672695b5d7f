//! Models trained here written as ONNX, with the `ai.onnx.ml` operators skl2onnx writes:
//! Imputer, Sub and Div for the preprocessing, then LinearRegressor / LinearClassifier or
//! TreeEnsembleRegressor / TreeEnsembleClassifier. Every split is written `BRANCH_LEQ` at the
//! f32 threshold that decides as ours does for every f32 input, and a missing value's side is
//! the node's `missing_value_tracks_true`. A graph is only handed out after our own reader
//! compiled it back and it predicted what the model predicts.

use super::below;
use crate::error::{Error, Result};
use crate::explain::trees::{Ensemble, Missing, Rule};

/// What the graph computes, before it is encoded.
pub struct Graph {
    pub features: usize,
    /// (fill for a missing value, shift, scale) per feature: `(x − shift) / scale`.
    pub preprocess: Option<Vec<(Option<f32>, f32, f32)>>,
    pub model: Estimator,
    /// Class labels (classifiers), as integers.
    pub classes: Vec<i64>,
    /// Metadata kept in the file: the features' names and types, the classes.
    pub metadata: Vec<(String, String)>,
}

pub enum Estimator {
    /// `rows × features` coefficients, one intercept per row; classifiers: SOFTMAX over the
    /// rows, or for two classes the rows (−w, w) with LOGISTIC.
    Linear {
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        classifier: bool,
    },
    Trees(Trees),
}

pub struct Trees {
    pub ensemble: Ensemble,
    /// The margins become probabilities by LOGISTIC (one margin, two classes) or SOFTMAX.
    pub link: Link,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Link {
    /// Regression values, or a forest's averaged class probabilities.
    Identity,
    /// Boosted classifiers' margins.
    Probability,
}

impl Graph {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut nodes = Vec::new();
        let mut initializers = Vec::new();
        let mut current = "X".to_string();
        if let Some(steps) = &self.preprocess {
            if steps.iter().any(|s| s.0.is_some()) {
                let fill: Vec<f32> = steps.iter().map(|s| s.0.unwrap_or(f32::NAN)).collect();
                nodes.push(node(
                    "Imputer",
                    ML,
                    &[&current],
                    &["imputed"],
                    vec![floats("imputed_value_floats", &fill), float("replaced_value_float", f32::NAN)],
                ));
                current = "imputed".into();
            }
            let shift: Vec<f32> = steps.iter().map(|s| s.1).collect();
            let scale: Vec<f32> = steps.iter().map(|s| s.2).collect();
            if shift.iter().any(|v| *v != 0.0) {
                initializers.push(tensor("shift", &shift));
                nodes.push(node("Sub", "", &[&current, "shift"], &["shifted"], vec![]));
                current = "shifted".into();
            }
            if scale.iter().any(|v| *v != 1.0) {
                initializers.push(tensor("scale", &scale));
                nodes.push(node("Div", "", &[&current, "scale"], &["scaled"], vec![]));
                current = "scaled".into();
            }
        }
        let classifier = !self.classes.is_empty();
        let outputs: &[&str] = if classifier { &["label", "probabilities"] } else { &["variable"] };
        let labels = ints("classlabels_ints", &self.classes);
        match &self.model {
            Estimator::Linear { coefficients, intercepts, classifier: true } if intercepts.len() == 1 => {
                let negated: Vec<f32> =
                    coefficients.iter().map(|v| -v).chain(coefficients.iter().copied()).collect();
                nodes.push(node(
                    "LinearClassifier",
                    ML,
                    &[&current],
                    outputs,
                    vec![
                        floats("coefficients", &negated),
                        floats("intercepts", &[-intercepts[0], intercepts[0]]),
                        string("post_transform", "LOGISTIC"),
                        labels,
                    ],
                ))
            }
            Estimator::Linear { coefficients, intercepts, classifier: true } => nodes.push(node(
                "LinearClassifier",
                ML,
                &[&current],
                outputs,
                vec![
                    floats("coefficients", coefficients),
                    floats("intercepts", intercepts),
                    int("multi_class", 1),
                    string("post_transform", "SOFTMAX"),
                    labels,
                ],
            )),
            Estimator::Linear { coefficients, intercepts, .. } => nodes.push(node(
                "LinearRegressor",
                ML,
                &[&current],
                outputs,
                vec![floats("coefficients", coefficients), floats("intercepts", intercepts)],
            )),
            Estimator::Trees(t) => nodes.push(trees(t, &current, outputs, classifier, &self.classes)?),
        }
        let input = value_info("X", FLOAT, &[None, Some(self.features as i64)]);
        let outs = if classifier {
            vec![
                value_info("label", INT64, &[None]),
                value_info("probabilities", FLOAT, &[None, Some(self.classes.len() as i64)]),
            ]
        } else {
            vec![value_info("variable", FLOAT, &[None, Some(1)])]
        };
        let mut graph = Vec::new();
        for n in &nodes {
            put_bytes(&mut graph, 1, n);
        }
        put_bytes(&mut graph, 2, b"pgml_rs");
        for t in &initializers {
            put_bytes(&mut graph, 5, t);
        }
        put_bytes(&mut graph, 11, &input);
        for o in &outs {
            put_bytes(&mut graph, 12, o);
        }
        let mut model = Vec::new();
        put_varint_field(&mut model, 1, 8); // ir_version 8 (ONNX 1.10 on)
        put_bytes(&mut model, 2, b"pgml-rs");
        put_bytes(&mut model, 3, env!("CARGO_PKG_VERSION").as_bytes());
        put_bytes(&mut model, 7, &graph);
        for (domain, version) in [("", 17), (ML, 3)] {
            let mut opset = Vec::new();
            put_bytes(&mut opset, 1, domain.as_bytes());
            put_varint_field(&mut opset, 2, version);
            put_bytes(&mut model, 8, &opset);
        }
        for (k, v) in &self.metadata {
            let mut entry = Vec::new();
            put_bytes(&mut entry, 1, k.as_bytes());
            put_bytes(&mut entry, 2, v.as_bytes());
            put_bytes(&mut model, 14, &entry);
        }
        Ok(model)
    }
}

const ML: &str = "ai.onnx.ml";
const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// The largest f32 `c` such that `x <= c` decides as `x < t` (Less) or `x <= t` (LessOrEqual)
/// does, for every f32 `x`.
fn leq_threshold(t: f64, rule: Rule) -> f32 {
    let mut c = t as f32;
    let too_high = match rule {
        Rule::Less => c as f64 >= t,
        Rule::LessOrEqual => c as f64 > t,
    };
    if too_high {
        c = below(c);
    }
    c
}

fn trees(t: &Trees, input: &str, outputs: &[&str], classifier: bool, classes: &[i64]) -> Result<Vec<u8>> {
    let e = &t.ensemble;
    let (mut tree_ids, mut node_ids, mut features, mut values, mut modes, mut yes, mut no, mut tracks) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut w_tree, mut w_node, mut w_id, mut w_value) = (vec![], vec![], vec![], vec![]);
    for (i, tree) in e.trees.iter().enumerate() {
        for n in 0..tree.left.len() {
            tree_ids.push(i as i64);
            node_ids.push(n as i64);
            if tree.left[n] < 0 {
                features.push(0);
                values.push(0.0);
                modes.push("LEAF");
                yes.push(0);
                no.push(0);
                tracks.push(0);
                w_tree.push(i as i64);
                w_node.push(n as i64);
                w_id.push(tree.group as i64);
                w_value.push(tree.value[n] as f32);
                continue;
            }
            let threshold = leq_threshold(tree.threshold[n], tree.rule);
            let nan_left = match tree.missing[n] {
                Missing::Nan => tree.default_left[n],
                // NaN read as 0: it goes where 0 goes
                Missing::AsZero => 0.0 <= threshold,
                Missing::Zero => {
                    return Err(Error::unsupported(
                        "a LightGBM split that treats zeros as missing has no ONNX form",
                    )
                    .with_hint("retrain without zero_as_missing, or export as 'lightgbm'"))
                }
            };
            features.push(tree.feature[n] as i64);
            values.push(threshold);
            modes.push("BRANCH_LEQ");
            yes.push(tree.left[n] as i64);
            no.push(tree.right[n] as i64);
            tracks.push(nan_left as i64);
        }
    }
    let mut base: Vec<f32> = e.intercept.iter().map(|v| *v as f32).collect();
    let one_margin = e.outputs == 1;
    if classifier && one_margin && t.link == Link::Probability && w_value.iter().all(|w| *w >= 0.0) {
        // ONNX Runtime reads a binary ensemble of non-negative weights as probabilities: one
        // leaf is shifted below zero, the base the other way
        let shift = w_value.iter().fold(0.0f32, |m, w| m.max(*w)) + 1.0;
        let first = w_tree.iter().position(|&t| t == 0).unwrap_or(0);
        for j in (0..w_value.len()).filter(|&j| w_tree[j] == w_tree[first]) {
            w_value[j] -= shift;
        }
        base[0] += shift;
    }
    let post = match (classifier, t.link, one_margin) {
        (true, Link::Probability, true) => "LOGISTIC",
        (true, Link::Probability, false) => "SOFTMAX",
        _ => "NONE",
    };
    let prefix = if classifier { "class" } else { "target" };
    let mut attributes = vec![
        ints("nodes_treeids", &tree_ids),
        ints("nodes_nodeids", &node_ids),
        ints("nodes_featureids", &features),
        floats("nodes_values", &values),
        strings("nodes_modes", &modes),
        ints("nodes_truenodeids", &yes),
        ints("nodes_falsenodeids", &no),
        ints("nodes_missing_value_tracks_true", &tracks),
        ints(&format!("{prefix}_treeids"), &w_tree),
        ints(&format!("{prefix}_nodeids"), &w_node),
        ints(&format!("{prefix}_ids"), &w_id),
        floats(&format!("{prefix}_weights"), &w_value),
        floats("base_values", &base),
        string("post_transform", post),
    ];
    if classifier {
        attributes.push(ints("classlabels_int64s", classes));
        Ok(node("TreeEnsembleClassifier", ML, &[input], outputs, attributes))
    } else {
        attributes.push(int("n_targets", 1));
        attributes.push(string("aggregate_function", "SUM"));
        Ok(node("TreeEnsembleRegressor", ML, &[input], outputs, attributes))
    }
}

// ---- the protobuf wire format, written

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, v: i64) {
    put_key(out, field, 0);
    put_varint(out, v as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<Vec<u8>>) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        put_bytes(&mut n, 1, i.as_bytes());
    }
    for o in outputs {
        put_bytes(&mut n, 2, o.as_bytes());
    }
    put_bytes(&mut n, 3, op.to_ascii_lowercase().as_bytes());
    put_bytes(&mut n, 4, op.as_bytes());
    for a in &attributes {
        put_bytes(&mut n, 5, a);
    }
    if !domain.is_empty() {
        put_bytes(&mut n, 7, domain.as_bytes());
    }
    n
}

/// AttributeProto's type enum: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7, STRINGS 8.
fn attribute(name: &str, kind: i64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut a = Vec::new();
    put_bytes(&mut a, 1, name.as_bytes());
    body(&mut a);
    put_varint_field(&mut a, 20, kind);
    a
}

fn float(name: &str, v: f32) -> Vec<u8> {
    attribute(name, 1, |a| {
        put_key(a, 2, 5);
        a.extend_from_slice(&v.to_le_bytes());
    })
}

fn int(name: &str, v: i64) -> Vec<u8> {
    attribute(name, 2, |a| put_varint_field(a, 3, v))
}

fn string(name: &str, v: &str) -> Vec<u8> {
    attribute(name, 3, |a| put_bytes(a, 4, v.as_bytes()))
}

fn floats(name: &str, v: &[f32]) -> Vec<u8> {
    attribute(name, 6, |a| {
        let packed: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        put_bytes(a, 7, &packed);
    })
}

fn ints(name: &str, v: &[i64]) -> Vec<u8> {
    attribute(name, 7, |a| {
        let mut packed = Vec::new();
        v.iter().for_each(|&i| put_varint(&mut packed, i as u64));
        put_bytes(a, 8, &packed);
    })
}

fn strings(name: &str, v: &[&str]) -> Vec<u8> {
    attribute(name, 8, |a| v.iter().for_each(|s| put_bytes(a, 9, s.as_bytes())))
}

fn tensor(name: &str, v: &[f32]) -> Vec<u8> {
    let mut t = Vec::new();
    put_varint_field(&mut t, 1, v.len() as i64);
    put_varint_field(&mut t, 2, FLOAT);
    put_bytes(&mut t, 8, name.as_bytes());
    let raw: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    put_bytes(&mut t, 9, &raw);
    t
}

fn value_info(name: &str, elem: i64, dims: &[Option<i64>]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            Some(n) => put_varint_field(&mut dim, 1, *n),
            None => put_bytes(&mut dim, 2, b"N"),
        }
        put_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    put_varint_field(&mut tensor, 1, elem);
    put_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tensor);
    let mut v = Vec::new();
    put_bytes(&mut v, 1, name.as_bytes());
    put_bytes(&mut v, 2, &ty);
    v
}
