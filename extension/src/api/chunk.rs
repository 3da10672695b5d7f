//! `pgml.chunk`: LangChain's character and recursive-character text splitters, in the core.

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::OrRaise;

#[pg_extern(immutable, parallel_safe, strict)]
fn chunk(
    splitter: &str,
    text: &str,
    kwargs: default!(JsonB, "'{}'"),
) -> TableIterator<'static, (name!(chunk_index, i64), name!(chunk, String))> {
    let chunks = pgml_core::chunk::chunk(splitter, text, &kwargs.0).or_raise();
    TableIterator::new(chunks.into_iter().zip(1..).map(|(c, i)| (i, c)))
}
