//! Path-dependent TreeSHAP (Lundberg, Erion and Lee, "Consistent individualized feature
//! attribution for tree ensembles", algorithm 2): the exact Shapley values of a tree's
//! prediction, the features' absence modelled by the training cover of each branch. One walk
//! of every root-to-leaf path, keeping the weights of the subsets of the path's features, costs
//! O(leaves × depth²) per tree. The approximate form walks the row's own path once per tree
//! (Saabas): each split's feature gets the change of the expected value along it.

use super::trees::Tree;

/// One feature on the path: its index (`usize::MAX` for the root's placeholder), the fraction
/// of the zero (feature absent) and one (feature present) paths that follow it, and the
/// weight of the subsets of its size.
#[derive(Clone, Copy, Default)]
pub struct Step {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Adds to `phi` (one value per feature) the exact SHAP values of `tree` for `row`.
/// `scratch` is reused between calls; it grows to the tree's depth.
pub fn exact(tree: &Tree, row: &[f32], phi: &mut [f64], scratch: &mut Vec<Step>) {
    let depth = tree.depth();
    // each level's path is a copy of its parent's, one longer, laid out after it
    let need = (depth + 3) * (depth + 4) / 2;
    if scratch.len() < need {
        scratch.resize(need, Step::default());
    }
    recurse(tree, row, phi, 0, scratch, 0, 0, 1.0, 1.0, usize::MAX);
}

/// A scratch buffer for `exact`.
pub fn scratch() -> Vec<Step> {
    Vec::new()
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    row: &[f32],
    phi: &mut [f64],
    node: usize,
    buf: &mut [Step],
    parent: usize,
    unique: usize,
    zero: f64,
    one: f64,
    feature: usize,
) {
    let at = parent + unique + 1;
    buf.copy_within(parent..parent + unique + 1, at);
    let path = &mut buf[at..at + unique + 1];
    extend(path, unique, zero, one, feature);
    if tree.is_leaf(node) {
        let value = tree.value[node];
        for i in 1..=unique {
            let w = unwound_sum(path, unique, i);
            let s = path[i];
            phi[s.feature] += w * (s.one - s.zero) * value;
        }
        return;
    }
    let hot = tree.next(node, row);
    let cold =
        if hot == tree.left[node] as usize { tree.right[node] as usize } else { tree.left[node] as usize };
    let cover = tree.cover[node];
    let (hot_fraction, cold_fraction) =
        if cover > 0.0 { (tree.cover[hot] / cover, tree.cover[cold] / cover) } else { (0.0, 0.0) };
    let split = tree.feature[node] as usize;
    let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
    let mut unique = unique;
    // a feature met again on the path: its earlier step is undone, its fractions carried on
    if let Some(k) = (1..=unique).find(|&k| path[k].feature == split) {
        incoming_zero = path[k].zero;
        incoming_one = path[k].one;
        unwind(path, unique, k);
        unique -= 1;
    }
    recurse(tree, row, phi, hot, buf, at, unique + 1, incoming_zero * hot_fraction, incoming_one, split);
    recurse(tree, row, phi, cold, buf, at, unique + 1, incoming_zero * cold_fraction, 0.0, split);
}

fn extend(path: &mut [Step], unique: usize, zero: f64, one: f64, feature: usize) {
    path[unique] = Step { feature, zero, one, weight: if unique == 0 { 1.0 } else { 0.0 } };
    let l = unique as f64;
    for i in (0..unique).rev() {
        path[i + 1].weight += one * path[i].weight * (i as f64 + 1.0) / (l + 1.0);
        path[i].weight = zero * path[i].weight * (l - i as f64) / (l + 1.0);
    }
}

fn unwind(path: &mut [Step], unique: usize, i: usize) {
    let (one, zero) = (path[i].one, path[i].zero);
    let l = unique as f64;
    let mut next = path[unique].weight;
    for j in (0..unique).rev() {
        if one != 0.0 {
            let t = path[j].weight;
            path[j].weight = next * (l + 1.0) / ((j as f64 + 1.0) * one);
            next = t - path[j].weight * zero * (l - j as f64) / (l + 1.0);
        } else {
            path[j].weight = path[j].weight * (l + 1.0) / (zero * (l - j as f64));
        }
    }
    for j in i..unique {
        path[j].feature = path[j + 1].feature;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
}

/// The total weight of the path with step `i` undone, without undoing it.
fn unwound_sum(path: &[Step], unique: usize, i: usize) -> f64 {
    let (one, zero) = (path[i].one, path[i].zero);
    let l = unique as f64;
    let mut next = path[unique].weight;
    let mut total = 0.0;
    for j in (0..unique).rev() {
        if one != 0.0 {
            let t = next * (l + 1.0) / ((j as f64 + 1.0) * one);
            total += t;
            next = path[j].weight - t * zero * (l - j as f64) / (l + 1.0);
        } else if zero != 0.0 {
            total += path[j].weight / zero / ((l - j as f64) / (l + 1.0));
        }
    }
    total
}

/// The approximate attributions (Saabas): along the row's path, each split's feature gets the
/// expected value of the child taken minus the node's. `means` are `Tree::means`.
pub fn approximate(tree: &Tree, means: &[f64], row: &[f32], phi: &mut [f64]) {
    let mut node = 0;
    while !tree.is_leaf(node) {
        let next = tree.next(node, row);
        phi[tree.feature[node] as usize] += means[next] - means[node];
        node = next;
    }
}
