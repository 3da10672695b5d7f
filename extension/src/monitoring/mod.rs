//! The prediction log: predictions append a record to shared memory (`shared`), off the
//! predict path's transaction (`log`); background workers write the records to
//! `pgml.prediction_log` in batches (`writer`). Needs `pgml` in `shared_preload_libraries`;
//! without it predictions work unchanged and the monitoring functions say logging is off.

pub mod alerts;
pub mod forward;
pub mod live;
pub mod log;
pub mod shared;
pub mod writer;

/// Called from `_PG_init`: when the library is preloaded, sizes the shared memory and
/// registers the launcher of the writers.
pub fn init() {
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        shared::register();
        writer::register_launcher();
    }
}
