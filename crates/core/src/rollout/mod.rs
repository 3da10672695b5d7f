//! Rollouts' plain parts: which model a keyed request goes to (`assign`), the loss each
//! labelled prediction scores (`loss`), the always-valid sequential test that decides whether
//! a candidate is promoted or rolled back (`sequential`, checked by `simulation`), and the
//! guards that need no labels (`guards`: error rate and p99 latency, minute by minute).
//!
//! Nothing here touches PostgreSQL: the extension, pgml-serve and a standby call the same
//! functions, so a key goes to the same model wherever it is predicted.

pub mod assign;
pub mod guards;
pub mod loss;
pub mod plan;
pub mod sequential;
pub mod simulation;

pub use assign::{bucket, in_candidate};
pub use loss::Loss;
pub use plan::{Arm, Mode, Phase, Resolved, Route};
pub use sequential::{Bounds, Moments, Policy, Verdict};
