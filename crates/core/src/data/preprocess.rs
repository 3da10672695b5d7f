//! Per-column preprocessing as PostgresML spells it: `preprocess => '{"column": {"impute":
//! "mean", "scale": "standard", "encode": "one_hot"}}'`. Statistics come from the training rows
//! only and are stored in the model (`artifact::Header::preprocess`), so every predict path —
//! arrays, rows, batches, probabilities, HTTP — transforms raw features the same way
//! (PostgresML applies them to row predicts only).
//!
//! Per feature, in order: a missing value (NaN) is imputed, a categorical code is encoded, a
//! number is scaled. Without a `preprocess` entry a column passes through unchanged.

use super::schema::{FeatureColumn, FeatureKind};
use super::Matrix;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    impute: Option<String>,
    scale: Option<String>,
    encode: Option<String>,
}

const IMPUTE: [&str; 7] = ["error", "mean", "median", "mode", "min", "max", "zero"];
const SCALE: [&str; 5] = ["preserve", "standard", "min_max", "max_abs", "robust"];
const ENCODE: [&str; 4] = ["native", "target", "one_hot", "ordinal"];

/// A parsed `preprocess` argument, checked for option names; columns are checked against
/// the relation by `fit`.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    columns: BTreeMap<String, ColumnSpec>,
}

impl Spec {
    pub fn parse(json: &serde_json::Value) -> Result<Spec> {
        if json.is_null() || json.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(Spec::default());
        }
        let columns: BTreeMap<String, ColumnSpec> = serde_json::from_value(json.clone()).map_err(|e| {
            Error::invalid(format!("invalid preprocess: {e}"))
                .with_hint("for example '{\"age\": {\"impute\": \"mean\", \"scale\": \"standard\"}}'")
        })?;
        for (column, spec) in &columns {
            for (what, value, allowed) in [
                ("impute", &spec.impute, &IMPUTE[..]),
                ("scale", &spec.scale, &SCALE[..]),
                ("encode", &spec.encode, &ENCODE[..]),
            ] {
                if let Some(v) = value.as_deref().filter(|v| !allowed.contains(v)) {
                    return Err(Error::invalid(format!("unknown {what} \"{v}\" for column \"{column}\""))
                        .with_hint(format!("{what} takes one of: {}", allowed.join(", "))));
                }
            }
        }
        Ok(Spec { columns })
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Columns whose NULLs are imputed rather than refused.
    pub fn imputed_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(_, s)| s.impute.as_deref().is_some_and(|i| i != "error"))
            .map(|(c, _)| c.clone())
            .collect()
    }
}

/// How one raw feature becomes model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Encoding {
    Identity,
    /// The training mean of the label per level code; `unseen` for codes without rows.
    Target {
        means: Vec<f32>,
        unseen: f32,
    },
    /// One indicator per level.
    OneHot {
        levels: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    /// The value a missing one becomes (None: missing stays missing).
    fill: Option<f32>,
    encoding: Encoding,
    /// `(v - shift) / scale`
    shift: f32,
    scale: f32,
}

/// Fitted preprocessing: one step per raw feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    steps: Vec<Step>,
}

impl Preprocessor {
    /// Fits `spec` on the training rows `x` (raw features; NaN = missing) and labels `y`.
    pub fn fit(spec: &Spec, schema: &[FeatureColumn], x: &Matrix, y: &[f32]) -> Result<Preprocessor> {
        for name in spec.columns.keys() {
            if !schema.iter().any(|c| &c.name == name) {
                return Err(Error::invalid(format!(
                    "preprocess names column \"{name}\", which is not a feature"
                ))
                .with_hint(format!(
                    "the features are: {}",
                    schema.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let mut steps = Vec::with_capacity(x.cols);
        let mut position = 0;
        for column in schema {
            let spec = spec.columns.get(&column.name);
            let encode = spec.and_then(|s| s.encode.as_deref()).unwrap_or("native");
            let scale = spec.and_then(|s| s.scale.as_deref()).unwrap_or("preserve");
            if column.kind == FeatureKind::Categorical && scale != "preserve" {
                return Err(Error::invalid(format!(
                    "column \"{}\" is categorical: it cannot be scaled",
                    column.name
                ))
                .with_hint("encode it (native, ordinal, target, one_hot) instead"));
            }
            if column.kind != FeatureKind::Categorical && encode != "native" {
                return Err(Error::invalid(format!(
                    "column \"{}\" is not categorical (text): encode applies to text columns",
                    column.name
                )));
            }
            for _ in 0..column.size {
                let values: Vec<f32> = (0..x.rows).map(|r| x.row(r)[position]).collect();
                steps.push(fit_step(column, spec, encode, scale, &values, y)?);
                position += 1;
            }
        }
        Ok(Preprocessor { steps })
    }

    /// The model's input width.
    /// What happens to each raw feature, in words, for people reading a model (the
    /// dashboard): `missing → 5.84`, `(v − 5.84) / 0.83`, `one-hot, 3 levels`; "as is" when
    /// nothing does.
    pub fn describe(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| {
                let mut parts = Vec::new();
                if let Some(fill) = s.fill {
                    parts.push(format!("missing → {fill}"));
                }
                match &s.encoding {
                    Encoding::Identity => {}
                    Encoding::Target { means, .. } => {
                        parts.push(format!("target-encoded, {} levels", means.len()))
                    }
                    Encoding::OneHot { levels } => parts.push(format!("one-hot, {levels} levels")),
                }
                if s.shift != 0.0 || s.scale != 1.0 {
                    parts.push(format!("(v − {}) / {}", s.shift, s.scale));
                }
                if parts.is_empty() {
                    "as is".to_string()
                } else {
                    parts.join("; ")
                }
            })
            .collect()
    }

    /// Each feature's step as (fill for a missing value, shift, scale) when no feature is
    /// encoded (None otherwise): what an ONNX graph of Imputer, Sub and Div writes exactly.
    pub fn affine(&self) -> Option<Vec<(Option<f32>, f32, f32)>> {
        self.steps
            .iter()
            .map(|s| matches!(s.encoding, Encoding::Identity).then_some((s.fill, s.shift, s.scale)))
            .collect()
    }

    /// The raw feature each model input comes from (several for a one-hot encoded one).
    pub fn sources(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.width());
        for (i, s) in self.steps.iter().enumerate() {
            let n = if let Encoding::OneHot { levels } = s.encoding { levels } else { 1 };
            out.extend(std::iter::repeat_n(i, n));
        }
        out
    }

    pub fn width(&self) -> usize {
        self.steps.iter().map(|s| if let Encoding::OneHot { levels } = s.encoding { levels } else { 1 }).sum()
    }

    /// Whether a missing value of raw feature `i` is imputed.
    pub fn imputes(&self, i: usize) -> bool {
        self.steps.get(i).is_some_and(|s| s.fill.is_some())
    }

    /// Appends the model input of one raw row to `out`.
    pub fn transform_row(&self, raw: &[f32], out: &mut Vec<f32>) {
        for (step, &v) in self.steps.iter().zip(raw) {
            let v = if v.is_nan() { step.fill.unwrap_or(v) } else { v };
            match &step.encoding {
                Encoding::Identity => out.push((v - step.shift) / step.scale),
                Encoding::Target { means, unseen } => {
                    out.push(code(v).and_then(|c| means.get(c)).copied().unwrap_or(*unseen))
                }
                Encoding::OneHot { levels } => {
                    let hot = code(v);
                    out.extend((0..*levels).map(|l| if hot == Some(l) { 1.0 } else { 0.0 }));
                }
            }
        }
    }

    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        let mut out = Vec::with_capacity(x.rows * self.width());
        for r in 0..x.rows {
            self.transform_row(x.row(r), &mut out);
        }
        Matrix::new(out, self.width())
    }
}

/// A categorical code as an index (None for missing, negative or fractional values).
fn code(v: f32) -> Option<usize> {
    (v >= 0.0 && v.fract() == 0.0).then_some(v as usize)
}

fn fit_step(
    column: &FeatureColumn,
    spec: Option<&ColumnSpec>,
    encode: &str,
    scale: &str,
    values: &[f32],
    y: &[f32],
) -> Result<Step> {
    let present: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let impute = spec.and_then(|s| s.impute.as_deref()).unwrap_or("error");
    if present.is_empty() && impute != "zero" && impute != "error" {
        return Err(Error::data(format!(
            "column \"{}\" has no values in the training rows to {impute} from",
            column.name
        )));
    }
    let fill = match impute {
        "error" => None,
        "zero" => Some(0.0),
        "mean" => Some(mean(&present)),
        "median" => Some(quantile(&present, 0.5)),
        "mode" => Some(mode(&present)),
        "min" => present.iter().copied().reduce(f32::min),
        "max" => present.iter().copied().reduce(f32::max),
        other => return Err(Error::Internal(format!("impute {other} passed the parser"))),
    };
    let filled: Vec<f32> = values.iter().map(|&v| if v.is_nan() { fill.unwrap_or(v) } else { v }).collect();
    let levels = column.levels.len().max(1);
    let encoding = match encode {
        "target" => {
            let (mut sums, mut counts) = (vec![0.0f64; levels], vec![0usize; levels]);
            for (&v, &label) in filled.iter().zip(y) {
                if let Some(c) = code(v).filter(|&c| c < levels) {
                    sums[c] += label as f64;
                    counts[c] += 1;
                }
            }
            let unseen = (y.iter().map(|&v| v as f64).sum::<f64>() / y.len().max(1) as f64) as f32;
            let means = sums
                .iter()
                .zip(&counts)
                .map(|(s, &n)| if n == 0 { unseen } else { (s / n as f64) as f32 })
                .collect();
            Encoding::Target { means, unseen }
        }
        "one_hot" => Encoding::OneHot { levels },
        // native and ordinal: the level's code in sorted level order
        _ => Encoding::Identity,
    };
    let kept: Vec<f32> = filled.iter().copied().filter(|v| !v.is_nan()).collect();
    let (shift, spread) = match scale {
        "standard" => {
            let m = mean(&kept);
            (m, (kept.iter().map(|v| (v - m).powi(2)).sum::<f32>() / kept.len().max(1) as f32).sqrt())
        }
        "min_max" => {
            let (lo, hi) = (
                kept.iter().copied().fold(f32::INFINITY, f32::min),
                kept.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            );
            (lo, hi - lo)
        }
        "max_abs" => (0.0, kept.iter().fold(0.0f32, |m, v| m.max(v.abs()))),
        "robust" => {
            let median = quantile(&kept, 0.5);
            (median, quantile(&kept, 0.75) - quantile(&kept, 0.25))
        }
        _ => (0.0, 1.0),
    };
    // a constant column keeps its scale, as scikit-learn's scalers do
    let spread = if spread.is_finite() && spread > 0.0 { spread } else { 1.0 };
    Ok(Step { fill, encoding, shift: if shift.is_finite() { shift } else { 0.0 }, scale: spread })
}

fn mean(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64) as f32
}

/// Linear interpolation between order statistics (numpy's default).
fn quantile(v: &[f32], q: f64) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64) as f32
}

/// The most frequent value; ties go to the smallest (scikit-learn's `SimpleImputer`).
fn mode(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let (mut best, mut best_n, mut i) = (f32::NAN, 0, 0);
    while i < s.len() {
        let j = s[i..].iter().take_while(|&&x| x == s[i]).count();
        if j > best_n {
            (best, best_n) = (s[i], j);
        }
        i += j;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feature_is_described_in_words() {
        let schema = vec![
            FeatureColumn {
                name: "a".into(),
                pg_type: "real".into(),
                kind: FeatureKind::Numeric,
                size: 1,
                levels: vec![],
            },
            FeatureColumn {
                name: "b".into(),
                pg_type: "real".into(),
                kind: FeatureKind::Numeric,
                size: 1,
                levels: vec![],
            },
        ];
        let spec = Spec::parse(&serde_json::json!({"a": {"impute": "mean", "scale": "min_max"}})).unwrap();
        let x = Matrix::new(vec![0.0, 1.0, f32::NAN, 2.0, 4.0, 3.0], 2).unwrap();
        let p = Preprocessor::fit(&spec, &schema, &x, &[0.0, 1.0, 0.0]).unwrap();
        assert_eq!(p.describe(), ["missing → 2; (v − 0) / 4", "as is"]);
    }

    fn col(name: &str, kind: FeatureKind, levels: &[&str]) -> FeatureColumn {
        FeatureColumn {
            name: name.into(),
            pg_type: if kind == FeatureKind::Categorical { "text" } else { "real" }.into(),
            kind,
            size: 1,
            levels: levels.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn schema() -> Vec<FeatureColumn> {
        vec![col("age", FeatureKind::Numeric, &[]), col("city", FeatureKind::Categorical, &["a", "b", "c"])]
    }

    fn fitted(spec: serde_json::Value) -> Preprocessor {
        // age: 10, NaN, 30, 40; city codes 0, 2, 2, NaN; labels 1, 0, 1, 1
        let x = Matrix::new(vec![10.0, 0.0, f32::NAN, 2.0, 30.0, 2.0, 40.0, f32::NAN], 2).unwrap();
        Preprocessor::fit(&Spec::parse(&spec).unwrap(), &schema(), &x, &[1.0, 0.0, 1.0, 1.0]).unwrap()
    }

    fn row(p: &Preprocessor, raw: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        p.transform_row(raw, &mut out);
        out
    }

    #[test]
    fn imputation_uses_training_statistics() {
        let p = fitted(serde_json::json!({"age": {"impute": "mean"}, "city": {"impute": "mode"}}));
        // mean of 10, 30, 40; mode of codes 0, 2, 2
        assert_eq!(row(&p, &[f32::NAN, f32::NAN]), [80.0 / 3.0, 2.0]);
        for (impute, want) in [("median", 30.0), ("min", 10.0), ("max", 40.0), ("zero", 0.0)] {
            let p = fitted(serde_json::json!({"age": {"impute": impute}}));
            assert_eq!(row(&p, &[f32::NAN, 1.0])[0], want, "{impute}");
        }
        assert!(fitted(serde_json::json!({"age": {"impute": "zero"}})).imputes(0));
        assert!(!fitted(serde_json::json!({})).imputes(0));
    }

    #[test]
    fn scalers_match_scikit_learns_definitions() {
        // after mean imputation age is 10, 26.67, 30, 40
        let p = fitted(serde_json::json!({"age": {"impute": "mean", "scale": "standard"}}));
        let (m, sd) = (
            26.666_666f32,
            ((16.666_666f32.powi(2) + 0.0 + 3.333_334f32.powi(2) + 13.333_334f32.powi(2)) / 4.0).sqrt(),
        );
        assert!((row(&p, &[40.0, 0.0])[0] - (40.0 - m) / sd).abs() < 1e-5);
        let p = fitted(serde_json::json!({"age": {"impute": "min", "scale": "min_max"}}));
        assert_eq!(row(&p, &[25.0, 0.0])[0], 0.5);
        let p = fitted(serde_json::json!({"age": {"impute": "max", "scale": "max_abs"}}));
        assert_eq!(row(&p, &[-20.0, 0.0])[0], -0.5);
        let p = fitted(serde_json::json!({"age": {"impute": "zero", "scale": "robust"}}));
        // 0, 10, 30, 40: median 20, IQR 32.5 - 7.5 = 25
        assert_eq!(row(&p, &[45.0, 0.0])[0], 1.0);
    }

    #[test]
    fn encoders_widen_or_replace_codes() {
        let p = fitted(serde_json::json!({"city": {"encode": "one_hot", "impute": "mode"}}));
        assert_eq!(p.width(), 4);
        assert_eq!(row(&p, &[1.0, 1.0]), [1.0, 0.0, 1.0, 0.0]);
        assert_eq!(row(&p, &[1.0, f32::NAN]), [1.0, 0.0, 0.0, 1.0]);
        let p = fitted(serde_json::json!({"city": {"encode": "target"}}));
        // city a: label 1; c: labels 0, 1; b: unseen -> the label mean 0.75
        assert_eq!(row(&p, &[0.0, 0.0])[1], 1.0);
        assert_eq!(row(&p, &[0.0, 2.0])[1], 0.5);
        assert_eq!(row(&p, &[0.0, 1.0])[1], 0.75);
        assert_eq!(row(&p, &[0.0, 7.0])[1], 0.75);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |spec: serde_json::Value| {
            let x = Matrix::new(vec![1.0, 0.0], 2).unwrap();
            Spec::parse(&spec)
                .and_then(|s| Preprocessor::fit(&s, &schema(), &x, &[1.0]))
                .unwrap_err()
                .to_string()
        };
        assert!(err(serde_json::json!({"age": {"impute": "average"}}))
            .contains("unknown impute \"average\" for column \"age\""));
        assert!(err(serde_json::json!({"age": {"scaling": "standard"}})).contains("unknown field `scaling`"));
        assert!(err(serde_json::json!({"height": {"scale": "standard"}}))
            .contains("\"height\", which is not a feature"));
        assert!(err(serde_json::json!({"city": {"scale": "standard"}})).contains("cannot be scaled"));
        assert!(
            err(serde_json::json!({"age": {"encode": "one_hot"}})).contains("encode applies to text columns")
        );
        assert!(err(serde_json::json!([1])).contains("invalid preprocess"));
    }
}
