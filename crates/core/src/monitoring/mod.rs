//! Production monitoring's plain parts: the request ids predictions are logged under, the
//! compact record a prediction appends to the extension's shared-memory buffer, the per-project
//! logging settings and the sampling that keeps a large scan from writing every row.
//!
//! Nothing here touches PostgreSQL: the extension feeds these from its predict path and its
//! background writer, pgml-serve from its HTTP handlers.

pub mod alerts;
pub mod copy;
pub mod live;
pub mod record;
pub mod request_id;
pub mod ring;
pub mod sampling;

pub use record::{LogRecord, Source};
pub use request_id::RequestIds;
pub use ring::Ring;
pub use sampling::{Sampler, Settings};
