//! Monitoring in SQL: a project's logging settings, the log's state, outcomes recorded
//! later, and a wait for the log's writers.

use crate::error::{OrRaise, Result, SqlError};
use crate::monitoring::{shared, writer};
use crate::store::{self, monitoring::Changes};
use crate::{cache, store::monitoring as settings};
use pgml_core::monitoring::record::MAX_KEY_BYTES;
use pgml_core::monitoring::Settings;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode, Uuid};
use std::sync::atomic::Ordering;

/// Sets what is logged of a project's predictions and for how long; NULL keeps a setting.
/// Returns the settings in force.
#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn set_monitoring(
    project_name: Option<&str>,
    enabled: default!(Option<bool>, "NULL"),
    sample: default!(Option<f32>, "NULL"),
    scan_after: default!(Option<i32>, "NULL"),
    scan_sample: default!(Option<f32>, "NULL"),
    features_sample: default!(Option<f32>, "NULL"),
    retention: default!(Option<Interval>, "NULL"),
    label_delay: default!(Option<Interval>, "NULL"),
    attribution_window: default!(Option<Interval>, "NULL"),
) -> JsonB {
    let changes = Changes {
        enabled,
        sample,
        scan_after,
        scan_sample,
        features_sample,
        retention,
        label_delay,
        attribution_window,
    };
    not_null("project_name", project_name).and_then(|p| set(p, changes)).or_raise()
}

/// A required argument of a function whose other arguments may be NULL.
fn not_null<T>(name: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| {
        SqlError::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("{name} must not be NULL"))
    })
}

fn set(project_name: &str, c: Changes) -> Result<JsonB> {
    let project = store::project(project_name)?;
    if let Some(n) = c.scan_after.filter(|&n| n < 0) {
        return Err(SqlError::invalid(format!("scan_after must not be negative, not {n}"))
            .hint("it is how many predictions of a statement are logged at the rate `sample`"));
    }
    let rate = |v: Option<f32>| v.map_or(0.0, f64::from);
    let rates = Settings {
        sample: rate(c.sample),
        scan_sample: rate(c.scan_sample),
        features_sample: rate(c.features_sample),
        ..Settings::default()
    };
    rates.check()?;
    settings::check_intervals(&c)?;
    let out = settings::set(project.id, c)?;
    // every backend reads the settings again, as after a deploy
    cache::deployments_changed();
    Ok(out)
}

/// Whether predictions are logged on this server, and the log's counters for this database
/// since its buffer was claimed.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn monitoring_status() -> TableIterator<
    'static,
    (
        name!(logging, bool),
        name!(reason, Option<String>),
        name!(buffer_kb, i32),
        name!(flush_interval_ms, i32),
        name!(appended, i64),
        name!(written, i64),
        name!(dropped_full, i64),
        name!(dropped_unwritten, i64),
        name!(dropped_no_buffer, i64),
        name!(dropped_standby, i64),
        name!(pending_bytes, i64),
    ),
> {
    let standby = unsafe { pg_sys::RecoveryInProgress() };
    let reason = if !writer::available() {
        Some("pgml is not in shared_preload_libraries: predictions work but are not logged".to_string())
    } else if standby {
        Some(
            "this server is a hot standby: its predictions are counted in dropped_standby, not logged"
                .to_string(),
        )
    } else {
        None
    };
    let c = writer::counters(unsafe { pg_sys::MyDatabaseId });
    let g = shared::global();
    let load = |f: fn(&shared::Global) -> &std::sync::atomic::AtomicU64| {
        g.map_or(0, |g| f(g).load(Ordering::Relaxed) as i64)
    };
    TableIterator::once((
        reason.is_none(),
        reason,
        shared::LOG_BUFFER_KB.get(),
        shared::FLUSH_INTERVAL_MS.get(),
        c.appended as i64,
        c.written as i64,
        c.dropped_full as i64,
        c.dropped_unwritten as i64,
        load(|g| &g.dropped_no_ring),
        load(|g| &g.dropped_standby),
        c.pending_bytes as i64,
    ))
}

/// Waits until every prediction logged in this database so far is written (or counted as
/// dropped); false when `timeout_seconds` passed first or nothing is logged on this server.
#[pg_extern(stable, parallel_safe)]
fn flush_prediction_log(timeout_seconds: default!(f64, "10")) -> bool {
    if !writer::available() || unsafe { pg_sys::RecoveryInProgress() } {
        return false;
    }
    let database = unsafe { pg_sys::MyDatabaseId };
    let target = writer::counters(database).appended;
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs_f64(timeout_seconds.clamp(0.0, 3600.0));
    loop {
        let c = writer::counters(database);
        if c.pending_bytes == 0 && c.written + c.dropped_unwritten >= target {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        unsafe {
            pg_sys::pg_usleep(10_000);
        }
        pgrx::check_for_interrupts!();
    }
}

/// Records the outcome (label) of a prediction made earlier: by its request id, or by the
/// entity's key and when the outcome happened. Returns the outcome's id.
#[pg_extern]
fn record_outcome(
    project_name: Option<&str>,
    label: Option<f32>,
    request_id: default!(Option<Uuid>, "NULL"),
    key: default!(Option<&str>, "NULL"),
    occurred_at: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> i64 {
    not_null("project_name", project_name)
        .and_then(|p| outcome(p, not_null("label", label)?, request_id, key, occurred_at))
        .or_raise()
}

fn outcome(
    project_name: &str,
    label: f32,
    request_id: Option<Uuid>,
    key: Option<&str>,
    occurred_at: Option<TimestampWithTimeZone>,
) -> Result<i64> {
    if request_id.is_none() && key.is_none() {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "an outcome needs the prediction's request_id or the entity's key",
        )
        .hint("pass request_id => the id the prediction was logged under, or key => what pgml.predict was given"));
    }
    if !label.is_finite() {
        return Err(SqlError::invalid(format!("label must be a finite number, not {label}")));
    }
    if let Some(k) = key.filter(|k| k.len() > MAX_KEY_BYTES) {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
            format!(
                "key is {} bytes long, longer than the {MAX_KEY_BYTES} a logged prediction keeps",
                k.len()
            ),
        ));
    }
    let project = store::project(project_name)?;
    settings::record_outcome(project.id, label, request_id, key, occurred_at)
}
