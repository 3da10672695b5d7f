//! ONNX models in: the graphs skl2onnx and onnxmltools write for scikit-learn pipelines,
//! XGBoost and LightGBM (an imputer or scaler, then a linear model or a tree ensemble, then
//! ZipMap or casts) read by our own protobuf reader and compiled into `model::Pipeline`, the
//! core's own predictor. A graph with any other operator is refused naming it.

pub mod model;
pub mod proto;
pub mod write;

use crate::algorithms::Model;
use crate::artifact::LoadedModel;
use crate::data::schema::FeatureColumn;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::explain::trees::Ensemble;
use crate::task::Task;
use model::{Estimator, Linear, Norm, Pipeline, Post, Step, Trees};
use proto::{Attribute, Node, Tensor};
use std::collections::HashMap;

/// The algorithm name an imported ONNX model is registered under.
pub const ALGORITHM: &str = "onnx";

/// A compiled graph: the predictor, its task, its class labels.
#[derive(Debug)]
pub struct Compiled {
    pub pipeline: Pipeline,
    pub task: Task,
    pub classes: Vec<f32>,
    pub producer: String,
    /// The feature columns a file exported by pgml-rs names (`pgml_features` metadata).
    pub features: Option<Vec<FeatureColumn>>,
}

/// What a tensor of the graph holds, as the compilation follows it.
#[derive(Clone)]
enum Flow {
    /// The features, with the steps applied so far.
    Features(Vec<Step>),
    Label,
    /// A classifier's scores, with the normalizers applied to them.
    Scores(Vec<Norm>),
    Value,
}

pub fn compile(bytes: &[u8]) -> Result<Compiled> {
    let model = proto::parse(bytes)?;
    let graph = &model.graph;
    let constants: HashMap<&str, &Tensor> = graph.initializers.iter().map(|t| (t.name.as_str(), t)).collect();
    let inputs: Vec<_> = graph.inputs.iter().filter(|i| !constants.contains_key(i.name.as_str())).collect();
    let [input] = inputs.as_slice() else {
        return Err(Error::unsupported(format!(
            "the ONNX model has {} inputs; pgml.import reads a model of one input, the features as one tensor",
            inputs.len()
        ))
        .with_hint("convert the pipeline with one input: to_onnx(model, X[:1].astype(numpy.float32)) or initial_types=[('X', FloatTensorType([None, n]))]"));
    };
    if input.elem_type != proto::FLOAT {
        return Err(Error::unsupported(format!(
            "the ONNX model's input \"{}\" is of element type {}, not float",
            input.name, input.elem_type
        ))
        .with_hint("convert it with a float input (FloatTensorType)"));
    }
    let mut width = match input.shape.as_slice() {
        [_, Some(n)] if *n > 0 => Some(*n as usize),
        [_, _] => None,
        _ => {
            return Err(Error::unsupported(format!(
                "the ONNX model's input \"{}\" is not a matrix (rows × features)",
                input.name
            )))
        }
    };
    let mut flows: HashMap<String, Flow> = HashMap::new();
    flows.insert(input.name.clone(), Flow::Features(Vec::new()));
    let mut estimator: Option<(Estimator, Task, Vec<f32>, Vec<Step>)> = None;
    for (index, node) in graph.nodes.iter().enumerate() {
        let named = || format!("{}{} (node {})", qualified(node), node_name(node), index + 1);
        if !node.domain.is_empty() && node.domain != "ai.onnx.ml" {
            return Err(refuse(node, index));
        }
        let first = node.inputs.first().and_then(|n| flows.get(n)).cloned();
        let out = |flows: &mut HashMap<String, Flow>, i: usize, f: Flow| {
            if let Some(name) = node.outputs.get(i) {
                flows.insert(name.clone(), f);
            }
        };
        match (node.op_type.as_str(), first) {
            ("Identity", Some(f)) => out(&mut flows, 0, f),
            ("Cast", Some(f)) => {
                let to = int(node, "to")?.unwrap_or(0);
                if matches!(f, Flow::Features(_) | Flow::Scores(_) | Flow::Value) && to != proto::FLOAT as i64
                {
                    return Err(Error::unsupported(format!(
                        "{} casts the features or scores to element type {to}; pgml.import computes in float",
                        named()
                    )));
                }
                out(&mut flows, 0, f)
            }
            ("ZipMap", Some(Flow::Scores(n))) => out(&mut flows, 0, Flow::Scores(n)),
            ("Normalizer", Some(Flow::Scores(mut n))) => {
                n.push(norm(node)?);
                out(&mut flows, 0, Flow::Scores(n))
            }
            (op, Some(Flow::Features(mut steps))) if is_step(op) || (is_model(op) && estimator.is_none()) => {
                if is_model(op) {
                    let (e, task, classes, features) = model_of(node, width)?;
                    width = Some(features);
                    check_steps(&steps, features, &named())?;
                    estimator = Some((e, task, classes, steps));
                    if task == Task::Classification {
                        out(&mut flows, 0, Flow::Label);
                        out(&mut flows, 1, Flow::Scores(Vec::new()));
                    } else {
                        out(&mut flows, 0, Flow::Value);
                    }
                    continue;
                }
                steps.push(step(node, &constants, width, &named())?);
                out(&mut flows, 0, Flow::Features(steps))
            }
            (op, _) if is_model(op) && estimator.is_some() => {
                return Err(Error::unsupported(format!(
                    "the ONNX graph holds more than one model ({})",
                    named()
                ))
                .with_hint("import each model on its own"))
            }
            _ => return Err(refuse(node, index)),
        }
    }
    let Some((estimator, task, classes, steps)) = estimator else {
        return Err(Error::unsupported("the ONNX graph holds no model pgml.import compiles").with_hint(
            "pgml.import reads LinearRegressor, LinearClassifier, TreeEnsembleRegressor and TreeEnsembleClassifier",
        ));
    };
    let mut score_steps = Vec::new();
    for o in &graph.outputs {
        match flows.get(&o.name) {
            Some(Flow::Scores(n)) => score_steps = n.clone(),
            Some(Flow::Label | Flow::Value) => {}
            _ => {
                return Err(Error::unsupported(format!(
                    "the ONNX graph's output \"{}\" is not a prediction of its model",
                    o.name
                )))
            }
        }
    }
    let features = width.unwrap_or(0);
    let n_classes = if task == Task::Classification { classes.len() } else { 0 };
    let pipeline = Pipeline::new(features, steps, estimator, n_classes, score_steps);
    let named = model.metadata.iter().find(|(k, _)| k == "pgml_features");
    let features = named
        .and_then(|(_, v)| serde_json::from_str::<Vec<FeatureColumn>>(v).ok())
        .filter(|f| crate::data::schema::width(f) == pipeline.features);
    Ok(Compiled { pipeline, task, classes, producer: model.producer, features })
}

fn is_step(op: &str) -> bool {
    matches!(op, "Scaler" | "Imputer" | "Normalizer" | "Add" | "Sub" | "Mul" | "Div")
}

fn is_model(op: &str) -> bool {
    matches!(op, "LinearRegressor" | "LinearClassifier" | "TreeEnsembleRegressor" | "TreeEnsembleClassifier")
}

fn qualified(node: &Node) -> String {
    if node.domain.is_empty() {
        node.op_type.clone()
    } else {
        format!("{}.{}", node.domain, node.op_type)
    }
}

fn node_name(node: &Node) -> String {
    node.outputs.first().map_or(String::new(), |o| format!(" → \"{o}\""))
}

/// The refusal of a node: the first operator pgml.import does not compile, named.
fn refuse(node: &Node, index: usize) -> Error {
    Error::unsupported(format!(
        "the ONNX graph uses operator {} (node {}), which pgml.import does not compile",
        qualified(node),
        index + 1
    ))
    .with_hint(
        "pgml.import compiles Imputer, Scaler, Normalizer, Add/Sub/Mul/Div by constants, Cast, Identity, \
         LinearRegressor, LinearClassifier, TreeEnsembleRegressor, TreeEnsembleClassifier and ZipMap",
    )
}

fn attr<'a>(node: &'a Node, name: &str) -> Option<&'a Attribute> {
    node.attributes.iter().find(|a| a.name == name)
}

fn int(node: &Node, name: &str) -> Result<Option<i64>> {
    Ok(attr(node, name).and_then(|a| a.i))
}

fn string(node: &Node, name: &str) -> Option<String> {
    attr(node, name).and_then(|a| a.s.as_ref()).map(|s| String::from_utf8_lossy(s).into_owned())
}

fn floats(node: &Node, name: &str) -> Vec<f32> {
    match attr(node, name) {
        Some(a) if !a.floats.is_empty() => a.floats.clone(),
        _ => match attr(node, &format!("{name}_as_tensor")).and_then(|a| a.t.as_ref()) {
            Some(t) => t.values.iter().map(|v| *v as f32).collect(),
            None => Vec::new(),
        },
    }
}

fn ints(node: &Node, name: &str) -> Vec<i64> {
    attr(node, name).map_or(Vec::new(), |a| a.ints.clone())
}

fn bad(node: &Node, what: String) -> Error {
    Error::invalid(format!("the ONNX model's {} is malformed: {what}", qualified(node)))
}

fn norm(node: &Node) -> Result<Norm> {
    match string(node, "norm").as_deref() {
        Some("MAX") => Ok(Norm::Max),
        Some("L1") => Ok(Norm::L1),
        Some("L2") => Ok(Norm::L2),
        other => Err(bad(node, format!("norm {other:?}"))),
    }
}

fn post(node: &Node) -> Result<Post> {
    match string(node, "post_transform").as_deref() {
        None | Some("NONE") => Ok(Post::None),
        Some("LOGISTIC") => Ok(Post::Logistic),
        Some("SOFTMAX") => Ok(Post::Softmax),
        Some("SOFTMAX_ZERO") => Ok(Post::SoftmaxZero),
        Some(other) => Err(Error::unsupported(format!(
            "{}'s post_transform {other} is not one pgml.import computes",
            qualified(node)
        ))),
    }
}

/// One value per feature from an attribute or constant of `n` values (`n` = 1 broadcasts).
fn per_feature(node: &Node, values: Vec<f32>, width: Option<usize>, what: &str) -> Result<Vec<f32>> {
    match (values.len(), width) {
        (1, Some(w)) => Ok(vec![values[0]; w]),
        (n, Some(w)) if n == w => Ok(values),
        (n, None) if n > 1 => Ok(values),
        (n, w) => Err(bad(
            node,
            format!("{what} has {n} values for {} features", w.map_or("?".into(), |w| w.to_string())),
        )),
    }
}

fn step(node: &Node, constants: &HashMap<&str, &Tensor>, width: Option<usize>, named: &str) -> Result<Step> {
    Ok(match node.op_type.as_str() {
        "Scaler" => Step::Scale {
            offset: per_feature(node, floats(node, "offset"), width, "offset")?,
            scale: per_feature(node, floats(node, "scale"), width, "scale")?,
        },
        "Imputer" => {
            let fill = floats(node, "imputed_value_floats");
            if fill.is_empty() {
                return Err(Error::unsupported(format!(
                    "{named} imputes integers; pgml.import reads float features"
                )));
            }
            Step::Impute {
                fill: per_feature(node, fill, width, "imputed_value_floats")?,
                replaced: attr(node, "replaced_value_float").and_then(|a| a.f).unwrap_or(f32::NAN),
            }
        }
        "Normalizer" => Step::Normalize(norm(node)?),
        "Add" | "Sub" | "Mul" | "Div" => {
            let [_, other] = node.inputs.as_slice() else {
                return Err(bad(node, "it takes two inputs".into()));
            };
            let Some(c) = constants.get(other.as_str()) else {
                return Err(Error::unsupported(format!(
                    "{named} combines the features with \"{other}\", which is not a constant"
                )));
            };
            if c.dims.len() > 2 || c.dims.len() == 2 && c.dims[0] != 1 {
                return Err(Error::unsupported(format!("{named}'s constant has shape {:?}", c.dims)));
            }
            let values =
                per_feature(node, c.values.iter().map(|v| *v as f32).collect(), width, "its constant")?;
            match node.op_type.as_str() {
                "Add" => Step::Add(values),
                "Sub" => Step::Sub(values),
                "Mul" => Step::Mul(values),
                _ => Step::Div(values),
            }
        }
        _ => return Err(Error::Internal(format!("{named} is not a step"))),
    })
}

/// Every step must have one value per feature of the model.
fn check_steps(steps: &[Step], features: usize, named: &str) -> Result<()> {
    for s in steps {
        let n = match s {
            Step::Scale { offset, scale } if offset.len() != scale.len() => usize::MAX,
            Step::Scale { offset: v, .. } | Step::Add(v) | Step::Sub(v) | Step::Mul(v) | Step::Div(v) => {
                v.len()
            }
            Step::Impute { fill, .. } => fill.len(),
            Step::Normalize(_) => features,
        };
        if n != features {
            return Err(Error::invalid(format!(
                "the ONNX model is malformed: a step before {named} has {n} values for {features} features"
            )));
        }
    }
    Ok(())
}

/// Class labels: integers (ONNX `classlabels_ints` / `classlabels_int64s`), or strings that
/// are numbers.
fn labels(node: &Node) -> Result<Vec<f32>> {
    let ints_ = [ints(node, "classlabels_ints"), ints(node, "classlabels_int64s")].concat();
    let strings = attr(node, "classlabels_strings").map_or(Vec::new(), |a| a.strings.clone());
    let labels: Vec<f32> = if !ints_.is_empty() {
        ints_.iter().map(|v| *v as f32).collect()
    } else {
        strings
            .iter()
            .map(|s| {
                let s = String::from_utf8_lossy(s);
                s.trim().parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    Error::unsupported(format!("the ONNX classifier's class \"{s}\" is not a number"))
                        .with_hint(
                        "pgml-rs classes are numbers: train the pipeline on numeric labels (LabelEncoder)",
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let mut sorted = labels.clone();
    sorted.sort_by(f32::total_cmp);
    sorted.dedup();
    if labels.len() < 2 || sorted.len() != labels.len() {
        return Err(bad(node, format!("{} class labels, {} distinct", labels.len(), sorted.len())));
    }
    Ok(labels)
}

/// The model node compiled: the estimator, its task, its class labels, its input width.
fn model_of(node: &Node, width: Option<usize>) -> Result<(Estimator, Task, Vec<f32>, usize)> {
    let classifier = node.op_type.ends_with("Classifier");
    let (task, classes) =
        if classifier { (Task::Classification, labels(node)?) } else { (Task::Regression, Vec::new()) };
    if node.op_type.starts_with("Linear") {
        let coefficients = floats(node, "coefficients");
        let intercepts = floats(node, "intercepts");
        let rows = if classifier { intercepts.len() } else { int(node, "targets")?.unwrap_or(1) as usize };
        if rows != 1 && !classifier {
            return Err(Error::unsupported(format!("the ONNX LinearRegressor predicts {rows} targets"))
                .with_hint("import a model of one target"));
        }
        let intercepts = if intercepts.is_empty() { vec![0.0; rows] } else { intercepts };
        if rows == 0
            || intercepts.len() != rows
            || coefficients.is_empty()
            || !coefficients.len().is_multiple_of(rows)
        {
            return Err(bad(node, format!("{} coefficients for {rows} scores", coefficients.len())));
        }
        let features = coefficients.len() / rows;
        if width.is_some_and(|w| w != features) {
            return Err(bad(
                node,
                format!("{features} coefficients per score for {} features", width.unwrap_or(0)),
            ));
        }
        if classifier && rows != classes.len() && !(rows == 1 && classes.len() == 2) {
            return Err(bad(node, format!("{rows} scores for {} classes", classes.len())));
        }
        let post = post(node)?;
        if !classifier && post != Post::None {
            return Err(Error::unsupported("the ONNX LinearRegressor has a post_transform"));
        }
        return Ok((Estimator::Linear(Linear { coefficients, intercepts, post }), task, classes, features));
    }
    let trees = trees(node, classifier, classes.len(), width)?;
    let features = width.unwrap_or(trees.feature_count);
    Ok((Estimator::Trees(Box::new(trees.trees)), task, classes, features))
}

struct CompiledTrees {
    trees: Trees,
    feature_count: usize,
}

/// A tree ensemble's attributes compiled into `Trees`, checked: every id refers to a node of
/// its tree, every tree is a tree (no cycles, every node reached once), every feature exists.
fn trees(node: &Node, classifier: bool, classes: usize, width: Option<usize>) -> Result<CompiledTrees> {
    let ids = ints(node, "nodes_nodeids");
    let tree_ids = ints(node, "nodes_treeids");
    let features = ints(node, "nodes_featureids");
    let values = floats(node, "nodes_values");
    let modes = attr(node, "nodes_modes").map_or(Vec::new(), |a| a.strings.clone());
    let yes = ints(node, "nodes_truenodeids");
    let no = ints(node, "nodes_falsenodeids");
    let tracks = ints(node, "nodes_missing_value_tracks_true");
    let n = ids.len();
    if n == 0
        || [tree_ids.len(), features.len(), values.len(), modes.len(), yes.len(), no.len()]
            .iter()
            .any(|&l| l != n)
        || !(tracks.is_empty() || tracks.len() == n)
    {
        return Err(bad(node, "its nodes_* attributes differ in length".into()));
    }
    if n > 1 << 26 {
        return Err(bad(node, format!("{n} nodes")));
    }
    let prefix = if classifier { "class" } else { "target" };
    let w_trees = ints(node, &format!("{prefix}_treeids"));
    let w_nodes = ints(node, &format!("{prefix}_nodeids"));
    let w_ids = ints(node, &format!("{prefix}_ids"));
    let w_values = floats(node, &format!("{prefix}_weights"));
    let m = w_trees.len();
    if [w_nodes.len(), w_ids.len(), w_values.len()].iter().any(|&l| l != m) {
        return Err(bad(node, format!("its {prefix}_* attributes differ in length")));
    }
    let scores = if classifier { classes } else { int(node, "n_targets")?.unwrap_or(1) as usize };
    if scores != 1 && !classifier {
        return Err(Error::unsupported(format!("the ONNX TreeEnsembleRegressor predicts {scores} targets"))
            .with_hint("import a model of one target"));
    }
    let average = match string(node, "aggregate_function").as_deref() {
        None | Some("SUM") => false,
        Some("AVERAGE") => true,
        Some(other) => {
            return Err(Error::unsupported(format!("the ONNX tree ensemble aggregates its trees by {other}"))
                .with_hint("pgml.import reads ensembles that SUM or AVERAGE their trees"))
        }
    };
    let base = floats(node, "base_values");
    if !(base.is_empty() || base.len() == scores || (classifier && classes == 2 && base.len() == 1)) {
        return Err(bad(node, format!("{} base values for {scores} scores", base.len())));
    }
    let post = post(node)?;
    if !classifier && post != Post::None {
        return Err(Error::unsupported("the ONNX TreeEnsembleRegressor has a post_transform"));
    }
    // (tree, node id) → index
    let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    for i in 0..n {
        if index.insert((tree_ids[i], ids[i]), i).is_some() {
            return Err(bad(node, format!("tree {} has node {} twice", tree_ids[i], ids[i])));
        }
    }
    let mut t = Trees {
        scores,
        base,
        average,
        post,
        feature: vec![0; n],
        threshold: vec![0.0; n],
        yes: vec![u32::MAX; n],
        no: vec![0; n],
        nan_yes: vec![false; n],
        ..Default::default()
    };
    let mut leaf_weights: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    let mut is_child = vec![false; n];
    let mut feature_count = 0usize;
    for i in 0..n {
        let mode = String::from_utf8_lossy(&modes[i]).into_owned();
        if mode == "LEAF" {
            continue;
        }
        let child = |id: i64| {
            index.get(&(tree_ids[i], id)).copied().ok_or_else(|| {
                bad(
                    node,
                    format!(
                        "node {} of tree {} points to node {id}, which the tree lacks",
                        ids[i], tree_ids[i]
                    ),
                )
            })
        };
        let (mut y, mut f) = (child(yes[i])?, child(no[i])?);
        let feature = features[i];
        if feature < 0 || width.is_some_and(|w| feature as usize >= w) || feature >= 1 << 20 {
            return Err(bad(
                node,
                format!("node {} of tree {} splits on feature {feature}", ids[i], tree_ids[i]),
            ));
        }
        feature_count = feature_count.max(feature as usize + 1);
        let v = values[i];
        let mut nan_yes = tracks.get(i).copied().unwrap_or(0) != 0;
        // every comparison as `x <= threshold` (f32 inputs): x < v is x <= the float below v;
        // x >= v is not x < v, x > v is not x <= v (the children swap; NaN keeps its side)
        let threshold = match mode.as_str() {
            "BRANCH_LEQ" => v,
            "BRANCH_LT" => below(v),
            "BRANCH_GTE" | "BRANCH_GT" => {
                std::mem::swap(&mut y, &mut f);
                nan_yes = !nan_yes;
                if mode == "BRANCH_GTE" {
                    below(v)
                } else {
                    v
                }
            }
            other => {
                return Err(Error::unsupported(format!("the ONNX tree ensemble splits by {other}"))
                    .with_hint("pgml.import reads splits BRANCH_LEQ, BRANCH_LT, BRANCH_GTE and BRANCH_GT"))
            }
        };
        for c in [y, f] {
            if std::mem::replace(&mut is_child[c], true) || c == i {
                return Err(bad(node, format!("node {} of tree {} is reached twice", ids[c], tree_ids[c])));
            }
        }
        t.feature[i] = feature as u32;
        t.threshold[i] = threshold;
        t.yes[i] = y as u32;
        t.no[i] = f as u32;
        t.nan_yes[i] = nan_yes;
    }
    for j in 0..m {
        let leaf = index.get(&(w_trees[j], w_nodes[j])).copied().filter(|&l| t.yes[l] == u32::MAX);
        let Some(leaf) = leaf else {
            return Err(bad(
                node,
                format!("weight {j} is for node {} of tree {}, not a leaf", w_nodes[j], w_trees[j]),
            ));
        };
        if w_ids[j] < 0 || w_ids[j] as usize >= scores {
            return Err(bad(node, format!("weight {j} is for score {} of {scores}", w_ids[j])));
        }
        leaf_weights[leaf].push((w_ids[j] as u32, w_values[j]));
    }
    for (i, weights) in leaf_weights.into_iter().enumerate() {
        if t.yes[i] == u32::MAX {
            t.feature[i] = t.weights.len() as u32;
            t.no[i] = weights.len() as u32;
            t.weights.extend(weights);
        }
    }
    t.roots = (0..n).filter(|&i| !is_child[i]).map(|i| i as u32).collect();
    // every node is a child once or a root: with one root per tree id, the trees have no cycles
    let mut per_tree: HashMap<i64, usize> = HashMap::new();
    for &r in &t.roots {
        *per_tree.entry(tree_ids[r as usize]).or_default() += 1;
    }
    let tree_count = tree_ids.iter().collect::<std::collections::HashSet<_>>().len();
    if per_tree.len() != tree_count || per_tree.values().any(|&c| c != 1) {
        return Err(bad(node, "a tree has no root, or several".into()));
    }
    // and every node is reached from its root (a cycle apart from the root is unreachable)
    let mut reached = 0;
    let mut stack: Vec<u32> = t.roots.clone();
    while let Some(i) = stack.pop() {
        reached += 1;
        if reached > n {
            break;
        }
        if t.yes[i as usize] != u32::MAX {
            stack.push(t.yes[i as usize]);
            stack.push(t.no[i as usize]);
        }
    }
    if reached != n {
        return Err(bad(node, "a tree's nodes form a cycle".into()));
    }
    Ok(CompiledTrees { trees: t, feature_count })
}

/// The largest f32 below `v`.
pub(super) fn below(v: f32) -> f32 {
    if v.is_nan() || v == f32::NEG_INFINITY {
        return v;
    }
    if v == 0.0 {
        return -f32::from_bits(1);
    }
    let bits = v.to_bits();
    f32::from_bits(if v > 0.0 { bits - 1 } else { bits + 1 })
}

/// A stored model (header and model bytes) as an ONNX file: linear models (a logistic
/// regression's probabilities included) and tree ensembles (XGBoost, LightGBM, forests) with
/// their imputation and scaling. The file is compiled back by our own reader and must predict
/// what the model predicts on probe rows (every split's threshold among them), else it is
/// refused: nothing is handed out that predicts otherwise.
pub fn export(stored: &[u8]) -> Result<Vec<u8>> {
    let loaded = LoadedModel::from_bytes(stored)?;
    let h = &loaded.header;
    let cannot = |why: &str| {
        Error::unsupported(format!("{} models cannot be exported as ONNX: {why}", h.algorithm))
            .with_hint("export it as 'bundle' to move it to another pgml-rs database")
    };
    if h.targets.is_some() {
        return Err(cannot("a model of several targets"));
    }
    if !matches!(h.task, Task::Classification | Task::Regression) {
        return Err(cannot(&format!("a {} model has no ONNX form here", h.task.name())));
    }
    if h.algorithm == ALGORITHM {
        return Err(cannot("an imported ONNX model is exported as the file it came from")
            .with_hint("keep the original file, or export it as 'bundle'"));
    }
    let preprocess = match &h.preprocess {
        None => None,
        Some(p) => Some(p.affine().ok_or_else(|| cannot("its text features are encoded (one-hot, target)"))?),
    };
    let classifier = h.task == Task::Classification;
    let classes: Vec<i64> = if classifier {
        h.classes
            .iter()
            .map(|c| {
                if c.fract() == 0.0 && c.abs() < 1e15 {
                    Ok(*c as i64)
                } else {
                    Err(cannot("its class labels are not integers"))
                }
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let model = loaded.model();
    let estimator = match (model.linear_terms(), model.ensemble()) {
        (Some(terms), _) => {
            let f = h.num_features;
            if terms.weights.len() != terms.outputs * (f + 1)
                || (classifier && model.predict_proba(&probe_rows(f, &[])).is_err())
            {
                return Err(cannot("its scores are not a linear model's probabilities"));
            }
            let (mut coefficients, mut intercepts) = (Vec::new(), Vec::new());
            for w in terms.weights.chunks(f + 1) {
                coefficients.extend(w[..f].iter().map(|v| *v as f32));
                intercepts.push(w[f] as f32);
            }
            write::Estimator::Linear { coefficients, intercepts, classifier }
        }
        (None, Ok(mut ensemble)) => {
            ensemble.num_features = h.num_features;
            let forest = matches!(h.algorithm.as_str(), "random_forest" | "extra_trees" | "bagging");
            let link = if classifier && !forest { write::Link::Probability } else { write::Link::Identity };
            if classifier && forest && ensemble.outputs == 2 {
                ensemble = class_one(ensemble);
            }
            write::Estimator::Trees(write::Trees { ensemble, link })
        }
        (None, Err(_)) => return Err(cannot("it is neither a linear model nor a tree ensemble")),
    };
    let graph = write::Graph {
        features: h.num_features,
        preprocess,
        model: estimator,
        classes,
        metadata: vec![
            ("pgml_features".into(), serde_json::to_string(&h.features).unwrap_or_default()),
            ("pgml_algorithm".into(), h.algorithm.clone()),
        ],
    };
    let bytes = graph.encode()?;
    verify(&loaded, &bytes, &graph_thresholds(&graph))?;
    Ok(bytes)
}

/// A binary forest's class shares as one score, P(class 1): the form ONNX Runtime reads as
/// the two classes' probabilities.
fn class_one(mut e: Ensemble) -> Ensemble {
    e.trees.retain(|t| t.group == 1);
    e.trees.iter_mut().for_each(|t| t.group = 0);
    e.intercept = vec![e.intercept.get(1).copied().unwrap_or(0.0)];
    e.outputs = 1;
    e
}

/// (feature, threshold) of every split, for probe rows at the boundaries.
fn graph_thresholds(g: &write::Graph) -> Vec<(usize, f32)> {
    match &g.model {
        write::Estimator::Trees(t) => t
            .ensemble
            .trees
            .iter()
            .flat_map(|tree| {
                (0..tree.left.len())
                    .filter(|&n| tree.left[n] >= 0)
                    .map(|n| (tree.feature[n] as usize, tree.threshold[n] as f32))
                    .collect::<Vec<_>>()
            })
            .take(2000)
            .collect(),
        write::Estimator::Linear { .. } => Vec::new(),
    }
}

/// Rows that try a model: zeros, ones, minus ones, all missing, a spread of values, and
/// each split threshold with its neighbours (a raw row equal to the threshold where no
/// preprocessing moves it).
fn probe_rows(f: usize, splits: &[(usize, f32)]) -> Matrix {
    let mut rows: Vec<Vec<f32>> = vec![vec![0.0; f], vec![1.0; f], vec![-1.0; f], vec![f32::NAN; f]];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..64 {
        rows.push(
            (0..f)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ((seed >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0) as f32
                })
                .collect(),
        );
    }
    for &(j, t) in splits {
        for v in [t, below(t), f32::from_bits(t.to_bits().wrapping_add(1))] {
            let mut r = vec![0.0; f];
            if j < f && v.is_finite() {
                r[j] = v;
                rows.push(r);
            }
        }
    }
    Matrix { rows: rows.len(), cols: f, data: rows.concat() }
}

fn verify(loaded: &LoadedModel, bytes: &[u8], splits: &[(usize, f32)]) -> Result<()> {
    let h = &loaded.header;
    let compiled = compile(bytes)?;
    let x = probe_rows(h.num_features, splits);
    let differs = |what: &str, ours: f32, onnx: f32| {
        Error::unsupported(format!(
            "{} models cannot be exported as ONNX: its ONNX form predicts {what} {onnx} where the model predicts {ours}",
            h.algorithm
        ))
        .with_hint("export it as 'bundle' to move it to another pgml-rs database")
    };
    let close = |a: f32, b: f32| {
        (a.is_nan() && b.is_nan()) || (a - b).abs() as f64 <= 1e-4 * (b.abs() as f64).max(1.0)
    };
    let (labels, proba) = compiled.pipeline.predict_with_proba(&x)?;
    if h.task == Task::Classification {
        let ours = loaded.predict_proba(&x)?;
        let theirs = proba.unwrap_or_default();
        let k = h.classes.len();
        let mine = loaded.predict(&x)?;
        for r in 0..x.rows {
            let p = &ours[r * k..(r + 1) * k];
            for j in 0..k {
                if !close(p[j], theirs[r * k + j]) {
                    return Err(differs("a probability", p[j], theirs[r * k + j]));
                }
            }
            let mut sorted = p.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let clear = sorted.len() < 2 || sorted[0] - sorted[1] > 1e-4;
            let label = compiled.classes.get(labels[r] as usize).copied().unwrap_or(f32::NAN);
            if clear && !p.iter().any(|v| v.is_nan()) && label != mine[r] {
                return Err(differs("the class", mine[r], label));
            }
        }
    } else {
        let ours = loaded.predict(&x)?;
        for (a, b) in ours.iter().zip(&labels) {
            if !close(*a, *b) {
                return Err(differs("the value", *a, *b));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
