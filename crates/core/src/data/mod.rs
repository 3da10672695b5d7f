//! In-memory data: a dense row-major feature matrix and the train/test split.

pub mod preprocess;
pub mod schema;
pub mod split;

use crate::error::{Error, Result};

/// A dense, row-major matrix of `f32` features.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    /// Wraps row-major data, checking that it holds `rows × cols` values.
    pub fn new(data: Vec<f32>, cols: usize) -> Result<Matrix> {
        if cols == 0 {
            return Err(Error::data("a model needs at least one feature"));
        }
        if !data.len().is_multiple_of(cols) {
            return Err(Error::data(format!(
                "expected a multiple of {cols} features, got {} values",
                data.len()
            ))
            .with_hint("every row must have the same number of features"));
        }
        Ok(Matrix { rows: data.len() / cols, cols, data })
    }

    /// One row.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// A new matrix holding the given rows, in order.
    pub fn select(&self, rows: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Matrix { data, rows: rows.len(), cols: self.cols }
    }
}

/// Picks `idx` from a slice.
pub fn select<T: Copy>(values: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| values[i]).collect()
}

/// The distinct class labels of a classification target, sorted ascending.
/// Training sees class indices `0..k`; predictions are mapped back through this list.
pub fn class_labels(y: &[f32]) -> Vec<f32> {
    let mut classes: Vec<f32> = y.to_vec();
    classes.sort_by(f32::total_cmp);
    classes.dedup();
    classes
}

/// Replaces each label by its index in `classes` (which must contain every label).
pub fn encode_classes(y: &[f32], classes: &[f32]) -> Vec<f32> {
    y.iter().map(|v| classes.binary_search_by(|c| c.total_cmp(v)).unwrap_or(0) as f32).collect()
}
