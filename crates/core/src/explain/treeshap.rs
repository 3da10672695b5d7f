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
    let depth = tree.depth;
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
    let n = tree.nodes[node];
    if n.left < 0 {
        let value = n.value;
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

/// 1/k, for the path's weights: the walks multiply rather than divide on their dependency chains.
#[inline]
fn recip(k: usize) -> f64 {
    const TABLE: [f64; 66] = {
        let mut t = [0.0; 66];
        let mut k = 1;
        while k < 66 {
            t[k] = 1.0 / k as f64;
            k += 1;
        }
        t
    };
    if k < 66 {
        TABLE[k]
    } else {
        1.0 / k as f64
    }
}

fn extend(path: &mut [Step], unique: usize, zero: f64, one: f64, feature: usize) {
    path[unique] = Step { feature, zero, one, weight: if unique == 0 { 1.0 } else { 0.0 } };
    let inv = recip(unique + 1);
    for i in (0..unique).rev() {
        path[i + 1].weight += one * path[i].weight * (i as f64 + 1.0) * inv;
        path[i].weight = zero * path[i].weight * (unique - i) as f64 * inv;
    }
}

fn unwind(path: &mut [Step], unique: usize, i: usize) {
    let (one, zero) = (path[i].one, path[i].zero);
    let l1 = (unique + 1) as f64;
    let inv = recip(unique + 1);
    let mut next = path[unique].weight;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for j in (0..unique).rev() {
            let t = path[j].weight;
            path[j].weight = next * l1 * recip(j + 1) * inv_one;
            next = t - path[j].weight * zero * (unique - j) as f64 * inv;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for j in (0..unique).rev() {
            path[j].weight = path[j].weight * l1 * inv_zero * recip(unique - j);
        }
    }
    for j in i..unique {
        path[j].feature = path[j + 1].feature;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
}

/// The total weight of the path with step `i` undone, without undoing it.
#[inline]
fn unwound_sum(path: &[Step], unique: usize, i: usize) -> f64 {
    let (one, zero) = (path[i].one, path[i].zero);
    let l1 = (unique + 1) as f64;
    let inv = recip(unique + 1);
    let mut total = 0.0;
    if one != 0.0 {
        let mut next = path[unique].weight;
        let scale = l1 / one;
        for j in (0..unique).rev() {
            let t = next * scale * recip(j + 1);
            total += t;
            next = path[j].weight - t * zero * (unique - j) as f64 * inv;
        }
    } else if zero != 0.0 {
        let scale = l1 / zero;
        for j in (0..unique).rev() {
            total += path[j].weight * scale * recip(unique - j);
        }
    }
    total
}

/// The approximate attributions (Saabas): along the row's path, each split's feature gets the
/// expected value of the child taken minus the node's.
/// Returns the leaf's value (the tree's part of the margin).
pub fn approximate(tree: &Tree, row: &[f32], phi: &mut [f64]) -> f64 {
    let mut node = &tree.nodes[0];
    let mut at = 0;
    while node.left >= 0 {
        at = tree.next(at, row);
        let next = &tree.nodes[at];
        phi[node.feature as usize] += next.mean - node.mean;
        node = next;
    }
    node.value
}
