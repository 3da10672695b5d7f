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
    /// Text prepended to every input; PostgresML passes an INSTRUCTOR model's `instruction`
    /// as the prompt.
    #[serde(alias = "instruction")]
    pub prompt: Option<String>,
    /// Sentences per forward pass; the vectors do not depend on it.
    pub batch_size: Option<usize>,
    /// Only "cpu" runs here.
    device: Option<String>,
    /// Only "float32" is computed.
    precision: Option<String>,
    // Loading options PostgresML gives `SentenceTransformer(...)`: no code from a model's
    // directory ever runs here and nothing is downloaded, so these two change nothing.
    #[allow(dead_code)]
    trust_remote_code: Option<bool>,
    #[allow(dead_code)]
    token: Option<serde_json::Value>,
    /// The installed snapshot is the only revision.
    revision: Option<String>,
    /// Passed to transformers' loaders in Python: only empty ones mean what runs here.
    model_kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    tokenizer_kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    config_kwargs: Option<serde_json::Map<String, serde_json::Value>>,
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
        if let Some(revision) = &options.revision {
            return Err(EmbedError::Unsupported(format!(
                "revision \"{revision}\" cannot be chosen: pgml-rs embeds with the installed snapshot of the model"
            )));
        }
        for (name, given) in [
            ("model_kwargs", &options.model_kwargs),
            ("tokenizer_kwargs", &options.tokenizer_kwargs),
            ("config_kwargs", &options.config_kwargs),
        ] {
            if let Some(first) = given.as_ref().and_then(|m| m.keys().next()) {
                return Err(EmbedError::Unsupported(format!(
                    "{name} \"{first}\" is not supported: pgml-rs loads the model as its directory describes it"
                )));
            }
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
