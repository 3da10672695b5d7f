//! `pgml.embed`'s kwargs: PostgresML passes them to sentence-transformers' `encode`, so these
//! are `encode`'s parameters. Those that change the vectors are implemented; those that only
//! concern Python's output or progress display are accepted; anything else is refused.

use serde::Deserialize;

use crate::error::{EmbedError, Result};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedOptions {
    /// Normalise to unit length after `truncate_dim` (the model's own Normalize module, if
    /// any, applies regardless, as in sentence-transformers).
    pub normalize_embeddings: Option<bool>,
    /// Keep only the first dimensions (Matryoshka models).
    pub truncate_dim: Option<usize>,
    /// Text prepended to every input.
    pub prompt: Option<String>,
    /// Sentences per forward pass; the vectors do not depend on it.
    pub batch_size: Option<usize>,
    /// Only "cpu" runs here.
    device: Option<String>,
    /// Only "float32" is computed.
    precision: Option<String>,
    // Python-side presentation only: accepted, nothing to do.
    #[allow(dead_code)]
    show_progress_bar: Option<bool>,
    #[allow(dead_code)]
    convert_to_numpy: Option<bool>,
    #[allow(dead_code)]
    convert_to_tensor: Option<bool>,
}

impl EmbedOptions {
    /// Parses the kwargs object; unknown keys and wrong types are 22023.
    pub fn parse(kwargs: &serde_json::Value) -> Result<EmbedOptions> {
        if !kwargs.is_object() {
            return Err(EmbedError::InvalidArgument(format!("kwargs must be a JSON object, got {kwargs}")));
        }
        let options: EmbedOptions = serde_json::from_value(kwargs.clone())
            .map_err(|e| EmbedError::InvalidArgument(format!("invalid embed kwargs: {e}")))?;
        if options.batch_size == Some(0) {
            return Err(EmbedError::InvalidArgument("batch_size must be at least 1, got 0".into()));
        }
        if options.truncate_dim == Some(0) {
            return Err(EmbedError::InvalidArgument("truncate_dim must be at least 1, got 0".into()));
        }
        if let Some(device) = options.device.as_deref().filter(|d| *d != "cpu") {
            return Err(EmbedError::Unsupported(format!(
                "device \"{device}\" is not available: pgml-rs embeds on the CPU"
            )));
        }
        if let Some(precision) = options.precision.as_deref().filter(|p| *p != "float32") {
            return Err(EmbedError::Unsupported(format!(
                "precision \"{precision}\" is not supported: embeddings are float32"
            )));
        }
        Ok(options)
    }

    /// Checks the options against the model's dimension.
    pub(crate) fn check(&self, dimension: usize) -> Result<()> {
        match self.truncate_dim {
            Some(d) if d > dimension => Err(EmbedError::InvalidArgument(format!(
                "truncate_dim {d} is larger than the model's dimension {dimension}"
            ))),
            _ => Ok(()),
        }
    }
}
