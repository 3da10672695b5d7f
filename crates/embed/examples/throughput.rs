//! Sentences per second of the embed crate alone (no database), for profiling:
//! `cargo run --release -p pgml-embed --example throughput -- <models_dir> <threads> <file>`
//! with one sentence per line in the file.
use pgml_embed::{models, EmbedOptions, Embedder, Workers};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = Embedder::load(models::find(args[1].as_ref(), "all-MiniLM-L6-v2").unwrap()).unwrap();
    let workers = Workers::new(args[2].parse().unwrap());
    let text = std::fs::read_to_string(&args[3]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let options = EmbedOptions::default();
    let start = std::time::Instant::now();
    model.embed(&lines, &options, &workers, &|| {}).unwrap();
    let batch = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    for line in &lines {
        model.embed(&[line], &options, &workers, &|| {}).unwrap();
    }
    let single = start.elapsed().as_secs_f64();
    println!(
        "{} sentences: batch {:.0}/s, one at a time {:.0}/s",
        lines.len(),
        lines.len() as f64 / batch,
        lines.len() as f64 / single
    );
}
