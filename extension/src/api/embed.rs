//! `pgml.embed` and `pgml.embedding_models`: sentence embeddings computed in the backend by
//! the pgml-embed crate, from models installed under `pgml.models_dir`.
//!
//! Both `embed` forms are IMMUTABLE PARALLEL SAFE, as PostgresML declares them, so they can
//! feed generated columns, index expressions and parallel scans. The vectors depend on the
//! installed model's files, as a text search dictionary's results depend on its files:
//! replacing a model under the same name means rebuilding what was computed from it.

use pgml_embed::EmbedOptions;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::embedders;
use crate::error::{OrRaise, Result};

fn interrupt() {
    pgrx::check_for_interrupts!();
}

#[pg_extern(immutable, parallel_safe, strict, name = "embed")]
fn embed(transformer: &str, text: &str, kwargs: default!(JsonB, "'{}'")) -> Vec<f32> {
    embed_texts(transformer, &[text], &kwargs.0).map(|mut v| v.remove(0)).or_raise()
}

#[pg_extern(immutable, parallel_safe, strict, name = "embed")]
fn embed_batch(
    transformer: &str,
    inputs: Array<&str>,
    kwargs: default!(JsonB, "'{}'"),
) -> SetOfIterator<'static, Option<Vec<f32>>> {
    let inputs: Vec<Option<&str>> = inputs.iter().collect();
    let texts: Vec<&str> = inputs.iter().flatten().copied().collect();
    let mut vectors = embed_texts(transformer, &texts, &kwargs.0).or_raise().into_iter();
    // A NULL input gives a NULL row, in its place.
    let rows: Vec<Option<Vec<f32>>> = inputs.iter().map(|t| t.and_then(|_| vectors.next())).collect();
    SetOfIterator::new(rows)
}

fn embed_texts(transformer: &str, texts: &[&str], kwargs: &serde_json::Value) -> Result<Vec<Vec<f32>>> {
    let options = EmbedOptions::parse(kwargs)?;
    let model = embedders::get(transformer)?;
    Ok(model.embed(texts, &options, &embedders::workers(), &interrupt)?)
}

#[pg_extern(stable, parallel_safe)]
fn embedding_models() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(dimension, i32),
        name!(pooling, String),
        name!(max_tokens, i32),
        name!(normalized, bool),
        name!(path, String),
    ),
> {
    let dir = crate::settings::models_dir();
    TableIterator::new(pgml_embed::models::installed(&dir).into_iter().map(|m| {
        (
            m.name,
            m.config.hidden_size as i32,
            m.pooling.name().to_string(),
            m.max_tokens as i32,
            m.normalize,
            m.dir.display().to_string(),
        )
    }))
}

extension_sql!(
    "CREATE VIEW pgml.embedding_models AS SELECT * FROM pgml.embedding_models();\n\
     COMMENT ON VIEW pgml.embedding_models IS 'The embedding models installed under pgml.models_dir';",
    name = "embedding_models_view",
    requires = [embedding_models]
);
