//! The handlers, one file per topic.

pub mod explain;
pub mod lifecycle;
pub mod ops;
pub mod predict;
pub mod registry;
pub mod rpc;
