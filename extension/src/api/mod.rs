//! The SQL functions, one file per topic. Each converts arguments, calls the core or the
//! store, and raises errors through `error.rs`.

mod chunk;
mod compat;
mod datasets;
pub(crate) mod deploy;
pub(crate) mod drift;
mod embed;
pub(crate) mod explain;
mod models;
mod monitoring;
mod portable;
pub(crate) mod predict;
pub(crate) mod promote;
mod rollouts;
mod schedule;
mod train;
mod transformers;
mod vectors;
