//! all-MiniLM-L6-v2 against sentence-transformers' own vectors (tests/fixtures, made by
//! bench/embed/reference.sh): 220 sentences, among them accents, CJK, emoji, URLs, empty-ish
//! inputs and a paragraph longer than the model's 256 tokens.

use pgml_embed::{models, EmbedOptions, Embedder, Workers};

mod common;
use common::{cosine, models_dir};

const DIM: usize = 384;

fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}minilm_l6_reference.json")).unwrap())
            .unwrap();
    let sentences: Vec<String> = serde_json::from_value(meta["sentences"].clone()).unwrap();
    let bytes = std::fs::read(format!("{dir}minilm_l6_reference.f32")).unwrap();
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(floats.len(), sentences.len() * DIM);
    (sentences, floats.chunks(DIM).map(<[f32]>::to_vec).collect())
}

fn minilm() -> Embedder {
    Embedder::load(models::find(&models_dir(), "all-MiniLM-L6-v2").unwrap()).unwrap()
}

#[test]
fn vectors_agree_with_sentence_transformers() {
    let (sentences, expected) = reference();
    assert!(sentences.len() >= 200);
    let model = minilm();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    for threads in [1, 2] {
        let got = model.embed(&texts, &EmbedOptions::default(), &Workers::new(threads), &|| {}).unwrap();
        let (worst, at) = got
            .iter()
            .zip(&expected)
            .map(|(g, e)| cosine(g, e))
            .zip(0..)
            .fold((1.0f64, 0), |(w, wi), (c, i)| if c < w { (c, i) } else { (w, wi) });
        println!("threads {threads}: lowest cosine {worst:.7} for {:?}", sentences[at]);
        assert!(worst >= 0.9999, "cosine {worst} for {:?}", sentences[at]);
        for g in &got {
            assert_eq!(g.len(), DIM);
            let norm: f64 = g.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "the model's Normalize module makes unit vectors");
        }
    }
}

#[test]
fn one_at_a_time_equals_the_batch_and_names_resolve_alike() {
    let (sentences, _) = reference();
    let model = minilm();
    let full = models::find(&models_dir(), "sentence-transformers/all-MiniLM-L6-v2").unwrap();
    assert_eq!(full.dir, model.info().dir);
    assert_eq!((full.max_tokens, full.pooling.name(), full.normalize), (256, "mean", true));
    let texts: Vec<&str> = sentences.iter().take(40).map(String::as_str).collect();
    let workers = Workers::new(2);
    let batch = model.embed(&texts, &EmbedOptions::default(), &workers, &|| {}).unwrap();
    for (text, b) in texts.iter().zip(&batch) {
        let single = model.embed(&[text], &EmbedOptions::default(), &workers, &|| {}).unwrap();
        assert!(cosine(&single[0], b) > 0.999_999, "{text:?} alone differs from in a batch");
    }
}

#[test]
fn published_similarities_hold() {
    // sentence-transformers' README for all-MiniLM-L6-v2.
    let model = minilm();
    let v = model
        .embed(
            &["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."],
            &EmbedOptions::default(),
            &Workers::Inline,
            &|| {},
        )
        .unwrap();
    for ((a, b), published) in [((0, 1), 0.6660), ((0, 2), 0.1046), ((1, 2), 0.1411)] {
        let c = cosine(&v[a], &v[b]);
        assert!((c - published).abs() < 0.0005, "similarity {a}-{b}: {c} against {published}");
    }
}

#[test]
fn options_follow_sentence_transformers() {
    let model = minilm();
    let text = ["Central Bank Raises Interest Rates By A Quarter Point"];
    let w = Workers::Inline;
    let plain = &model.embed(&text, &EmbedOptions::default(), &w, &|| {}).unwrap()[0];
    let parse = |v: serde_json::Value| EmbedOptions::parse(&v).unwrap();

    let cut = &model.embed(&text, &parse(serde_json::json!({"truncate_dim": 64})), &w, &|| {}).unwrap()[0];
    assert_eq!(cut.as_slice(), &plain[..64], "truncate_dim keeps the first dimensions, not renormalised");
    let unit = &model
        .embed(
            &text,
            &parse(serde_json::json!({"truncate_dim": 64, "normalize_embeddings": true})),
            &w,
            &|| {},
        )
        .unwrap()[0];
    let norm: f32 = unit.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-6 && cosine(unit, cut) > 0.999_999);

    let prompted =
        &model.embed(&text, &parse(serde_json::json!({"prompt": "query: "})), &w, &|| {}).unwrap()[0];
    let by_hand = &model
        .embed(
            &["query: Central Bank Raises Interest Rates By A Quarter Point"],
            &EmbedOptions::default(),
            &w,
            &|| {},
        )
        .unwrap()[0];
    assert_eq!(prompted, by_hand);
    let batched = &model
        .embed(&text, &parse(serde_json::json!({"batch_size": 1, "device": "cpu"})), &w, &|| {})
        .unwrap()[0];
    assert_eq!(batched, plain);

    let err = model.embed(&text, &parse(serde_json::json!({"truncate_dim": 385})), &w, &|| {}).unwrap_err();
    assert!(err.to_string().contains("truncate_dim 385 is larger than the model's dimension 384"), "{err}");
}
