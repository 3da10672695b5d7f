//! Why a model predicts what it does: per-feature attributions of one prediction (SHAP values)
//! whose sum with the baseline (the model's expected output) is the prediction, in the model's
//! margin. Tree ensembles: path-dependent TreeSHAP, exact, or its approximate one-walk form
//! (`treeshap`).

pub mod trees;
pub mod treeshap;

use crate::algorithms::Model;
use crate::artifact::Header;
use crate::data::Matrix;
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

/// Attributions of one row of model inputs (after preprocessing) to the raw features: a linear
/// model's exact ones, centred on the training means; otherwise the model's own (TreeSHAP);
/// one-hot indicators summed into their column.
pub fn explain_input(
    model: &dyn Model,
    header: &Header,
    input: &[f32],
    method: Method,
) -> Result<Explanation> {
    let e = match model.linear_terms() {
        Some(terms) => {
            let means: Vec<f64> = match (&terms.means, &header.input_means) {
                (Some(m), _) => m.clone(),
                (None, Some(m)) => m.iter().map(|&v| v as f64).collect(),
                (None, None) => {
                    return Err(Error::unsupported(format!(
                        "this {} model keeps no training means to centre its explanations on",
                        header.algorithm
                    ))
                    .with_hint("models trained from pgml-rs 0.8.0 on keep them: retrain it"))
                }
            };
            terms.explain(input, &means)?
        }
        None => model.explain(input, method)?,
    };
    Ok(match &header.preprocess {
        Some(p) if p.width() != header.num_features => e.grouped(&p.sources(), header.num_features),
        _ => e,
    })
}

/// The rows a global explanation averages over, at most.
pub const GLOBAL_ROWS: usize = 2000;

/// A model's global explanation: the mean |attribution| of each raw feature over test rows
/// (summed over a multiclass model's outputs), as training stores it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Global {
    pub method: String,
    /// The rows averaged over.
    pub rows: usize,
    pub mean_abs_attribution: Vec<f64>,
    /// Per output: the baseline (expected margin).
    pub baseline: Vec<f64>,
}

/// The global explanation of a model over its test inputs (model inputs, after
/// preprocessing): exact attributions of up to `GLOBAL_ROWS` rows, fewer when they would take
/// longer than `budget` (at least 50 rows when there are). None for a model that cannot be
/// explained.
pub fn global(model: &dyn Model, header: &Header, inputs: &Matrix, budget: Duration) -> Option<Global> {
    let started = Instant::now();
    let mut sum = vec![0.0; header.num_features];
    let mut baseline = Vec::new();
    let mut method = Method::TreeShap;
    let mut rows = 0;
    for r in 0..inputs.rows.min(GLOBAL_ROWS) {
        if rows >= 50 && started.elapsed() > budget {
            break;
        }
        let e = explain_input(model, header, inputs.row(r), Method::TreeShap).ok()?;
        for o in 0..e.outputs {
            for (s, a) in sum.iter_mut().zip(e.attributions_of(o)) {
                *s += a.abs();
            }
        }
        baseline = e.baseline;
        method = e.method;
        rows += 1;
    }
    (rows > 0).then(|| Global {
        method: method.name().into(),
        rows,
        mean_abs_attribution: sum.iter().map(|s| s / rows as f64).collect(),
        baseline,
    })
}

/// How attributions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Path-dependent TreeSHAP: exact Shapley values of the trees.
    TreeShap,
    /// One walk of the row's path per tree (Saabas): cheap, not Shapley values.
    Approximate,
    /// A linear model's exact attributions (weight × centred input), whatever was asked.
    Linear,
}

impl Method {
    pub fn parse(name: &str) -> Result<Method> {
        match name.trim().to_ascii_lowercase().as_str() {
            "exact" | "tree_shap" | "treeshap" => Ok(Method::TreeShap),
            "approximate" | "saabas" | "fast" => Ok(Method::Approximate),
            other => Err(Error::invalid(format!("unknown explanation method \"{other}\""))
                .with_hint("use 'exact' (TreeSHAP) or 'approximate' (one walk per tree)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::TreeShap => "tree_shap",
            Method::Approximate => "approximate",
            Method::Linear => "linear",
        }
    }
}

/// The attributions of one row.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub method: Method,
    /// The space the attributions add up in: `margin` (log-odds of a binary classifier, each
    /// class's raw score of a multiclass one, the value of a regression with identity link).
    pub output_space: &'static str,
    pub outputs: usize,
    pub features: usize,
    /// Per output: the expected margin over the training data.
    pub baseline: Vec<f64>,
    /// `outputs × features`, row-major.
    pub attributions: Vec<f64>,
    /// Per output: the model's margin for the row.
    pub margin: Vec<f64>,
}

impl Explanation {
    pub fn attributions_of(&self, output: usize) -> &[f64] {
        &self.attributions[output * self.features..(output + 1) * self.features]
    }

    /// The features of `output` by |attribution|, largest first (ties in feature order), at
    /// most `top_k` of them.
    pub fn ranked(&self, output: usize, top_k: Option<usize>) -> Vec<usize> {
        let a = self.attributions_of(output);
        let mut order: Vec<usize> = (0..a.len()).collect();
        order.sort_by(|&x, &y| a[y].abs().total_cmp(&a[x].abs()).then(x.cmp(&y)));
        order.truncate(top_k.unwrap_or(usize::MAX));
        order
    }

    /// How far baseline + Σ attributions is from the margin, relative to the margin (absolute
    /// below 1): 0 up to rounding for exact methods.
    pub fn approximation_error(&self, output: usize) -> f64 {
        let sum: f64 = self.baseline[output] + self.attributions_of(output).iter().sum::<f64>();
        (sum - self.margin[output]).abs() / self.margin[output].abs().max(1.0)
    }

    /// Attributions summed over groups of features: `sources[i]` is the group of feature `i`
    /// (a raw column whose one-hot indicators are several model inputs).
    pub fn grouped(&self, sources: &[usize], groups: usize) -> Explanation {
        let mut attributions = vec![0.0; self.outputs * groups];
        for o in 0..self.outputs {
            for (i, a) in self.attributions_of(o).iter().enumerate() {
                attributions[o * groups + sources[i]] += a;
            }
        }
        Explanation { attributions, features: groups, ..self.clone() }
    }
}

/// How much a model relies on each feature: named measures (XGBoost's `weight`, `gain`,
/// `cover`, `total_gain`, `total_cover` for trees; each output's `coefficient` for a linear
/// model), one value per model input.
#[derive(Debug, Clone)]
pub struct Importance {
    /// (measure, output index: None for the whole model, values per feature)
    pub measures: Vec<(&'static str, Option<usize>, Vec<f64>)>,
}

/// A linear model's scores: `outputs × (features + 1)` weights, each output's intercept last,
/// on the model's inputs.
pub struct LinearTerms {
    pub weights: Vec<f64>,
    pub outputs: usize,
    /// The training inputs' means, when the model keeps them.
    pub means: Option<Vec<f64>>,
}

impl LinearTerms {
    /// Each output's coefficients.
    pub fn importance(&self) -> Importance {
        let f = self.weights.len() / self.outputs.max(1) - 1;
        let measures = self
            .weights
            .chunks(f + 1)
            .enumerate()
            .map(|(o, w)| ("coefficient", Some(o), w[..f].to_vec()))
            .collect();
        Importance { measures }
    }

    /// The exact attributions of a linear score: each weight times its input's distance from
    /// the training mean; the baseline is the score at the means. `means` are the training
    /// inputs' (the model's own, else the artifact's).
    pub fn explain(&self, row: &[f32], means: &[f64]) -> Result<Explanation> {
        let f = means.len();
        if row.len() != f || self.weights.len() != self.outputs * (f + 1) {
            return Err(Error::Internal(format!(
                "a linear model of {} weights for {f} features",
                self.weights.len()
            )));
        }
        let mut attributions = Vec::with_capacity(self.outputs * f);
        let (mut baseline, mut margin) = (Vec::new(), Vec::new());
        for w in self.weights.chunks(f + 1) {
            let (base, score) =
                (0..f).fold((w[f], w[f]), |(b, s), j| (b + w[j] * means[j], s + w[j] * row[j] as f64));
            attributions.extend((0..f).map(|j| w[j] * (row[j] as f64 - means[j])));
            baseline.push(base);
            margin.push(score);
        }
        Ok(Explanation {
            method: Method::Linear,
            output_space: "margin",
            outputs: self.outputs,
            features: f,
            baseline,
            attributions,
            margin,
        })
    }
}

impl trees::Ensemble {
    /// Attributions of `row` to this ensemble's margin.
    pub fn explain(&self, row: &[f32], method: Method) -> Result<Explanation> {
        if row.len() < self.num_features {
            return Err(Error::data(format!(
                "the model takes {} features, got {}",
                self.num_features,
                row.len()
            )));
        }
        let f = self.num_features;
        let mut attributions = vec![0.0; self.outputs * f];
        let mut baseline = self.intercept.clone();
        let mut margin = self.intercept.clone();
        let mut scratch = treeshap::scratch();
        for tree in &self.trees {
            let phi = &mut attributions[tree.group * f..(tree.group + 1) * f];
            baseline[tree.group] += tree.nodes[0].mean;
            margin[tree.group] += match method {
                Method::TreeShap | Method::Linear => {
                    treeshap::exact(tree, row, phi, &mut scratch);
                    tree.nodes[tree.leaf_of(row)].value
                }
                Method::Approximate => treeshap::approximate(tree, row, phi),
            };
        }
        Ok(Explanation {
            method,
            output_space: "margin",
            outputs: self.outputs,
            features: f,
            baseline,
            attributions,
            margin,
        })
    }
}

#[cfg(test)]
mod tests;
