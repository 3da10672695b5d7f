//! LightGBM text models, checked in Rust and rewritten in a canonical form before the library
//! parses them: only the header lines and tree fields that prediction needs, each number
//! checked, each child and feature index inside its range, every node reached once. The
//! library finds trees by the byte offsets of `tree_sizes` and trusts its indices; neither
//! reaches it from an untrusted file.

use crate::error::{Error, Result};
use crate::task::Task;

/// Objectives an imported model may have, and the task each predicts.
const OBJECTIVES: &[(&str, Task)] = &[
    ("regression", Task::Regression),
    ("regression_l1", Task::Regression),
    ("huber", Task::Regression),
    ("fair", Task::Regression),
    ("poisson", Task::Regression),
    ("quantile", Task::Regression),
    ("mape", Task::Regression),
    ("gamma", Task::Regression),
    ("tweedie", Task::Regression),
    ("binary", Task::Classification),
    ("multiclass", Task::Classification),
];

/// Header lines kept, in this order.
const HEADER: &[&str] = &[
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "average_output",
    "feature_names",
    "feature_infos",
];

/// What a LightGBM model holds, once checked, and its canonical text.
#[derive(Debug)]
pub struct Checked {
    pub task: Task,
    /// 0 for regression, else the number of classes.
    pub classes: usize,
    pub num_feature: usize,
    pub feature_names: Vec<String>,
    pub text: String,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("the LightGBM model is malformed: {what}"))
}

/// `key=value` lines of one block (the header, or one tree).
struct Block<'a> {
    lines: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Block<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.lines.iter().find(|(k, _)| *k == key).and_then(|(_, v)| *v)
    }

    fn need(&self, key: &str, owner: &str) -> Result<&'a str> {
        self.get(key).ok_or_else(|| bad(format!("{owner} has no {key}")))
    }
}

fn block(text: &str) -> Block<'_> {
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (l, None),
        })
        .collect();
    Block { lines }
}

fn number<T: std::str::FromStr>(value: &str, what: &str) -> Result<T> {
    value.trim().parse().map_err(|_| bad(format!("{what} is \"{value}\"")))
}

/// `n` numbers separated by spaces.
fn numbers<T: std::str::FromStr>(value: &str, n: usize, what: &str) -> Result<Vec<T>> {
    let out: Vec<T> = value.split_whitespace().map(|v| number(v, what)).collect::<Result<_>>()?;
    if out.len() != n {
        return Err(bad(format!("{what} has {} values, not {n}", out.len())));
    }
    Ok(out)
}

/// Checks a model's text and returns its canonical form.
pub fn check(text: &str) -> Result<Checked> {
    let body = text
        .strip_prefix("tree\n")
        .or_else(|| text.strip_prefix("tree\r\n"))
        .ok_or_else(|| bad("it does not start with \"tree\""))?;
    let end = body.find("end of trees").ok_or_else(|| bad("no \"end of trees\""))?;
    let body = &body[..end];
    let first_tree = body.find("Tree=").unwrap_or(body.len());
    let header = block(&body[..first_tree]);
    let num_feature = number::<usize>(header.need("max_feature_idx", "the header")?, "max_feature_idx")? + 1;
    if num_feature > 1 << 20 {
        return Err(bad(format!("max_feature_idx is {}", num_feature - 1)));
    }
    let num_class: usize = number(header.need("num_class", "the header")?, "num_class")?;
    let per_iteration: usize =
        number(header.need("num_tree_per_iteration", "the header")?, "num_tree_per_iteration")?;
    let objective_line = header.need("objective", "the header")?;
    let objective = objective_line.split_whitespace().next().unwrap_or("");
    let task = OBJECTIVES.iter().find(|(o, _)| *o == objective).map(|(_, t)| *t).ok_or_else(|| {
        Error::unsupported(format!("LightGBM objective \"{objective}\" cannot be imported")).with_hint(
            format!("these can: {}", OBJECTIVES.iter().map(|(o, _)| *o).collect::<Vec<_>>().join(", ")),
        )
    })?;
    let classes = match (objective, num_class, per_iteration) {
        ("multiclass", k, p) if k >= 2 && p == k => k,
        ("binary", 1, 1) => 2,
        (_, 1, 1) if task == Task::Regression => 0,
        _ => {
            return Err(bad(format!(
                "num_class {num_class} and num_tree_per_iteration {per_iteration} with objective {objective}"
            )))
        }
    };
    let feature_names: Vec<String> =
        header.need("feature_names", "the header")?.split_whitespace().map(str::to_string).collect();
    if feature_names.len() != num_feature {
        return Err(bad(format!("{} feature names for {num_feature} features", feature_names.len())));
    }
    if let Some(infos) = header.get("feature_infos") {
        if infos.split_whitespace().count() != num_feature {
            return Err(bad("feature_infos does not describe every feature"));
        }
    }
    let mut out = String::from("tree\n");
    for key in HEADER {
        match header.lines.iter().find(|(k, _)| k == key) {
            Some((k, Some(v))) => out.push_str(&format!("{k}={v}\n")),
            Some((k, None)) => out.push_str(&format!("{k}\n")),
            None => {}
        }
    }
    out.push('\n');
    let mut trees = 0usize;
    for (i, chunk) in body[first_tree..].split("Tree=").skip(1).enumerate() {
        let tree = block(chunk.split_once('\n').map_or("", |(_, rest)| rest));
        let canonical = check_tree(&tree, num_feature).map_err(|e| bad(format!("tree {i}: {e}")))?;
        out.push_str(&format!("Tree={i}\n{canonical}\n"));
        trees += 1;
    }
    if trees == 0 || !trees.is_multiple_of(per_iteration) {
        return Err(bad(format!("{trees} trees for {per_iteration} per iteration")));
    }
    out.push_str("end of trees\n");
    Ok(Checked { task, classes, num_feature, feature_names, text: out })
}

/// One tree's canonical lines, after its checks.
fn check_tree(t: &Block, num_feature: usize) -> std::result::Result<String, String> {
    let e = |e: Error| match e {
        Error::InvalidArgument { message, .. } => {
            message.trim_start_matches("the LightGBM model is malformed: ").to_string()
        }
        other => other.to_string(),
    };
    let need = |k: &str| t.get(k).ok_or_else(|| format!("no {k}"));
    let leaves: usize = number(need("num_leaves")?, "num_leaves").map_err(e)?;
    if leaves == 0 || leaves > 1 << 24 {
        return Err(format!("num_leaves is {leaves}"));
    }
    if number::<usize>(need("num_cat")?, "num_cat").map_err(e)? != 0 {
        return Err("it has categorical splits, which cannot be imported".into());
    }
    if t.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err("it is a linear tree, which cannot be imported".into());
    }
    let mut out = format!("num_leaves={leaves}\nnum_cat=0\n");
    let line = |out: &mut String, key: &str, value: &str| out.push_str(&format!("{key}={value}\n"));
    let inner = leaves - 1;
    if inner > 0 {
        let feature: Vec<i64> = numbers(need("split_feature")?, inner, "split_feature").map_err(e)?;
        let left: Vec<i64> = numbers(need("left_child")?, inner, "left_child").map_err(e)?;
        let right: Vec<i64> = numbers(need("right_child")?, inner, "right_child").map_err(e)?;
        let decision: Vec<i64> = numbers(need("decision_type")?, inner, "decision_type").map_err(e)?;
        numbers::<f64>(need("threshold")?, inner, "threshold").map_err(e)?;
        if let Some(f) = feature.iter().find(|&&f| f < 0 || f as usize >= num_feature) {
            return Err(format!("a split on feature {f} of {num_feature}"));
        }
        if let Some(d) = decision.iter().find(|&&d| !(0..16).contains(&d) || d & 1 == 1 || (d >> 2) & 3 == 3)
        {
            return Err(format!("decision_type {d} (categorical or unknown)"));
        }
        // every inner node and every leaf reached exactly once from the root
        let (mut inner_seen, mut leaf_seen) = (vec![false; inner], vec![false; leaves]);
        let mut stack = vec![0i64];
        while let Some(node) = stack.pop() {
            if node >= 0 {
                let i = node as usize;
                if i >= inner || std::mem::replace(&mut inner_seen[i], true) {
                    return Err(format!("node {node} is out of range or reached twice"));
                }
                stack.push(left[i]);
                stack.push(right[i]);
            } else {
                let leaf = !node as usize;
                if leaf >= leaves || std::mem::replace(&mut leaf_seen[leaf], true) {
                    return Err(format!("leaf {leaf} is out of range or reached twice"));
                }
            }
        }
        if leaf_seen.iter().any(|s| !s) {
            return Err("a leaf is not reached".into());
        }
        for key in ["split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child"]
        {
            if key == "split_gain" {
                match t.get(key) {
                    Some(v) if numbers::<f64>(v, inner, key).is_ok() => line(&mut out, key, v),
                    _ => {}
                }
                continue;
            }
            line(&mut out, key, need(key)?);
        }
    }
    numbers::<f64>(need("leaf_value")?, leaves, "leaf_value").map_err(e)?;
    line(&mut out, "leaf_value", need("leaf_value")?);
    // optional statistics (covers of the leaves and inner nodes), kept when well formed
    for (key, n) in [
        ("leaf_weight", leaves),
        ("leaf_count", leaves),
        ("internal_value", inner),
        ("internal_weight", inner),
        ("internal_count", inner),
    ] {
        if let Some(v) = t.get(key) {
            if n > 0 && numbers::<f64>(v, n, key).is_ok() {
                line(&mut out, key, v);
            }
        }
    }
    line(&mut out, "is_linear", "0");
    if let Some(s) = t.get("shrinkage") {
        number::<f64>(s, "shrinkage").map_err(e)?;
        line(&mut out, "shrinkage", s);
    }
    Ok(out)
}

/// The text with its `feature_names` line set to `names` (LightGBM's rule: no spaces).
pub fn name_features(text: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && line.starts_with("feature_names=") {
            out.push_str(&format!("feature_names={}\n", names.join(" ")));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\nobjective=binary sigmoid:1\nfeature_names=a b\nfeature_infos=[0:1] [0:1]\ntree_sizes=999\n\nTree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=1 0\nsplit_gain=1 1\nthreshold=0.5 0.25\ndecision_type=2 2\nleft_child=1 -1\nright_child=-2 -3\nleaf_value=0.1 0.2 0.3\nleaf_count=5 5 10\ninternal_count=20 10\nis_linear=0\nshrinkage=1\n\n\nend of trees\n\nparameters:\n[boosting: gbdt]\nend of parameters\n";

    #[test]
    fn a_sound_model_is_kept_without_its_offsets() {
        let c = check(MODEL).unwrap();
        assert_eq!((c.task, c.classes, c.num_feature), (Task::Classification, 2, 2));
        assert!(!c.text.contains("tree_sizes") && !c.text.contains("parameters"));
        assert!(c.text.contains("threshold=0.5 0.25\n") && c.text.contains("internal_count=20 10\n"));
    }

    #[test]
    fn broken_trees_are_refused_naming_the_fault() {
        for (from, to, needle) in [
            ("left_child=1 -1", "left_child=1 -7", "leaf 6"),
            ("left_child=1 -1", "left_child=0 -1", "reached twice"),
            ("split_feature=1 0", "split_feature=1 5", "feature 5"),
            ("leaf_value=0.1 0.2 0.3", "leaf_value=0.1 0.2", "leaf_value has 2"),
            ("decision_type=2 2", "decision_type=2 1", "decision_type 1"),
            ("threshold=0.5 0.25", "threshold=0.5 x", "threshold is \"x\""),
            ("objective=binary", "objective=lambdarank", "lambdarank"),
            ("num_cat=0", "num_cat=1", "categorical"),
        ] {
            let e = check(&MODEL.replace(from, to)).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
