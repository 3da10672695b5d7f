//! A BERT encoder's forward pass on the CPU, over `matrixmultiply`'s sgemm.
//!
//! Sentences are packed, not padded: the linear layers see every token of the batch as one
//! matrix (a batch of short and long headlines costs its real tokens, where a padded batch
//! costs its longest times its size), and attention runs per sentence and head, so no mask
//! is needed. The weights stay in the mapped safetensors file: a weight matrix `W` (out × in,
//! row-major) is read in place as the transposed right operand.

use crate::error::{EmbedError, Result};
use crate::models::{Activation, BertConfig};
use crate::safetensors::{Floats, SafeTensors};
use crate::workers::{SharedMut, Workers};

/// A tensor of the model: borrowed from the mapping, or owned by the model's arena.
#[derive(Clone, Copy)]
struct Tensor {
    ptr: *const f32,
    len: usize,
}

// SAFETY: read-only data owned by the `Bert` that holds the tensor.
unsafe impl Send for Tensor {}
unsafe impl Sync for Tensor {}

impl Tensor {
    fn get(&self) -> &[f32] {
        // SAFETY: points into the mapping or the arena of the `Bert` borrowing it.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

struct Linear {
    weight: Tensor,
    bias: Tensor,
    inputs: usize,
    outputs: usize,
}

struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    config: BertConfig,
    activation: Activation,
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    // Keep the data the tensors point into; dropped after them (fields drop in order).
    _arena: Vec<Vec<f32>>,
    _file: SafeTensors,
}

// SAFETY: every raw pointer points into `_arena` or `_file`, both immutable once loaded.
unsafe impl Send for Bert {}
unsafe impl Sync for Bert {}

impl Bert {
    pub fn load(file: SafeTensors, config: BertConfig) -> Result<Bert> {
        let activation = config.activation()?;
        let mut arena: Vec<Vec<f32>> = Vec::new();
        let prefix = if file.contains("embeddings.word_embeddings.weight") { "" } else { "bert." };
        let h = config.hidden_size;
        let mut tensor = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let full = format!("{prefix}{name}");
            let alt = full
                .replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta");
            let (found, floats) = file.get(&full).or_else(|| file.get(&alt)).ok_or_else(|| {
                EmbedError::ModelFile(format!(
                    "model.safetensors has no tensor {full} that config.json implies"
                ))
            })?;
            if found != shape {
                return Err(EmbedError::ModelFile(format!(
                    "tensor {full} has shape {found:?}, config.json implies {shape:?}"
                )));
            }
            Ok(match floats {
                Floats::Borrowed(s) => Tensor { ptr: s.as_ptr(), len: s.len() },
                Floats::Owned(v) => {
                    let t = Tensor { ptr: v.as_ptr(), len: v.len() };
                    arena.push(v);
                    t
                }
            })
        };
        let mut linear = |name: &str, inputs: usize, outputs: usize| -> Result<Linear> {
            Ok(Linear {
                weight: tensor(&format!("{name}.weight"), &[outputs, inputs])?,
                bias: tensor(&format!("{name}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let i_size = config.intermediate_size;
            layers.push((
                linear(&format!("{p}.attention.self.query"), h, h)?,
                linear(&format!("{p}.attention.self.key"), h, h)?,
                linear(&format!("{p}.attention.self.value"), h, h)?,
                linear(&format!("{p}.attention.output.dense"), h, h)?,
                linear(&format!("{p}.intermediate.dense"), h, i_size)?,
                linear(&format!("{p}.output.dense"), i_size, h)?,
            ));
        }
        // The norms and embeddings after the linears: `linear` borrowed `tensor` mutably.
        let mut norm = |name: &str| -> Result<LayerNorm> {
            Ok(LayerNorm {
                gamma: tensor(&format!("{name}.weight"), &[h])?,
                beta: tensor(&format!("{name}.bias"), &[h])?,
            })
        };
        let mut built = Vec::with_capacity(layers.len());
        for (i, (query, key, value, attention_out, intermediate, output)) in layers.into_iter().enumerate() {
            let p = format!("encoder.layer.{i}");
            built.push(Layer {
                query,
                key,
                value,
                attention_out,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate,
                output,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let embedding_norm = norm("embeddings.LayerNorm")?;
        let word = tensor("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = tensor("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?;
        let token_type =
            tensor("embeddings.token_type_embeddings.weight", &[config.type_vocab_size.max(1), h])?;
        Ok(Bert {
            config,
            activation,
            word,
            position,
            token_type,
            embedding_norm,
            layers: built,
            _arena: arena,
            _file: file,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The last hidden state of every token of every sentence, packed: row `offsets[s] + t`
    /// is token `t` of sentence `s`. `interrupt` is asked between layers.
    pub fn forward(
        &self,
        sentences: &[Vec<u32>],
        workers: &Workers,
        interrupt: &dyn Fn(),
    ) -> Result<Vec<f32>> {
        let h = self.config.hidden_size;
        let total: usize = sentences.iter().map(Vec::len).sum();
        let mut x = vec![0f32; total * h];
        let (word, position, token_type) = (self.word.get(), self.position.get(), self.token_type.get());
        let mut row = 0;
        for ids in sentences {
            for (t, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if id >= self.config.vocab_size || t >= self.config.max_position_embeddings {
                    return Err(EmbedError::ModelFile(format!(
                        "token id {id} at position {t} is outside the model's vocabulary ({}) or positions ({}): \
                         the tokenizer does not match the model",
                        self.config.vocab_size, self.config.max_position_embeddings
                    )));
                }
                let out = &mut x[row * h..(row + 1) * h];
                let (w, p, ty) =
                    (&word[id * h..(id + 1) * h], &position[t * h..(t + 1) * h], &token_type[..h]);
                for j in 0..h {
                    out[j] = w[j] + p[j] + ty[j];
                }
                row += 1;
            }
        }
        let eps = self.config.layer_norm_eps;
        self.embedding_norm.apply(&mut x, h, eps, workers);
        let heads = self.config.num_attention_heads;
        let mut q = vec![0f32; total * h];
        let mut k = vec![0f32; total * h];
        let mut v = vec![0f32; total * h];
        let mut context = vec![0f32; total * h];
        let mut projected = vec![0f32; total * h];
        let mut inner = vec![0f32; total * self.config.intermediate_size];
        for layer in &self.layers {
            interrupt();
            layer.query.apply(&x, total, &mut q, workers);
            layer.key.apply(&x, total, &mut k, workers);
            layer.value.apply(&x, total, &mut v, workers);
            attention(sentences, &q, &k, &v, &mut context, h, heads, workers);
            layer.attention_out.apply(&context, total, &mut projected, workers);
            add_in_place(&mut x, &projected);
            layer.attention_norm.apply(&mut x, h, eps, workers);
            layer.intermediate.apply(&x, total, &mut inner, workers);
            let activation = self.activation;
            workers.rows(&mut inner, self.config.intermediate_size, |r| activate(r, activation));
            layer.output.apply(&inner, total, &mut projected, workers);
            add_in_place(&mut x, &projected);
            layer.output_norm.apply(&mut x, h, eps, workers);
        }
        interrupt();
        Ok(x)
    }
}

impl Linear {
    /// `out[rows × outputs] = input[rows × inputs] · Wᵀ + b`, the output columns split
    /// between the workers (each packs only its part of `W`, which for a short sentence is
    /// most of the work).
    fn apply(&self, input: &[f32], rows: usize, out: &mut [f32], workers: &Workers) {
        let (k, n) = (self.inputs, self.outputs);
        debug_assert_eq!(input.len(), rows * k);
        debug_assert_eq!(out.len(), rows * n);
        let parts = workers.width().min(n / 32).max(1);
        let step = n.div_ceil(parts).next_multiple_of(16).min(n);
        let parts = n.div_ceil(step);
        let weight = self.weight.get();
        let bias = self.bias.get();
        let shared = SharedMut(out.as_mut_ptr());
        let shared = &shared;
        workers.each(parts, |part| {
            let j0 = part * step;
            let width = step.min(n - j0);
            // SAFETY: column block [j0, j0 + width) of `out` is this part's alone; the
            // operands are in bounds by the shapes checked at load.
            unsafe {
                if rows <= FEW_ROWS {
                    let mut block = vec![0f32; rows * width];
                    few_rows(input, k, &weight[j0 * k..(j0 + width) * k], &bias[j0..j0 + width], &mut block);
                    for (r, values) in block.chunks_exact(width).enumerate() {
                        std::ptr::copy_nonoverlapping(values.as_ptr(), shared.0.add(r * n + j0), width);
                    }
                    return;
                }
                matrixmultiply::sgemm(
                    rows,
                    k,
                    width,
                    1.0,
                    input.as_ptr(),
                    k as isize,
                    1,
                    weight.as_ptr().add(j0 * k),
                    1,
                    k as isize,
                    0.0,
                    shared.0.add(j0),
                    n as isize,
                    1,
                );
                for r in 0..rows {
                    let row = std::slice::from_raw_parts_mut(shared.0.add(r * n + j0), width);
                    for (o, b) in row.iter_mut().zip(&bias[j0..j0 + width]) {
                        *o += b;
                    }
                }
            }
        });
    }
}

/// Up to this many rows (a sentence or two), a linear layer reads each weight row once and
/// takes its dot products with every input row while the row is in L1. sgemm would first
/// copy ("pack") the whole weight matrix, which for a dozen rows costs more than the
/// arithmetic: a one-sentence forward pass moved 84 MB instead of 42.
const FEW_ROWS: usize = 24;

/// `block[r, j] = input[r] · weight[j] + bias[j]`: every input row (`k` wide) against the
/// given weight rows, into `block` (rows × weight rows, row-major).
fn few_rows(input: &[f32], k: usize, weight: &[f32], bias: &[f32], block: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { few_rows_avx2(input, k, weight, bias, block) };
    }
    few_rows_generic(input, k, weight, bias, block)
}

/// `few_rows_generic` compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn few_rows_avx2(input: &[f32], k: usize, weight: &[f32], bias: &[f32], block: &mut [f32]) {
    few_rows_generic(input, k, weight, bias, block)
}

#[inline(always)]
fn few_rows_generic(input: &[f32], k: usize, weight: &[f32], bias: &[f32], block: &mut [f32]) {
    let width = bias.len();
    for (j, (w, b)) in weight.chunks_exact(k).zip(bias).enumerate() {
        for (r, row) in input.chunks_exact(k).enumerate() {
            block[r * width + j] = dot(row, w) + b;
        }
    }
}

/// A dot product in 32 independent lanes, which the compiler turns into vector FMAs.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    let (ac, bc) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..32 {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl LayerNorm {
    fn apply(&self, x: &mut [f32], width: usize, eps: f32, workers: &Workers) {
        let (gamma, beta) = (self.gamma.get(), self.beta.get());
        workers.rows(x, width, |row| {
            let n = row.len() as f32;
            let mean = row.iter().sum::<f32>() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let scale = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * scale * g + b;
            }
        });
    }
}

fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

fn activate(row: &mut [f32], activation: Activation) {
    match activation {
        Activation::Gelu => {
            for v in row {
                *v = 0.5 * *v * (1.0 + libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2));
            }
        }
        Activation::GeluTanh => {
            const C: f32 = 0.797_884_6; // sqrt(2 / pi)
            for v in row {
                *v = 0.5 * *v * (1.0 + (C * (*v + 0.044_715 * *v * *v * *v)).tanh());
            }
        }
        Activation::Relu => {
            for v in row {
                *v = v.max(0.0);
            }
        }
    }
}

/// Scaled dot-product attention of each sentence and head, into `context`'s columns of
/// that head. Tasks are (sentence, head) pairs.
#[allow(clippy::too_many_arguments)]
fn attention(
    sentences: &[Vec<u32>],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    context: &mut [f32],
    h: usize,
    heads: usize,
    workers: &Workers,
) {
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let mut offsets = Vec::with_capacity(sentences.len());
    let mut at = 0;
    for s in sentences {
        offsets.push((at, s.len()));
        at += s.len();
    }
    let shared = SharedMut(context.as_mut_ptr());
    let shared = &shared;
    workers.each(sentences.len() * heads, |task| {
        let (start, n) = offsets[task / heads];
        let col = (task % heads) * d;
        let mut scores = vec![0f32; n * n];
        // SAFETY: rows [start, start + n) × columns [col, col + d) of `context` belong to
        // this task alone; q, k, v are read in bounds.
        unsafe {
            let base = start * h + col;
            matrixmultiply::sgemm(
                n,
                d,
                n,
                scale,
                q.as_ptr().add(base),
                h as isize,
                1,
                k.as_ptr().add(base),
                1,
                h as isize,
                0.0,
                scores.as_mut_ptr(),
                n as isize,
                1,
            );
            for row in scores.chunks_mut(n) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for s in row.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                for s in row.iter_mut() {
                    *s /= sum;
                }
            }
            matrixmultiply::sgemm(
                n,
                n,
                d,
                1.0,
                scores.as_ptr(),
                n as isize,
                1,
                v.as_ptr().add(base),
                h as isize,
                1,
                0.0,
                shared.0.add(base),
                h as isize,
                1,
            );
        }
    });
}
