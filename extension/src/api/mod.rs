//! The SQL functions, one file per topic. Each converts arguments, calls the core or the
//! store, and raises errors through `error.rs`.

mod datasets;
mod deploy;
mod drift;
mod predict;
mod schedule;
mod train;
