//! The models directory: which sentence-transformers models are installed, where, and what
//! their configuration files say.
//!
//! A model is a Hugging Face snapshot directory, at `<models_dir>/<organisation>/<name>` or
//! `<models_dir>/<name>`. A name without an organisation also finds the model under any
//! organisation, so `all-MiniLM-L6-v2` and `sentence-transformers/all-MiniLM-L6-v2` are the
//! same model, as they are for sentence-transformers.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EmbedError, Result};

/// How token vectors become one sentence vector (the model's `1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
    Max,
    MeanSqrtLen,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }
}

/// The hidden activation of the feed-forward layers (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The exact, erf-based GELU (Hugging Face's `gelu`).
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

/// Everything about an installed model but its weights.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The name it is found by: its path under the models directory.
    pub name: String,
    pub dir: PathBuf,
    pub config: BertConfig,
    pub pooling: Pooling,
    /// Whether the model ends with a Normalize module (unit-length vectors).
    pub normalize: bool,
    /// Tokens per input, special tokens included; longer inputs are truncated.
    pub max_tokens: usize,
    /// sentence-transformers' `do_lower_case`: lowercase the text before tokenizing.
    pub lowercase: bool,
}

/// The fields of `config.json` a BERT forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    #[serde(default)]
    pub model_type: String,
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    pub vocab_size: usize,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_eps() -> f32 {
    1e-12
}
fn default_type_vocab() -> usize {
    2
}

impl BertConfig {
    pub fn activation(&self) -> Result<Activation> {
        match self.hidden_act.as_str() {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(EmbedError::Unsupported(format!("hidden activation \"{other}\" is not supported"))),
        }
    }
}

/// The models directory's installed models, by name; directories that are not valid models
/// are left out (`find` on one of them says why).
pub fn installed(models_dir: &Path) -> Vec<ModelInfo> {
    let mut found: Vec<ModelInfo> =
        candidates(models_dir).into_iter().filter_map(|(name, dir)| read_info(&name, &dir).ok()).collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The installed model of this name (see the module's doc for how names resolve).
pub fn find(models_dir: &Path, name: &str) -> Result<ModelInfo> {
    let parts: Vec<&str> = name.split('/').collect();
    let valid_part = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if parts.len() > 2 || !parts.iter().all(valid_part) {
        return Err(EmbedError::InvalidArgument(format!(
            "\"{name}\" is not a model name: expected <name> or <organisation>/<name> of letters, \
             digits, '-', '_' and '.'"
        )));
    }
    let matches: Vec<(String, PathBuf)> = candidates(models_dir)
        .into_iter()
        .filter(|(n, _)| n == name || n.rsplit('/').next() == Some(name))
        .collect();
    let exact = matches.iter().find(|(n, _)| n == name);
    match (exact, matches.as_slice()) {
        (Some((n, dir)), _) | (None, [(n, dir)]) => read_info(n, dir),
        (None, []) => Err(EmbedError::NotInstalled {
            name: name.to_string(),
            installed: installed(models_dir).into_iter().map(|m| m.name).collect(),
            models_dir: models_dir.display().to_string(),
        }),
        (None, several) => Err(EmbedError::InvalidArgument(format!(
            "\"{name}\" names several installed models: {}; use the full name",
            several.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Every directory one or two levels down holding a `config.json`, with its name.
fn candidates(models_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let subdirs = |dir: &Path| -> Vec<(String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect()
    };
    for (name, dir) in subdirs(models_dir) {
        if dir.join("config.json").is_file() {
            out.push((name, dir));
        } else {
            for (inner, sub) in subdirs(&dir) {
                if sub.join("config.json").is_file() {
                    out.push((format!("{name}/{inner}"), sub));
                }
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize, Default)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

#[derive(Deserialize, Default)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| EmbedError::model_file(path, &format!("is not valid: {e}")))
}

fn read_info(name: &str, dir: &Path) -> Result<ModelInfo> {
    let config: BertConfig = read_json(&dir.join("config.json"))?;
    if config.model_type != "bert" {
        return Err(EmbedError::Unsupported(format!(
            "model \"{name}\" is a \"{}\" model; only BERT-family models (model_type \"bert\") are supported",
            config.model_type
        )));
    }
    if let Some(kind) = config.position_embedding_type.as_deref().filter(|k| *k != "absolute") {
        return Err(EmbedError::Unsupported(format!(
            "model \"{name}\" uses \"{kind}\" position embeddings; only absolute ones are supported"
        )));
    }
    if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
        return Err(EmbedError::model_file(
            &dir.join("config.json"),
            "has a hidden size not divisible by its heads",
        ));
    }
    config.activation()?;
    // A plain Hugging Face BERT (no modules.json) gets sentence-transformers' defaults for
    // one: mean pooling, no normalisation.
    let modules: Vec<Module> =
        if dir.join("modules.json").is_file() { read_json(&dir.join("modules.json"))? } else { Vec::new() };
    let mut pooling = Pooling::Mean;
    let mut normalize = false;
    for module in &modules {
        let kind = module.kind.rsplit('.').next().unwrap_or_default();
        match kind {
            "Transformer" => {}
            "Normalize" => normalize = true,
            "Pooling" => {
                let path = dir.join(&module.path).join("config.json");
                let p: PoolingConfig =
                    if path.is_file() { read_json(&path)? } else { PoolingConfig::default() };
                pooling = match (
                    p.pooling_mode_cls_token,
                    p.pooling_mode_mean_tokens,
                    p.pooling_mode_max_tokens,
                    p.pooling_mode_mean_sqrt_len_tokens,
                    p.pooling_mode_weightedmean_tokens || p.pooling_mode_lasttoken,
                ) {
                    (true, false, false, false, false) => Pooling::Cls,
                    (false, true, false, false, false) => Pooling::Mean,
                    (false, false, true, false, false) => Pooling::Max,
                    (false, false, false, true, false) => Pooling::MeanSqrtLen,
                    _ => {
                        return Err(EmbedError::Unsupported(format!(
                            "model \"{name}\"'s pooling ({}) is not supported: one of mean, cls, max or \
                             mean_sqrt_len is",
                            path.display()
                        )))
                    }
                };
            }
            other => {
                return Err(EmbedError::Unsupported(format!(
                    "model \"{name}\" has a \"{other}\" module; supported modules are Transformer, Pooling \
                     and Normalize"
                )))
            }
        }
    }
    let st_path = dir.join("sentence_bert_config.json");
    let st: SentenceBertConfig =
        if st_path.is_file() { read_json(&st_path)? } else { SentenceBertConfig::default() };
    let max_tokens =
        st.max_seq_length.unwrap_or(config.max_position_embeddings).min(config.max_position_embeddings);
    for file in ["tokenizer.json", "model.safetensors"] {
        if !dir.join(file).is_file() {
            return Err(EmbedError::ModelFile(format!(
                "model \"{name}\" at {} has no {file}{}",
                dir.display(),
                if file == "model.safetensors" { " (only safetensors weights are read)" } else { "" }
            )));
        }
    }
    Ok(ModelInfo {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        config,
        pooling,
        normalize,
        max_tokens,
        lowercase: st.do_lower_case,
    })
}
