//! pgml-core: the machine-learning core of pgml-rs.
//!
//! Nothing here knows about PostgreSQL or HTTP. The extension and the server feed it plain
//! Rust values (matrices, label vectors, deployment history rows) and get back models,
//! metrics and decisions.

pub mod algorithms;
pub mod artifact;
pub mod chunk;
pub mod data;
pub mod drift;
pub mod error;
pub mod evaluation;
pub mod explain;
pub mod lifecycle;
pub mod metrics;
pub mod monitoring;
pub mod portable;
pub mod rollout;
pub mod schedule;
pub mod search;
pub mod task;
pub mod threads;
pub mod training;

pub use error::{Error, Result};
pub use task::Task;
