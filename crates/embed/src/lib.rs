//! Sentence embeddings for pgml-rs: BERT-family sentence-transformers models run on the CPU
//! in Rust, from a Hugging Face snapshot directory, with no Python and no network.
//!
//! `Embedder::load` reads a model's tokenizer and maps its weights; `Embedder::embed` turns
//! texts into vectors as sentence-transformers' `encode` does: strip, tokenize without
//! padding, truncate at the model's `max_seq_length`, encode, pool (mean, CLS, max or
//! mean/sqrt(len), per `1_Pooling/config.json`), normalise where `modules.json` has a
//! Normalize module, then apply the `truncate_dim` and `normalize_embeddings` options.

mod bert;
mod error;
pub mod models;
mod options;
mod safetensors;
mod workers;

pub use error::{EmbedError, Result};
pub use models::{ModelInfo, Pooling};
pub use options::EmbedOptions;
pub use workers::Workers;

use tokenizers::{Tokenizer, TruncationParams};

/// A loaded model: tokenizer, encoder and how to pool.
pub struct Embedder {
    info: ModelInfo,
    tokenizer: Tokenizer,
    bert: bert::Bert,
}

/// Sentences per forward pass when the caller does not say (sentence-transformers' default).
pub const DEFAULT_BATCH: usize = 32;

impl Embedder {
    pub fn load(info: ModelInfo) -> Result<Embedder> {
        let path = info.dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&path)
            .map_err(|e| EmbedError::model_file(&path, &format!("is not a valid tokenizer: {e}")))?;
        // The shipped tokenizer.json of all-MiniLM-L6-v2 pads every input to 128 tokens and
        // truncates at 128; sentence-transformers pads to the batch and truncates at
        // max_seq_length. Packing needs no padding at all.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: info.max_tokens, ..Default::default() }))
            .map_err(|e| EmbedError::model_file(&path, &format!("cannot truncate: {e}")))?;
        let weights = safetensors::SafeTensors::open(&info.dir.join("model.safetensors"))?;
        let bert = bert::Bert::load(weights, info.config.clone())?;
        Ok(Embedder { info, tokenizer, bert })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// One vector per text, in order. `interrupt` is asked between layers and batches (it may
    /// unwind to cancel the call).
    pub fn embed(
        &self,
        texts: &[&str],
        options: &EmbedOptions,
        workers: &Workers,
        interrupt: &dyn Fn(),
    ) -> Result<Vec<Vec<f32>>> {
        options.check(self.bert.hidden_size())?;
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(options.batch_size.unwrap_or(DEFAULT_BATCH)) {
            interrupt();
            let ids = batch.iter().map(|t| self.tokenize(t, options)).collect::<Result<Vec<_>>>()?;
            for pass in token_budget(&ids) {
                let hidden = self.bert.forward(pass, workers, interrupt)?;
                let h = self.bert.hidden_size();
                let mut row = 0;
                for sentence in pass {
                    let tokens = &hidden[row * h..(row + sentence.len()) * h];
                    out.push(self.finish(self.pool(tokens, sentence.len()), options));
                    row += sentence.len();
                }
            }
        }
        Ok(out)
    }

    fn tokenize(&self, text: &str, options: &EmbedOptions) -> Result<Vec<u32>> {
        let mut input = match &options.prompt {
            Some(prompt) => format!("{prompt}{text}"),
            None => text.to_string(),
        };
        input = input.trim().to_string();
        if self.info.lowercase {
            input = input.to_lowercase();
        }
        let encoding = self
            .tokenizer
            .encode(input, true)
            .map_err(|e| EmbedError::InvalidArgument(format!("the text could not be tokenized: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn pool(&self, tokens: &[f32], n: usize) -> Vec<f32> {
        let h = self.bert.hidden_size();
        let rows = || tokens.chunks(h);
        match self.info.pooling {
            Pooling::Cls => tokens[..h].to_vec(),
            Pooling::Max => rows().fold(vec![f32::NEG_INFINITY; h], |mut acc, r| {
                acc.iter_mut().zip(r).for_each(|(a, v)| *a = a.max(*v));
                acc
            }),
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let mut sum = vec![0f32; h];
                rows().for_each(|r| sum.iter_mut().zip(r).for_each(|(a, v)| *a += v));
                let divisor = if self.info.pooling == Pooling::Mean { n as f32 } else { (n as f32).sqrt() };
                sum.iter_mut().for_each(|v| *v /= divisor);
                sum
            }
        }
    }

    /// The model's own Normalize module, then the caller's truncate_dim and
    /// normalize_embeddings, in sentence-transformers' order.
    fn finish(&self, mut v: Vec<f32>, options: &EmbedOptions) -> Vec<f32> {
        if self.info.normalize {
            normalize(&mut v);
        }
        if let Some(d) = options.truncate_dim {
            v.truncate(d);
        }
        if options.normalize_embeddings == Some(true) {
            normalize(&mut v);
        }
        v
    }
}

/// Tokens per forward pass at most (a single longer sentence still goes whole). It bounds a
/// pass's memory (its activations: about 10 KB per token for MiniLM) and the time between
/// two checks for a cancel (half a MiniLM layer over 2,048 tokens: tens of milliseconds).
const PASS_TOKENS: usize = 2048;

/// The batch split into consecutive runs of sentences of at most PASS_TOKENS tokens.
fn token_budget(ids: &[Vec<u32>]) -> Vec<&[Vec<u32>]> {
    let mut passes = Vec::new();
    let (mut start, mut tokens) = (0, 0);
    for (i, sentence) in ids.iter().enumerate() {
        if i > start && tokens + sentence.len() > PASS_TOKENS {
            passes.push(&ids[start..i]);
            (start, tokens) = (i, 0);
        }
        tokens += sentence.len();
    }
    if start < ids.len() {
        passes.push(&ids[start..]);
    }
    passes
}

fn normalize(v: &mut [f32]) {
    // torch.nn.functional.normalize's eps: a zero vector stays zero.
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}
