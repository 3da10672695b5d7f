//! Rollouts' plain parts: which model a keyed request goes to (`assign`), the loss each
//! labelled prediction scores (`loss`), and the always-valid sequential test that decides
//! whether a candidate is promoted or rolled back (`sequential`).
//!
//! Nothing here touches PostgreSQL: the extension, pgml-serve and a standby call the same
//! functions, so a key goes to the same model wherever it is predicted.

pub mod assign;
pub mod loss;
pub mod sequential;
pub mod simulation;

pub use assign::{bucket, in_candidate};
pub use loss::Loss;
pub use sequential::{Bounds, Moments, Policy, Verdict};
