//! Multi-target regression (`pgml.train_joint`): one model of the chosen algorithm per
//! target, trained on the same rows; predictions come back row after row, one value per target.
//!
//! Bytes: a little-endian u32 count of targets, then per target a u32 length and the model's
//! own bytes.

use super::{Algorithm, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;

pub struct Joint {
    parts: Vec<Box<dyn Model>>,
}

/// Trains one regression model per target column of `y` (row-major, `targets` per row).
pub fn train(
    algorithm: Algorithm,
    hyperparams: &serde_json::Value,
    x: &Matrix,
    y: &[f32],
    targets: usize,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let parts = (0..targets)
        .map(|t| {
            let column: Vec<f32> = y.iter().skip(t).step_by(targets).copied().collect();
            algorithm.train(Task::Regression, hyperparams, x, &column, 0, ctx)
        })
        .collect::<Result<_>>()?;
    Ok(Box::new(Joint { parts }))
}

pub fn load(algorithm: Algorithm, bytes: &[u8]) -> Result<Box<dyn Model>> {
    let corrupt = || Error::Internal("corrupt joint model".into());
    let u32_at = |at: usize| -> Result<usize> {
        let b = bytes.get(at..at + 4).ok_or_else(corrupt)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = u32_at(0)?;
    let (mut at, mut parts) = (4, Vec::with_capacity(count));
    for _ in 0..count {
        let len = u32_at(at)?;
        parts.push(algorithm.load(bytes.get(at + 4..at + 4 + len).ok_or_else(corrupt)?)?);
        at += 4 + len;
    }
    Ok(Box::new(Joint { parts }))
}

impl Model for Joint {
    /// The first target (drift references); `predict_joint` gives them all.
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        self.parts[0].predict(x)
    }

    fn predict_joint(&self, x: &Matrix) -> Result<Vec<f32>> {
        let columns: Vec<Vec<f32>> = self.parts.iter().map(|m| m.predict(x)).collect::<Result<_>>()?;
        Ok((0..x.rows).flat_map(|r| columns.iter().map(move |c| c[r])).collect())
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = (self.parts.len() as u32).to_le_bytes().to_vec();
        for m in &self.parts {
            let bytes = m.to_bytes()?;
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        Ok(out)
    }
}
