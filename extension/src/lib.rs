//! pgml-rs: PostgresML's SQL API as a Rust PostgreSQL extension.
//!
//! SQL call → `api` (argument conversion) → `pgml_core` (decisions, training, prediction)
//! → `store` (registry over SPI). `cache` keeps loaded models per backend.

use pgrx::prelude::*;

mod api;
mod cache;
mod embedders;
mod error;
mod heap;
mod lifecycle;
mod monitoring;
mod privilege;
mod relation;
mod rollout;
mod row;
mod scratch;
mod settings;
mod store;
mod subtransaction;

::pgrx::pg_module_magic!(name, version);

pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
pgrx::extension_sql_file!("../sql/lifecycle.sql", name = "lifecycle", requires = ["bootstrap"]);
pgrx::extension_sql_file!(
    "../sql/monitoring.sql",
    name = "monitoring",
    requires = ["bootstrap", "lifecycle"]
);
pgrx::extension_sql_file!("../sql/rollouts.sql", name = "rollouts", requires = ["bootstrap", "monitoring"]);
pgrx::extension_sql_file!(
    "../sql/backup.sql",
    name = "backup",
    requires = ["bootstrap", "lifecycle", "monitoring", "rollouts"]
);
pgrx::extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    cache::register_invalidation_callback();
    monitoring::init();
    // Backends are the parallelism of predictions (and parallel workers, for a scan): a
    // library's thread pool per backend spinning on the same cores made a 100-row
    // predict_batch 80x slower under concurrent load (bench/serve.sh, strict, 100 instances).
    pgml_core::threads::set_prediction_threads(1);
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // the prediction log's shared memory and writers, as every cluster of the project has
        vec!["shared_preload_libraries='pgml'", "pgml.log_flush_interval=100"]
    }
}
