//! XGBoost model files (JSON or UBJSON, as `Booster.save_model` writes them), checked in Rust
//! before the library parses them: the library trusts its input, and a child index out of
//! range or a feature beyond the row is a read out of bounds in C++.

use super::ubjson;
use crate::error::{Error, Result};
use crate::task::Task;
use serde_json::Value;

/// Objectives an imported model may have, and the task each predicts. Others (ranking,
/// survival, `binary:logitraw`, `binary:hinge`) return something else than a value or a
/// probability and are refused by name.
const OBJECTIVES: &[(&str, Task)] = &[
    ("reg:squarederror", Task::Regression),
    ("reg:squaredlogerror", Task::Regression),
    ("reg:pseudohubererror", Task::Regression),
    ("reg:absoluteerror", Task::Regression),
    ("reg:logistic", Task::Regression),
    ("reg:gamma", Task::Regression),
    ("reg:tweedie", Task::Regression),
    ("count:poisson", Task::Regression),
    ("binary:logistic", Task::Classification),
    ("multi:softprob", Task::Classification),
    ("multi:softmax", Task::Classification),
];

/// What an XGBoost file holds, once checked.
#[derive(Debug)]
pub struct Facts {
    pub task: Task,
    /// 0 for regression, else the number of classes (2 for binary).
    pub classes: usize,
    pub num_feature: usize,
    /// The names saved with the model (may be empty).
    pub feature_names: Vec<String>,
}

/// The model as a JSON value, from either encoding.
pub fn parse(bytes: &[u8]) -> Result<Value> {
    // JSON: `{` then a key's quote (or `}`); UBJSON: `{` then a length's type marker
    let mut text = bytes.iter().filter(|b| !b.is_ascii_whitespace());
    if text.next() == Some(&b'{') && matches!(text.next(), Some(b'"' | b'}')) {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("the XGBoost JSON model is malformed: {e}")))
    } else {
        ubjson::parse(bytes)
    }
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("the XGBoost model is malformed: {what}"))
}

fn get<'v>(v: &'v Value, path: &[&str]) -> Result<&'v Value> {
    path.iter().try_fold(v, |v, key| v.get(key)).ok_or_else(|| bad(format!("no {}", path.join("."))))
}

/// A count XGBoost stores as a decimal string (or a number).
fn count(v: &Value, path: &[&str]) -> Result<usize> {
    let v = get(v, path)?;
    let n = match v {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    n.filter(|&n| n <= u32::MAX as u64)
        .map(|n| n as usize)
        .ok_or_else(|| bad(format!("{} is {v}", path.join("."))))
}

fn ints(tree: &Value, key: &str) -> Result<Vec<i64>> {
    get(tree, &[key])?
        .as_array()
        .ok_or_else(|| bad(format!("tree field {key} is not an array")))?
        .iter()
        .map(|v| v.as_i64().ok_or_else(|| bad(format!("tree field {key} holds {v}"))))
        .collect()
}

fn floats(tree: &Value, key: &str) -> Result<usize> {
    let a = get(tree, &[key])?.as_array().ok_or_else(|| bad(format!("tree field {key} is not an array")))?;
    if let Some(v) = a.iter().find(|v| !v.is_number()) {
        return Err(bad(format!("tree field {key} holds {v}")));
    }
    Ok(a.len())
}

/// Checks every part of the model the library reads to predict, and puts a `multi:softmax`
/// model in its `multi:softprob` form (the same trees; the label is the most probable class).
pub fn check(model: &mut Value) -> Result<Facts> {
    let learner = get(model, &["learner"])?;
    let booster = get(learner, &["gradient_booster", "name"])?.as_str().unwrap_or("");
    if booster != "gbtree" {
        return Err(Error::unsupported(format!(
            "XGBoost models of booster \"{booster}\" cannot be imported"
        ))
        .with_hint("import models of the gbtree booster (XGBoost's default)"));
    }
    let objective = get(learner, &["objective", "name"])?.as_str().unwrap_or("").to_string();
    let task = OBJECTIVES.iter().find(|(o, _)| *o == objective).map(|(_, t)| *t).ok_or_else(|| {
        Error::unsupported(format!("XGBoost objective \"{objective}\" cannot be imported")).with_hint(
            format!("these can: {}", OBJECTIVES.iter().map(|(o, _)| *o).collect::<Vec<_>>().join(", ")),
        )
    })?;
    let params = get(learner, &["learner_model_param"])?;
    let num_feature = count(params, &["num_feature"])?;
    let num_class = count(params, &["num_class"])?;
    let num_target =
        params.get("num_target").map(|_| count(params, &["num_target"])).transpose()?.unwrap_or(1);
    if num_feature == 0 || num_feature > 1 << 20 {
        return Err(bad(format!("num_feature is {num_feature}")));
    }
    if num_target != 1 {
        return Err(Error::unsupported(format!(
            "an XGBoost model of {num_target} targets cannot be imported"
        ))
        .with_hint("import one model per target"));
    }
    let outputs = num_class.max(1);
    let classes = match (task, num_class) {
        (Task::Regression, 0) => 0,
        (Task::Classification, 0) if objective == "binary:logistic" => 2,
        (Task::Classification, k) if k >= 2 && objective.starts_with("multi:") => k,
        _ => return Err(bad(format!("num_class {num_class} with objective {objective}"))),
    };
    let gbtree = get(learner, &["gradient_booster", "model"])?;
    let trees = get(gbtree, &["trees"])?.as_array().ok_or_else(|| bad("trees is not an array"))?;
    let parallel = count(gbtree, &["gbtree_model_param", "num_parallel_tree"])?;
    if parallel == 0 || trees.len() % (parallel * outputs) != 0 {
        return Err(bad(format!("{} trees in layers of {parallel} × {outputs}", trees.len())));
    }
    let info = ints(gbtree, "tree_info")?;
    if info.len() != trees.len() || info.iter().any(|&g| g < 0 || g as usize >= outputs) {
        return Err(bad("tree_info does not give each tree an output"));
    }
    if count(gbtree, &["gbtree_model_param", "num_trees"])? != trees.len() {
        return Err(bad("num_trees differs from the trees given"));
    }
    if gbtree.get("iteration_indptr").is_some() {
        let ptr = ints(gbtree, "iteration_indptr")?;
        if ptr.first() != Some(&0)
            || ptr.windows(2).any(|w| w[0] > w[1])
            || ptr.last() != Some(&(trees.len() as i64))
        {
            return Err(bad("iteration_indptr does not cover the trees"));
        }
    }
    let count_trees = trees.len();
    for i in 0..count_trees {
        check_tree(&mut model["learner"]["gradient_booster"]["model"]["trees"][i], num_feature, i)?;
    }
    let learner = get(model, &["learner"])?;
    if let Some(a) = learner.get("attributes") {
        if !a.as_object().is_some_and(|a| a.values().all(Value::is_string)) {
            return Err(bad("attributes are not strings"));
        }
    }
    let feature_names = match learner.get("feature_names") {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>(),
        _ => Some(Vec::new()),
    }
    .ok_or_else(|| bad("feature_names are not strings"))?;
    if !feature_names.is_empty() && feature_names.len() != num_feature {
        return Err(bad(format!("{} feature names for {num_feature} features", feature_names.len())));
    }
    if let Some(Value::Array(types)) = learner.get("feature_types") {
        if types.iter().any(|t| t.as_str() == Some("c")) {
            return Err(Error::unsupported("XGBoost models with categorical features cannot be imported")
                .with_hint("encode the categories as numbers before training"));
        }
    }
    if objective == "multi:softmax" {
        model["learner"]["objective"]["name"] = Value::from("multi:softprob");
    }
    Ok(Facts { task, classes, num_feature, feature_names })
}

/// XGBoost's id of no node (the root's parent).
const NO_NODE: i64 = i32::MAX as i64;

/// One tree, checked and put in a form the library reads without trusting it: every per-node
/// array of one length, children inside the tree, every node reached once from the root,
/// features inside the row, numeric splits and one value per leaf; the parents recomputed from
/// the children, the (unused) categorical arrays emptied.
fn check_tree(tree: &mut Value, num_feature: usize, index: usize) -> Result<()> {
    let bad = |what: String| bad(format!("tree {index}: {what}"));
    let left = ints(tree, "left_children")?;
    let right = ints(tree, "right_children")?;
    let feature = ints(tree, "split_indices")?;
    let default_left = ints(tree, "default_left")?;
    let n = left.len();
    let mut lens = vec![right.len(), feature.len(), default_left.len()];
    for key in ["split_conditions", "base_weights", "loss_changes", "sum_hessian"] {
        lens.push(floats(tree, key)?);
    }
    if n == 0 || n > 1 << 26 || lens.iter().any(|&l| l != n) {
        return Err(bad("its per-node arrays differ in length".into()));
    }
    if count(tree, &["tree_param", "num_nodes"])? != n {
        return Err(bad("num_nodes differs from its arrays".into()));
    }
    let leaf_size = count(tree, &["tree_param", "size_leaf_vector"])?;
    if leaf_size > 1 {
        return Err(Error::unsupported("XGBoost trees with vector leaves cannot be imported"));
    }
    let types = match tree.get("split_type") {
        Some(_) => ints(tree, "split_type")?,
        None => vec![0; n],
    };
    if types.len() != n {
        return Err(bad("split_type differs in length".into()));
    }
    if types.iter().any(|&t| t != 0) {
        return Err(Error::unsupported("XGBoost trees with categorical splits cannot be imported")
            .with_hint("encode the categories as numbers before training"));
    }
    if default_left.iter().any(|&d| d != 0 && d != 1) {
        return Err(bad("default_left holds other values than 0 and 1".into()));
    }
    let mut parents = vec![NO_NODE; n];
    let mut seen = vec![false; n];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            return Err(bad(format!("node {i} is reached twice")));
        }
        match (left[i], right[i]) {
            (-1, -1) => {}
            (l, r) if l > 0 && r > 0 && (l as usize) < n && (r as usize) < n => {
                if feature[i] < 0 || feature[i] as usize >= num_feature {
                    return Err(bad(format!("node {i} splits on feature {} of {num_feature}", feature[i])));
                }
                parents[l as usize] = i as i64;
                parents[r as usize] = i as i64;
                stack.push(l as usize);
                stack.push(r as usize);
            }
            (l, r) => return Err(bad(format!("node {i} has children {l} and {r} of {n} nodes"))),
        }
    }
    // a node no split reaches (deleted by pruning) must look deleted: a leaf marked as such
    for i in (0..n).filter(|&i| !seen[i]) {
        if left[i] != -1 || right[i] != -1 || !(0..=NO_NODE).contains(&feature[i]) {
            return Err(bad(format!("node {i} is reached by no split but is not a deleted leaf")));
        }
    }
    tree["parents"] = Value::from(parents);
    tree["split_type"] = Value::from(vec![0; n]);
    for key in ["categories", "categories_nodes", "categories_segments", "categories_sizes"] {
        tree[key] = Value::Array(Vec::new());
    }
    tree["tree_param"]["num_feature"] = Value::from(num_feature.to_string());
    Ok(())
}

/// Sets the names and types a model is saved with (names XGBoost accepts: no `[`, `]` or `<`).
pub fn name_features(model: &mut Value, names: &[String], types: &[&str]) {
    let learner = &mut model["learner"];
    learner["feature_names"] = Value::from(names.iter().map(|n| Value::from(n.as_str())).collect::<Vec<_>>());
    learner["feature_types"] = Value::from(types.iter().map(|t| Value::from(*t)).collect::<Vec<_>>());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Value {
        serde_json::json!({"learner": {
            "feature_names": [], "feature_types": [],
            "gradient_booster": {"name": "gbtree", "model": {
                "gbtree_model_param": {"num_trees": "1", "num_parallel_tree": "1"},
                "iteration_indptr": [0, 1], "tree_info": [0],
                "trees": [{"left_children": [1, -1, -1], "right_children": [2, -1, -1],
                    "split_indices": [1, 0, 0], "default_left": [1, 0, 0],
                    "split_conditions": [0.5, -0.1, 0.2], "base_weights": [0.0, -0.1, 0.2],
                    "split_type": [0, 0, 0], "sum_hessian": [4.0, 2.0, 2.0], "loss_changes": [1.0, 0.0, 0.0],
                    "tree_param": {"num_nodes": "3", "size_leaf_vector": "1", "num_feature": "2"}}]}},
            "learner_model_param": {"base_score": "5E-1", "num_class": "0", "num_feature": "2", "num_target": "1"},
            "objective": {"name": "binary:logistic"}}})
    }

    #[test]
    fn a_sound_model_passes() {
        let f = check(&mut model()).unwrap();
        assert_eq!((f.task, f.classes, f.num_feature), (Task::Classification, 2, 2));
    }

    #[test]
    fn broken_trees_are_refused_naming_the_fault() {
        type Break = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Break)> = vec![
            (
                "children 7",
                Box::new(|m| {
                    m["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 7.into()
                }),
            ),
            (
                "reached twice",
                Box::new(|m| {
                    m["learner"]["gradient_booster"]["model"]["trees"][0]["right_children"][0] = 1.into()
                }),
            ),
            (
                "feature 9",
                Box::new(|m| {
                    m["learner"]["gradient_booster"]["model"]["trees"][0]["split_indices"][0] = 9.into()
                }),
            ),
            (
                "differ in length",
                Box::new(|m| {
                    m["learner"]["gradient_booster"]["model"]["trees"][0]["base_weights"] =
                        serde_json::json!([0.0])
                }),
            ),
            ("tree_info", Box::new(|m| m["learner"]["gradient_booster"]["model"]["tree_info"][0] = 3.into())),
            ("objective \"rank:ndcg\"", Box::new(|m| m["learner"]["objective"]["name"] = "rank:ndcg".into())),
        ];
        for (needle, break_it) in cases {
            let mut m = model();
            break_it(&mut m);
            let e = check(&mut m).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
