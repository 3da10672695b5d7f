//! The embedding crate's one error type; the extension maps each kind to a SQLSTATE.

use std::path::Path;

pub type Result<T> = std::result::Result<T, EmbedError>;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// No installed model of that name (42704).
    #[error("embedding model \"{name}\" is not installed")]
    NotInstalled { name: String, installed: Vec<String>, models_dir: String },
    /// A model or option this implementation cannot run (0A000).
    #[error("{0}")]
    Unsupported(String),
    /// A bad argument: an unknown or ill-typed kwarg, a bad model name (22023).
    #[error("{0}")]
    InvalidArgument(String),
    /// A model file that cannot be read or makes no sense (58030).
    #[error("{0}")]
    ModelFile(String),
}

impl EmbedError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> EmbedError {
        EmbedError::ModelFile(format!("could not read {}: {e}", path.display()))
    }

    pub(crate) fn model_file(path: &Path, why: &str) -> EmbedError {
        EmbedError::ModelFile(format!("model file {} {why}", path.display()))
    }

    /// A hint for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            EmbedError::NotInstalled { installed, models_dir, .. } => Some(format!(
                "installed models: {}. To add a BERT-family sentence-transformers model, copy its \
                 Hugging Face snapshot directory (config.json, model.safetensors, tokenizer.json) \
                 to {models_dir}/<organisation>/<name>",
                if installed.is_empty() { "none".to_string() } else { installed.join(", ") }
            )),
            _ => None,
        }
    }
}
