//! Why a model predicts what it does: per-feature attributions of one prediction (SHAP values)
//! whose sum with the baseline (the model's expected output) is the prediction, in the model's
//! margin. Tree ensembles: path-dependent TreeSHAP, exact, or its approximate one-walk form
//! (`treeshap`).

pub mod trees;
pub mod treeshap;

use crate::error::{Error, Result};

/// How attributions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Path-dependent TreeSHAP: exact Shapley values of the trees.
    TreeShap,
    /// One walk of the row's path per tree (Saabas): cheap, not Shapley values.
    Approximate,
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
        let mut scratch = treeshap::scratch();
        for (t, tree) in self.trees.iter().enumerate() {
            let phi = &mut attributions[tree.group * f..(tree.group + 1) * f];
            let means = &self.means[t];
            baseline[tree.group] += means[0];
            match method {
                Method::TreeShap => treeshap::exact(tree, row, phi, &mut scratch),
                Method::Approximate => treeshap::approximate(tree, means, row, phi),
            }
        }
        Ok(Explanation {
            method,
            output_space: "margin",
            outputs: self.outputs,
            features: f,
            baseline,
            attributions,
            margin: self.margin(row),
        })
    }
}

#[cfg(test)]
mod tests;
