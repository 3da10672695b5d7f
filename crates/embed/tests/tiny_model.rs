//! A model added by copying a snapshot directory: a randomly initialised tiny BERT (CLS
//! pooling, no Normalize, 16 tokens at most, `bert.`-prefixed tensors) that this test writes
//! itself, checked against a plain f64 forward pass written here from the BERT equations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgml_embed::{models, EmbedError, EmbedOptions, Embedder, Workers};

mod common;
use common::cosine;

const H: usize = 32;
const HEADS: usize = 4;
const LAYERS: usize = 2;
const INNER: usize = 64;
const POSITIONS: usize = 64;
const WORDS: [&str; 16] = [
    "the", "cat", "sat", "on", "mat", "dog", "ran", "far", "away", "a", "big", "red", "ball", "##s", ".", ",",
];

/// Deterministic weights: a linear congruential generator's values in [-0.5, 0.5).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }
}

fn vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].iter().map(|s| s.to_string()).collect();
    v.extend(WORDS.iter().map(|s| s.to_string()));
    v
}

fn tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut rng = Lcg(19);
    let mut out = Vec::new();
    let mut add = |name: &str, shape: Vec<usize>, scale: f32, offset: f32| {
        let n = shape.iter().product();
        let values = (0..n).map(|_| offset + scale * rng.next()).collect();
        out.push((format!("bert.{name}"), shape, values));
    };
    add("embeddings.word_embeddings.weight", vec![vocab().len(), H], 1.0, 0.0);
    add("embeddings.position_embeddings.weight", vec![POSITIONS, H], 0.5, 0.0);
    add("embeddings.token_type_embeddings.weight", vec![2, H], 0.5, 0.0);
    add("embeddings.LayerNorm.weight", vec![H], 0.2, 1.0);
    add("embeddings.LayerNorm.bias", vec![H], 0.2, 0.0);
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        for (name, out_dim, in_dim) in [
            ("attention.self.query", H, H),
            ("attention.self.key", H, H),
            ("attention.self.value", H, H),
            ("attention.output.dense", H, H),
            ("intermediate.dense", INNER, H),
            ("output.dense", H, INNER),
        ] {
            add(&format!("{p}.{name}.weight"), vec![out_dim, in_dim], 0.6, 0.0);
            add(&format!("{p}.{name}.bias"), vec![out_dim], 0.2, 0.0);
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(&format!("{p}.{norm}.weight"), vec![H], 0.2, 1.0);
            add(&format!("{p}.{norm}.bias"), vec![H], 0.2, 0.0);
        }
    }
    out
}

fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, shape, values) in tensors {
        let end = offset + values.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&header).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    for (_, _, values) in tensors {
        values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
    }
    std::fs::write(path, bytes).unwrap();
}

/// A snapshot directory as Hugging Face lays it out, under a fresh models directory.
fn install(models_dir: &Path, name: &str, model_type: &str) -> PathBuf {
    let dir = models_dir.join(name);
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let json =
        |file: &str, value: serde_json::Value| std::fs::write(dir.join(file), value.to_string()).unwrap();
    json(
        "config.json",
        serde_json::json!({"model_type": model_type, "architectures": ["BertModel"], "hidden_size": H,
            "num_attention_heads": HEADS, "num_hidden_layers": LAYERS, "intermediate_size": INNER,
            "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": POSITIONS,
            "type_vocab_size": 2, "vocab_size": vocab().len()}),
    );
    let vocab: serde_json::Map<String, serde_json::Value> =
        vocab().into_iter().enumerate().map(|(i, w)| (w, serde_json::json!(i))).collect();
    json(
        "tokenizer.json",
        serde_json::json!({"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                           "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
            "decoder": null,
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab}}),
    );
    json(
        "modules.json",
        serde_json::json!([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                           {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]),
    );
    json(
        "1_Pooling/config.json",
        serde_json::json!({"word_embedding_dimension": H, "pooling_mode_cls_token": true}),
    );
    json("sentence_bert_config.json", serde_json::json!({"max_seq_length": 16, "do_lower_case": false}));
    write_safetensors(&dir.join("model.safetensors"), &tensors());
    dir
}

fn temp_models_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgml-embed-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// BERT's forward pass in f64, one sentence, straight from the equations; the CLS vector.
fn reference(ids: &[usize]) -> Vec<f64> {
    let t: HashMap<String, Vec<f64>> =
        tensors().into_iter().map(|(n, _, v)| (n, v.into_iter().map(f64::from).collect())).collect();
    let w = |n: &str| &t[&format!("bert.{n}")];
    let norm = |x: &mut Vec<Vec<f64>>, p: &str| {
        for row in x.iter_mut() {
            let mean = row.iter().sum::<f64>() / H as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / H as f64;
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) / (var + 1e-12).sqrt() * w(&format!("{p}.weight"))[j]
                    + w(&format!("{p}.bias"))[j];
            }
        }
    };
    let linear = |x: &[Vec<f64>], p: &str, out: usize| -> Vec<Vec<f64>> {
        let (wt, b) = (w(&format!("{p}.weight")), w(&format!("{p}.bias")));
        let k = x[0].len();
        x.iter()
            .map(|r| (0..out).map(|j| b[j] + (0..k).map(|i| r[i] * wt[j * k + i]).sum::<f64>()).collect())
            .collect()
    };
    let mut x: Vec<Vec<f64>> = ids
        .iter()
        .enumerate()
        .map(|(p, &id)| {
            (0..H)
                .map(|j| {
                    w("embeddings.word_embeddings.weight")[id * H + j]
                        + w("embeddings.position_embeddings.weight")[p * H + j]
                        + w("embeddings.token_type_embeddings.weight")[j]
                })
                .collect()
        })
        .collect();
    norm(&mut x, "embeddings.LayerNorm");
    let d = H / HEADS;
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        let q = linear(&x, &format!("{p}.attention.self.query"), H);
        let k = linear(&x, &format!("{p}.attention.self.key"), H);
        let v = linear(&x, &format!("{p}.attention.self.value"), H);
        let mut ctx = vec![vec![0.0; H]; x.len()];
        for h in 0..HEADS {
            for a in 0..x.len() {
                let s: Vec<f64> = (0..x.len())
                    .map(|b| {
                        (0..d).map(|i| q[a][h * d + i] * k[b][h * d + i]).sum::<f64>() / (d as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for i in 0..d {
                    ctx[a][h * d + i] = (0..x.len()).map(|b| e[b] / z * v[b][h * d + i]).sum();
                }
            }
        }
        let o = linear(&ctx, &format!("{p}.attention.output.dense"), H);
        x.iter_mut().zip(&o).for_each(|(r, o)| r.iter_mut().zip(o).for_each(|(a, b)| *a += b));
        norm(&mut x, &format!("{p}.attention.output.LayerNorm"));
        let mut inner = linear(&x, &format!("{p}.intermediate.dense"), INNER);
        for r in inner.iter_mut() {
            for v in r.iter_mut() {
                *v = 0.5 * *v * (1.0 + libm_erf(*v / 2f64.sqrt()));
            }
        }
        let o = linear(&inner, &format!("{p}.output.dense"), H);
        x.iter_mut().zip(&o).for_each(|(r, o)| r.iter_mut().zip(o).for_each(|(a, b)| *a += b));
        norm(&mut x, &format!("{p}.output.LayerNorm"));
    }
    x[0].clone()
}

/// erf by its Maclaurin series (|x| is small for these weights, and the series converges
/// everywhere); 60 terms are exact to f64 for |x| < 4.
fn libm_erf(x: f64) -> f64 {
    if x.abs() > 4.0 {
        return x.signum();
    }
    let (mut term, mut sum) = (x, x);
    for n in 1..60 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn a_copied_snapshot_is_listed_and_embeds_as_the_equations_say() {
    let dir = temp_models_dir("tiny");
    install(&dir, "tiny-bert", "bert");
    let listed = models::installed(&dir);
    assert_eq!(listed.len(), 1);
    let info = &listed[0];
    assert_eq!(
        (info.name.as_str(), info.config.hidden_size, info.pooling.name(), info.max_tokens, info.normalize),
        ("tiny-bert", H, "cls", 16, false)
    );

    let model = Embedder::load(models::find(&dir, "tiny-bert").unwrap()).unwrap();
    let texts = ["The cat sat on the mat.", "a big red ball", "dogs ran far away"];
    // [CLS] the cat sat on the mat . [SEP]; [CLS] a big red ball [SEP]; [CLS] dog ##s ran far away [SEP]
    let ids: [&[usize]; 3] =
        [&[2, 4, 5, 6, 7, 4, 8, 18, 3], &[2, 13, 14, 15, 16, 3], &[2, 9, 17, 10, 11, 12, 3]];
    for workers in [Workers::Inline, Workers::new(2)] {
        let got = model.embed(&texts, &EmbedOptions::default(), &workers, &|| {}).unwrap();
        for (g, ids) in got.iter().zip(ids) {
            let expected: Vec<f32> = reference(ids).into_iter().map(|v| v as f32).collect();
            assert_eq!(g.len(), H);
            let largest = g.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(largest < 1e-4, "largest difference {largest} from the f64 forward pass");
            assert!(cosine(g, &expected) > 0.999_999);
        }
    }
    // max_seq_length 16: a longer text is cut to its first 14 word pieces and the two
    // special tokens, as sentence-transformers truncates.
    let long = "the cat sat on the mat the dog ran far away a big red ball the cat sat on";
    let cut = "the cat sat on the mat the dog ran far away a big red";
    let v = model.embed(&[long, cut], &EmbedOptions::default(), &Workers::Inline, &|| {}).unwrap();
    assert_eq!(v[0], v[1]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn other_architectures_and_missing_models_are_refused_by_kind() {
    let dir = temp_models_dir("refused");
    install(&dir, "acme/tiny-gpt", "gpt2");
    install(&dir, "acme/tiny-bert", "bert");
    assert!(
        matches!(models::find(&dir, "tiny-gpt"), Err(EmbedError::Unsupported(m)) if m.contains("\"gpt2\""))
    );
    assert_eq!(
        models::installed(&dir).iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["acme/tiny-bert"]
    );
    match models::find(&dir, "all-MiniLM-L12-v2") {
        Err(e @ EmbedError::NotInstalled { .. }) => {
            let hint = e.hint().unwrap();
            assert!(
                hint.contains("installed models: acme/tiny-bert")
                    && hint.contains("copy its Hugging Face snapshot"),
                "{hint}"
            );
        }
        other => panic!("expected NotInstalled, got {:?}", other.map(|m| m.name)),
    }
    assert!(matches!(models::find(&dir, "a/b/c"), Err(EmbedError::InvalidArgument(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}
