//! Helpers shared by the embed crate's tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Where `make setup` installs the shipped model (scripts/models.sh), or `PGML_MODELS_DIR`.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("PGML_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.build/models")));
    assert!(
        dir.join("sentence-transformers/all-MiniLM-L6-v2/model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is not installed under {}: run `make setup`",
        dir.display()
    );
    dir
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
