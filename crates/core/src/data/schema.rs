//! The feature schema of a model: which columns, in which order, became which features. It is
//! stored with the model so predictions from a row can rebuild the same feature vector.

use serde::{Deserialize, Serialize};

/// How a column becomes features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Any numeric type: one feature.
    Numeric,
    /// true/false as 1/0: one feature.
    Boolean,
    /// An array of numbers or booleans, flattened: `size` features.
    Array,
    /// Text: one feature, the code of its level.
    Categorical,
}

/// One column of the training relation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureColumn {
    pub name: String,
    /// The PostgreSQL type, as `format_type` spells it.
    pub pg_type: String,
    pub kind: FeatureKind,
    /// Features the column contributes (the array length, or 1).
    pub size: usize,
    /// Categorical levels in code order: the training rows' distinct values, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<String>,
}

impl FeatureColumn {
    /// The code of a categorical value; NaN (missing) for a level not seen in training.
    pub fn level_code(&self, value: &str) -> f32 {
        self.levels.binary_search_by(|l| l.as_str().cmp(value)).map_or(f32::NAN, |i| i as f32)
    }
}

/// The name of every feature a schema produces: the column name, or `name[i]` (1-based) for
/// the elements of an array column. Without a schema, `f1`, `f2`, ….
pub fn feature_names(columns: &[FeatureColumn], width: usize) -> Vec<String> {
    if columns.is_empty() {
        return (1..=width).map(|i| format!("f{i}")).collect();
    }
    columns
        .iter()
        .flat_map(|c| match c.kind {
            FeatureKind::Array => (1..=c.size).map(|i| format!("{}[{i}]", c.name)).collect(),
            _ => vec![c.name.clone()],
        })
        .collect()
}

/// The number of features a schema produces.
pub fn width(columns: &[FeatureColumn]) -> usize {
    columns.iter().map(|c| c.size).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_levels_are_missing() {
        let c = FeatureColumn {
            name: "region".into(),
            pg_type: "text".into(),
            kind: FeatureKind::Categorical,
            size: 1,
            levels: vec!["east".into(), "north".into()],
        };
        assert_eq!(c.level_code("north"), 1.0);
        assert!(c.level_code("west").is_nan());
        assert_eq!(width(&[c.clone(), FeatureColumn { size: 64, ..c }]), 65);
    }
}
