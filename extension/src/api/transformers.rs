//! PostgresML's functions that run Hugging Face pipelines in Python (`transform`,
//! `transform_stream`, `generate`, `tune`). pgml-rs has no Python and downloads nothing, so
//! it cannot run them; they are declared with PostgresML's signatures so that a call
//! resolves and says so with 0A000 and a hint, rather than "function does not exist".

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::SqlError;

fn refuse(function: &str) -> ! {
    SqlError::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("pgml.{function} runs Hugging Face pipelines in Python, which pgml-rs does not have"),
    )
    .hint(
        "pgml.embed computes sentence embeddings in the backend; for other pipelines call a model \
         server from the application. See docs/migrating.md",
    )
    .raise()
}

#[pg_extern(immutable, parallel_safe, name = "transform")]
fn transform_json(
    task: JsonB,
    args: default!(JsonB, "'{}'"),
    inputs: default!(Array<&str>, "ARRAY[]::TEXT[]"),
    cache: default!(bool, false),
) -> JsonB {
    let _ = (task, args, inputs, cache);
    refuse("transform")
}

#[pg_extern(immutable, parallel_safe, name = "transform")]
fn transform_string(
    task: &str,
    args: default!(JsonB, "'{}'"),
    inputs: default!(Array<&str>, "ARRAY[]::TEXT[]"),
    cache: default!(bool, false),
) -> JsonB {
    let _ = (task, args, inputs, cache);
    refuse("transform")
}

#[pg_extern(immutable, parallel_safe, name = "transform")]
fn transform_conversational_json(
    task: JsonB,
    args: default!(JsonB, "'{}'"),
    inputs: default!(Vec<Option<JsonB>>, "ARRAY[]::JSONB[]"),
    cache: default!(bool, false),
) -> JsonB {
    let _ = (task, args, inputs, cache);
    refuse("transform")
}

#[pg_extern(immutable, parallel_safe, name = "transform")]
fn transform_conversational_string(
    task: &str,
    args: default!(JsonB, "'{}'"),
    inputs: default!(Vec<Option<JsonB>>, "ARRAY[]::JSONB[]"),
    cache: default!(bool, false),
) -> JsonB {
    let _ = (task, args, inputs, cache);
    refuse("transform")
}

#[pg_extern(immutable, parallel_safe, name = "transform_stream")]
fn transform_stream_json(
    task: JsonB,
    args: default!(JsonB, "'{}'"),
    input: default!(&str, "''"),
    cache: default!(bool, false),
) -> SetOfIterator<'static, JsonB> {
    let _ = (task, args, input, cache);
    refuse("transform_stream")
}

#[pg_extern(immutable, parallel_safe, name = "transform_stream")]
fn transform_stream_string(
    task: &str,
    args: default!(JsonB, "'{}'"),
    input: default!(&str, "''"),
    cache: default!(bool, false),
) -> SetOfIterator<'static, JsonB> {
    let _ = (task, args, input, cache);
    refuse("transform_stream")
}

#[pg_extern(immutable, parallel_safe)]
fn generate(project_name: &str, inputs: &str, config: default!(JsonB, "'{}'")) -> String {
    let _ = (project_name, inputs, config);
    refuse("generate")
}

#[allow(clippy::too_many_arguments)]
#[pg_extern(parallel_safe)]
fn tune(
    project_name: &str,
    task: default!(Option<&str>, "NULL"),
    relation_name: default!(Option<&str>, "NULL"),
    y_column_name: default!(Option<&str>, "NULL"),
    model_name: default!(Option<&str>, "NULL"),
    hyperparams: default!(JsonB, "'{}'"),
    test_size: default!(f32, 0.25),
    test_sampling: default!(&str, "'stratified'"),
    automatic_deploy: default!(Option<bool>, true),
    materialize_snapshot: default!(bool, false),
) -> TableIterator<
    'static,
    (name!(status, String), name!(task, String), name!(algorithm, String), name!(deployed, bool)),
> {
    let _ = (project_name, task, relation_name, y_column_name, model_name, hyperparams);
    let _ = (test_size, test_sampling, automatic_deploy, materialize_snapshot);
    refuse("tune")
}

/// The installed pgml-rs version, as PostgresML's `pgml.version()` reports its own.
#[pg_extern(immutable, parallel_safe)]
fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
